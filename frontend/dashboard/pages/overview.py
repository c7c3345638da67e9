"""Overview: the state right now, how long it has been so, what happens next, and the buttons that move it."""

from datetime import UTC, datetime

import streamlit as st
from ondemand_dashboard import ui
from ondemand_dashboard.timeline import item_since, parse_history, parse_time


def act(label: str, action) -> None:  # noqa: ANN001 - a zero-argument API call
    """Run one action; on success show what it did after a rerun with fresh data, on failure say why."""
    answer = ui.attempt(action)
    if answer is not None:
        new_state = answer.get("state") if isinstance(answer, dict) else None
        message = f"{label}: the model is now {new_state}." if new_state else label
        if isinstance(answer, dict) and answer.get("capped"):
            message += " The extension was capped: the endpoint has reached its longest allowed lifetime."
        st.session_state["overview_flash"] = message
        ui.forget_cached_reads()
        st.rerun()


def state_panel() -> None:
    """The live part of the page: it re-reads the status on its own timer, so countdowns tick without a full rerun."""
    status = ui.status()
    if status is None:
        return
    now = datetime.now(UTC)
    state = str(status.get("state"))
    since = item_since(status)

    state_col, time_col, countdown_col, subscribers_col = st.columns(4)
    state_col.metric("State", state)
    time_col.metric("Time in state", ui.format_duration((now - since).total_seconds() if since else None))
    if state == "STARTING":
        eta = status.get("eta_seconds")
        countdown_col.metric("Ready in about", ui.format_duration(float(eta) if eta is not None else None))
    elif state == "IN_SERVICE":
        left = ui.seconds_until(status.get("expires_at"), now)
        if left is None and status.get("seconds_left") is not None:
            left = float(status["seconds_left"])
        countdown_col.metric("Shuts down in", ui.format_duration(left))
    else:
        countdown_col.metric("Countdown", "–")
    subscribers_col.metric("SMS subscribers", int(status.get("subscribers_count") or 0))
    if state == "STARTING" and status.get("eta_seconds") is not None and since is not None:
        elapsed = (now - since).total_seconds()
        done = min(1.0, elapsed / max(1.0, elapsed + float(status["eta_seconds"])))
        st.progress(done, text="Provisioning the endpoint")

    st.markdown(f"**Endpoint** `{status.get('endpoint_name') or 'none'}`")
    if status.get("expires_at") and state == "IN_SERVICE":
        st.caption(f"Teardown scheduled for {parse_time(status['expires_at']):%Y-%m-%d %H:%M:%S} UTC.")
    if state in ui.CHANGING_STATES:
        st.caption(f"The state is changing: this page refreshes every {ui.REFRESH_SECONDS_WHILE_CHANGING} s.")
    if status.get("last_error"):
        st.warning(f"Last error: {status['last_error']}", icon=":material/warning:")


def render() -> None:
    st.title("Overview")
    if flash := st.session_state.pop("overview_flash", None):
        st.success(flash, icon=":material/check:")

    status = ui.status()
    if status is None:
        return
    state = str(status.get("state"))
    st.fragment(state_panel, run_every=ui.refresh_interval(state))()

    st.subheader("Actions")
    start_col, extend_col, stop_col = st.columns(3)
    with start_col:
        phone = st.text_input("Phone for the ready SMS (optional, E.164)", placeholder="+15555550100",
                              key="start_phone")
        if st.button("Start model", type="primary", icon=":material/play_arrow:"):
            act("Start requested", lambda: ui.api().start(phone.strip() or None))
    with extend_col:
        st.caption("Push the automatic shutdown back (only while in service).")
        if st.button("Extend", icon=":material/more_time:", disabled=state != "IN_SERVICE"):
            act("Extended", ui.api().extend)
    with stop_col:
        st.caption("Delete the endpoint now. Needs the admin key (sidebar or ONDEMAND_ADMIN_KEY).")
        if st.button("Stop", icon=":material/stop:", disabled=state in ("STOPPED", "STOPPING")):
            key = ui.admin_key()
            if key:
                act("Stop requested", lambda: ui.api().stop(key))
            else:
                st.error("Stop needs the admin key: enter it in the sidebar or set ONDEMAND_ADMIN_KEY.",
                         icon=":material/key:")

    transitions = parse_history(status.get("history"))[-5:]
    if transitions:
        st.subheader("Latest transitions")
        ui.transitions_table(transitions)


ui.show_errors(render)
