"""What every room of the lifecycle is built on: the item's conditional writes, the endpoint control, the run's
schedules, texting, the settings and the clock, built once by bootstrap and shared by all rooms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ondemand.lifecycle.schedules import Schedules
from ondemand.lifecycle.texting import Texting
from ondemand.lifecycle.writes import ConditionalWrites
from ondemand.ports import EndpointControl
from ondemand.settings import Settings


@dataclass(frozen=True)
class RoomKit:
    writes: ConditionalWrites
    endpoints: EndpointControl
    schedules: Schedules
    texting: Texting
    settings: Settings
    now: Callable[[], datetime]


class Room:
    """A room of the lifecycle: its kit's parts as attributes (`store` is the writes' store, for plain reads)."""

    def __init__(self, kit: RoomKit) -> None:
        self.writes = kit.writes
        self.store = kit.writes.store
        self.endpoints = kit.endpoints
        self.schedules = kit.schedules
        self.texting = kit.texting
        self.settings = kit.settings
        self.now = kit.now
