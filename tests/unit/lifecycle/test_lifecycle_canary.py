"""Nobody is texted on InService alone: SageMaker reports InService once /ping answers, which can be before the model
answers a request (sagemaker-huggingface-inference-toolkit issue 111). One real prediction must succeed first."""

from __future__ import annotations

import pytest
from ondemand.domain import EndpointStatus, State
from ondemand.lifecycle.promotion import CANARY_TEXT
from ondemand.lifecycle.reconciler import RepairKind
from ondemand.lifecycle.schedules import teardown_schedule_name

from tests.lifecycle_driver import LifecycleDriver
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A


@pytest.fixture
def provisioned(machine: LifecycleDriver, endpoints) -> str:
    """A start whose endpoint SageMaker now reports InService, PHONE_A waiting for the text."""
    name = machine.start(PHONE_A).state.endpoint_name
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    return name


def test_in_service_with_a_model_that_answers_promotes_after_one_canary_prediction(
    machine, provisioned, endpoints, notifier
) -> None:
    outcome = machine.on_endpoint_status(provisioned, EndpointStatus.IN_SERVICE)
    assert outcome.startswith("promoted")
    assert endpoints.invocations == [(provisioned, {"texts": [CANARY_TEXT]})]
    assert notifier.phones() == [PHONE_A]


def test_in_service_before_the_model_answers_keeps_starting_and_texts_nobody(
    machine, provisioned, endpoints, notifier, scheduler
) -> None:
    endpoints.not_answering_for = 1
    outcome = machine.on_endpoint_status(provisioned, EndpointStatus.IN_SERVICE)
    assert outcome.startswith("kept STARTING") and "still loading" in outcome
    item = machine.store.get()
    assert item.state == State.STARTING and item.subscribers == (PHONE_A,)
    assert notifier.sent == [] and scheduler.schedules == {}
    # The event delivered again (Lambda's retry) once the model answers: promoted, texted once.
    assert machine.on_endpoint_status(provisioned, EndpointStatus.IN_SERVICE).startswith("promoted")
    assert notifier.phones() == [PHONE_A]
    assert teardown_schedule_name(provisioned) in scheduler.schedules


def test_the_endpoint_events_handler_keeps_starting_while_the_model_does_not_answer(
    handlers, machine, event, endpoints, notifier
) -> None:
    name = machine.start(PHONE_A).state.endpoint_name
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    endpoints.not_answering_for = 1
    in_service = event("endpoint_state_change_in_service")
    in_service["detail"]["EndpointName"] = name
    assert handlers.endpoint_events(in_service, None)["outcome"].startswith("kept STARTING")
    assert machine.store.get().state == State.STARTING and notifier.sent == []


def test_the_reconciler_promotes_once_the_model_answers(machine, provisioned, endpoints, notifier, clock) -> None:
    endpoints.not_answering_for = 2
    machine.on_endpoint_status(provisioned, EndpointStatus.IN_SERVICE)  # first failure
    clock.advance(minutes=5)
    assert machine.reconcile() == []  # second failure: still loading, nothing repaired yet
    assert machine.store.get().state == State.STARTING and notifier.sent == []
    clock.advance(minutes=5)
    repairs = machine.reconcile()
    assert [(r.endpoint_name, r.kind) for r in repairs] == [(provisioned, RepairKind.PROMOTED)]
    assert machine.store.get().state == State.IN_SERVICE and notifier.phones() == [PHONE_A]


def test_an_endpoint_that_never_answers_fails_after_the_starting_timeout(
    machine, provisioned, endpoints, notifier, clock
) -> None:
    endpoints.not_answering_for = 1_000
    machine.on_endpoint_status(provisioned, EndpointStatus.IN_SERVICE)
    clock.advance(minutes=machine.settings.starting_timeout_minutes - 1)
    assert machine.reconcile() == []
    clock.advance(minutes=2)
    repairs = machine.reconcile()
    assert [(r.endpoint_name, r.kind) for r in repairs] == [(provisioned, RepairKind.FAILED_START)]
    item = machine.store.get()
    assert item.state == State.FAILED and item.last_error_code == "start_timeout"
    assert provisioned in endpoints.deleted
    assert len(notifier.sent) == 1 and "could not start" in notifier.sent[0][1]


def test_a_canary_answer_without_one_prediction_does_not_promote(
    machine, provisioned, endpoints, notifier, monkeypatch
) -> None:
    monkeypatch.setattr(endpoints, "invoke", lambda name, payload: {"predictions": []})
    assert "did not answer one prediction" in machine.on_endpoint_status(provisioned, EndpointStatus.IN_SERVICE)
    assert machine.store.get().state == State.STARTING and notifier.sent == []


def test_a_stale_in_service_event_invokes_nothing(machine, provisioned, endpoints) -> None:
    machine.on_endpoint_status(provisioned, EndpointStatus.IN_SERVICE)
    endpoints.invocations.clear()
    assert machine.on_endpoint_status(provisioned, EndpointStatus.IN_SERVICE).startswith("ignored")
    assert machine.on_endpoint_status("ondemand-sentiment-19990101t000000-1", EndpointStatus.IN_SERVICE).startswith(
        "ignored"
    )
    assert endpoints.invocations == []
