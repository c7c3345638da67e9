"""The four ports as a simulated AWS for the model-based test: an in-memory state item with DynamoDB's conditional
write semantics, a SageMaker that provisions and deletes over simulated time, a scheduler and a notifier; each can
have a fault armed, and any call can be the last one a crashed handler makes.

Beyond moto, they behave as the real services do where that has bitten: EventBridge Scheduler fires within a minute
of its at() (`schedule_early_late`: from then on every schedule fires that far off), SageMaker refuses DeleteEndpoint
while an endpoint is Creating (`delete_refused_while_creating`: that endpoint then refuses every delete until it
settles), and an endpoint reported InService may not answer a prediction yet (`model_loading`: until the
environment's model finishes loading)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ondemand.domain import (
    ConflictError,
    EndpointError,
    EndpointInfo,
    EndpointNotDeletableError,
    EndpointState,
    EndpointStatus,
    NotifierError,
    SchedulerError,
    SendResult,
    State,
    Transition,
)

EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
# SageMaker keeps a deleted endpoint in Deleting for a while before it is gone (and its name free again).
DELETE_TIME = timedelta(minutes=2)
FAULT_KINDS = (
    "create_capacity",
    "create_timeout",
    "delete_throttle",
    "schedule_fail",
    "sms_fail",
    "schedule_early_late",
    "delete_refused_while_creating",
    "model_loading",
)


class HandlerCrash(Exception):
    """The Lambda died right after a port call (timeout, out of memory, a deploy): nothing after it ran."""


@dataclass
class FaultPlan:
    """Faults armed by the environment; each is used by the next call it applies to. The timed reconciler is the
    safety net under test, so while it runs (`safety_net`) armed faults wait for the next handler."""

    armed: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    crash_after_calls: int | None = None
    calls: int = 0
    safety_net: bool = False
    schedule_offset: timedelta = timedelta(0)
    """How far from its at() every schedule fires from now on (`schedule_early_late`: -60 s to +60 s). Not a
    one-off: EventBridge Scheduler's one-minute precision applies to every schedule, the reconciler's too."""

    def take(self, kind: str) -> bool:
        if self.safety_net or self.armed[kind] <= 0:
            return False
        self.armed[kind] -= 1
        self.injected[kind] += 1
        return True

    def begin_invocation(self, crash_after_calls: int | None) -> None:
        self.calls = 0
        self.crash_after_calls = None if self.safety_net else crash_after_calls

    def after_call(self, what: str) -> None:
        """Called after each port call has taken effect; raises HandlerCrash if this is where the handler dies."""
        self.calls += 1
        if self.crash_after_calls is not None and self.calls == self.crash_after_calls:
            self.crash_after_calls = None
            self.injected["crash"] += 1
            self.injected[f"crash after {what}"] += 1
            raise HandlerCrash(what)


class InMemoryStateStore:
    """The StateStore port with DynamoDB's semantics: every write is conditional on state and version."""

    def __init__(self, now: Callable[[], datetime], faults: FaultPlan, history_limit: int = 50) -> None:
        self.now = now
        self.faults = faults
        self.history_limit = history_limit
        self.item = EndpointState(state=State.STOPPED, version=0, since=EPOCH)
        self.starts = 0
        """How many STARTING writes won: the id of the current start."""

    def get(self) -> EndpointState:
        item = self.item
        self.faults.after_call("get")
        return item

    def transition(
        self, expected: Iterable[State], to: State, reason: str, *, expected_version: int | None = None, **changes: Any
    ) -> EndpointState:
        return self._write(tuple(expected), to, reason, expected_version, changes)

    def update(
        self, expected: Iterable[State], reason: str, *, expected_version: int | None = None, **changes: Any
    ) -> EndpointState:
        return self._write(tuple(expected), None, reason, expected_version, changes)

    def add_subscriber(self, expected: Iterable[State], phone: str, limit: int) -> EndpointState:
        current = self.item
        if current.state not in expected or phone in current.subscribers or len(current.subscribers) >= limit:
            raise ConflictError("the item is not taking this subscriber (state, duplicate or full)")
        self.item = replace(current, version=current.version + 1, subscribers=(*current.subscribers, phone))
        self.faults.after_call("add subscriber")
        return self.item

    def record_use(self, endpoint_name: str, at: datetime, min_interval: timedelta) -> EndpointState:
        current = self.item
        recent = current.last_used_at is not None and current.last_used_at > at - min_interval
        if current.state != State.IN_SERVICE or current.endpoint_name != endpoint_name or recent:
            raise ConflictError("use recorded less than a minute ago, or the endpoint changed")
        self.item = replace(current, version=current.version + 1, last_used_at=at)
        self.faults.after_call("record use")
        return self.item

    def _write(
        self,
        expected: tuple[State, ...],
        to: State | None,
        reason: str,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> EndpointState:
        current = self.item
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(f"the item is at version {current.version}, not {expected_version}")
        if current.state not in expected:
            raise ConflictError(f"the item is {current.state.value}")
        if "subscribers" in changes:
            changes["subscribers"] = tuple(changes["subscribers"])
        written = replace(current, version=current.version + 1, **changes)
        if to is not None:
            now = self.now()
            entry = Transition(at=now, from_state=current.state, to_state=to, reason=reason)
            written = replace(written, state=to, since=now, history=(*current.history, entry)[-self.history_limit :])
            if to == State.STARTING:
                self.starts += 1
        self.item = written
        self.faults.after_call(f"write {to.value if to else 'update'}")
        return written


@dataclass
class SimulatedEndpoint:
    name: str
    status: EndpointStatus
    created_at: datetime
    gone_at: datetime | None = None
    failure_reason: str | None = None
    delete_locked: bool = False
    """SageMaker refused to delete it while Creating: every delete is refused until it settles."""
    settled_at: datetime | None = None
    """When it left Creating (InService or Failed)."""
    loading: bool = False
    """InService, but the model does not answer yet."""
    answered: bool = False
    """At least one invocation succeeded."""


class SimulatedSageMaker:
    """The EndpointControl port as SageMaker behaves: a name is taken until its endpoint is gone, deletion takes
    DELETE_TIME, and readiness is reported later as a state-change event (the environment decides when)."""

    def __init__(self, now: Callable[[], datetime], faults: FaultPlan) -> None:
        self.now = now
        self.faults = faults
        self.endpoints: dict[str, SimulatedEndpoint] = {}
        self.removed: list[tuple[SimulatedEndpoint, datetime]] = []

    def create(self, name: str) -> None:
        if self.faults.take("create_capacity"):
            raise EndpointError("ResourceLimitExceeded: no ml.g4dn.xlarge capacity")
        if name in self.endpoints:
            raise EndpointError(f"ValidationException: Cannot create already existing endpoint {name}")
        self.endpoints[name] = SimulatedEndpoint(name, EndpointStatus.CREATING, self.now())
        if self.faults.take("create_timeout"):  # SageMaker made it, the caller never heard back
            raise EndpointError("Read timeout on endpoint URL")
        self.faults.after_call("create")

    def describe(self, name: str) -> EndpointInfo | None:
        endpoint = self.endpoints.get(name)
        self.faults.after_call("describe")
        return None if endpoint is None else EndpointInfo(name, endpoint.status, endpoint.failure_reason)

    def delete(self, name: str) -> None:
        if self.faults.take("delete_throttle"):
            raise EndpointError("ThrottlingException: Rate exceeded")
        endpoint = self.endpoints.get(name)
        if (
            endpoint is not None
            and endpoint.status == EndpointStatus.CREATING
            and (endpoint.delete_locked or self.faults.take("delete_refused_while_creating"))
        ):
            endpoint.delete_locked = True
            raise EndpointNotDeletableError(name, endpoint.status.value)
        if endpoint is not None and endpoint.status != EndpointStatus.DELETING:
            endpoint.status = EndpointStatus.DELETING
            endpoint.gone_at = self.now() + DELETE_TIME
        self.faults.after_call("delete")

    def list(self, prefix: str) -> list[EndpointInfo]:
        listed = [
            EndpointInfo(e.name, e.status, e.failure_reason)
            for name, e in sorted(self.endpoints.items())
            if name.startswith(prefix)
        ]
        self.faults.after_call("list")
        return listed

    def invoke(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        endpoint = self.endpoints.get(name)
        if endpoint is None or endpoint.status != EndpointStatus.IN_SERVICE:
            raise EndpointError(f"ValidationException: endpoint {name} is not InService")
        if endpoint.loading:
            raise EndpointError("ModelError: Received server error (503) from primary: the model is still loading")
        endpoint.answered = True
        return {"predictions": [{"label": "POSITIVE", "label_id": 1, "prob": 0.9} for _ in payload["texts"]]}

    # ----- the environment's side -----

    def finish_provisioning(self, name: str, ok: bool) -> None:
        endpoint = self.endpoints[name]
        endpoint.status = EndpointStatus.IN_SERVICE if ok else EndpointStatus.FAILED
        endpoint.failure_reason = None if ok else "CapacityError: unable to provision ml.g4dn.xlarge"
        endpoint.settled_at = self.now()
        endpoint.loading = ok and self.faults.take("model_loading")

    def loading(self) -> list[str]:
        return [name for name, e in sorted(self.endpoints.items()) if e.loading]

    def refusing_deletes(self) -> set[str]:
        """Endpoints SageMaker will not delete yet: refused once while Creating, still Creating."""
        return {n for n, e in self.endpoints.items() if e.delete_locked and e.status == EndpointStatus.CREATING}

    def creating(self) -> list[str]:
        return [name for name, e in sorted(self.endpoints.items()) if e.status == EndpointStatus.CREATING]

    def billing(self) -> dict[str, SimulatedEndpoint]:
        """Endpoints that cost money: Creating, InService (a Failed or Deleting one runs no instance)."""
        idle = (EndpointStatus.DELETING, EndpointStatus.FAILED)
        return {name: e for name, e in self.endpoints.items() if e.status not in idle}

    def next_removal(self) -> datetime | None:
        return min((e.gone_at for e in self.endpoints.values() if e.gone_at is not None), default=None)

    def remove_deleted(self) -> None:
        now = self.now()
        for name, endpoint in list(self.endpoints.items()):
            if endpoint.gone_at is not None and endpoint.gone_at <= now:
                del self.endpoints[name]
                self.removed.append((endpoint, now))


class SimulatedScheduler:
    """One-time schedules; the environment fires the due ones (and deletes them after, as ActionAfterCompletion)."""

    def __init__(self, faults: FaultPlan) -> None:
        self.faults = faults
        self.schedules: dict[str, tuple[datetime, dict[str, Any]]] = {}

    def schedule(self, name: str, at: datetime, payload: dict[str, Any]) -> None:
        if self.faults.take("schedule_fail"):
            raise SchedulerError("ServiceQuotaExceededException")
        if self.faults.schedule_offset:
            self.faults.injected["schedule_early_late"] += 1
            at += self.faults.schedule_offset
        self.schedules[name] = (at, payload)
        self.faults.after_call("schedule")

    def cancel(self, name: str) -> None:
        self.schedules.pop(name, None)
        self.faults.after_call("cancel schedule")

    def next_due(self) -> datetime | None:
        return min((at for at, _ in self.schedules.values()), default=None)

    def pop_due(self, now: datetime) -> list[dict[str, Any]]:
        due = sorted((at, name) for name, (at, _) in self.schedules.items() if at <= now)
        return [self.schedules.pop(name)[1] for _, name in due]


class SimulatedNotifier:
    """Records each SMS with the start it belongs to (the store's start count at the moment of sending), and apart
    those sent while the item's endpoint had never answered a prediction."""

    def __init__(self, store: InMemoryStateStore, faults: FaultPlan, sagemaker: SimulatedSageMaker) -> None:
        self.store = store
        self.faults = faults
        self.sagemaker = sagemaker
        self.sent: list[tuple[int, str, str]] = []
        self.sent_before_an_answer: list[tuple[int, str, str]] = []
        self.item_at_send: list[tuple[EndpointState, datetime]] = []
        """The item and the clock at each text sent (same order as `sent`)."""

    def send(self, phone: str, message: str) -> SendResult:
        if self.faults.take("sms_fail"):
            raise NotifierError("Textbelt unreachable")
        self.sent.append((self.store.starts, phone, message))
        endpoint = self.sagemaker.endpoints.get(self.store.item.endpoint_name or "")
        if endpoint is None or not endpoint.answered:
            self.sent_before_an_answer.append(self.sent[-1])
        self.item_at_send.append((self.store.item, self.store.now()))
        self.faults.after_call("sms")
        return SendResult(ok=True, detail=f"id-{len(self.sent)}")
