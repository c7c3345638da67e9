"""The local notifier: every SMS lands in an outbox (JSON lines) that the page, the dashboard and the console
read. With a real provider configured (Textbelt), the message also goes out and the outbox records the result.

The file keeps whole phone numbers and only its owner may read it (0600); everything shown (the console, `GET
/outbox` for the page and the dashboard) masks them."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ondemand.domain import NotifierError, SendResult
from ondemand.ports import Notifier

PRIVATE_FILE_MODE = 0o600


def mask_phone(phone: str) -> str:
    """`+15555550100` -> `+1555***0100`: enough to tell one's own number, not enough to text anyone."""
    digits = phone.removeprefix("+")
    tail = 4 if len(digits) >= 10 else 2
    if len(digits) < tail + 3:
        return "***"
    head = min(4, len(digits) - tail - 3)  # at least three digits hidden
    return f"{phone[: len(phone) - len(digits)]}{digits[:head]}***{digits[-tail:]}"


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
        path.touch(mode=PRIVATE_FILE_MODE)
        os.chmod(path, PRIVATE_FILE_MODE)  # touch's mode applies only to a file it creates

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
        with (
            self._lock,
            open(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE), "a") as outbox,
        ):
            outbox.write(json.dumps(entry) + "\n")
        if self._on_send:
            self._on_send(entry)
        return result


def read_outbox(path: Path, reveal_phones: bool = False) -> list[dict[str, Any]]:
    """Every message in the outbox, oldest first, phone numbers masked unless `reveal_phones` (tests, on this
    machine); a missing outbox is empty."""
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if reveal_phones:
        return entries
    return [{**entry, "phone": mask_phone(str(entry.get("phone", "")))} for entry in entries]
