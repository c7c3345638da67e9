"""What the GPU endpoint has cost, and what it would have cost always on. Pure functions over state spans.

SageMaker bills an endpoint from its creation until its deletion, so billing counts from STARTING (the lifecycle
creates the endpoint when it enters STARTING) through STOPPING, and ends when the item reaches STOPPED. FAILED
counts as not billing: the lifecycle only gets there when creation failed or the endpoint is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ondemand_dashboard.timeline import StateSpan

BILLED_STATES = frozenset({"STARTING", "IN_SERVICE", "STOPPING"})


@dataclass(frozen=True)
class CostSummary:
    """The money of one period: what the on-demand endpoint cost against an endpoint left running throughout."""

    period_start: datetime
    period_end: datetime
    billed_minutes: float
    hourly_price_usd: float

    @property
    def period_minutes(self) -> float:
        return max(0.0, (self.period_end - self.period_start).total_seconds() / 60)

    @property
    def cost_usd(self) -> float:
        return self.billed_minutes / 60 * self.hourly_price_usd

    @property
    def always_on_cost_usd(self) -> float:
        return self.period_minutes / 60 * self.hourly_price_usd

    @property
    def saving_usd(self) -> float:
        return self.always_on_cost_usd - self.cost_usd

    @property
    def saving_fraction(self) -> float | None:
        """The share of the always-on cost saved; None for an empty period."""
        return self.saving_usd / self.always_on_cost_usd if self.always_on_cost_usd > 0 else None


def billed_intervals(spans: list[StateSpan]) -> list[tuple[datetime, datetime]]:
    """The endpoint's lifetimes: runs of consecutive billed spans merged into one (start, end) each."""
    intervals: list[tuple[datetime, datetime]] = []
    for span in spans:
        if span.state not in BILLED_STATES:
            continue
        if intervals and intervals[-1][1] >= span.start:
            intervals[-1] = (intervals[-1][0], max(intervals[-1][1], span.end))
        else:
            intervals.append((span.start, span.end))
    return intervals


def billed_minutes(spans: list[StateSpan], period_start: datetime, period_end: datetime) -> float:
    """Minutes an endpoint existed within [period_start, period_end]."""
    seconds = 0.0
    for start, end in billed_intervals(spans):
        overlap = (min(end, period_end) - max(start, period_start)).total_seconds()
        seconds += max(0.0, overlap)
    return seconds / 60


def cost_summary(
    spans: list[StateSpan], period_start: datetime, period_end: datetime, hourly_price_usd: float
) -> CostSummary:
    """The cost of the endpoint over the period, at the instance's hourly price."""
    if hourly_price_usd < 0:
        raise ValueError("the hourly price cannot be negative")
    return CostSummary(period_start, period_end, billed_minutes(spans, period_start, period_end), hourly_price_usd)
