"""The daily GPU budget and the cooldown at their edges, as the owner and a caller meet them: a start on the last
minute a minimum run allows, a run that reaches midnight on today's budget, a day without a budget, the status while
a run bills and after one overran, a budget stop fired early or lost, the last half second of a cooldown, and an
endpoint in service since before the budget existed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ondemand.budget import run_deadline
from ondemand.domain import BudgetExhaustedError, EndpointStatus, NoRecentUseError, State

from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A
from tests.unit.lifecycle.test_lifecycle_api import invoke
from tests.unit.lifecycle.test_lifecycle_budget import promote

MORNING = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def run_for(machine, endpoints, clock, minutes: float) -> None:
    """One run of `minutes`, from its start to an administrator's stop."""
    promote(machine, endpoints)
    clock.advance(minutes=minutes)
    machine.stop()


def budget(service) -> dict:
    return service.status()["budget"]


@pytest.mark.parametrize("settings", [make_settings(gpu_minutes_per_day=60, cooldown_minutes=0)])
def test_a_start_with_exactly_the_minimum_run_left_may_start(machine, endpoints, clock) -> None:
    clock.current = MORNING
    run_for(machine, endpoints, clock, 45)  # 15 of 60 minutes left: exactly MIN_RUN_MINUTES
    assert machine.start().created
    clock.advance(seconds=1)
    machine.stop()  # that second billed too: now less than the minimum run is left
    with pytest.raises(BudgetExhaustedError):
        machine.start()


@pytest.mark.parametrize("settings", [make_settings(gpu_minutes_per_day=240, cooldown_minutes=0)])
def test_a_run_reaching_midnight_on_todays_budget_goes_on_on_tomorrows(machine, endpoints, clock) -> None:
    """At 23:50 with exactly the ten minutes to midnight left of today, the run may go on into tomorrow."""
    clock.current = MORNING.replace(hour=19, minute=10)
    run_for(machine, endpoints, clock, 230)
    clock.current = MORNING.replace(hour=23, minute=50)
    assert machine.start().created
    tomorrow = MORNING.replace(hour=0, minute=0) + timedelta(days=1)
    assert run_deadline(machine.store.get().gpu_seconds_by_day, clock(), 240 * 60) == tomorrow + timedelta(hours=4)


@pytest.mark.parametrize("settings", [make_settings(gpu_minutes_per_day=1440)])
def test_a_whole_day_of_budget_never_refuses_a_start_nor_shortens_a_run(machine, endpoints, clock) -> None:
    clock.current = MORNING
    promote(machine, endpoints)
    assert machine.store.get().expires_at == clock() + timedelta(minutes=30)
    clock.advance(minutes=20)
    machine.predict(["fine"])
    assert machine.extend().state.expires_at == clock() + timedelta(minutes=30)


def test_two_runs_on_one_day_add_up(service, machine, endpoints, clock) -> None:
    clock.current = MORNING
    run_for(machine, endpoints, clock, 20)
    clock.advance(minutes=10)  # the cooldown
    run_for(machine, endpoints, clock, 25)
    assert budget(service)["gpu_minutes_used_today"] == 45.0
    assert budget(service)["gpu_minutes_left_today"] == 195.0


def test_the_status_counts_the_live_run_as_it_bills(service, machine, clock) -> None:
    clock.current = MORNING
    machine.start()
    clock.advance(minutes=12)
    assert (budget(service)["gpu_minutes_used_today"], budget(service)["gpu_minutes_left_today"]) == (12.0, 228.0)


@pytest.mark.parametrize("settings", [make_settings(gpu_minutes_per_day=60)])
def test_a_run_that_overran_the_budget_shows_nothing_left_not_less(service, machine, endpoints, clock) -> None:
    """A teardown may fire up to a minute late, and the reconciler runs every five."""
    clock.current = MORNING
    run_for(machine, endpoints, clock, 62)
    assert (budget(service)["gpu_minutes_used_today"], budget(service)["gpu_minutes_left_today"]) == (62.0, 0.0)


@pytest.mark.parametrize("settings", [make_settings(gpu_minutes_per_day=18)])
def test_the_reconciler_fails_a_start_the_budget_ran_out_on_when_its_stop_was_never_scheduled(
    machine, endpoints, scheduler, clock, notifier
) -> None:
    clock.current = MORNING
    scheduler.fail = True  # the budget stop's schedule is lost
    name = machine.start(PHONE_A).state.endpoint_name
    assert scheduler.schedules == {}
    clock.advance(minutes=15)
    assert machine.reconcile() == []
    clock.advance(minutes=1)  # the budget's end within BUDGET_SLACK; the starting timeout (20 minutes) is still ahead
    [repair] = machine.reconcile()
    assert (repair.endpoint_name, repair.kind) == (name, "failed_start")
    item = machine.store.get()
    assert item.state == State.FAILED and item.last_error_code == "budget_exhausted"
    assert name in endpoints.deleted and notifier.phones() == [PHONE_A]


@pytest.mark.parametrize("settings", [make_settings(gpu_minutes_per_day=18)])
@pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=59), timedelta(seconds=119)])
def test_a_budget_stop_run_anywhere_in_its_window_keeps_the_day_within_its_budget(
    handlers, machine, endpoints, scheduler, clock, late
) -> None:
    """EventBridge Scheduler runs a schedule up to 119 s after the time asked (adapters/scheduler.py, never_early):
    the budget's stop is asked for early enough that the day never goes over."""
    clock.current = MORNING
    name = machine.start(PHONE_A).state.endpoint_name
    at, payload = scheduler.schedules[f"teardown-{name}"]
    clock.current = at + late
    assert handlers.teardown(dict(payload), None)["outcome"].startswith("FAILED (budget_exhausted)")
    item = machine.store.get()
    assert item.state == State.FAILED and name in endpoints.deleted
    assert 0 < item.gpu_seconds_by_day[MORNING.strftime("%Y-%m-%d")] < 18 * 60


def test_half_a_second_of_cooldown_left_asks_for_a_retry_in_one_second(handlers, machine, endpoints, clock, event):
    name = promote(machine, endpoints)
    clock.advance(minutes=30)
    assert machine.teardown(name) == "torn down"
    clock.advance(minutes=machine.settings.cooldown_minutes, seconds=-0.5)
    status, body, headers = invoke(handlers.api, event("apigw_start"))
    assert (status, body["error"], body["retry_after_seconds"], headers["Retry-After"]) == (429, "cooling_down", 1, "1")


@pytest.mark.parametrize("settings", [make_settings(cooldown_minutes=0)])
def test_a_new_run_needs_its_own_prediction_before_an_extend(handlers, machine, endpoints, clock, event) -> None:
    """A prediction of the previous run, a minute before it was stopped, does not keep the new one alive."""
    promote(machine, endpoints)
    machine.predict(["fine"])
    clock.advance(minutes=1)
    machine.stop()
    promote(machine, endpoints)
    with pytest.raises(NoRecentUseError):
        machine.extend()
    assert invoke(handlers.api, event("apigw_extend"))[1]["error"] == "no_recent_use"


def test_an_endpoint_in_service_from_before_the_budget_still_extends(machine, store, endpoints, clock) -> None:
    """An item promoted by a version without the budget has no run_started_at: no budget ends its run."""
    clock.current = MORNING
    name = "ondemand-sentiment-20260310t085000-7"
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    expires_at = clock() + timedelta(minutes=30)
    store.transition([State.STOPPED], State.IN_SERVICE, "promoted", endpoint_name=name, expires_at=expires_at)
    assert store.get().run_started_at is None
    clock.advance(minutes=10)
    machine.predict(["fine"])
    assert machine.extend().state.expires_at == clock() + timedelta(minutes=30)
