"""The local event bus: delivers events to the handlers whose EventBridge rule pattern matches them, on a
worker thread (EventBridge delivers asynchronously), retrying a failed target a few times as EventBridge does."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from moto.events.models import EventPattern
from moto.events.utils import EventMessageType

log = logging.getLogger(__name__)

_STOP = object()


@dataclass(frozen=True)
class Rule:
    """One rule: a pattern (as written in the template) and the handler it targets."""

    pattern: dict[str, Any]
    target: str

    def matches(self, event: dict[str, Any]) -> bool:
        # moto's matcher implements EventBridge's pattern syntax (prefix, anything-but, numeric, exists, ...).
        return EventPattern(None, self.pattern).matches_event(cast(EventMessageType, event))


class LocalEventBus:
    """`put()` returns at once; a worker thread calls `invoke(target, event)` for every matching rule."""

    def __init__(
        self,
        rules: list[Rule],
        invoke: Callable[[str, dict[str, Any]], Any],
        attempts: int = 3,
        retry_delay: float = 0.5,
        on_delivered: Callable[[dict[str, Any], str], None] | None = None,
    ) -> None:
        self.rules = rules
        self._invoke = invoke
        self._attempts = attempts
        self._retry_delay = retry_delay
        self._on_delivered = on_delivered
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._deliver_forever, name="event-bus", daemon=True)
        self._thread.start()

    def put(self, event: dict[str, Any]) -> None:
        self._queue.put(event)

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every event put so far has been delivered (or given up on)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def _deliver_forever(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            for rule in self.rules:
                if rule.matches(item):
                    self._deliver(rule.target, item)

    def _deliver(self, target: str, event: dict[str, Any]) -> None:
        for attempt in range(1, self._attempts + 1):
            try:
                self._invoke(target, event)
            except Exception:
                log.exception("event %s -> %s failed (attempt %d/%d)", event.get("id"), target, attempt, self._attempts)
                time.sleep(self._retry_delay * attempt)
            else:
                if self._on_delivered:
                    self._on_delivered(event, target)
                return

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
