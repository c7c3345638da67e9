"""The ports the lifecycle logic talks to, and `Adapters`, the bundle of one adapter per port.

Each port has an AWS adapter (ondemand.adapters.aws builds them) and a local adapter (local_runtime); the logic
takes the bundle in its constructor, so tests hand it fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ondemand.domain import EndpointInfo, EndpointState, SendResult, State


class StateStore(Protocol):
    def get(self) -> EndpointState:
        """The state item; a missing item reads as STOPPED at version 0."""
        ...

    def transition(
        self, expected: Iterable[State], to: State, reason: str, *, expected_version: int | None = None, **changes: Any
    ) -> EndpointState:
        """Conditional write: succeeds only if the item is in one of `expected` and at the version last read.

        `expected_version` (optional) also pins the version the caller read, so a decision made on a stale read
        cannot overwrite a newer one. `changes` sets item fields (`endpoint_name`, `expires_at`, `in_service_at`,
        `subscribers`, `last_error`, `notice_sent_at`). Appends a bounded history entry. Raises ConflictError when the
        condition fails."""
        ...

    def update(
        self, expected: Iterable[State], reason: str, *, expected_version: int | None = None, **changes: Any
    ) -> EndpointState:
        """Conditional write of fields without a state change (extend). Raises ConflictError."""
        ...

    def add_subscriber(self, expected: Iterable[State], phone: str, limit: int) -> EndpointState:
        """Append `phone` in one atomic write if the item is in `expected`, does not list it yet and lists fewer
        than `limit`; bumps the version like any write. Raises ConflictError (and changes nothing) otherwise.

        Atomic rather than read-modify-write, so a crowd clicking Start at once does not collide on the version."""
        ...

    def record_use(self, endpoint_name: str, at: datetime, min_interval: timedelta) -> EndpointState:
        """Set `last_used_at` to `at` in one atomic write if the item is IN_SERVICE with `endpoint_name` and its
        `last_used_at` is unset or at least `min_interval` older; bumps the version. Raises ConflictError otherwise.

        A successful /predict calls it, so at most one write a minute however many predictions there are."""
        ...


class EndpointControl(Protocol):
    """SageMaker's endpoint API, or a local model-server process behind the same contract."""

    def create(self, name: str) -> None:
        """Begin creating the endpoint. Returns at once; readiness arrives later as a state-change event."""
        ...

    def describe(self, name: str) -> EndpointInfo | None:
        """The endpoint's status, or None if it does not exist."""
        ...

    def delete(self, name: str) -> None:
        """Delete the endpoint. An endpoint that is already gone counts as deleted."""
        ...

    def list(self, prefix: str) -> list[EndpointInfo]:
        """Every endpoint whose name starts with `prefix` (all pages)."""
        ...

    def invoke(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST the JSON payload to the endpoint's /invocations and return its JSON answer."""
        ...


class Scheduler(Protocol):
    """One-time schedules (EventBridge Scheduler `at()`), or a local timer that fires the same payload."""

    def schedule(self, name: str, at: datetime, payload: dict[str, Any]) -> None:
        """Create or replace the schedule `name`; the same name twice leaves one schedule.

        It fires with `payload` at `at` or up to two minutes later (EventBridge Scheduler has one-minute precision;
        its adapter rounds up so it is never early), so the payload carries what the target must check."""
        ...

    def cancel(self, name: str) -> None:
        """Delete the schedule; a missing one is fine."""
        ...


class Notifier(Protocol):
    """SMS: Textbelt, SNS, or a local outbox."""

    def send(self, phone: str, message: str) -> SendResult: ...


class RateLimiter(Protocol):
    """Fixed-window counters for the public API (DynamoDB with TTL; the same code against the local server)."""

    def acquire(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one use of `key`; None if within the limit, else the seconds until the window ends (not counted)."""
        ...


class InstantModel(Protocol):
    """The instant tier: the small CPU model the pipeline publishes beside the transformer (S3 on AWS, a folder
    locally), loaded once per container and answering in milliseconds while the GPU endpoint is not in service."""

    def answer(self, texts: list[str]) -> dict[str, Any] | None:
        """{"predictions": [...], "model": name} for the texts, or None while no instant model is published yet.

        Raises InstantModelError when a published artifact cannot be loaded (a clear error, not a silent 503)."""
        ...


class NoInstantModel:
    """The instant tier with nothing published: every answer is None (tests, and stacks with the tier off)."""

    def answer(self, texts: list[str]) -> dict[str, Any] | None:
        return None


SecretSource = Callable[[], "str | None"]
"""A secret read on demand (Secrets Manager on AWS, a value in code locally); None when none is configured."""


def no_secret() -> str | None:
    return None


@dataclass(frozen=True)
class Adapters:
    """One adapter per port: what `ondemand.bootstrap.bootstrap` wires the lifecycle and the handlers with."""

    store: StateStore
    endpoints: EndpointControl
    scheduler: Scheduler
    notifier: Notifier
    rate_limiter: RateLimiter | None = None
    """The /start limits and the daily text caps; None: no limits (RATE_LIMIT_TABLE_NAME unset, no SMS provider)."""
    admin_api_key: SecretSource = no_secret
    """The x-api-key POST /stop requires; None turns /stop off."""
    instant_model: InstantModel = NoInstantModel()
    """The instant tier's model (INSTANT_TIER decides when it may answer)."""
