"""The reconciler repairs each kind of drift between the state item and what SageMaker reports."""

from __future__ import annotations

from ondemand.domain import EndpointError, EndpointStatus, State
from ondemand.lifecycle.reconciler import Repair, RepairKind
from ondemand.lifecycle.schedules import teardown_schedule_name

from tests.lifecycle_driver import LifecycleDriver
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A


def kinds(repairs: list[Repair]) -> list[tuple[str, RepairKind]]:
    return [(repair.endpoint_name, repair.kind) for repair in repairs]


def start(machine: LifecycleDriver, endpoints) -> str:
    return machine.start(PHONE_A).state.endpoint_name


def test_nothing_to_repair_reports_nothing(machine, endpoints) -> None:
    assert machine.reconcile() == []
    start(machine, endpoints)
    assert machine.reconcile() == []


def test_an_endpoint_no_item_owns_is_deleted(machine, endpoints) -> None:
    endpoints.set_status("ondemand-sentiment-20250101t000000", EndpointStatus.IN_SERVICE)
    endpoints.set_status("not-ours", EndpointStatus.IN_SERVICE)
    repairs = machine.reconcile()
    assert kinds(repairs) == [("ondemand-sentiment-20250101t000000", RepairKind.DELETED_ORPHAN)]
    assert endpoints.deleted == ["ondemand-sentiment-20250101t000000"]
    assert "not-ours" in endpoints.endpoints


def test_an_orphan_next_to_the_owned_endpoint_is_deleted_and_the_owned_one_kept(machine, endpoints) -> None:
    owned = start(machine, endpoints)
    endpoints.set_status("ondemand-sentiment-20250101t000000", EndpointStatus.IN_SERVICE)
    machine.reconcile()
    assert endpoints.deleted == ["ondemand-sentiment-20250101t000000"]
    assert owned in endpoints.endpoints


def test_an_item_past_expires_at_is_torn_down(machine, endpoints, clock) -> None:
    name = start(machine, endpoints)
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    clock.advance(minutes=36)  # the schedule never fired
    repairs = machine.reconcile()
    assert kinds(repairs) == [(name, RepairKind.TORE_DOWN_EXPIRED)]
    assert machine.store.get().state == State.STOPPED
    assert endpoints.deleted == [name]


def test_a_failed_orphan_delete_does_not_stop_the_sweep(machine, endpoints, clock, monkeypatch) -> None:
    """A throttled or refused delete of an orphan is reported and retried next run; the expired endpoint the item
    owns is torn down in this run all the same, instead of billing until the next one."""
    name = start(machine, endpoints)
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    orphan = "ondemand-sentiment-20250101t000000-1"
    endpoints.set_status(orphan, EndpointStatus.IN_SERVICE)
    delete = endpoints.delete

    def throttled_for_the_orphan(target: str) -> None:
        if target == orphan:
            raise EndpointError("ThrottlingException: Rate exceeded", "endpoint_failed")
        delete(target)

    monkeypatch.setattr(endpoints, "delete", throttled_for_the_orphan)
    clock.advance(minutes=36)
    repairs = machine.reconcile()
    assert kinds(repairs) == [(orphan, RepairKind.DELETE_FAILED), (name, RepairKind.TORE_DOWN_EXPIRED)]
    assert "Throttling" not in repairs[0].detail
    assert machine.store.get().state == State.STOPPED and orphan in endpoints.endpoints


def test_a_missed_in_service_event_is_promoted_and_subscribers_texted(machine, endpoints, scheduler, notifier) -> None:
    name = start(machine, endpoints)
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    repairs = machine.reconcile()
    assert (repairs[0].endpoint_name, repairs[0].kind) == (name, RepairKind.PROMOTED)
    assert repairs[0].detail == "promoted to IN_SERVICE; queued 1 of 1 texts"
    item = machine.store.get()
    assert item.state == State.IN_SERVICE
    assert teardown_schedule_name(name) in scheduler.schedules
    assert notifier.phones() == [PHONE_A]
    assert machine.reconcile() == []
    assert notifier.phones() == [PHONE_A]


def test_a_start_stuck_in_starting_past_the_limit_fails(machine, endpoints, clock, notifier) -> None:
    name = start(machine, endpoints)
    clock.advance(minutes=machine.settings.starting_timeout_minutes - 1)
    assert machine.reconcile() == []
    clock.advance(minutes=2)
    repairs = machine.reconcile()
    assert kinds(repairs) == [(name, RepairKind.FAILED_START)]
    item = machine.store.get()
    assert item.state == State.FAILED
    assert item.last_error_code == "start_timeout" and item.last_error == "The model took too long to start; try again."
    assert name in endpoints.deleted
    assert notifier.phones() == [PHONE_A]


def test_a_failed_endpoint_with_a_missed_event_fails_the_item_with_its_reason(machine, endpoints) -> None:
    name = start(machine, endpoints)
    endpoints.set_status(name, EndpointStatus.FAILED, "CUDA driver mismatch")
    machine.reconcile()
    item = machine.store.get()
    assert item.state == State.FAILED and item.last_error_code == "endpoint_failed" and "CUDA" not in item.last_error


def test_an_in_service_item_whose_endpoint_vanished_is_stopped(machine, endpoints) -> None:
    name = start(machine, endpoints)
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    endpoints.endpoints.clear()
    assert kinds(machine.reconcile()) == [(name, RepairKind.MARKED_GONE)]
    assert machine.store.get().state == State.STOPPED


def test_an_interrupted_teardown_is_finished(machine, endpoints, clock) -> None:
    name = start(machine, endpoints)
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    machine.store.transition([State.IN_SERVICE], State.STOPPING, "teardown crashed after this write")
    assert kinds(machine.reconcile()) == [(name, RepairKind.FINISHED_STOP)]
    assert machine.store.get().state == State.STOPPED
    assert name not in endpoints.endpoints


def test_the_reconciler_handler_takes_the_scheduled_event(handlers, adapters, event, endpoints, store) -> None:
    endpoints.set_status("ondemand-sentiment-20250101t000000", EndpointStatus.IN_SERVICE)
    result = handlers.reconciler(event("reconciler_scheduled"), None)
    assert result == {
        "repairs": [
            {
                "endpoint_name": "ondemand-sentiment-20250101t000000",
                "kind": "deleted_orphan",
                "detail": "no state item owns it; deleted",
            }
        ]
    }


def test_a_deleting_endpoint_is_left_alone(machine, endpoints, clock) -> None:
    endpoints.set_status("ondemand-sentiment-20250101t000000", EndpointStatus.DELETING)
    assert machine.reconcile() == []
    assert endpoints.deleted == []


def test_a_start_whose_endpoint_was_never_created_fails_after_a_minute(machine, endpoints, clock, notifier) -> None:
    """The /start invocation died between its STARTING write and CreateEndpoint."""
    name = start(machine, endpoints)
    endpoints.endpoints.clear()
    clock.advance(seconds=30)
    assert machine.reconcile() == []
    clock.advance(seconds=40)
    assert kinds(machine.reconcile()) == [(name, RepairKind.FAILED_START)]
    assert machine.store.get().last_error_code == "interrupted"
    assert notifier.phones() == [PHONE_A]


def test_a_starting_endpoint_someone_deletes_fails_the_start(machine, endpoints) -> None:
    name = start(machine, endpoints)
    endpoints.set_status(name, EndpointStatus.DELETING)
    machine.reconcile()
    assert machine.store.get().state == State.FAILED


def test_an_in_service_endpoint_being_deleted_elsewhere_stops_the_item(machine, endpoints) -> None:
    name = start(machine, endpoints)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    endpoints.set_status(name, EndpointStatus.DELETING)
    assert kinds(machine.reconcile()) == [(name, RepairKind.MARKED_GONE)]
    assert machine.store.get().state == State.STOPPED


def test_an_in_service_endpoint_that_broke_is_torn_down(machine, endpoints) -> None:
    name = start(machine, endpoints)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    endpoints.set_status(name, EndpointStatus.OUT_OF_SERVICE)
    assert kinds(machine.reconcile()) == [(name, RepairKind.TORE_DOWN_BROKEN)]
    assert machine.store.get().state == State.STOPPED
    assert machine.store.get().last_error_code == "endpoint_failed"
    assert name in endpoints.deleted
