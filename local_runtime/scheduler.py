"""The local scheduler: one-time schedules that fire a handler with their payload at the set moment (EventBridge
Scheduler `at()` with `ActionAfterCompletion: DELETE`), and the `rate()` loop that runs the reconciler."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)


class LocalScheduler:
    """Scheduler port: one timer per schedule name; scheduling a name again replaces (cancels) the old timer."""

    def __init__(self, fire: Callable[[dict[str, Any]], Any]) -> None:
        self._fire = fire
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()

    def schedule(self, name: str, at: datetime, payload: dict[str, Any]) -> None:
        delay = max(0.0, (at - datetime.now(UTC)).total_seconds())
        timer = threading.Timer(delay, self._run, args=(name, payload))
        timer.daemon = True
        with self._lock:
            old = self._timers.pop(name, None)
            if old:
                old.cancel()
            self._timers[name] = timer
        timer.start()
        log.info("schedule %s set for %s (in %.1f s)", name, at.isoformat(timespec="seconds"), delay)

    def cancel(self, name: str) -> None:
        with self._lock:
            timer = self._timers.pop(name, None)
        if timer:
            timer.cancel()

    def pending(self) -> list[str]:
        """Names of the schedules that have not fired yet."""
        with self._lock:
            return sorted(self._timers)

    def _run(self, name: str, payload: dict[str, Any]) -> None:
        with self._lock:
            if self._timers.get(name) is not threading.current_thread():
                return  # replaced or cancelled after the timer expired
            del self._timers[name]  # ActionAfterCompletion: DELETE
        try:
            self._fire(payload)
        except Exception:
            log.exception("schedule %s: the target failed", name)

    def close(self) -> None:
        with self._lock:
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()


class RateLoop:
    """Calls `run()` every `interval` seconds on a daemon thread until closed (a `rate()` schedule)."""

    def __init__(self, interval: float, run: Callable[[], Any], name: str = "rate") -> None:
        self.interval = interval
        self._run = run
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self._run()
            except Exception:
                log.exception("%s: the target failed", self._thread.name)

    def close(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
