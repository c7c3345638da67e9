"""The run's steps on the terminal: numbered, each with how long it took, details indented under their step."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

INDENT = "      "


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class Progress:
    """`with progress.step("sam build"):` prints `[3/8] sam build`, then `done in 41.2 s` or `failed after ...`."""

    def __init__(self, total: int, out: TextIO = sys.stdout, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self._out = out
        self._clock = clock
        self._number = 0

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self._number += 1
        self.say(f"[{self._number}/{self.total}] {title}", indent=False)
        started = self._clock()
        try:
            yield
        except BaseException:
            self.say(f"failed after {duration_text(self._clock() - started)}")
            raise
        self.say(f"done in {duration_text(self._clock() - started)}")

    def say(self, text: str, *, indent: bool = True) -> None:
        for line in text.splitlines() or [""]:
            print(f"{INDENT if indent else ''}{line}", file=self._out, flush=True)

    def bar(self, done: int, total: int, text: str, width: int = 20) -> None:
        filled = round(width * done / total) if total else width
        self.say(f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {text}")
