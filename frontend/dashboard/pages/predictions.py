"""Predictions: try texts against the live model and watch the latency of recent /predict calls, by the tier that
answered (the GPU endpoint or the instant CPU model)."""

import altair as alt
import pandas as pd
import streamlit as st
from ondemand_dashboard import ui
from ondemand_dashboard.latency import TIER_ORDER, latency_by_tier, tier_label
from ondemand_dashboard.timeline import naive_utc


def render() -> None:
    st.title("Predictions")

    with st.form("predict"):
        raw = st.text_area(
            "Texts, one per line",
            height=120,
            value="A warm, funny film with a terrific cast.\nTwo hours I will never get back.",
        )
        submitted = st.form_submit_button("Predict", type="primary", icon=":material/send:")

    if submitted:
        texts = [line.strip() for line in raw.splitlines() if line.strip()]
        if not texts:
            st.error("Type at least one text.", icon=":material/edit:")
        elif (answer := ui.attempt(lambda: ui.api().predict(texts))) is not None:
            predictions = answer.get("predictions") or []
            model_col, tier_col, latency_col = st.columns([2, 2, 1])
            model_col.metric("Model", str(answer.get("model") or "unknown"))
            tier_col.metric("Answered by", tier_label(answer.get("tier"), answer.get("degraded") is True))
            latency_col.metric("Model latency", f"{answer.get('latency_ms', '–')} ms")
            if answer.get("degraded") is True:
                st.warning(
                    "The GPU endpoint failed or timed out on this call, so the instant CPU model answered.",
                    icon=":material/warning:",
                )
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "text": text,
                            "label": prediction.get("label"),
                            "probability": prediction.get("prob"),
                            # GPU tier: "linear" where the linear part alone decided and the transformer was not run
                            "scored by": prediction.get("scored_by", answer.get("tier", "")),
                        }
                        for text, prediction in zip(texts, predictions, strict=False)
                    ]
                ),
                hide_index=True,
                width="stretch",
                column_config={
                    "probability": st.column_config.ProgressColumn(
                        "probability", min_value=0.0, max_value=1.0, format="%.2f"
                    ),
                },
            )

    st.subheader("Recent /predict latencies")
    calls = ui.api().recent_predictions()
    if not calls:
        st.caption("No calls from this dashboard yet: predict something above.")
        return

    ok_calls = [call for call in calls if call.ok]
    rows = [
        {
            "at": naive_utc(call.at),
            "tier": tier_label(call.tier, call.degraded),
            "measure": "model (latency_ms)",
            "ms": call.model_latency_ms,
        }
        for call in ok_calls
        if call.model_latency_ms is not None
    ]
    rows += [
        {
            "at": naive_utc(call.at),
            "tier": tier_label(call.tier, call.degraded) if call.ok else "failed call",
            "measure": "round trip",
            "ms": call.round_trip_ms,
        }
        for call in calls
    ]
    st.altair_chart(
        alt.Chart(pd.DataFrame(rows))
        .mark_point(filled=True, size=60)
        .encode(
            x=alt.X("at:T", title="time (UTC)", axis=alt.Axis(format="%H:%M:%S")),
            y=alt.Y("ms:Q", title="milliseconds"),
            color=alt.Color("tier:N", sort=[*TIER_ORDER, "failed call"]),
            shape=alt.Shape("measure:N"),
            tooltip=["at:T", "tier", "measure", "ms"],
        )
        .properties(height=260),
        width="stretch",
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "tier": row.tier,
                    "calls": row.calls,
                    "median model ms": row.median_model_ms,
                    "median round trip ms": row.median_round_trip_ms,
                    "slowest round trip ms": row.max_round_trip_ms,
                }
                for row in latency_by_tier(calls)
            ],
            columns=["tier", "calls", "median model ms", "median round trip ms", "slowest round trip ms"],
        ),
        hide_index=True,
        width="stretch",
    )
    model_ms = sorted(call.model_latency_ms for call in ok_calls if call.model_latency_ms is not None)
    calls_col, median_col, failed_col = st.columns(3)
    calls_col.metric("Calls", len(calls))
    median_col.metric("Median model latency", f"{model_ms[len(model_ms) // 2]:g} ms" if model_ms else "–")
    failed_col.metric("Failed calls", len(calls) - len(ok_calls))


ui.show_errors(render)
