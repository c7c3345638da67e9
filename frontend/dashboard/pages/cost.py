"""Cost: the minutes the GPU endpoint existed, their price, and what the same period would have cost always on."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st
from ondemand_dashboard import ui
from ondemand_dashboard.cost import billed_intervals, cost_summary
from ondemand_dashboard.timeline import item_since, parse_history, state_spans

PERIODS = {"Last 24 hours": timedelta(hours=24), "Last 7 days": timedelta(days=7), "Last 30 days": timedelta(days=30)}


def render() -> None:
    st.title("Cost")
    settings = ui.config()
    price_col, period_col = st.columns(2)
    price = price_col.number_input(
        f"Hourly price of one {settings.instance_type} (USD)",
        min_value=0.0,
        value=settings.hourly_price_usd,
        step=0.01,
        format="%.4f",
        help="Starts from ONDEMAND_HOURLY_PRICE_USD; the default is the us-east-1 on-demand "
        "price of SageMaker real-time inference on ml.g4dn.xlarge.",
    )
    period_name = period_col.selectbox("Period", [*PERIODS, "Whole history"], index=0)

    status = ui.status()
    if status is None:
        return

    now = datetime.now(UTC)
    transitions = parse_history(status.get("history"))
    since = item_since(status)
    spans = state_spans(transitions, str(status.get("state")), since, now)
    history_start = spans[0].start if spans else now
    period_start = history_start if period_name == "Whole history" else now - PERIODS[period_name]
    # A full history may have dropped older runs, so only what it covers can be priced; a shorter one starts at
    # the item's creation (STOPPED), and nothing ran before it.
    if len(transitions) >= settings.history_limit and period_start < history_start:
        st.caption(
            f"The history starts at {history_start:%Y-%m-%d %H:%M} UTC (older transitions were dropped); the "
            "period is counted from there."
        )
        period_start = history_start

    summary = cost_summary(spans, period_start, now, price)
    minutes_col, cost_col, always_col, saving_col = st.columns(4)
    minutes_col.metric("Endpoint minutes", f"{summary.billed_minutes:,.1f}")
    cost_col.metric("On-demand cost", f"${summary.cost_usd:,.2f}")
    always_col.metric(
        "Always-on cost",
        f"${summary.always_on_cost_usd:,.2f}",
        help="One endpoint of the same instance left running for the whole period.",
    )
    saving = summary.saving_fraction
    saving_col.metric(
        "Saved",
        f"${summary.saving_usd:,.2f}",
        delta=f"{saving:.1%} of always-on" if saving is not None else None,
        delta_arrow="off",
    )
    st.caption(
        f"Period: {summary.period_start:%Y-%m-%d %H:%M} to {summary.period_end:%Y-%m-%d %H:%M} UTC "
        f"({ui.format_duration(summary.period_minutes * 60)}). Billing counts from STARTING, as SageMaker bills "
        "from the endpoint's creation, until STOPPED."
    )

    lifetimes = [(max(start, period_start), end) for start, end in billed_intervals(spans) if end > period_start]
    if lifetimes:
        st.subheader("Endpoint lifetimes")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "from (UTC)": f"{start:%Y-%m-%d %H:%M:%S}",
                        "to (UTC)": f"{end:%Y-%m-%d %H:%M:%S}",
                        "minutes": round((end - start).total_seconds() / 60, 1),
                        "cost (USD)": round((end - start).total_seconds() / 3600 * price, 4),
                    }
                    for start, end in reversed(lifetimes)
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    else:
        st.info("No endpoint ran in this period: it cost nothing.", icon=":material/savings:")


ui.show_errors(render)
