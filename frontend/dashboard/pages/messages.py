"""Messages: the SMS the lifecycle sent and whether each one was delivered."""

import pandas as pd
import streamlit as st
from ondemand_dashboard import ui
from ondemand_dashboard.api_client import ApiError
from ondemand_dashboard.timeline import parse_time


def masked(phone: str) -> str:
    """Enough of the number to tell subscribers apart, not enough to leak it in a screenshot."""
    return phone if len(phone) <= 6 else phone[:3] + "•" * (len(phone) - 6) + phone[-3:]


def render() -> None:
    st.title("Messages")

    try:
        outbox = ui.fetch_outbox(ui.api_url())
    except ApiError as error:
        if error.status != 404:
            st.error(error.message, icon=":material/cloud_off:")
            return
        outbox = None

    if outbox is None:
        st.info(
            "This API has no SMS outbox: a deployed stack sends SMS straight to the provider (SNS or Textbelt), "
            "whose delivery logs are in CloudWatch. The state item still tells how many people wait for the SMS.",
            icon=":material/info:",
        )
        status = ui.status()
        if status is not None:
            waiting_col, error_col = st.columns([1, 3])
            waiting_col.metric("SMS subscribers", int(status.get("subscribers_count") or 0))
            error_col.metric("Last error", status.get("last_error") or "none")
        return

    delivered = sum(1 for message in outbox if message.get("ok"))
    sent_col, delivered_col, failed_col = st.columns(3)
    sent_col.metric("Messages", len(outbox))
    delivered_col.metric("Delivered", delivered)
    failed_col.metric("Failed", len(outbox) - delivered)

    if not outbox:
        st.info("No SMS sent yet. Start the model with a phone number and one arrives here when it is ready.")
        return

    table = pd.DataFrame(
        [
            {
                "at (UTC)": f"{parse_time(message['at']):%Y-%m-%d %H:%M:%S}" if message.get("at") else "",
                "phone": masked(str(message.get("phone", ""))),
                "provider": message.get("provider", ""),
                "result": "delivered" if message.get("ok") else "FAILED",
                "detail": message.get("detail", ""),
                "message": message.get("message", ""),
            }
            for message in reversed(outbox)
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")


ui.show_errors(render)
