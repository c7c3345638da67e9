"""POST /start's decisions: one endpoint per start, everyone who clicks is told, failures allow a new start."""

from __future__ import annotations

import dataclasses

import pytest
from ondemand.bootstrap import Service, bootstrap
from ondemand.domain import ConflictError, CoolingDownError, EndpointError, EndpointStatus, State

from tests.lifecycle_driver import LifecycleDriver
from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A, PHONE_B, PHONE_C


def test_the_first_start_creates_one_endpoint_named_with_the_prefix(machine: LifecycleDriver, endpoints) -> None:
    result = machine.start(PHONE_A)
    assert result.created and result.subscribed
    assert result.state.state == State.STARTING
    assert endpoints.created == [result.state.endpoint_name]
    assert result.state.endpoint_name.startswith("ondemand-sentiment-")
    assert machine.store.get().subscribers == (PHONE_A,)


def test_clicks_while_starting_add_subscribers_once_and_create_nothing(machine: LifecycleDriver, endpoints) -> None:
    machine.start(PHONE_A)
    for phone in (PHONE_B, PHONE_A, PHONE_B, None, PHONE_C):
        result = machine.start(phone)
        assert not result.created
        assert result.state.state == State.STARTING
    assert len(endpoints.created) == 1
    assert machine.store.get().subscribers == (PHONE_A, PHONE_B, PHONE_C)


def test_the_subscriber_list_is_bounded(machine: LifecycleDriver, adapters) -> None:
    settings = dataclasses.replace(machine.settings, max_subscribers=2)
    bounded = LifecycleDriver(bootstrap(settings, adapters, now=machine.now, sleep=lambda _: None))
    bounded.start(PHONE_A)
    assert bounded.start(PHONE_B).subscribed
    third = bounded.start(PHONE_C)
    assert not third.subscribed
    assert bounded.store.get().subscribers == (PHONE_A, PHONE_B)


def test_start_while_in_service_creates_nothing(machine: LifecycleDriver, endpoints) -> None:
    name = machine.start().state.endpoint_name
    machine.store.transition([State.STARTING], State.IN_SERVICE, "test")
    result = machine.start(PHONE_B)
    assert result.state.state == State.IN_SERVICE and not result.created
    assert endpoints.created == [name]


def test_start_while_stopping_is_a_conflict(machine: LifecycleDriver) -> None:
    machine.start()
    machine.store.transition([State.STARTING], State.STOPPING, "test")
    with pytest.raises(ConflictError, match="shutting down"):
        machine.start(PHONE_A)


def test_a_failed_create_marks_failed_texts_the_others_not_the_caller_and_allows_a_new_start(
    machine: LifecycleDriver, endpoints, notifier, clock
) -> None:
    """The caller whose own request failed gets the error as its answer, not a text as well (else any failure
    path texts whatever number it is given); someone who subscribed meanwhile is told."""
    fake_create = endpoints.create

    def another_caller_subscribes_then_create_fails(name: str) -> None:
        machine.store.add_subscriber([State.STARTING], PHONE_B, 20)
        fake_create(name)

    endpoints.create = another_caller_subscribes_then_create_fails
    endpoints.fail_create = "ResourceLimitExceeded: no ml.g4dn.xlarge capacity"
    with pytest.raises(EndpointError):
        machine.start(PHONE_A)
    failed = machine.store.get()
    assert failed.state == State.FAILED
    assert failed.last_error_code == "endpoint_failed" and "ResourceLimitExceeded" not in failed.last_error
    assert notifier.phones() == [PHONE_B]
    assert "could not start" in notifier.sent[0][1]
    endpoints.create = fake_create

    endpoints.fail_create = None
    clock.advance(seconds=5)
    with pytest.raises(CoolingDownError):  # a start that keeps failing costs its writes once per cooldown
        machine.start(PHONE_B)
    clock.advance(minutes=machine.settings.cooldown_minutes)
    again = machine.start(PHONE_B)
    assert again.created and again.state.state == State.STARTING
    assert again.state.last_error is None
    assert len(endpoints.created) == 2 and endpoints.created[0] != endpoints.created[1]


def test_eta_counts_down_from_the_typical_provisioning_time(service: Service, clock) -> None:
    LifecycleDriver(service).start()
    typical = service.settings.typical_provisioning_seconds
    assert service.status()["eta_seconds"] == typical
    clock.advance(seconds=100)
    assert service.status()["eta_seconds"] == typical - 100
    clock.advance(seconds=typical)
    assert service.status()["eta_seconds"] == 0


@pytest.mark.parametrize("settings", [make_settings(cooldown_minutes=0)])
def test_a_stop_and_a_start_in_the_same_second_use_different_names(machine, endpoints) -> None:
    first = machine.start().state.endpoint_name
    machine.stop()
    second = machine.start().state.endpoint_name
    assert first != second and endpoints.created == [first, second]


def test_phones_stay_on_the_item_for_the_stop_notice_and_leave_it_at_stopped(machine, notifier) -> None:
    name = machine.start(PHONE_A).state.endpoint_name
    machine.start(PHONE_B)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_B]
    item = machine.store.get()
    assert item.subscribers == (PHONE_A, PHONE_B) and item.history[-1].to_state == State.IN_SERVICE
    machine.stop()
    assert machine.store.get().state == State.STOPPED and machine.store.get().subscribers == ()


def test_a_new_start_first_deletes_a_failed_starts_leftover_endpoint(machine, endpoints, clock) -> None:
    """A create that timed out after SageMaker made the endpoint, and a cleanup delete that was throttled."""
    name = machine.start().state.endpoint_name
    endpoints.fail_delete = "ThrottlingException"
    machine.on_endpoint_status(name, EndpointStatus.FAILED, "capacity")
    assert name in endpoints.endpoints  # the cleanup did not happen
    clock.advance(minutes=machine.settings.cooldown_minutes)
    with pytest.raises(EndpointError):
        machine.start()  # delete still throttled: no second endpoint
    assert len(endpoints.endpoints) == 1
    endpoints.fail_delete = None
    clock.advance(minutes=machine.settings.cooldown_minutes)
    fresh = machine.start().state.endpoint_name
    assert list(endpoints.endpoints) == [fresh]
