"""The owner's budget as a caller meets it: the daily GPU minutes (429 budget_exhausted), the cooldown after a
teardown (429 cooling_down), extends that need recent use and never schedule past the budget, the idle teardown,
and the daily text caps and country allowlist."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from ondemand.adapters.rate_limit import DynamoRateLimiter
from ondemand.bootstrap import bootstrap
from ondemand.budget import BUDGET_SLACK, charge, run_deadline, seconds_by_day
from ondemand.domain import BudgetExhaustedError, EndpointStatus, NoRecentUseError, State
from ondemand.lifecycle.reconciler import RepairKind
from ondemand.lifecycle.schedules import teardown_schedule_name
from ondemand.ports import Adapters

from tests.conftest import create_table_from_template
from tests.lifecycle_driver import LifecycleDriver
from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A, PHONE_B
from tests.unit.lifecycle.test_lifecycle_api import invoke

LATE_EVENING = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)


def promote(machine: LifecycleDriver, endpoints, phone: str | None = None) -> str:
    name = machine.start(phone).state.endpoint_name
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    return name


def test_a_run_across_midnight_counts_on_both_days() -> None:
    split = seconds_by_day(LATE_EVENING + timedelta(hours=1, minutes=30), LATE_EVENING + timedelta(hours=2, minutes=45))
    assert split == {"2026-03-10": 1800.0, "2026-03-11": 2700.0}
    ledger = charge({"2026-03-07": 60, "2026-03-08": 60, "2026-03-09": 60}, LATE_EVENING, LATE_EVENING + timedelta(1))
    assert sorted(ledger) == ["2026-03-09", "2026-03-10", "2026-03-11"]  # only the last days are kept
    # 30 minutes left today at 23:50: 10 of them today, then the run may go on into tomorrow's budget.
    deadline = run_deadline({"2026-03-10": 210 * 60}, LATE_EVENING + timedelta(hours=1, minutes=50), 240 * 60)
    assert deadline == LATE_EVENING + timedelta(hours=6, minutes=0)  # 00:00 + 240 min: tomorrow is still unspent


@pytest.mark.parametrize("settings", [make_settings(gpu_minutes_per_day=60, cooldown_minutes=0)])
def test_a_spent_day_answers_429_with_when_it_resets(handlers, machine, endpoints, clock, event) -> None:
    clock.current = LATE_EVENING
    promote(machine, endpoints)
    clock.advance(minutes=50)
    machine.stop()  # 50 of 60 minutes spent: less than the 15-minute minimum run is left
    status, body, headers = invoke(handlers.api, event("apigw_start"))
    assert (status, body["error"]) == (429, "budget_exhausted")
    assert body["resets_at"] == "2026-03-11T00:00:00Z" and body["request_id"]
    assert int(headers["Retry-After"]) == int(timedelta(hours=1, minutes=10).total_seconds())
    assert machine.store.get().state == State.STOPPED and len(endpoints.created) == 1
    status_body = invoke(handlers.api, event("apigw_status"))[1]
    assert status_body["budget"] == {
        "gpu_minutes_per_day": 60,
        "gpu_minutes_used_today": 50.0,
        "gpu_minutes_left_today": 10.0,
        "resets_at": "2026-03-11T00:00:00Z",
    }
    clock.current = datetime(2026, 3, 11, 0, 0, 1, tzinfo=UTC)
    assert invoke(handlers.api, event("apigw_start"))[0] == 202


def test_after_a_teardown_start_is_refused_until_the_cooldown_ends(handlers, machine, endpoints, clock, event):
    name = promote(machine, endpoints)
    clock.advance(minutes=30)
    assert machine.teardown(name) == "torn down"
    status, body, headers = invoke(handlers.api, event("apigw_start"))
    assert (status, body["error"], body["retry_after_seconds"]) == (429, "cooling_down", 300)
    assert headers["Retry-After"] == "300"
    assert invoke(handlers.api, event("apigw_status"))[1]["cooldown_until"] is not None
    clock.advance(minutes=5)
    assert invoke(handlers.api, event("apigw_start"))[0] == 202


def test_extend_needs_a_recent_prediction(handlers, machine, endpoints, clock, event) -> None:
    promote(machine, endpoints)
    status, body, _ = invoke(handlers.api, event("apigw_extend"))
    assert (status, body["error"]) == (409, "no_recent_use")
    assert body["message"] == "Extend works while someone is using the model: make a prediction first."
    assert invoke(handlers.api, event("apigw_predict"))[0] == 200
    clock.advance(minutes=5)
    assert invoke(handlers.api, event("apigw_extend"))[0] == 200
    clock.advance(minutes=16)  # the prediction is now older than IDLE_MINUTES
    with pytest.raises(NoRecentUseError):
        machine.extend()


def test_extends_under_a_minute_apart_write_nothing(machine, endpoints, clock, scheduler) -> None:
    promote(machine, endpoints)
    machine.predict(["fine"])
    clock.advance(minutes=3)
    first = machine.extend().state
    calls = len(scheduler.calls)
    for _ in range(20):
        clock.advance(seconds=2)
        assert machine.extend().state.version == first.version  # no write, no new schedule
    assert len(scheduler.calls) == calls
    clock.advance(seconds=30)
    assert machine.extend().state.expires_at == clock() + timedelta(minutes=30)


def test_predictions_record_use_at_most_once_a_minute(machine, endpoints, clock) -> None:
    promote(machine, endpoints)
    before = machine.store.get().version
    for _ in range(30):
        machine.predict(["fine"])
        clock.advance(seconds=5)
    item = machine.store.get()
    assert item.version - before == 3  # at 0 s, 60 s and 120 s of the 150 s
    assert item.last_used_at == clock() - timedelta(seconds=30)


@pytest.mark.parametrize("settings", [make_settings(gpu_minutes_per_day=60)])
def test_extend_never_schedules_past_the_daily_budget(handlers, machine, endpoints, clock, scheduler, event) -> None:
    clock.current = clock().replace(hour=12, minute=0, second=0)  # the hour it runs stays within one UTC day
    started_at = clock()
    name = machine.start().state.endpoint_name
    clock.advance(minutes=7)  # provisioning counts: the endpoint bills from creation
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    budget_end = started_at + timedelta(minutes=60) - BUDGET_SLACK  # Scheduler may run the stop up to 119 s late
    assert machine.store.get().expires_at == clock() + timedelta(minutes=30)
    clock.advance(minutes=25)
    machine.predict(["fine"])
    extended = machine.extend()  # 7 + 25 + 30 minutes would be past the 60
    assert extended.state.expires_at == budget_end
    assert scheduler.schedules[teardown_schedule_name(name)][0] == budget_end
    clock.advance(minutes=10)
    machine.predict(["fine"])
    status, body, headers = invoke(handlers.api, event("apigw_extend"))
    assert (status, body["error"]) == (429, "budget_exhausted") and int(headers["Retry-After"]) > 0
    clock.current = budget_end + timedelta(seconds=119)  # the latest the schedule runs
    assert machine.teardown(name) == "torn down"
    assert machine.store.get().gpu_seconds_by_day == {started_at.strftime("%Y-%m-%d"): 3599.0}


@pytest.mark.parametrize("settings", [make_settings(gpu_minutes_per_day=18)])
def test_a_start_that_may_outlast_the_budget_is_failed_at_the_budget(machine, endpoints, clock, scheduler) -> None:
    """With 18 minutes left a start may begin, but it must not bill past them even if provisioning hangs."""
    clock.current = clock().replace(hour=12, minute=0, second=0)  # 18 minutes left of today's budget, not tomorrow's
    name = machine.start(PHONE_A).state.endpoint_name
    at, _ = scheduler.schedules[teardown_schedule_name(name)]
    assert at == clock() + timedelta(minutes=18) - BUDGET_SLACK
    clock.current = at
    assert machine.teardown(name).startswith("FAILED (budget_exhausted)")
    item = machine.store.get()
    assert item.state == State.FAILED and item.last_error_code == "budget_exhausted"
    assert name in endpoints.deleted
    with pytest.raises(BudgetExhaustedError):
        machine.start()


def test_an_endpoint_nobody_uses_is_torn_down_by_the_reconciler(machine, endpoints, clock) -> None:
    name = promote(machine, endpoints)
    clock.advance(minutes=10)
    machine.predict(["fine"])
    clock.advance(minutes=14)
    assert machine.reconcile() == []
    clock.advance(minutes=2)  # 16 minutes since the last prediction
    [repair] = machine.reconcile()
    assert (repair.endpoint_name, repair.kind) == (name, RepairKind.TORE_DOWN_IDLE)
    assert machine.store.get().state == State.STOPPED and name in endpoints.deleted


@pytest.fixture
def capped(aws, adapters: Adapters, settings, clock) -> LifecycleDriver:
    create_table_from_template(boto3.client("dynamodb"), "RateLimitTable", "caps")
    limiter = DynamoRateLimiter("caps", lambda: "test-pepper", now=lambda: clock().timestamp())
    limited = dataclasses.replace(adapters, rate_limiter=limiter)
    tight = dataclasses.replace(
        settings, sms_per_day=3, sms_per_number_per_day=2, cooldown_minutes=0, sms_country_codes=("+1",)
    )
    return LifecycleDriver(bootstrap(tight, limited, now=clock, sleep=lambda _: None))


def test_texts_stop_at_the_per_number_and_daily_caps_and_never_leave_the_allowlist(
    capped, endpoints, notifier, clock
) -> None:
    clock.current = LATE_EVENING - timedelta(hours=12)
    for _ in range(3):
        name = capped.start(PHONE_A).state.endpoint_name
        capped.start(PHONE_B)
        capped.start("+442079460123")  # an API caller cannot get it here; the lifecycle refuses to text it anyway
        endpoints.set_status(name, EndpointStatus.IN_SERVICE)
        capped.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
        capped.stop()
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_A, PHONE_B]  # 2 for A, then the day's 3 are spent
    clock.current = LATE_EVENING + timedelta(hours=3)  # the next UTC day
    name = promote(capped, endpoints, PHONE_A)
    assert notifier.phones()[-1] == PHONE_A and capped.store.get().endpoint_name == name
