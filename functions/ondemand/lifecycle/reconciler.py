"""The reconciler: every few minutes, compare the item with what SageMaker lists and repair any drift (a lost event,
a failed schedule, an endpoint nobody owns), so an endpoint can never keep billing unnoticed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from ondemand.domain import (
    LIVE_STATES,
    EndpointError,
    EndpointInfo,
    EndpointNotDeletableError,
    EndpointState,
    EndpointStatus,
    State,
)
from ondemand.lifecycle.promotion import Promotion
from ondemand.lifecycle.room import Room, RoomKit
from ondemand.lifecycle.shutdown import Shutdown, stopped_fields
from ondemand.lifecycle.starts import Starts, failure_code

logger = logging.getLogger(__name__)

CREATE_GRACE = timedelta(seconds=60)
"""/start writes STARTING and calls CreateEndpoint in one invocation (Lambda timeout 30 s); an endpoint still not
listed after this was never created."""


class RepairKind(StrEnum):
    """The kinds of drift the reconciler repairs."""

    DELETED_ORPHAN = "deleted_orphan"
    PROMOTED = "promoted"
    FAILED_START = "failed_start"
    TORE_DOWN_BROKEN = "tore_down_broken"
    MARKED_GONE = "marked_gone"
    TORE_DOWN_EXPIRED = "tore_down_expired"
    TORE_DOWN_IDLE = "tore_down_idle"
    FINISHED_STOP = "finished_stop"
    DELETE_DEFERRED = "delete_deferred"
    """SageMaker refused the delete while the endpoint is Creating or Updating: retried on the next run."""
    DELETE_FAILED = "delete_failed"
    """SageMaker refused the delete for another reason (throttled, access denied): logged, retried on the next run."""
    RESUMED_START = "resumed_start"
    """The leftover a start waited for settled: deleted, and the start's own endpoint created."""


@dataclass(frozen=True)
class Repair:
    """One repair the reconciler made; `detail` is for the log."""

    endpoint_name: str
    kind: RepairKind
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"endpoint_name": self.endpoint_name, "kind": self.kind.value, "detail": self.detail}


class Reconciler(Room):
    """Finds drift between the item and SageMaker and repairs it through the rooms that own each transition."""

    def __init__(self, kit: RoomKit, starts: Starts, promotion: Promotion, shutdown: Shutdown) -> None:
        super().__init__(kit)
        self.starts = starts
        self.promotion = promotion
        self.shutdown = shutdown

    def reconcile(self) -> list[Repair]:
        """Repair drift between the item and SageMaker. Returns the repairs made (none: nothing drifted)."""
        # List before reading the item: any endpoint listed was created after its STARTING write, so the item
        # read afterwards already names it, and a start racing with this run is never mistaken for an orphan.
        listed = self.endpoints.list(self.settings.endpoint_name_prefix + "-")
        item = self.store.get()
        if item.state == State.FAILED and item.waiting_for:
            # A failed start's endpoint still bills on the item's ledger: deleted (and charged) by its own room.
            repairs = self._delete_orphans(listed, item.waiting_for)
            deleted = self.starts.finish_failed(item.waiting_for)
            if deleted is None:
                return repairs
            if not deleted:
                return [*repairs, Repair(item.waiting_for, RepairKind.DELETE_DEFERRED, "a failed start's; refused")]
            return [*repairs, Repair(item.waiting_for, RepairKind.DELETED_ORPHAN, "a failed start's; run charged")]
        owned = item.endpoint_name if item.state in LIVE_STATES else None
        repairs = self._delete_orphans(listed, owned)
        if owned is None:
            return repairs
        info = next((e for e in listed if e.name == owned), None)
        if item.state == State.STARTING and item.waiting_for and info is None:
            deferred = any(repair.kind == RepairKind.DELETE_DEFERRED for repair in repairs)
            repair = self._repair_waiting_start(item, owned, deferred)
        elif item.state == State.STARTING:
            repair = self._repair_starting(item, owned, info)
        elif item.state == State.IN_SERVICE:
            repair = self._repair_in_service(item, owned, info)
        else:
            repair = self._finish_interrupted_stop(owned)
        return repairs + ([repair] if repair else [])

    def _delete_orphans(self, listed: list[EndpointInfo], owned: str | None) -> list[Repair]:
        """Endpoints of ours the item does not own bill for nothing."""
        repairs = []
        for endpoint in listed:
            if endpoint.name != owned and endpoint.status != EndpointStatus.DELETING:
                try:
                    self.endpoints.delete(endpoint.name)
                except EndpointNotDeletableError as exc:  # the rest of the sweep goes on; the next run retries
                    repairs.append(Repair(endpoint.name, RepairKind.DELETE_DEFERRED, f"no state item owns it; {exc}"))
                    continue
                except EndpointError as exc:  # throttled or refused: the owned endpoint is still repaired in this run
                    logger.warning("could not delete the orphan %s: %s", endpoint.name, exc)
                    repairs.append(Repair(endpoint.name, RepairKind.DELETE_FAILED, f"delete failed: {exc.code}"))
                    continue
                repairs.append(Repair(endpoint.name, RepairKind.DELETED_ORPHAN, "no state item owns it; deleted"))
        return repairs

    def _failed(self, owned: str, code: str, detail: str) -> Repair | None:
        failed = self.starts.fail(owned, code, detail)
        return Repair(owned, RepairKind.FAILED_START, failed) if failed else None

    def _repair_starting(self, item: EndpointState, owned: str, info: EndpointInfo | None) -> Repair | None:
        """A start whose InService or Failed event was lost, that never created its endpoint, or that hangs."""
        if info is not None and info.status == EndpointStatus.IN_SERVICE:
            failure = self.promotion.canary(owned)
            if failure is None:
                promoted = self.promotion.promote(
                    owned, "reconciler: InService and answering (its event was missed or early)"
                )
                return Repair(owned, RepairKind.PROMOTED, promoted) if promoted else None
            timeout = self.settings.starting_timeout_minutes
            if self.now() - item.since <= timedelta(minutes=timeout):
                logger.warning("%s is InService but not answering yet: %s", owned, failure)
                return None
            return self._failed(
                owned, "start_timeout", f"InService but no prediction succeeded within {timeout:g} minutes: {failure}"
            )
        why = self._why_start_failed(item, info)
        return None if why is None else self._failed(owned, *why)

    def _repair_waiting_start(self, item: EndpointState, owned: str, deferred: bool) -> Repair | None:
        """A start waiting for a leftover to settle: failed past the budget or the starting timeout, otherwise resumed
        once no endpoint of ours refuses deletion (`deferred`: one did in this run)."""
        why = self._why_start_failed(item, None)
        if why is not None:
            return self._failed(owned, *why)
        if deferred or item.waiting_for is None:
            return None
        resumed = self.starts.resume(item.waiting_for)
        return Repair(owned, RepairKind.RESUMED_START, resumed) if resumed else None

    def _why_start_failed(self, item: EndpointState, info: EndpointInfo | None) -> tuple[str, str] | None:
        """(code, detail for the log) of why a STARTING item cannot succeed any more, or None while it still may."""
        since_start = self.now() - item.since
        if info is not None and info.status == EndpointStatus.FAILED:
            return failure_code(info.failure_reason), f"SageMaker reports Failed: {info.failure_reason}"
        if info is None and since_start > CREATE_GRACE and not item.waiting_for and self._never_created(item):
            return "interrupted", "the endpoint was never created (the start was interrupted)"
        if info is not None and info.status in (EndpointStatus.DELETING, EndpointStatus.OUT_OF_SERVICE):
            return "endpoint_failed", f"SageMaker reports the endpoint {info.status.value} while starting"
        if self.shutdown.past_budget(item):
            return "budget_exhausted", "the day's GPU budget ran out while starting"
        if since_start > timedelta(minutes=self.settings.starting_timeout_minutes):
            return "start_timeout", f"still STARTING after {self.settings.starting_timeout_minutes:g} minutes"
        return None

    def _never_created(self, item: EndpointState) -> bool:
        """The item's endpoint does not exist, asked again: a waiting start resumed by an event after this run listed
        the endpoints has created it meanwhile. A describe that fails is no proof: the next run decides."""
        try:
            return item.endpoint_name is None or self.endpoints.describe(item.endpoint_name) is None
        except EndpointError:
            return False

    def _repair_in_service(self, item: EndpointState, owned: str, info: EndpointInfo | None) -> Repair | None:
        """An endpoint in service that broke, vanished, or outlived its expires_at (a lost schedule)."""
        if info is not None and info.status in (EndpointStatus.FAILED, EndpointStatus.OUT_OF_SERVICE):
            detail = f"reconciler: SageMaker reports the endpoint {info.status.value}: {info.failure_reason}"
            torn_down = self.shutdown.tear_down_broken(owned, detail)
            return Repair(owned, RepairKind.TORE_DOWN_BROKEN, torn_down) if torn_down else None
        if info is None or info.status == EndpointStatus.DELETING:
            vanished = self.writes.transition_if(
                [State.IN_SERVICE],
                State.STOPPED,
                "reconciler: the endpoint is gone or being deleted outside this stack",
                guard=lambda current: current.endpoint_name == owned,
                derive=self.shutdown.closing_fields,
                **stopped_fields(),
            )
            if vanished is None:
                return None
            return Repair(owned, RepairKind.MARKED_GONE, "gone from SageMaker; item set to STOPPED")
        expired = item.expires_at is not None and item.expires_at < self.now()
        stopped = self.shutdown.stop_if_due(owned, "reconciler: past expires_at") if expired else None
        if stopped is not None:
            if stopped.waiting:
                return Repair(owned, RepairKind.DELETE_DEFERRED, f"past expires_at; STOPPING: {stopped.waiting}")
            return Repair(owned, RepairKind.TORE_DOWN_EXPIRED, "past expires_at; torn down")
        idle = f"nobody used it for {self.settings.idle_minutes:g} minutes"
        if self._is_idle(item, owned) and self.shutdown.stop_if(
            owned, idle, lambda current: self._is_idle(current, owned)
        ):
            return Repair(owned, RepairKind.TORE_DOWN_IDLE, f"{idle}; torn down")
        return None

    def _is_idle(self, item: EndpointState, name: str) -> bool:
        """IN_SERVICE with `name`, and no successful prediction (or promotion) within IDLE_MINUTES."""
        active = max(moment for moment in (item.in_service_at, item.last_used_at, item.since) if moment is not None)
        return item.endpoint_name == name and self.now() - active > timedelta(minutes=self.settings.idle_minutes)

    def _finish_interrupted_stop(self, owned: str) -> Repair:
        """A STOPPING item: the teardown died between its STOPPING write and deleting the endpoint, or SageMaker
        refused the delete while the endpoint was Creating (a stop during STARTING)."""
        waiting = self.shutdown.finish_when_deletable(owned).waiting
        if waiting:
            return Repair(owned, RepairKind.DELETE_DEFERRED, f"STOPPING: {waiting}")
        return Repair(owned, RepairKind.FINISHED_STOP, "finished an interrupted teardown")
