"""The ports the lifecycle logic talks to, and `Adapters`, the bundle of one adapter per port.

Each port has an AWS adapter (ondemand.adapters.aws builds them) and a local adapter (local_runtime); the logic
takes the bundle in its constructor, so tests hand it fakes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
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

    def release(self, key: str, window_seconds: int) -> None:
        """Give back one use of `key` counted in the current window (a conditional decrement that never goes below
        zero): a text refused by another cap or failed by the provider spends no allowance."""
        ...


@dataclass(frozen=True)
class OutgoingText:
    """One text to one number, as the lifecycle queues it and the sender sends it.

    `run` and `kind` name the text (the same text of the same send is one key with the number), so a duplicate
    delivery, or the queue's retry of a text already sent, finds its claim and sends nothing."""

    run: str
    kind: str
    phone: str
    message: str

    @property
    def key(self) -> str:
        """The idempotency key without the number (the claim adds it, HMAC-ed): safe to log."""
        return f"{self.run}#{self.kind}"

    def to_json(self) -> str:
        return json.dumps({"run": self.run, "kind": self.kind, "phone": self.phone, "message": self.message})

    @classmethod
    def from_json(cls, body: str) -> OutgoingText:
        """The text a queue message carries; ValueError (naming no field's value) if it is not one."""
        try:
            fields = json.loads(body)
            text = cls(fields["run"], fields["kind"], fields["phone"], fields["message"])
        except (ValueError, KeyError, TypeError):
            raise ValueError("the message is not a queued text") from None
        if not all(isinstance(value, str) and value for value in vars(text).values()):
            raise ValueError("the message is not a queued text")
        return text


class TextQueueError(Exception):
    """A text could not be queued (the queue's own message, never the number)."""


class TextQueue(Protocol):
    """Where the lifecycle leaves its texts (SQS on AWS, a background thread locally): one message per number,
    returning at once, so any number of subscribers costs the lifecycle's handler milliseconds."""

    def enqueue(self, text: OutgoingText) -> None:
        """Queue one text; raises TextQueueError when it could not be queued."""
        ...


class ClaimState(Enum):
    CLAIMED = "claimed"
    """This delivery holds the key now: it may send."""
    DONE = "done"
    """Sent, refused or failed for good by an earlier delivery: send nothing."""
    BUSY = "busy"
    """Another delivery holds a live lease: try again later."""
    ABANDONED = "abandoned"
    """A delivery took the key and died (its lease ran out) without saying whether the text went out: send nothing
    (a lost text rather than a second one)."""


class TextClaims(Protocol):
    """One claim per text (its key and number), a conditional write in the rate table with a TTL."""

    def claim(self, key: str, phone: str, lease_seconds: int) -> ClaimState:
        """Take the text's key for `lease_seconds` if nobody holds it and it was not finished."""
        ...

    def finish(self, key: str, phone: str, outcome: str) -> None:
        """Mark the claimed text finished (`sent`, `refused`, `failed`): later deliveries find it DONE."""
        ...

    def release(self, key: str, phone: str) -> None:
        """Give the claim back (the provider failed): the queue's next delivery may claim it again."""
        ...


class Peppered(Protocol):
    """A rate limiter that keys its counters with a secret HMAC pepper (DynamoRateLimiter). The consent codes and
    tokens (ondemand.consent) are HMACs with the same pepper, so one secret guards both and nothing new is stored."""

    @property
    def pepper(self) -> bytes:
        """The pepper, read on first use; MissingPepperError-like errors when none is configured."""
        ...


KeySource = Callable[[], bytes]
"""A secret HMAC key read on demand."""


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
    text_queue: TextQueue | None = None
    """Where texts wait for the sender (SQS, TEXT_QUEUE_URL); None: each is handed to the sender at once, in the
    caller's process (tests, and a stack without the queue)."""
    text_claims: TextClaims | None = None
    """The texts' claims (exactly once); None: no claims (no rate table), each delivery sends."""
    consent_key: KeySource | None = None
    """The key of the consent codes and tokens; None: the rate limiter's pepper (`Peppered`), if it has one."""
