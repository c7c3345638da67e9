"""The local notifier: every SMS lands in an outbox (JSON lines) that the page, the dashboard and the console
read. With a real provider configured (Textbelt), the message also goes out and the outbox records the result."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ondemand.domain import NotifierError, SendResult
from ondemand.ports import Notifier


class OutboxNotifier:
    """Notifier port: append each message to `path`; forward it to `provider` when one is given."""

    def __init__(
        self,
        path: Path,
        provider: Notifier | None = None,
        provider_name: str = "outbox",
        on_send: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.path = path
        self._provider = provider
        self._provider_name = provider_name if provider else "outbox"
        self._on_send = on_send
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def send(self, phone: str, message: str) -> SendResult:
        if self._provider is None:
            result = SendResult(ok=True, detail="saved to the local outbox")
        else:
            try:
                result = self._provider.send(phone, message)
            except NotifierError as error:
                result = SendResult(ok=False, detail=str(error))
        entry = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "phone": phone,
            "message": message,
            "provider": self._provider_name,
            "ok": result.ok,
            "detail": result.detail,
        }
        with self._lock, self.path.open("a") as outbox:
            outbox.write(json.dumps(entry) + "\n")
        if self._on_send:
            self._on_send(entry)
        return result


def read_outbox(path: Path) -> list[dict[str, Any]]:
    """Every message in the outbox, oldest first; a missing outbox is empty."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
