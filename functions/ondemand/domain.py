"""The endpoint lifecycle's vocabulary: states, the state item, endpoint facts and domain errors.

Pure Python: no boto3, no pynamodb. Adapters translate to and from these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class State(StrEnum):
    STOPPED = "STOPPED"
    STARTING = "STARTING"
    IN_SERVICE = "IN_SERVICE"
    STOPPING = "STOPPING"
    FAILED = "FAILED"


class EndpointStatus(StrEnum):
    """What the endpoint control reports, spelled as SageMaker's DescribeEndpoint spells it."""

    CREATING = "Creating"
    UPDATING = "Updating"
    IN_SERVICE = "InService"
    DELETING = "Deleting"
    FAILED = "Failed"
    OUT_OF_SERVICE = "OutOfService"
    SYSTEM_UPDATING = "SystemUpdating"
    ROLLING_BACK = "RollingBack"
    UPDATE_ROLLBACK_FAILED = "UpdateRollbackFailed"


@dataclass(frozen=True)
class Transition:
    """One entry of the item's bounded history."""

    at: datetime
    from_state: State
    to_state: State
    reason: str


@dataclass(frozen=True)
class EndpointState:
    """A snapshot of the single state item. `version` is the optimistic-locking counter."""

    state: State
    version: int
    since: datetime
    endpoint_name: str | None = None
    expires_at: datetime | None = None
    subscribers: tuple[str, ...] = ()
    last_error: str | None = None
    history: tuple[Transition, ...] = field(default_factory=tuple)
    in_service_at: datetime | None = None
    """When the current endpoint went InService; /extend never goes past this + the hard cap."""
    notice_sent_at: datetime | None = None
    """When this session's "stops soon" text went out (at most one per session); None until then."""


@dataclass(frozen=True)
class EndpointInfo:
    """One endpoint as the endpoint control sees it."""

    name: str
    status: EndpointStatus
    failure_reason: str | None = None


@dataclass(frozen=True)
class SendResult:
    """The outcome of one SMS. `detail` carries the provider's message id or error text."""

    ok: bool
    detail: str = ""


class LifecycleError(Exception):
    """Base of every domain error; handlers map each subclass to one HTTP response."""


class ConflictError(LifecycleError):
    """A conditional write lost: the item was not in the state (or version) the caller expected."""


class ModelNotReadyError(LifecycleError):
    """A prediction was asked for while the endpoint is not in service."""

    def __init__(self, state: State, retry_after_seconds: int) -> None:
        super().__init__(f"The model is {state.value}; try again in about {retry_after_seconds} s.")
        self.state = state
        self.retry_after_seconds = retry_after_seconds


class InstantModelError(LifecycleError):
    """The instant tier's published artifact could not be read or loaded (missing object, corrupted, incompatible)."""


class EndpointError(LifecycleError):
    """The endpoint control failed (capacity, throttling, an invocation error)."""


class EndpointNotDeletableError(EndpointError):
    """SageMaker refuses DeleteEndpoint while the endpoint is Creating, Updating, SystemUpdating or RollingBack.

    Not a failure: the delete succeeds once the endpoint settles, so callers keep the intent (STOPPING, an orphan on
    the list) and a later event or reconciler run deletes it."""

    def __init__(self, name: str, status: str) -> None:
        super().__init__(
            f"SageMaker cannot delete the endpoint {name} while it is {status}; it is deleted once that finishes."
        )
        self.name = name
        self.status = status


class NotifierError(LifecycleError):
    """The SMS provider could not be reached or refused the message."""


class SchedulerError(LifecycleError):
    """The teardown schedule could not be created or deleted (the reconciler is the safety net)."""
