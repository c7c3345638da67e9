"""SageMaker refuses DeleteEndpoint while an endpoint is Creating or Updating. Each caller keeps its intent and a
later run finishes: the reconciler's sweep goes on, /stop during STARTING records STOPPING (202), a start with a
Creating leftover stays STARTING (202) and creates its endpoint once the leftover settles, never two billing."""

from __future__ import annotations

import json

import pytest
from ondemand.domain import EndpointStatus, State
from ondemand.lifecycle.reconciler import Repair, RepairKind
from ondemand.lifecycle.starts import STALE_STARTING

from tests.lifecycle_driver import LifecycleDriver
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A

ADMIN = {"x-api-key": "s3cret-admin-key"}
CREATING_ORPHAN = "ondemand-sentiment-20250101t000000-1"
IN_SERVICE_ORPHAN = "ondemand-sentiment-20250101t010000-2"


@pytest.fixture(autouse=True)
def sagemaker_refuses(endpoints) -> None:
    endpoints.refuse_delete_while_creating = True


def kinds(repairs: list[Repair]) -> list[tuple[str, RepairKind]]:
    return [(repair.endpoint_name, repair.kind) for repair in repairs]


def call_api(handlers, event, name: str) -> tuple[int, dict]:
    request = event(name)
    request["headers"] = {**request["headers"], **ADMIN}
    response = handlers.api(request, None)
    return response["statusCode"], json.loads(response["body"])


def test_the_reconciler_sweep_goes_on_past_a_creating_orphan_and_retries_it(machine, endpoints, clock) -> None:
    owned = machine.start(PHONE_A).state.endpoint_name
    endpoints.set_status(CREATING_ORPHAN, EndpointStatus.CREATING)  # e.g. a console user's experiment
    endpoints.set_status(IN_SERVICE_ORPHAN, EndpointStatus.IN_SERVICE)
    endpoints.set_status(owned, EndpointStatus.IN_SERVICE)  # its InService event was lost
    repairs = machine.reconcile()
    assert kinds(repairs) == [
        (CREATING_ORPHAN, RepairKind.DELETE_DEFERRED),
        (IN_SERVICE_ORPHAN, RepairKind.DELETED_ORPHAN),
        (owned, RepairKind.PROMOTED),
    ]
    assert "Creating" in repairs[0].detail
    assert CREATING_ORPHAN in endpoints.endpoints
    endpoints.set_status(CREATING_ORPHAN, EndpointStatus.IN_SERVICE)  # SageMaker finished creating it
    clock.advance(minutes=5)
    assert kinds(machine.reconcile()) == [(CREATING_ORPHAN, RepairKind.DELETED_ORPHAN)]
    assert CREATING_ORPHAN not in endpoints.endpoints


def test_stop_during_starting_answers_202_and_the_in_service_event_finishes_it(
    handlers, machine, event, endpoints, notifier
) -> None:
    name = machine.start(PHONE_A).state.endpoint_name
    status, body = call_api(handlers, event, "apigw_stop")
    assert status == 202
    assert body["state"] == "STOPPING" and "Creating" in body["message"]
    assert name in endpoints.endpoints
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    outcome = machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    assert outcome == "finished a stop that waited for SageMaker"
    assert machine.store.get().state == State.STOPPED
    assert name not in endpoints.endpoints
    assert notifier.sent == []  # a stopped start is never announced as ready


def test_a_waiting_stop_is_finished_by_the_reconciler_once_the_endpoint_settles(machine, endpoints, clock) -> None:
    name = machine.start().state.endpoint_name
    result = machine.stop()
    assert result.state.state == State.STOPPING and result.waiting
    assert kinds(machine.reconcile()) == [(name, RepairKind.DELETE_DEFERRED)]
    assert machine.store.get().state == State.STOPPING
    endpoints.set_status(name, EndpointStatus.FAILED, "capacity")  # its event was lost
    clock.advance(minutes=5)
    assert kinds(machine.reconcile()) == [(name, RepairKind.FINISHED_STOP)]
    assert machine.store.get().state == State.STOPPED and name not in endpoints.endpoints


def test_a_second_stop_while_waiting_still_answers_202(handlers, machine, event) -> None:
    machine.start()
    assert call_api(handlers, event, "apigw_stop")[0] == 202
    status, body = call_api(handlers, event, "apigw_stop")
    assert status == 202 and body["state"] == "STOPPING"


def leave_a_creating_leftover(machine: LifecycleDriver, endpoints, clock) -> str:
    """A create that timed out after SageMaker made the endpoint: its cleanup is refused while it is Creating. Then
    the cooldown after the failure passes."""
    leftover = machine.start().state.endpoint_name
    machine.on_endpoint_status(leftover, EndpointStatus.FAILED, "Read timeout on endpoint URL")
    assert leftover in endpoints.endpoints and machine.store.get().state == State.FAILED
    clock.advance(minutes=machine.settings.cooldown_minutes)
    return leftover


def test_a_failed_starts_endpoint_bills_to_the_ledger_until_its_settling_event_deletes_it(
    machine, endpoints, clock
) -> None:
    """A failure while the endpoint is Creating: SageMaker refuses the delete, the item keeps the run open, and the
    endpoint's InService event deletes it and charges every minute it billed."""
    leftover = machine.start().state.endpoint_name
    machine.on_endpoint_status(leftover, EndpointStatus.FAILED, "Read timeout on endpoint URL")
    item = machine.store.get()
    assert (item.state, item.waiting_for, item.run_started_at) == (State.FAILED, leftover, clock())
    clock.advance(minutes=4)
    endpoints.set_status(leftover, EndpointStatus.IN_SERVICE)
    assert (
        machine.on_endpoint_status(leftover, EndpointStatus.IN_SERVICE)
        == f"deleted {leftover}, the failed start's endpoint"
    )
    item = machine.store.get()
    assert leftover not in endpoints.endpoints and (item.waiting_for, item.run_started_at) == (None, None)
    assert sum(item.gpu_seconds_by_day.values()) == 240


def test_a_start_after_a_failed_start_whose_endpoint_still_bills_charges_it(machine, endpoints, clock) -> None:
    leftover = leave_a_creating_leftover(machine, endpoints, clock)  # the cooldown's 5 minutes pass, billed
    machine.start()
    item = machine.store.get()
    assert item.waiting_for == leftover and item.run_started_at == clock()
    assert sum(item.gpu_seconds_by_day.values()) == machine.settings.cooldown_minutes * 60


def test_a_start_with_a_creating_leftover_answers_202_and_goes_on_when_it_settles(
    handlers, machine, event, endpoints, notifier, clock
) -> None:
    leftover = leave_a_creating_leftover(machine, endpoints, clock)
    request = event("apigw_start")
    request["body"] = json.dumps({"phone": PHONE_A})
    response = handlers.api(request, None)
    assert response["statusCode"] == 202 and json.loads(response["body"])["state"] == "STARTING"
    item = machine.store.get()
    assert list(endpoints.endpoints) == [leftover]  # never two billing
    assert item.waiting_for == leftover
    endpoints.set_status(leftover, EndpointStatus.IN_SERVICE)
    assert machine.on_endpoint_status(leftover, EndpointStatus.IN_SERVICE).endswith(f"created {item.endpoint_name}")
    assert list(endpoints.endpoints) == [item.endpoint_name]
    endpoints.set_status(item.endpoint_name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(item.endpoint_name, EndpointStatus.IN_SERVICE)
    assert machine.store.get().state == State.IN_SERVICE
    assert notifier.phones() == [PHONE_A]


def test_a_waiting_start_is_resumed_by_the_reconciler_when_the_leftovers_event_is_lost(
    machine, endpoints, clock
) -> None:
    leftover = leave_a_creating_leftover(machine, endpoints, clock)
    name = machine.start(PHONE_A).state.endpoint_name
    clock.advance(minutes=5)
    assert kinds(machine.reconcile()) == [(leftover, RepairKind.DELETE_DEFERRED)]
    assert machine.store.get().state == State.STARTING  # past CREATE_GRACE, yet not "interrupted": it waits
    endpoints.set_status(leftover, EndpointStatus.FAILED, "Read timeout")
    clock.advance(minutes=5)
    assert kinds(machine.reconcile()) == [
        (leftover, RepairKind.DELETED_ORPHAN),
        (name, RepairKind.RESUMED_START),
    ]
    assert list(endpoints.endpoints) == [name] and machine.store.get().waiting_for is None
    assert machine.on_endpoint_status(leftover, EndpointStatus.FAILED) == STALE_STARTING  # a late event: no 2nd create
    assert endpoints.created.count(name) == 1


def test_a_waiting_start_fails_only_after_the_starting_timeout(machine, endpoints, clock, notifier) -> None:
    leave_a_creating_leftover(machine, endpoints, clock)
    machine.start(PHONE_A)
    clock.advance(minutes=machine.settings.starting_timeout_minutes - 1)
    machine.reconcile()
    assert machine.store.get().state == State.STARTING
    clock.advance(minutes=2)
    machine.reconcile()
    item = machine.store.get()
    assert item.state == State.FAILED and item.last_error_code == "start_timeout"
    assert notifier.phones() == [PHONE_A]


def test_a_stop_of_a_waiting_start_stops_at_once(handlers, machine, event, endpoints, clock) -> None:
    leftover = leave_a_creating_leftover(machine, endpoints, clock)
    name = machine.start().state.endpoint_name
    status, body = call_api(handlers, event, "apigw_stop")
    assert status == 200 and body["state"] == "STOPPED"
    assert name not in endpoints.created
    endpoints.set_status(leftover, EndpointStatus.IN_SERVICE)
    assert machine.on_endpoint_status(leftover, EndpointStatus.IN_SERVICE) == STALE_STARTING
    assert kinds(machine.reconcile()) == [(leftover, RepairKind.DELETED_ORPHAN)]
    assert endpoints.endpoints == {}


def test_a_start_resumed_while_the_reconciler_runs_is_not_taken_for_interrupted(machine, endpoints, clock) -> None:
    """The reconciler lists, the leftover's event resumes the start, then the reconciler reads the item: the start's
    endpoint is missing from its list but exists."""
    leftover = leave_a_creating_leftover(machine, endpoints, clock)
    name = machine.start().state.endpoint_name
    clock.advance(minutes=5)
    endpoints.set_status(leftover, EndpointStatus.IN_SERVICE)
    listed = endpoints.list

    def list_then_event(prefix: str):
        found = listed(prefix)
        machine.on_endpoint_status(leftover, EndpointStatus.IN_SERVICE)
        return [endpoint for endpoint in found if endpoint.name != name]

    endpoints.list = list_then_event
    machine.reconcile()
    assert machine.store.get().state == State.STARTING and name in endpoints.endpoints


def test_a_teardown_refused_during_an_update_stays_stopping_and_the_reconciler_finishes(
    machine: LifecycleDriver, endpoints, clock
) -> None:
    name = machine.start().state.endpoint_name
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    endpoints.set_status(name, EndpointStatus.CREATING)  # stands for Updating/SystemUpdating: both refuse a delete
    clock.advance(minutes=30)
    assert machine.teardown(name).startswith("STOPPING: SageMaker cannot delete")
    assert machine.store.get().state == State.STOPPING
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    clock.advance(minutes=5)
    assert kinds(machine.reconcile()) == [(name, RepairKind.FINISHED_STOP)]
    assert machine.store.get().state == State.STOPPED


def test_the_202_stop_answer_matches_the_openapi_document(handlers, machine, event) -> None:
    from jsonschema import Draft202012Validator

    from tests.unit.lifecycle.test_lifecycle_openapi import schema_for

    machine.start()
    status, body = call_api(handlers, event, "apigw_stop")
    assert status == 202
    Draft202012Validator(schema_for("202", "/stop", "post")).validate(body)


def test_a_throttled_delete_while_finishing_a_waiting_stop_is_left_to_the_reconciler(machine, endpoints) -> None:
    name = machine.start().state.endpoint_name
    assert machine.stop().waiting
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    endpoints.fail_delete = "ThrottlingException: Rate exceeded"
    assert machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE).startswith("still STOPPING: Throttling")
    endpoints.fail_delete = None
    assert kinds(machine.reconcile()) == [(name, RepairKind.FINISHED_STOP)]
    assert machine.store.get().state == State.STOPPED
