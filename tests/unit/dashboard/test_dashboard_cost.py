"""The timeline and cost maths the History and Cost pages show, on histories shaped like GET /status's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ondemand_dashboard.cost import billed_intervals, billed_minutes, cost_summary
from ondemand_dashboard.timeline import parse_history, parse_time, state_spans

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def entry(minutes: float, from_state: str, to_state: str, reason: str = "") -> dict[str, str]:
    return {"at": (T0 + timedelta(minutes=minutes)).isoformat(), "from": from_state, "to": to_state, "reason": reason}


ONE_RUN = [
    entry(0, "STOPPED", "STARTING", "start requested"),
    entry(7, "STARTING", "IN_SERVICE", "endpoint InService"),
    entry(37, "IN_SERVICE", "STOPPING", "keep-alive expired"),
    entry(40, "STOPPING", "STOPPED", "endpoint deleted"),
]


def spans_at(history: list[dict[str, str]], now_minutes: float, state: str | None = None):
    transitions = parse_history(history)
    current = state or transitions[-1].to_state
    return state_spans(transitions, current, transitions[-1].at, T0 + timedelta(minutes=now_minutes))


def test_parse_time_reads_z_offsets_and_naive_times_as_utc() -> None:
    assert parse_time("2026-11-23T08:00:00Z") == T0
    assert parse_time("2026-11-23T09:00:00+01:00") == T0
    assert parse_time("2026-11-23T08:00:00") == T0


def test_history_is_ordered_oldest_first_whatever_the_api_order() -> None:
    transitions = parse_history(list(reversed(ONE_RUN)))
    assert [transition.to_state for transition in transitions] == ["STARTING", "IN_SERVICE", "STOPPING", "STOPPED"]


def test_spans_run_from_one_transition_to_the_next_and_the_last_to_now() -> None:
    spans = spans_at(ONE_RUN, now_minutes=100)
    assert [(span.state, span.seconds / 60) for span in spans] == [
        ("STARTING", 7),
        ("IN_SERVICE", 30),
        ("STOPPING", 3),
        ("STOPPED", 60),
    ]


def test_the_items_own_state_extends_a_history_that_lags_it() -> None:
    transitions = parse_history(ONE_RUN[:2])
    spans = state_spans(transitions, "STOPPING", T0 + timedelta(minutes=30), T0 + timedelta(minutes=32))
    assert [(span.state, span.seconds / 60) for span in spans] == [("STARTING", 7), ("IN_SERVICE", 23), ("STOPPING", 2)]


def test_an_empty_history_is_one_span_of_the_current_state() -> None:
    spans = state_spans([], "IN_SERVICE", T0, T0 + timedelta(minutes=5))
    assert [(span.state, span.seconds) for span in spans] == [("IN_SERVICE", 300)]


def test_billing_runs_from_starting_until_stopped() -> None:
    spans = spans_at(ONE_RUN, now_minutes=100)
    assert billed_intervals(spans) == [(T0, T0 + timedelta(minutes=40))]
    assert billed_minutes(spans, T0, T0 + timedelta(minutes=100)) == 40


def test_a_failed_start_bills_until_it_failed() -> None:
    history = [entry(0, "STOPPED", "STARTING"), entry(12, "STARTING", "FAILED", "capacity")]
    assert billed_minutes(spans_at(history, now_minutes=60), T0, T0 + timedelta(minutes=60)) == 12


def test_a_running_endpoint_bills_up_to_now() -> None:
    spans = spans_at(ONE_RUN[:2], now_minutes=25)
    assert billed_minutes(spans, T0, T0 + timedelta(minutes=25)) == 25


def test_billing_is_clipped_to_the_period() -> None:
    spans = spans_at(ONE_RUN, now_minutes=100)
    assert billed_minutes(spans, T0 + timedelta(minutes=30), T0 + timedelta(minutes=100)) == 10
    assert billed_minutes(spans, T0 + timedelta(minutes=50), T0 + timedelta(minutes=100)) == 0


def test_two_runs_are_two_lifetimes() -> None:
    second = [
        entry(m + 60, f, t, r)
        for m, f, t, r in [
            (0, "STOPPED", "STARTING", ""),
            (5, "STARTING", "IN_SERVICE", ""),
            (35, "IN_SERVICE", "STOPPING", ""),
            (36, "STOPPING", "STOPPED", ""),
        ]
    ]
    spans = spans_at(ONE_RUN + second, now_minutes=120)
    assert len(billed_intervals(spans)) == 2
    assert billed_minutes(spans, T0, T0 + timedelta(minutes=120)) == 40 + 36


def test_cost_against_always_on_at_the_g4dn_price() -> None:
    spans = spans_at(ONE_RUN, now_minutes=24 * 60)
    summary = cost_summary(spans, T0, T0 + timedelta(hours=24), hourly_price_usd=0.7364)
    assert summary.billed_minutes == 40
    assert summary.cost_usd == pytest.approx(40 / 60 * 0.7364)
    assert summary.always_on_cost_usd == pytest.approx(24 * 0.7364)
    assert summary.saving_usd == pytest.approx(24 * 0.7364 - 40 / 60 * 0.7364)
    assert summary.saving_fraction == pytest.approx(1 - 40 / (24 * 60))


def test_an_empty_period_saves_nothing_and_says_no_fraction() -> None:
    summary = cost_summary([], T0, T0, hourly_price_usd=0.7364)
    assert (summary.cost_usd, summary.always_on_cost_usd, summary.saving_fraction) == (0, 0, None)


def test_a_negative_price_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        cost_summary([], T0, T0, hourly_price_usd=-1)
