"""The one-time schedules of a run: the teardown at expires_at (or the budget's end) and the "stops soon" notice.

Names are deterministic per endpoint, so a retried event or an extend replaces a schedule, never adds one. A schedule
that cannot be made is logged: the reconciler tears down anything past expires_at, and a lost notice costs a text,
never a bill.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from ondemand.domain import LifecycleError, iso
from ondemand.ports import Scheduler
from ondemand.settings import Settings

logger = logging.getLogger(__name__)

NOTICE_KIND = "notice"
"""The `kind` of the notice schedule's payload; the teardown function takes both schedules."""


def teardown_schedule_name(endpoint_name: str) -> str:
    return f"teardown-{endpoint_name}"[:64]


def notice_schedule_name(endpoint_name: str) -> str:
    return f"notice-{endpoint_name}"[:64]


def ceil_second(moment: datetime) -> datetime:
    """Schedules fire at a whole second; rounding up means the notice never fires before its moment."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


class Schedules:
    """Makes, moves and cancels the teardown and notice schedules of one endpoint."""

    def __init__(self, scheduler: Scheduler, settings: Settings, now: Callable[[], datetime]) -> None:
        self.scheduler = scheduler
        self.settings = settings
        self.now = now

    def teardown_at(self, name: str, at: datetime) -> None:
        try:
            self.scheduler.schedule(teardown_schedule_name(name), at, {"endpoint_name": name, "expires_at": iso(at)})
        except LifecycleError:
            # The reconciler tears down any item past expires_at, so a lost schedule costs at most 5 minutes.
            logger.error("could not schedule the teardown of %s at %s", name, iso(at), exc_info=True)

    def notice_before(self, name: str, expires_at: datetime) -> None:
        """Schedule (or move) the stop notice to expires_at - NOTICE_MINUTES; nothing if the notice is off."""
        if self.settings.notice_minutes <= 0:
            return
        due = expires_at - timedelta(minutes=self.settings.notice_minutes)
        at = ceil_second(max(self.now(), due))
        payload = {"kind": NOTICE_KIND, "endpoint_name": name, "expires_at": iso(expires_at)}
        try:
            self.scheduler.schedule(notice_schedule_name(name), at, payload)
        except LifecycleError:
            # A lost notice costs a text, never a bill: the teardown has its own schedule and the reconciler.
            logger.error("could not schedule the stop notice of %s at %s", name, iso(at), exc_info=True)

    def cancel(self, name: str) -> None:
        """Delete both schedules of a stopped endpoint; one that cannot be deleted deletes itself after firing."""
        for schedule in (teardown_schedule_name(name), notice_schedule_name(name)):
            try:
                self.scheduler.cancel(schedule)
            except LifecycleError:
                logger.warning("could not delete schedule %s; it deletes itself after firing", schedule, exc_info=True)
