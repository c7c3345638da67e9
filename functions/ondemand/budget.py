"""Admission and the owner's daily GPU budget: pure functions over the state item (no clock, no store of its own).

Whether a start may go ahead (cooldown, budget), who joins the list of people to text, which starts count against a
client's limit, and what the write that ends a run charges to the ledger are all decided here, from the item read
just before the conditional write that acts on the decision.

An endpoint bills from its creation (the STARTING write) until it is deleted (the STOPPED or FAILED write). The
item keeps the seconds of finished runs per UTC day (`gpu_seconds_by_day`) and when the live run began
(`run_started_at`); a run that crosses midnight counts on both days. Because one endpoint at most exists at a time
and every write is conditional on the item's version, a decision made from this ledger is atomic with the write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from ondemand.domain import BudgetExhaustedError, CoolingDownError, EndpointState, State, iso

DAY = timedelta(days=1)
LEDGER_DAYS = 3
"""Days kept in the ledger: today and the two before, enough for a run that crossed midnight."""
BUDGET_SLACK = timedelta(seconds=120)
"""A stop for the end of the day's GPU budget is scheduled this long before it: Scheduler runs a schedule up to 119 s
after its time (adapters/scheduler.py, never_early), so the endpoint is gone before the day's budget is; a firing
this early counts as due (past_budget)."""


def day_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def next_midnight(moment: datetime) -> datetime:
    start_of_day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start_of_day + DAY


def seconds_by_day(start: datetime, end: datetime) -> dict[str, float]:
    """The span [start, end) split over the UTC days it touches."""
    split: dict[str, float] = {}
    moment = start
    while moment < end:
        until = min(end, next_midnight(moment))
        split[day_key(moment)] = split.get(day_key(moment), 0.0) + (until - moment).total_seconds()
        moment = until
    return split


def charge(ledger: Mapping[str, float], start: datetime, end: datetime) -> dict[str, float]:
    """The ledger with the run [start, end) added, pruned to the last LEDGER_DAYS days."""
    updated = dict(ledger)
    for day, seconds in seconds_by_day(start, end).items():
        updated[day] = updated.get(day, 0.0) + seconds
    keep = sorted(updated)[-LEDGER_DAYS:]
    return {day: round(updated[day], 3) for day in keep}


def used_seconds(item: EndpointState, now: datetime, day: datetime | None = None) -> float:
    """GPU seconds spent on the UTC day of `day` (default: now), the live run counted up to now."""
    key = day_key(day or now)
    used = item.gpu_seconds_by_day.get(key, 0.0)
    if item.run_started_at is not None and item.run_started_at < now:
        used += seconds_by_day(item.run_started_at, now).get(key, 0.0)
    return used


def run_deadline(ledger: Mapping[str, float], run_start: datetime, budget_seconds: float) -> datetime:
    """The latest moment a run begun at `run_start` may bill until without any UTC day going over the budget.

    The run may use what is left of its first day, then (if it reaches midnight) of the next; a day already spent
    ends it there."""
    moment = run_start
    for _ in range(LEDGER_DAYS):  # a run never spans more days than this (hard cap + starting timeout < a day)
        left = budget_seconds - ledger.get(day_key(moment), 0.0)
        if left <= 0:
            return moment
        midnight = next_midnight(moment)
        if moment + timedelta(seconds=left) < midnight:
            return moment + timedelta(seconds=left)
        moment = midnight
    return moment


def current_deadline(item: EndpointState, budget_seconds: float) -> datetime | None:
    """Where the budget ends the live run (None while no endpoint bills)."""
    if item.run_started_at is None:
        return None
    return run_deadline(item.gpu_seconds_by_day, item.run_started_at, budget_seconds)


def budget_stop(item: EndpointState, gpu_minutes_per_day: float) -> datetime | None:
    """When to schedule the stop that keeps the day within its budget: BUDGET_SLACK before the live run's deadline
    (None while no endpoint bills)."""
    deadline = current_deadline(item, gpu_minutes_per_day * 60)
    return None if deadline is None else deadline - BUDGET_SLACK


def past_budget(item: EndpointState, now: datetime, gpu_minutes_per_day: float) -> bool:
    """The budget's stop is due: the day's budget ends the live run within BUDGET_SLACK (the stop is scheduled that
    early, see BUDGET_SLACK), and stopping now keeps the day under its budget."""
    stop = budget_stop(item, gpu_minutes_per_day)
    return stop is not None and stop <= now


def refuse_while_cooling_down(item: EndpointState, now: datetime) -> None:
    """Raise CoolingDownError while the cooldown after the last teardown or failed start lasts."""
    if item.cooldown_until is not None and now < item.cooldown_until:
        seconds = max(1, int((item.cooldown_until - now).total_seconds()))
        raise CoolingDownError(item.cooldown_until, seconds, after_failure=item.state == State.FAILED)


def ledger_for_start(
    item: EndpointState, now: datetime, gpu_minutes_per_day: float, min_run_minutes: float
) -> dict[str, float]:
    """The ledger a start now writes; BudgetExhaustedError unless the day's budget leaves at least the minimum run.
    A FAILED item whose endpoint SageMaker would not delete yet still has its run open: charged up to now here, the
    new run counts from now (create_endpoint deletes the old endpoint before creating, so they never bill twice)."""
    ledger = dict(item.gpu_seconds_by_day)
    if item.run_started_at is not None:
        ledger = charge(ledger, item.run_started_at, now)
    deadline = run_deadline(ledger, now, gpu_minutes_per_day * 60)
    if deadline - now < timedelta(minutes=min_run_minutes):
        resets_at = next_midnight(max(now, deadline))
        raise BudgetExhaustedError(
            f"Today's GPU budget ({gpu_minutes_per_day:g} minutes) is spent; "
            f"the model can start again at {iso(resets_at)}.",
            resets_at,
            max(1, int((resets_at - now).total_seconds())),
        )
    return ledger


def closing_fields(item: EndpointState, now: datetime, cooldown_minutes: float) -> dict[str, Any]:
    """What the write that ends a run sets: its GPU time charged to the ledger, and the cooldown before the next
    start (none for 0 minutes)."""
    fields: dict[str, Any] = {"run_started_at": None}
    if item.run_started_at is not None:
        fields["gpu_seconds_by_day"] = charge(item.gpu_seconds_by_day, item.run_started_at, now)
    if cooldown_minutes > 0:
        fields["cooldown_until"] = now + timedelta(minutes=cooldown_minutes)
    return fields


class Subscription(StrEnum):
    """What a start while STARTING means for the caller's phone."""

    NOT_ASKED = "not_asked"
    ALREADY_ON = "already_on"
    LIST_FULL = "list_full"
    JOINS = "joins"


def subscription(subscribers: Sequence[str], phone: str | None, max_subscribers: int) -> Subscription:
    """Whether `phone` joins the people to text once the model is ready (the list holds at most max_subscribers)."""
    if phone is None:
        return Subscription.NOT_ASKED
    if phone in subscribers:
        return Subscription.ALREADY_ON
    if len(subscribers) >= max_subscribers:
        return Subscription.LIST_FULL
    return Subscription.JOINS


def counts_against_client(phone: str | None, state: State) -> bool:
    """A start counts against its client's limit when it can text someone or create an endpoint."""
    return phone is not None or state in (State.STOPPED, State.FAILED)


def budget_view(item: EndpointState, now: datetime, gpu_minutes_per_day: float) -> dict[str, float | str | None]:
    """The `budget` object of GET /status."""
    used_minutes = used_seconds(item, now) / 60
    return {
        "gpu_minutes_per_day": gpu_minutes_per_day,
        "gpu_minutes_used_today": round(used_minutes, 1),
        "gpu_minutes_left_today": round(max(0.0, gpu_minutes_per_day - used_minutes), 1),
        "resets_at": iso(next_midnight(now)),
    }
