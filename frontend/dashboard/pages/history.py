"""History: every transition of the state item, as a timeline of states and as a table."""

from datetime import UTC, datetime

import altair as alt
import pandas as pd
import streamlit as st
from ondemand_dashboard import ui
from ondemand_dashboard.timeline import item_since, naive_utc, parse_history, state_spans


def render() -> None:
    st.title("History")
    status = ui.status()
    if status is None:
        return

    transitions = parse_history(status.get("history"))
    if not transitions:
        st.info(f"No transitions yet: the model has been {status.get('state')} since the state item was created.")
        return

    now = datetime.now(UTC)
    since = item_since(status)
    spans = state_spans(transitions, str(status.get("state")), since, now)

    st.caption(
        f"{len(transitions)} transitions since {transitions[0].at:%Y-%m-%d %H:%M:%S} UTC "
        "(the item keeps a bounded history; older ones are dropped)."
    )
    timeline = pd.DataFrame(
        [
            {
                "state": span.state,
                "start": naive_utc(span.start),
                "end": naive_utc(span.end),
                "duration": ui.format_duration(span.seconds),
                "reason": span.reason,
            }
            for span in spans
        ]
    )
    chart = (
        alt.Chart(timeline)
        .mark_bar(height=18)
        .encode(
            x=alt.X("start:T", title="time (UTC)", axis=alt.Axis(format="%H:%M")),
            x2="end:T",
            y=alt.Y("state:N", title=None, sort=list(ui.STATE_BADGES)),
            color=alt.Color(
                "state:N",
                legend=None,
                scale=alt.Scale(
                    domain=list(ui.STATE_BADGES), range=["#9e9e9e", "#ff9800", "#2e7d32", "#ffb74d", "#c62828"]
                ),
            ),
            tooltip=["state", "start:T", "end:T", "duration", "reason"],
        )
        .properties(height=220)
    )
    st.altair_chart(chart, width="stretch")

    ui.transitions_table(transitions)


ui.show_errors(render)
