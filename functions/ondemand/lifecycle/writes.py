"""The conditional-write primitive: every change to the state item is a write conditioned on the version read.

A write lost to a concurrent writer is retried on a fresh read, so exactly one caller wins each transition and only
the winner acts (creates the endpoint, schedules, texts).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ondemand.domain import ConflictError, EndpointState, State
from ondemand.ports import StateStore

MAX_WRITE_ATTEMPTS = 60
"""A write lost to a concurrent writer is retried after re-reading; this bounds the retries of one call."""
KEEPS_CHANGING = "The model's state keeps changing; try again in a few seconds."


class ConditionalWrites:
    """Reads the item, lets the caller decide, writes on the version read; retries the lost writes."""

    def __init__(self, store: StateStore, sleep: Callable[[float], None]) -> None:
        self.store = store
        self.sleep = sleep

    def attempts(self) -> Iterator[int]:
        """The attempts of one read-decide-write loop (MAX_WRITE_ATTEMPTS), backing off before each retry. The loop
        body reads, decides, writes with the version it read, and `continue`s on ConflictError; after the loop, every
        attempt was lost, and the caller raises ConflictError."""
        for attempt in range(MAX_WRITE_ATTEMPTS):
            if attempt:
                self.sleep(min(0.5, 0.01 * attempt) * random.random())
            yield attempt

    def transition_if(
        self,
        expected: Iterable[State],
        to: State | None,
        reason: str,
        guard: Callable[[EndpointState], bool],
        derive: Callable[[EndpointState], dict[str, Any]] | None = None,
        **changes: Any,
    ) -> tuple[EndpointState, EndpointState] | None:
        """Make the transition if the item is (still) in `expected` and passes `guard`: (item before, item after),
        or None if it is not. "Before" is exactly what the winning write replaced. `derive` computes more changes
        from the item read (the budget's ledger), so they are as fresh as the write's condition. `to` None changes
        fields only (no history entry, `since` kept)."""
        expected = tuple(expected)
        for _ in self.attempts():
            current = self.store.get()
            if current.state not in expected or not guard(current):
                return None
            fields = {**changes, **(derive(current) if derive else {})}
            try:
                if to is None:
                    after = self.store.update(expected, reason, expected_version=current.version, **fields)
                else:
                    after = self.store.transition(expected, to, reason, expected_version=current.version, **fields)
            except ConflictError:
                continue
            return current, after
        raise ConflictError(KEEPS_CHANGING)
