"""Shutdown: extend, the "stops soon" notice, the teardown at expires_at, the administrator's stop, and the write
sequence every stop ends with (IN_SERVICE -> STOPPING, delete the endpoint, STOPPED with its GPU time charged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ondemand.budget import budget_stop, closing_fields, next_midnight, past_budget
from ondemand.domain import (
    LIVE_STATES,
    BudgetExhaustedError,
    ConflictError,
    EndpointNotDeletableError,
    EndpointState,
    NoRecentUseError,
    State,
    iso,
    public_message,
)
from ondemand.lifecycle.room import Room, RoomKit
from ondemand.lifecycle.starts import STALE_STARTING, Starts
from ondemand.lifecycle.texting import texted
from ondemand.lifecycle.writes import KEEPS_CHANGING

logger = logging.getLogger(__name__)

MIN_EXTEND_STEP = timedelta(minutes=1)
"""/extend moves expires_at only by at least this much (or half the keep-alive, for the local demo's 30 s), so a
caller hammering /extend does not rewrite the item and the schedule on every call."""
NOTICE_EARLY_TOLERANCE = timedelta(seconds=5)
"""A notice firing without its schedule's payload counts as due this early (timers fire at whole seconds)."""


def stopped_fields() -> dict[str, Any]:
    """What a STOPPED item holds: no endpoint, no expiry, nobody left to text."""
    return {"endpoint_name": None, "expires_at": None, "in_service_at": None, "subscribers": []}


@dataclass(frozen=True)
class StopResult:
    state: EndpointState
    waiting: str | None = None
    """Why the endpoint is not deleted yet (SageMaker refuses while it is Creating): the item stays STOPPING and the
    next event for it or the reconciler finishes. None once STOPPED."""


@dataclass(frozen=True)
class ExtendResult:
    state: EndpointState
    capped: bool
    """True when the hard cap, not the keep-alive, set the new expires_at."""


class Shutdown(Room):
    """Ends runs: on time, early when asked, later when extended; and tells the people who asked before it does."""

    def __init__(self, kit: RoomKit, starts: Starts) -> None:
        super().__init__(kit)
        self.starts = starts

    def extend(self) -> ExtendResult:
        """Keep the endpoint alive for the keep-alive from now, never past InService + the hard cap or the day's
        GPU budget, and only while someone used it recently; steps under a minute change nothing."""
        keep_alive = timedelta(minutes=self.settings.keep_alive_minutes)
        hard_cap = timedelta(minutes=self.settings.hard_cap_minutes)
        min_step = min(MIN_EXTEND_STEP, keep_alive / 2)
        for _ in self.writes.attempts():
            current = self.store.get()
            if current.state != State.IN_SERVICE or not current.endpoint_name:
                raise ConflictError(f"The model is {current.state.value}; only a model in service can be extended.")
            now = self.now()
            if not self.recently_used(current, now):
                raise NoRecentUseError()
            wanted = now + keep_alive
            cap = (current.in_service_at or current.since) + hard_cap
            budget_end = budget_stop(current, self.settings.gpu_minutes_per_day) or wanted
            new_expiry = min(wanted, cap, budget_end)
            if current.expires_at is not None and new_expiry < current.expires_at + min_step:
                if budget_end < min(wanted, cap):
                    resets_at = next_midnight(budget_end)
                    raise BudgetExhaustedError(
                        f"Today's GPU budget ends this run at {iso(current.expires_at)}; "
                        f"the model can run longer after {iso(resets_at)}.",
                        resets_at,
                        max(1, int((resets_at - now).total_seconds())),
                    )
                return ExtendResult(current, capped=wanted > cap)
            try:
                extended = self.store.update(
                    [State.IN_SERVICE], "extended", expected_version=current.version, expires_at=new_expiry
                )
            except ConflictError:
                continue
            self.schedules.teardown_at(current.endpoint_name, new_expiry)
            if extended.notice_sent_at is None:
                self.schedules.notice_before(current.endpoint_name, new_expiry)  # replaces the old one: never two
            return ExtendResult(extended, capped=wanted > cap)
        raise ConflictError(KEEPS_CHANGING)

    def recently_used(self, item: EndpointState, now: datetime) -> bool:
        idle = timedelta(minutes=self.settings.idle_minutes)
        return item.last_used_at is not None and now - item.last_used_at <= idle

    def stop(self, reason: str = "stopped by an administrator") -> StopResult:
        """Tear down now, whatever expires_at says (the dashboard's Stop button). While SageMaker refuses to delete
        the endpoint (a stop during STARTING), the intent is kept as STOPPING and finished later."""
        current = self.store.get()
        if current.state not in LIVE_STATES or not current.endpoint_name:
            raise ConflictError(f"The model is {current.state.value}; there is nothing to stop.")
        if current.state == State.STOPPING:
            return self.finish_when_deletable(current.endpoint_name)
        stopping = self.writes.transition_if(
            [State.STARTING, State.IN_SERVICE],
            State.STOPPING,
            reason,
            guard=lambda item: item.endpoint_name == current.endpoint_name,
        )
        if stopping is None:
            raise ConflictError("The model's state changed while stopping it; look at /status and try again.")
        return self.finish_when_deletable(current.endpoint_name)

    def send_notice(self, name: str, scheduled_for: datetime | None = None) -> str:
        """The notice schedule fired: text everyone who asked this session that the model stops soon. At most once
        per session (the write that records the notice is won by one caller, who texts), never after the item left
        IN_SERVICE. `scheduled_for` is the expires_at the schedule was made for (its payload): while the item still
        holds it, this is the current schedule and it texts even if Scheduler fired early in its minute; otherwise
        never before expires_at - NOTICE_MINUTES (a stale firing from before an extend changes nothing: the extend
        moved the schedule). Nothing here creates a schedule: the teardown function may not. Returns what was done,
        for the log."""
        notice = timedelta(minutes=self.settings.notice_minutes)
        if notice <= timedelta(0):
            return "skipped: the notice is off"
        for _ in self.writes.attempts():
            current = self.store.get()
            if current.state != State.IN_SERVICE or current.endpoint_name != name or current.expires_at is None:
                return f"skipped: the item is {current.state.value} with {current.endpoint_name or 'no endpoint'}"
            if current.notice_sent_at is not None:
                return "skipped: the notice was already sent"
            current_schedule = scheduled_for is not None and iso(current.expires_at) == iso(scheduled_for)
            early = (current.expires_at - notice - self.now()).total_seconds()
            if early > NOTICE_EARLY_TOLERANCE.total_seconds() and not current_schedule:
                # A stale firing: an extend moved the deadline and replaced the schedule, which fires then.
                return f"skipped: not due until {iso(current.expires_at - notice)}"
            try:
                self.store.update(
                    [State.IN_SERVICE], "stop notice sent", expected_version=current.version, notice_sent_at=self.now()
                )
            except ConflictError:
                continue
            sent = self.texting.tell_stops_soon(current.subscribers, current.expires_at)
            return f"notice sent; {texted(sent)}"
        raise ConflictError(KEEPS_CHANGING)

    def teardown(self, name: str, scheduled_for: datetime | None = None, reason: str = "keep-alive expired") -> str:
        """The schedule fired. `scheduled_for` is the expires_at the schedule was made for (its payload): while the
        item still holds that expires_at, this is the current schedule and it tears down even if it fired early
        (EventBridge Scheduler fires within a minute of its at(); see adapters/scheduler.py). Returns what was done,
        for the log."""
        current = self.store.get()
        if current.state == State.STOPPING and current.endpoint_name == name:
            waiting = self.finish_when_deletable(name).waiting
            return f"still STOPPING: {waiting}" if waiting else "finished an interrupted teardown"
        if current.state == State.STARTING and current.endpoint_name == name and self.past_budget(current):
            return self.starts.fail(name, "budget_exhausted") or STALE_STARTING
        if current.state != State.IN_SERVICE or current.endpoint_name != name:
            return f"skipped: the item is {current.state.value} with {current.endpoint_name or 'no endpoint'}"
        if not self.is_due(current, name, scheduled_for):
            return f"skipped: extended until {iso(current.expires_at)}"
        stopped = self.stop_if_due(name, reason, scheduled_for)
        if stopped is None:
            return "skipped: the item changed (extended or already stopping)"
        return f"STOPPING: {stopped.waiting}" if stopped.waiting else "torn down"

    def tear_down_broken(self, name: str, detail: str) -> str | None:
        """An endpoint that broke while in service bills without answering: stop it now, keeping why (the code's
        sentence on the item; `detail` in the log). None if the item is not IN_SERVICE with this endpoint."""
        sentence = public_message("endpoint_failed")
        broken = self.writes.transition_if(
            [State.IN_SERVICE],
            State.STOPPING,
            sentence,
            guard=lambda item: item.endpoint_name == name,
            last_error=sentence,
            last_error_code="endpoint_failed",
        )
        if broken is None:
            return None
        logger.warning("endpoint %s broke while in service: %s", name, detail)
        waiting = self.finish_when_deletable(name).waiting
        return f"broken while in service; STOPPING: {waiting}" if waiting else "broken while in service; torn down"

    def past_budget(self, item: EndpointState) -> bool:
        return past_budget(item, self.now(), self.settings.gpu_minutes_per_day)

    def is_due(self, item: EndpointState, name: str, scheduled_for: datetime | None = None) -> bool:
        """The item holds `name` and either is past its expires_at or still has the one `scheduled_for` names (an
        extend would have changed it). Compared to the second: the payload carries expires_at as iso() writes it."""
        if item.endpoint_name != name:
            return False
        if item.expires_at is None or item.expires_at <= self.now():
            return True
        return scheduled_for is not None and iso(item.expires_at) == iso(scheduled_for)

    def stop_if_due(self, name: str, reason: str, scheduled_for: datetime | None = None) -> StopResult | None:
        """IN_SERVICE -> STOPPING -> STOPPED if the item still holds `name` and is due (see is_due); None if not."""
        return self.stop_if(name, reason, lambda item: self.is_due(item, name, scheduled_for))

    def stop_if(self, name: str, reason: str, guard: Callable[[EndpointState], bool]) -> StopResult | None:
        """IN_SERVICE -> STOPPING -> STOPPED if the item passes `guard`; None if not."""
        stopping = self.writes.transition_if([State.IN_SERVICE], State.STOPPING, reason, guard=guard)
        if stopping is None:
            return None
        return self.finish_when_deletable(name)

    def finish_when_deletable(self, name: str) -> StopResult:
        """Delete the endpoint and write STOPPED, unless SageMaker refuses the delete yet: then the item stays
        STOPPING (the intent is kept) and the next event for the endpoint or the reconciler finishes it."""
        try:
            self.endpoints.delete(name)
        except EndpointNotDeletableError as exc:
            logger.info("stop of %s waits: %s", name, exc)
            return StopResult(self.store.get(), str(exc))
        self.schedules.cancel(name)
        stopped = self.writes.transition_if(
            [State.STOPPING],
            State.STOPPED,
            "endpoint deleted",
            guard=lambda item: item.endpoint_name == name,
            derive=lambda item: self.closing_fields(item),
            **stopped_fields(),
        )
        return StopResult(stopped[1] if stopped else self.store.get())

    def closing_fields(self, item: EndpointState) -> dict[str, Any]:
        """The ledger and cooldown the write that ends a run sets (see budget.closing_fields)."""
        return closing_fields(item, self.now(), self.settings.cooldown_minutes)
