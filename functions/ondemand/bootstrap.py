"""The one place the lifecycle is assembled: `bootstrap(settings, adapters)` builds its rooms once and maps each
command to its room (the way Cosmic Python's bootstrap and handler map do) -> `Service`.

Lambda builds the service once per container from the environment and the AWS adapters (`LambdaEntryPoint`); the
local runtime and the tests call `bootstrap` with their own settings and adapters, then each handler module's
`make_handler(service)`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from ondemand.adapters.aws import build_aws_adapters
from ondemand.domain import utc_now
from ondemand.lifecycle.commands import (
    Command,
    ConfirmPhone,
    EndpointStatusChanged,
    Extend,
    Predict,
    Reconcile,
    Result,
    SendCode,
    SendNotice,
    SendText,
    Start,
    Stop,
    TearDown,
)
from ondemand.lifecycle.consent import Consent
from ondemand.lifecycle.endpoint_events import EndpointEvents
from ondemand.lifecycle.predictions import Predictions
from ondemand.lifecycle.promotion import Promotion
from ondemand.lifecycle.reconciler import Reconciler
from ondemand.lifecycle.room import RoomKit
from ondemand.lifecycle.schedules import Schedules
from ondemand.lifecycle.shutdown import Shutdown
from ondemand.lifecycle.starts import Starts
from ondemand.lifecycle.texting import InlineTextQueue, Texting, TextSender
from ondemand.lifecycle.writes import ConditionalWrites
from ondemand.ports import Adapters, KeySource, Peppered
from ondemand.settings import Settings
from ondemand.status import status_view

Handler = Callable[[Any, Any], dict[str, Any]]
CommandHandlers = Mapping[type[Command[Any]], Callable[[Any], Any]]


@dataclass(frozen=True)
class Service:
    """What the handlers need: the settings, the adapters, and `handle`, which sends a command to its room."""

    settings: Settings
    adapters: Adapters
    now: Callable[[], datetime]
    command_handlers: CommandHandlers

    def handle(self, command: Command[Result]) -> Result:
        return cast(Result, self.command_handlers[type(command)](command))

    def status(self) -> dict[str, Any]:
        """What GET /status answers."""
        return status_view(self.adapters.store.get(), self.now(), self.settings)


def bootstrap(
    settings: Settings,
    adapters: Adapters,
    *,
    now: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> Service:
    """Build every room once on `adapters` and map each command to the room that handles it."""
    # The lifecycle queues its texts; the sender (handlers/texts.py, or inline without a queue) sends them.
    sender = TextSender(adapters.notifier, adapters.rate_limiter, adapters.text_claims, settings, sleep)
    kit = RoomKit(
        writes=ConditionalWrites(adapters.store, sleep),
        endpoints=adapters.endpoints,
        schedules=Schedules(adapters.scheduler, settings, now),
        texting=Texting(adapters.text_queue or InlineTextQueue(sender), settings),
        settings=settings,
        now=now,
    )
    starts = Starts(kit, adapters.rate_limiter)
    predictions = Predictions(kit, adapters.instant_model)
    promotion = Promotion(kit)
    shutdown = Shutdown(kit, starts)
    reconciler = Reconciler(kit, starts, promotion, shutdown)
    events = EndpointEvents(kit, starts, promotion, shutdown)
    consent = Consent(kit.texting, adapters.rate_limiter, consent_key(adapters), settings, now)
    command_handlers: CommandHandlers = {
        # A phone reaches the list only through here, confirmed first: nothing is counted or written otherwise.
        Start: lambda command: starts.start(consent.confirmed(command.phone, command.confirmation), command.client),
        SendCode: lambda command: consent.send_code(command.phone, command.client),
        ConfirmPhone: lambda command: consent.confirm(command.phone, command.code),
        Predict: lambda command: predictions.predict(command.texts),
        Extend: lambda command: shutdown.extend(),
        Stop: lambda command: shutdown.stop(command.reason),
        EndpointStatusChanged: lambda command: events.on_endpoint_status(
            command.name, command.status, command.failure_reason
        ),
        SendNotice: lambda command: shutdown.send_notice(command.name, command.scheduled_for),
        TearDown: lambda command: shutdown.teardown(command.name, command.scheduled_for),
        Reconcile: lambda command: reconciler.reconcile(),
        SendText: lambda command: sender.deliver(command.text, command.attempt),
    }
    return Service(settings, adapters, now, command_handlers)


def consent_key(adapters: Adapters) -> KeySource | None:
    """The key of the consent codes and tokens: the adapters' own, else the rate limiter's pepper (read when first
    needed, not here: on AWS it is a Secrets Manager read), else None (no number can be confirmed)."""
    if adapters.consent_key is not None:
        return adapters.consent_key
    limiter = adapters.rate_limiter
    if limiter is not None and hasattr(type(limiter), "pepper"):  # on the class: reading it would fetch the secret
        peppered = cast(Peppered, limiter)
        return lambda: peppered.pepper
    return None


def service_from_environment(*, creates_schedules: bool = True) -> Service:
    """The service of a Lambda container: settings from its environment, the AWS adapters."""
    settings = Settings.from_environment(creates_schedules=creates_schedules)
    return bootstrap(settings, build_aws_adapters(settings))


class LambdaEntryPoint:
    """A handler module's `handler`: builds its service and handler once per container.

    On Lambda (AWS_LAMBDA_FUNCTION_NAME set) it builds them when the module is imported, so a misconfiguration fails
    the init phase with the ConfigurationError's message. Elsewhere it builds them on the first call, so tests and
    the local runtime can import any handler module without an AWS environment (they call `make_handler` instead).
    """

    def __init__(self, make_handler: Callable[[Service], Handler], *, creates_schedules: bool = True) -> None:
        self._make_handler = make_handler
        self.creates_schedules = creates_schedules
        """False for a function that only deletes schedules (its settings need no SCHEDULER_ROLE_ARN)."""
        self._handler: Handler | None = None
        self._lock = threading.Lock()
        if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
            self._build()

    def _build(self) -> Handler:
        with self._lock:
            if self._handler is None:
                self._handler = self._make_handler(service_from_environment(creates_schedules=self.creates_schedules))
            return self._handler

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        return (self._handler or self._build())(event, context)
