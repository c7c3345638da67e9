"""Latency by tier: the GPU endpoint and the instant CPU model each get their own median, failed calls neither."""

from __future__ import annotations

from datetime import UTC, datetime

from ondemand_dashboard.api_client import PredictionCall
from ondemand_dashboard.latency import latency_by_tier, tier_label

AT = datetime(2026, 1, 1, tzinfo=UTC)


def call(
    tier: str | None, model_ms: float | None, round_trip_ms: float, ok: bool = True, degraded: bool = False
) -> PredictionCall:
    return PredictionCall(AT, 1, model_ms, round_trip_ms, ok, tier=tier, degraded=degraded)


def test_each_tier_has_its_own_median_and_failed_calls_count_in_none() -> None:
    calls = [
        call("gpu", 40, 60),
        call("instant", 2, 9),
        call("gpu", 44, 80),
        call("gpu", 90, 130),
        call(None, None, 30_000, ok=False),
        call("instant", 3, 11),
        call("instant", 5, 700, degraded=True),
    ]

    rows = latency_by_tier(calls)

    assert [
        (row.tier, row.calls, row.median_model_ms, row.median_round_trip_ms, row.max_round_trip_ms) for row in rows
    ] == [
        ("GPU model", 3, 44, 80, 130),
        ("instant CPU model", 2, 2.5, 10, 11),
        ("instant CPU model (GPU failed)", 1, 5, 700, 700),
    ]


def test_an_api_that_does_not_report_the_tier_gets_a_row_of_its_own() -> None:
    rows = latency_by_tier([call(None, 38, 50), call(None, None, 70)])

    assert [(row.tier, row.calls, row.median_model_ms) for row in rows] == [("tier not reported", 2, 38)]
    assert tier_label("gpu", degraded=True) == "GPU model"  # only an instant answer can be a fallback
