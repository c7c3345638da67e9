"""What GET /status answers, from the state item alone: shared by the API and the dashboard.

Pure: no store, no clock of its own, so the dashboard can shape an item it read itself without any other port.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from ondemand.budget import budget_view
from ondemand.domain import EndpointState, State, iso


def eta_seconds(item: EndpointState, now: datetime, typical_provisioning_seconds: int) -> int | None:
    """Seconds until a start is expected to finish; None unless STARTING."""
    if item.state != State.STARTING:
        return None
    elapsed = (now - item.since).total_seconds()
    return max(0, int(typical_provisioning_seconds - elapsed))


def notice_at(item: EndpointState, notice_minutes: float) -> datetime | None:
    """When the "stops soon" text goes out and the page shows its Extend banner: expires_at - the notice while
    IN_SERVICE; None otherwise or with the notice off."""
    if item.state != State.IN_SERVICE or item.expires_at is None or notice_minutes <= 0:
        return None
    return item.expires_at - timedelta(minutes=notice_minutes)


class StatusSettings(Protocol):
    """The settings `status_view` reads. `Settings` has them; so does the dashboard's own config, which cannot build
    a `Settings` (that needs every name and ARN of the stack, and the dashboard only reads one table)."""

    @property
    def typical_provisioning_seconds(self) -> int: ...

    @property
    def notice_minutes(self) -> float: ...

    @property
    def instant_tier(self) -> str: ...

    @property
    def gpu_minutes_per_day(self) -> float: ...


def status_view(item: EndpointState, now: datetime, settings: StatusSettings) -> dict[str, Any]:
    """The item as the API and the dashboard show it, the day's GPU budget included: never the phone numbers, only
    how many."""
    seconds_left = None
    if item.state == State.IN_SERVICE and item.expires_at is not None:
        seconds_left = max(0, int((item.expires_at - now).total_seconds()))
    return {
        "state": item.state.value,
        "endpoint_name": item.endpoint_name,
        "since": iso(item.since),
        "expires_at": iso(item.expires_at),
        "seconds_left": seconds_left,
        "eta_seconds": eta_seconds(item, now, settings.typical_provisioning_seconds),
        "version": item.version,
        "subscribers_count": len(item.subscribers),
        "last_error": item.last_error,
        "notice_at": iso(notice_at(item, settings.notice_minutes)),
        "instant_tier": settings.instant_tier,
        "last_error_code": item.last_error_code,
        "cooldown_until": iso(item.cooldown_until) if item.cooldown_until and item.cooldown_until > now else None,
        "history": [
            {"at": iso(t.at), "from": t.from_state.value, "to": t.to_state.value, "reason": t.reason}
            for t in item.history
        ],
        "budget": budget_view(item, now, settings.gpu_minutes_per_day),
    }
