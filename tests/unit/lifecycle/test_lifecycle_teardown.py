"""Teardown at expires_at, /extend pushing it, and the two racing without an early stop."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from ondemand.bootstrap import bootstrap
from ondemand.domain import ConflictError, EndpointError, EndpointStatus, State
from ondemand.lifecycle.schedules import teardown_schedule_name

from tests.lifecycle_driver import LifecycleDriver
from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A


@pytest.fixture
def in_service(machine: LifecycleDriver, endpoints) -> str:
    """Start, then the InService event: returns the endpoint's name."""
    name = machine.start(PHONE_A).state.endpoint_name
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    return name


def test_teardown_at_expiry_deletes_the_endpoint_and_stops(machine, in_service, clock, endpoints, scheduler) -> None:
    clock.advance(minutes=30)
    assert machine.teardown(in_service) == "torn down"
    item = machine.store.get()
    assert item.state == State.STOPPED
    assert item.endpoint_name is None and item.subscribers == ()
    assert endpoints.deleted == [in_service] and in_service not in endpoints.endpoints
    assert teardown_schedule_name(in_service) not in scheduler.schedules
    assert [h.to_state for h in item.history] == [State.STARTING, State.IN_SERVICE, State.STOPPING, State.STOPPED]


def test_teardown_when_the_endpoint_is_already_gone_still_stops(machine, in_service, clock, endpoints) -> None:
    endpoints.endpoints.clear()
    clock.advance(minutes=31)
    assert machine.teardown(in_service) == "torn down"
    assert machine.store.get().state == State.STOPPED


def test_the_teardown_handler_reads_the_schedule_payload(handlers, in_service, event, store) -> None:
    payload = event("teardown_schedule")
    payload["endpoint_name"] = in_service
    # Make the item due now.
    store.update([State.IN_SERVICE], "test", expires_at=store.get().since - timedelta(seconds=1))
    assert handlers.teardown(payload, None)["outcome"] == "torn down"
    assert store.get().state == State.STOPPED


def test_extend_then_teardown_does_not_stop_early(machine, in_service, clock, endpoints, scheduler) -> None:
    clock.advance(minutes=25)
    machine.predict(["someone is using it"])
    extended = machine.extend()
    assert extended.state.expires_at == clock() + timedelta(minutes=30)
    assert scheduler.schedules[teardown_schedule_name(in_service)][0] == extended.state.expires_at
    assert sorted(scheduler.schedules) == [f"notice-{in_service}", teardown_schedule_name(in_service)]  # replaced

    clock.advance(minutes=5)  # the original schedule's moment
    assert machine.teardown(in_service).startswith("skipped: extended")
    assert machine.store.get().state == State.IN_SERVICE
    assert endpoints.deleted == []

    clock.advance(minutes=25)  # the extended moment
    assert machine.teardown(in_service) == "torn down"
    assert machine.store.get().state == State.STOPPED


def test_extend_is_measured_from_now_not_added_to_the_old_expiry(machine, in_service, clock) -> None:
    clock.advance(minutes=1)
    machine.predict(["someone is using it"])
    first = machine.extend().state.expires_at
    second = machine.extend().state.expires_at
    assert first == second == clock() + timedelta(minutes=30)


@pytest.mark.parametrize("settings", [make_settings(gpu_minutes_per_day=480)])  # the cap binds, not the budget
def test_extend_stops_at_the_hard_cap(machine, in_service, clock) -> None:
    in_service_at = machine.store.get().in_service_at
    cap = in_service_at + timedelta(minutes=machine.settings.hard_cap_minutes)
    clock.current = cap - timedelta(minutes=10)
    machine.predict(["someone is using it"])
    result = machine.extend()
    assert result.capped
    assert result.state.expires_at == cap
    clock.advance(minutes=5)
    again = machine.extend()
    assert again.capped and again.state.expires_at == cap


def test_extend_when_not_in_service_is_a_conflict(machine) -> None:
    with pytest.raises(ConflictError, match="STOPPED"):
        machine.extend()


def test_teardown_of_an_old_endpoint_name_is_skipped(machine, in_service, clock) -> None:
    clock.advance(minutes=40)
    assert machine.teardown("ondemand-sentiment-19990101t000000").startswith("skipped")
    assert machine.store.get().state == State.IN_SERVICE


def test_a_failed_delete_leaves_stopping_and_a_later_run_finishes(machine, in_service, clock, endpoints) -> None:
    clock.advance(minutes=30)
    endpoints.fail_delete = "ThrottlingException"
    with pytest.raises(EndpointError):
        machine.teardown(in_service)
    assert machine.store.get().state == State.STOPPING
    endpoints.fail_delete = None
    assert machine.teardown(in_service) == "finished an interrupted teardown"
    assert machine.store.get().state == State.STOPPED


def test_stop_tears_down_now_whatever_expires_at_says(machine, in_service, endpoints) -> None:
    stopped = machine.stop()
    assert stopped.state.state == State.STOPPED and stopped.waiting is None
    assert endpoints.deleted == [in_service]
    with pytest.raises(ConflictError, match="nothing to stop"):
        machine.stop()


def test_a_half_minute_keep_alive_extended_is_not_stopped_at_the_old_moment(adapters, settings, clock) -> None:
    """The local runtime demos short keep-alives; the extend-vs-teardown decision must hold at that scale too."""
    import dataclasses

    settings = dataclasses.replace(settings, keep_alive_minutes=0.5)
    quick = LifecycleDriver(bootstrap(settings, adapters, now=clock, sleep=lambda _: None))
    name = quick.start().state.endpoint_name
    quick.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    clock.advance(seconds=20)
    quick.predict(["someone is using it"])
    quick.extend()  # now expires 30 s from here
    clock.advance(seconds=10)  # the first schedule's moment
    assert quick.teardown(name).startswith("skipped: extended")
    clock.advance(seconds=20)
    assert quick.teardown(name) == "torn down"


# ----- EventBridge Scheduler fires within a minute of its at() -----


def test_a_schedule_firing_59_s_early_still_tears_down(machine, in_service, clock, scheduler, endpoints) -> None:
    """Scheduler's one-minute precision: the firing carries the expires_at it was made for, and the item still
    holding it means nobody extended, so the teardown goes ahead instead of leaving the GPU to the reconciler."""
    at, payload = scheduler.schedules[teardown_schedule_name(in_service)]
    clock.current = at - timedelta(seconds=59)
    scheduled_for = datetime.fromisoformat(payload["expires_at"])
    assert machine.teardown(in_service, scheduled_for) == "torn down"
    assert machine.store.get().state == State.STOPPED
    assert endpoints.deleted == [in_service]


def test_the_handler_passes_the_payload_expires_at_so_an_early_firing_tears_down(
    handlers, in_service, clock, scheduler, store
) -> None:
    at, payload = scheduler.schedules[teardown_schedule_name(in_service)]
    clock.current = at - timedelta(seconds=59)
    assert handlers.teardown(dict(payload), None)["outcome"] == "torn down"
    assert store.get().state == State.STOPPED


def test_an_early_firing_of_a_replaced_schedule_does_not_stop_an_extended_model(
    machine, in_service, clock, scheduler
) -> None:
    original_at, original = scheduler.schedules[teardown_schedule_name(in_service)]
    clock.current = original_at - timedelta(minutes=2)
    machine.predict(["someone is using it"])  # /extend follows real use
    machine.extend()  # replaces the schedule; suppose the old one had already been dispatched
    clock.current = original_at - timedelta(seconds=30)
    outcome = machine.teardown(in_service, datetime.fromisoformat(original["expires_at"]))
    assert outcome.startswith("skipped: extended")
    assert machine.store.get().state == State.IN_SERVICE


def test_a_firing_without_the_payload_expires_at_still_waits_for_the_moment(machine, in_service, clock) -> None:
    """A schedule made before payloads carried expires_at: only the clock decides, as before."""
    clock.advance(minutes=29, seconds=30)
    assert machine.teardown(in_service).startswith("skipped: extended")
    clock.advance(seconds=30)
    assert machine.teardown(in_service) == "torn down"
