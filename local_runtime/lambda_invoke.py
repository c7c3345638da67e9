"""Calling a Lambda handler in-process the way the Lambda runtime would: by its dotted name, with a context."""

from __future__ import annotations

import importlib
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
    """Resolves `module.function` handler names once and calls them, one invocation per handler at a time: on
    Lambda each concurrent invocation has a sandbox of its own, while here they share one process, and Powertools'
    resolver keeps the current event on its module-level app."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _resolve(self, name: str) -> tuple[Handler, threading.Lock]:
        with self._guard:
            if name not in self._handlers:
                module_name, function_name = name.rsplit(".", 1)
                self._handlers[name] = getattr(importlib.import_module(module_name), function_name)
                self._locks[name] = threading.Lock()
            return self._handlers[name], self._locks[name]

    def preload(self, *names: str) -> None:
        """Import the handlers now (a cold start), so the first request does not pay for it."""
        for name in names:
            self._resolve(name)

    def __call__(self, name: str, event: dict[str, Any]) -> Any:
        handler, lock = self._resolve(name)
        context = LambdaContext(function_name=name.rsplit(".", 2)[-2])
        with lock:
            return handler(event, context)
