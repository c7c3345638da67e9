"""The lifecycle's commands: what a handler asks for, as values. `Service.handle` sends each to its room (the map is
built once, in bootstrap); a command's type parameter is what handling it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from ondemand.domain import EndpointStatus
from ondemand.lifecycle.reconciler import Repair
from ondemand.lifecycle.shutdown import ExtendResult, StopResult
from ondemand.lifecycle.starts import StartResult
from ondemand.ports import OutgoingText

Result = TypeVar("Result", covariant=True)


class Command(Generic[Result]):
    """Base of every command."""


@dataclass(frozen=True)
class Start(Command[StartResult]):
    """POST /start: create the endpoint, or add `phone` to the people to text. `client` is the caller's address the
    start limits count against; None for an in-process caller. A phone needs `confirmation`, the token
    /phone/confirm gave for exactly that number (ondemand.consent), or nothing is done."""

    phone: str | None = None
    client: str | None = None
    confirmation: str | None = None


@dataclass(frozen=True)
class SendCode(Command[None]):
    """POST /phone/code: text `phone` its one-time code for today, unless it was sent one today already."""

    phone: str
    client: str | None = None


@dataclass(frozen=True)
class ConfirmPhone(Command["tuple[str, datetime]"]):
    """POST /phone/confirm: the confirmation token of `phone` and its expiry, if `code` is its code for today."""

    phone: str
    code: str


@dataclass(frozen=True)
class Predict(Command[dict[str, Any]]):
    """POST /predict: the answer of the tier that may answer now."""

    texts: list[str]


@dataclass(frozen=True)
class Extend(Command[ExtendResult]):
    """POST /extend: keep the model in service for another keep-alive."""


@dataclass(frozen=True)
class Stop(Command[StopResult]):
    """POST /stop (the administrator): tear down now."""

    reason: str = "stopped by an administrator"


@dataclass(frozen=True)
class EndpointStatusChanged(Command[str]):
    """EventBridge's SageMaker Endpoint State Change."""

    name: str
    status: EndpointStatus
    failure_reason: str | None = None


@dataclass(frozen=True)
class SendNotice(Command[str]):
    """The notice schedule fired: text that the model stops soon. `scheduled_for` is the expires_at it was made for."""

    name: str
    scheduled_for: datetime | None = None


@dataclass(frozen=True)
class TearDown(Command[str]):
    """The teardown schedule fired. `scheduled_for` is the expires_at it was made for."""

    name: str
    scheduled_for: datetime | None = None


@dataclass(frozen=True)
class Reconcile(Command[list[Repair]]):
    """The periodic reconciler run."""


@dataclass(frozen=True)
class SendText(Command[str]):
    """The text queue delivered one text (`attempt` is its delivery count): send it at most once."""

    text: OutgoingText
    attempt: int = 1
