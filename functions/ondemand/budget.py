"""The owner's daily GPU budget: pure arithmetic over the state item's ledger (no clock, no store of its own).

An endpoint bills from its creation (the STARTING write) until it is deleted (the STOPPED or FAILED write). The
item keeps the seconds of finished runs per UTC day (`gpu_seconds_by_day`) and when the live run began
(`run_started_at`); a run that crosses midnight counts on both days. Because one endpoint at most exists at a time
and every write is conditional on the item's version, a decision made from this ledger is atomic with the write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from ondemand.domain import EndpointState

DAY = timedelta(days=1)
LEDGER_DAYS = 3
"""Days kept in the ledger: today and the two before, enough for a run that crossed midnight."""


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


def budget_view(item: EndpointState, now: datetime, gpu_minutes_per_day: float) -> dict[str, float | str | None]:
    """The `budget` object of GET /status."""
    used_minutes = used_seconds(item, now) / 60
    return {
        "gpu_minutes_per_day": gpu_minutes_per_day,
        "gpu_minutes_used_today": round(used_minutes, 1),
        "gpu_minutes_left_today": round(max(0.0, gpu_minutes_per_day - used_minutes), 1),
        "resets_at": next_midnight(now).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
