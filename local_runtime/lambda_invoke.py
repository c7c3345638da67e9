"""Calling Lambda handlers in-process the way the Lambda runtime would: by their name in the template, with a
context."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The attributes Powertools and the handlers read from the Lambda context object."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    log_group_name: str = "local"
    log_stream_name: str = "local"
    timeout_ms: int = 30_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


class HandlerInvoker:
    """Calls the handlers registered under their template names (`ondemand.handlers.api.handler`), one invocation
    per handler at a time: on Lambda each concurrent invocation has a sandbox of its own, while here they share one
    process, and Powertools' resolver keeps the current event on its module-level app."""

    def __init__(self) -> None:
        self._handlers: dict[str, tuple[Handler, threading.Lock]] = {}
        self._guard = threading.Lock()

    def register(self, name: str, handler: Handler) -> None:
        with self._guard:
            self._handlers[name] = (handler, threading.Lock())

    def __call__(self, name: str, event: dict[str, Any]) -> Any:
        with self._guard:
            registered = self._handlers.get(name)
        if registered is None:
            raise LookupError(f"no handler registered as {name!r} (registered: {sorted(self._handlers)})")
        handler, lock = registered
        context = LambdaContext(function_name=name.rsplit(".", 2)[-2])
        with lock:
            return handler(event, context)
