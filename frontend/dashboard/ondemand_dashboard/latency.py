"""Latency of the dashboard's /predict calls, split by the tier that answered: the instant CPU model and the GPU
endpoint differ by an order of magnitude, so one median over both describes neither. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from ondemand_dashboard.api_client import PredictionCall

TIER_ORDER = ("GPU model", "instant CPU model", "instant CPU model (GPU failed)", "tier not reported")


def tier_label(tier: str | None, degraded: bool = False) -> str:
    """The tier as the Predictions page names it; an answer without `tier` comes from an API before the instant
    tier."""
    if tier == "gpu":
        return "GPU model"
    if tier == "instant":
        return "instant CPU model (GPU failed)" if degraded else "instant CPU model"
    return "tier not reported"


@dataclass(frozen=True)
class TierLatency:
    tier: str
    calls: int
    median_model_ms: float | None
    median_round_trip_ms: float
    max_round_trip_ms: float


def latency_by_tier(calls: list[PredictionCall]) -> list[TierLatency]:
    """One row per tier that answered at least one call (failed calls have no tier and are counted apart)."""
    by_tier: dict[str, list[PredictionCall]] = {}
    for call in calls:
        if call.ok:
            by_tier.setdefault(tier_label(call.tier, call.degraded), []).append(call)
    rows = []
    for tier in sorted(by_tier, key=TIER_ORDER.index):
        answered = by_tier[tier]
        model_ms = [call.model_latency_ms for call in answered if call.model_latency_ms is not None]
        round_trips = [call.round_trip_ms for call in answered]
        rows.append(
            TierLatency(
                tier, len(answered), median(model_ms) if model_ms else None, median(round_trips), max(round_trips)
            )
        )
    return rows
