"""The state item's transition history turned into spans of time, one per state: what the History page draws and
what the Cost page bills. Pure functions over the `history` list of GET /status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Transition:
    """One history entry of GET /status: `{at, from, to, reason}`."""

    at: datetime
    from_state: str
    to_state: str
    reason: str


@dataclass(frozen=True)
class StateSpan:
    """The item stayed in `state` from `start` to `end` (`end` is now for the current state)."""

    state: str
    start: datetime
    end: datetime
    reason: str

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


def parse_time(value: str | datetime) -> datetime:
    """An ISO-8601 time from the API as an aware UTC datetime (a naive one is taken as UTC)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def naive_utc(moment: datetime) -> datetime:
    """The same instant without tzinfo, for charts whose axis already says UTC (pandas drops aware zones anyway)."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def item_since(status: Mapping[str, Any]) -> datetime | None:
    """When the item entered its state; None for an item never written (version 0 reads as STOPPED since 1970)."""
    if not status.get("since") or not status.get("version"):
        return None
    return parse_time(status["since"])


def parse_history(entries: Iterable[Mapping[str, Any]] | None) -> list[Transition]:
    """The history as transitions, oldest first, whatever order the API sent them in."""
    transitions = [
        Transition(
            parse_time(entry["at"]), str(entry.get("from") or ""), str(entry["to"]), str(entry.get("reason") or "")
        )
        for entry in entries or ()
    ]
    return sorted(transitions, key=lambda transition: transition.at)


def state_spans(
    transitions: list[Transition], current_state: str, since: datetime | None, now: datetime
) -> list[StateSpan]:
    """Consecutive spans from the first transition to `now`.

    The time before the first transition is not in the (bounded) history, so no span covers it. When the history
    is empty or lags the item, the item's own `state` and `since` describe the last span."""
    ends = [following.at for following in transitions[1:]] + [now]  # [now] alone when there are no transitions
    spans = [
        StateSpan(transition.to_state, transition.at, max(end, transition.at), transition.reason)
        for transition, end in zip(transitions, ends, strict=False)
    ]
    if since is None:
        return spans
    lagging = bool(spans) and spans[-1].state != current_state and since >= spans[-1].start
    if lagging:
        last = spans.pop()
        spans.append(StateSpan(last.state, last.start, since, last.reason))
    if not spans or lagging:
        spans.append(StateSpan(current_state, since, max(now, since), "current state"))
    return spans
