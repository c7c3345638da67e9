"""The one place the lifecycle is assembled: `bootstrap(settings, adapters)` -> `Service`.

Lambda builds the service once per container from the environment and the AWS adapters (`LambdaEntryPoint`); the
local runtime and the tests call `bootstrap` with their own settings and adapters, then each handler module's
`make_handler(service)`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ondemand.adapters.aws import build_aws_adapters
from ondemand.lifecycle import EndpointLifecycle, utc_now
from ondemand.ports import Adapters
from ondemand.settings import Settings
from ondemand.status import status_view

Handler = Callable[[Any, Any], dict[str, Any]]


@dataclass(frozen=True)
class Service:
    """What the handlers need: the settings, the adapters, and the lifecycle built on them."""

    settings: Settings
    adapters: Adapters
    lifecycle: EndpointLifecycle

    def status(self) -> dict[str, Any]:
        """What GET /status answers."""
        return status_view(self.adapters.store.get(), self.lifecycle.now(), self.settings)


def bootstrap(
    settings: Settings,
    adapters: Adapters,
    *,
    now: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> Service:
    return Service(settings, adapters, EndpointLifecycle(adapters, settings, now=now, sleep=sleep))


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
