"""The TextQueue port locally: what SQS and its Lambda event source do on AWS, in one background thread.

`enqueue` returns at once (the lifecycle's handler never waits for the provider); the thread hands each text to the
sender's Lambda handler (`ondemand.handlers.texts.handler`, through the same invoker as every other handler) as an
SQS event with its receive count, and a text the handler reports failed comes back after `visibility_seconds`, as
after SQS's visibility timeout. The texts live in this process's memory only: the runtime's outbox is where they end.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ondemand.ports import OutgoingText

log = logging.getLogger(__name__)

Deliver = Callable[[dict[str, Any]], Any]
MAX_RECEIVES = 10
"""A backstop only: the sender drops a text itself on its 5th delivery (TEXT_ATTEMPTS)."""


@dataclass
class _Message:
    message_id: str
    body: str
    visible_at: float
    received: int = 0


class LocalTextQueue:
    """One message per text; `start(deliver)` begins delivering them, `close()` stops (texts still queued are lost,
    as they would be past SQS's retention)."""

    def __init__(self, visibility_seconds: float = 5.0) -> None:
        self.visibility_seconds = visibility_seconds
        self._messages: list[_Message] = []
        self._busy = 0
        self._changed = threading.Condition()
        self._stopped = False
        self._deliver: Deliver | None = None
        self._thread = threading.Thread(target=self._loop, name="text-queue", daemon=True)

    def enqueue(self, text: OutgoingText) -> None:
        with self._changed:
            self._messages.append(_Message(str(uuid.uuid4()), text.to_json(), time.monotonic()))
            self._changed.notify_all()

    def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._thread.start()

    def wait_until_empty(self, timeout: float) -> bool:
        """True once every queued text was delivered (or dropped) within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._messages or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def close(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _next(self) -> _Message | None:
        """The first visible message, waiting for one; None once closed."""
        with self._changed:
            while not self._stopped:
                now = time.monotonic()
                visible = [m for m in self._messages if m.visible_at <= now]
                if visible:
                    message = visible[0]
                    self._messages.remove(message)
                    self._busy += 1
                    return message
                later = min((m.visible_at for m in self._messages), default=None)
                self._changed.wait(None if later is None else max(0.01, later - now))
        return None

    def _loop(self) -> None:
        while (message := self._next()) is not None:
            message.received += 1
            record = {
                "messageId": message.message_id,
                "body": message.body,
                "attributes": {"ApproximateReceiveCount": str(message.received)},
                "eventSource": "aws:sqs",
            }
            failed = True
            try:
                assert self._deliver is not None
                answer = self._deliver({"Records": [record]})
                failed = bool(answer.get("batchItemFailures"))
            except Exception:
                log.exception("the text sender failed; the text comes back after %g s", self.visibility_seconds)
            with self._changed:
                self._busy -= 1
                if failed and message.received >= MAX_RECEIVES:
                    log.error(
                        "a text failed %d deliveries and was dropped (the sender never gave up on it)", MAX_RECEIVES
                    )
                elif failed:
                    message.visible_at = time.monotonic() + self.visibility_seconds
                    self._messages.append(message)
                self._changed.notify_all()
