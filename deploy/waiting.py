"""How a run waits for AWS: look, and while it is not done, look again `every` seconds until `within` seconds have
passed. One place for it, so a test hands in a `sleep` that does not sleep and every wait of a run passes at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Waiting:
    sleep: Callable[[float], None] = time.sleep

    def looks(self, every: float, within: float) -> Iterator[float]:
        """The seconds waited before each look: 0, every, 2 x every, ... up to `within`, sleeping between looks.
        Break out when done; a loop that runs out (its `else`) has waited `within` for nothing."""
        waited = 0.0
        while True:
            yield waited
            if waited >= within:
                return
            self.sleep(every)
            waited += every


IN_REAL_TIME = Waiting()
