"""The endpoint lifecycle's vocabulary: states, the state item, endpoint facts and domain errors.

Pure Python: no boto3, no pynamodb. Adapters translate to and from these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import overload


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


LIVE_STATES = (State.STARTING, State.IN_SERVICE, State.STOPPING)
"""The states in which the item owns an endpoint that may bill."""


def utc_now() -> datetime:
    """The lifecycle's clock; tests and the local runtime pass their own."""
    return datetime.now(UTC)


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: None) -> None: ...
def iso(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with a Z, to the second: the one time format of the API and the schedule payload."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    last_error_code: str | None = None
    """The stable code of `last_error` (a key of PUBLIC_MESSAGES); `last_error` is its sentence for people."""
    run_started_at: datetime | None = None
    """When the current endpoint began to bill (its STARTING write); None while no endpoint exists."""
    gpu_seconds_by_day: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    """GPU seconds of finished runs per UTC day ("YYYY-MM-DD"), the last few days only: the daily budget's ledger."""
    last_used_at: datetime | None = None
    """The last successful /predict on the current endpoint, written at most once a minute; /extend needs it recent."""
    cooldown_until: datetime | None = None
    """After a teardown, /start is refused until then."""
    waiting_for: str | None = None
    """While STARTING: an earlier endpoint of ours SageMaker would not delete yet (Creating or Updating). This start's
    endpoint is created once that one settles, so two never bill at once."""


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


PUBLIC_MESSAGES = {
    "no_approved_model": "No model has been approved yet: the owner has to run the training pipeline first.",
    "no_capacity": "AWS has no GPU capacity for the model right now; try again in a few minutes.",
    "quota_exceeded": "The AWS account's quota does not allow the GPU endpoint; the owner has to ask AWS for more.",
    "access_denied": "The stack is not allowed to run the endpoint; the owner has to check its permissions.",
    "create_failed": "The endpoint could not be created; try again in a few minutes.",
    "endpoint_failed": "SageMaker could not run the endpoint; try again in a few minutes.",
    "endpoint_error": "The model could not answer; try again in a moment.",
    "start_timeout": "The model took too long to start; try again.",
    "interrupted": "The start was interrupted; try again.",
    "budget_exhausted": "Today's GPU budget ran out while the model was starting; it can start again tomorrow (UTC).",
}
"""Stable error codes and the sentence people see for each: what to do, never what is inside (no provider message,
ARN or account id). The raw detail goes only to the log."""


def public_message(code: str) -> str:
    return PUBLIC_MESSAGES.get(code, PUBLIC_MESSAGES["endpoint_failed"])


class EndpointError(LifecycleError):
    """The endpoint control failed (capacity, throttling, an invocation error).

    `str(exc)` is the raw detail for the log; `code` (a key of PUBLIC_MESSAGES) and `public_message` are what a
    caller may see."""

    def __init__(self, detail: str, code: str = "endpoint_failed") -> None:
        super().__init__(detail)
        self.code = code

    @property
    def public_message(self) -> str:
        return public_message(self.code)


class BudgetExhaustedError(LifecycleError):
    """The owner's daily GPU budget leaves too little for this start or extend (429 until `resets_at`)."""

    def __init__(self, message: str, resets_at: datetime, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.resets_at = resets_at
        self.retry_after_seconds = retry_after_seconds


class CoolingDownError(LifecycleError):
    """A /start right after a teardown or a failed start (429 until `until`)."""

    def __init__(self, until: datetime, retry_after_seconds: int, after_failure: bool = False) -> None:
        what = "The last start failed" if after_failure else "The model just shut down"
        super().__init__(f"{what}; it can start again in {retry_after_seconds} seconds.")
        self.until = until
        self.retry_after_seconds = retry_after_seconds


class RateLimitedError(LifecycleError):
    """Too many /start calls for one phone number or one client in the window (429)."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class NoRecentUseError(ConflictError):
    """/extend while nobody has used the model recently (409): extends follow real use."""

    def __init__(self) -> None:
        super().__init__("Extend works while someone is using the model: make a prediction first.")


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
