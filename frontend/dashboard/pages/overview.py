"""Overview: the state right now, how long it has been so, what happens next (the stop notice, the teardown), the
owner's daily GPU budget, the model pipeline's progress, and the buttons that move the state."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import streamlit as st
from ondemand_dashboard import ui
from ondemand_dashboard.api_client import ApiError
from ondemand_dashboard.timeline import item_since, parse_history, parse_time

INSTANT_TIER_WORDS = {
    "off": "off: /predict answers 503 until the GPU endpoint is in service",
    "while-starting": "while starting: the instant CPU model answers while the GPU endpoint starts",
    "always": "always: the instant CPU model answers whenever the GPU endpoint is not in service",
}


def act(label: str, action: Callable[[], dict[str, Any]]) -> None:
    """Run one action; on success show what it did after a rerun with fresh data, on failure say why."""
    answer = ui.attempt(action)
    if answer is not None:
        new_state = answer.get("state")
        message = f"{label}: the model is now {new_state}." if new_state else label
        if answer.get("capped"):
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
    if status.get("notice_at") and state == "IN_SERVICE":
        notice = parse_time(status["notice_at"])
        to_go = ui.seconds_until(status["notice_at"], now)
        when = f"in {ui.format_duration(to_go)}" if to_go and to_go > 0 else "sent"
        st.caption(f"Stop notice (the SMS and the page's Extend banner) at {notice:%Y-%m-%d %H:%M:%S} UTC ({when}).")
    if status.get("cooldown_until") and (ui.seconds_until(status["cooldown_until"], now) or 0) > 0:
        st.caption(
            f"Start is refused until {parse_time(status['cooldown_until']):%H:%M:%S} UTC (the cooldown after "
            "a teardown)."
        )
    if status.get("instant_tier") in INSTANT_TIER_WORDS:
        st.caption(f"Instant tier: {INSTANT_TIER_WORDS[status['instant_tier']]}.")
    if state in ui.CHANGING_STATES:
        st.caption(f"The state is changing: this page refreshes every {ui.REFRESH_SECONDS_WHILE_CHANGING} s.")
    if status.get("last_error"):
        code = f" ({status['last_error_code']})" if status.get("last_error_code") else ""
        st.warning(f"Last error{code}: {status['last_error']}", icon=":material/warning:")
    budget_panel(status.get("budget"), now)


def minutes_text(minutes: object) -> str:
    """GPU minutes as the budget metrics show them: `3 h 22 min`, `45 min`, `none`."""
    whole = int(max(0.0, float(minutes))) if isinstance(minutes, int | float) else None
    if whole is None:
        return "–"
    if whole == 0:
        return "none"
    return f"{whole // 60} h {whole % 60:02d} min" if whole >= 60 else f"{whole} min"


def budget_panel(budget: object, now: datetime) -> None:
    """The owner's daily GPU budget (UTC day), when the API reports one."""
    if not isinstance(budget, dict):
        return
    left_col, used_col, day_col, reset_col = st.columns(4)
    left_col.metric("GPU time left today", minutes_text(budget.get("gpu_minutes_left_today")))
    used_col.metric("GPU time used today", minutes_text(budget.get("gpu_minutes_used_today")))
    day_col.metric("Daily GPU budget", minutes_text(budget.get("gpu_minutes_per_day")))
    reset_col.metric("Budget resets in", ui.format_duration(ui.seconds_until(budget.get("resets_at"), now)))
    if budget.get("gpu_minutes_left_today") == 0:
        st.warning(
            "Today's GPU budget is spent: /start and /extend answer 429 budget_exhausted until it resets.",
            icon=":material/money_off:",
        )


def pipeline_panel() -> None:
    """The local runtime's model pipeline: the transformer training in the background. Nothing on a deployed stack
    (GET /pipeline answers 404 there)."""
    try:
        pipeline = ui.fetch_pipeline(ui.api_url())
    except ApiError as error:
        st.caption(f"Model training: unknown ({error.message})")
        return
    if pipeline is None:
        return
    st.subheader("Model training")
    progress, state = pipeline.get("progress"), str(pipeline.get("state"))
    text = f"{state}: {pipeline.get('stage') or ''}".rstrip(": ")
    if isinstance(progress, int | float):
        st.progress(min(1.0, max(0.0, float(progress))), text=f"{text} ({float(progress):.0%})")
    else:
        st.markdown(f"**{text}**")
    if pipeline.get("message"):
        st.caption(str(pipeline["message"]))
    models = (
        f"Instant CPU model: {'ready' if pipeline.get('instant_model') else 'not yet'}. "
        f"GPU model: {'approved' if pipeline.get('gpu_model') else 'not approved yet, so Start cannot work'}."
    )
    (st.error if state == "failed" else st.caption)(models)


def render() -> None:
    st.title("Overview")
    if flash := st.session_state.pop("overview_flash", None):
        st.success(flash, icon=":material/check:")

    status = ui.status()
    if status is None:
        return
    state = str(status.get("state"))
    st.fragment(state_panel, run_every=ui.refresh_interval(state))()
    training = ui.attempt_quietly(lambda: ui.fetch_pipeline(ui.api_url()))
    # The progress moves by itself while the transformer trains: re-read it on a timer then, as the state panel does.
    training_now = isinstance(training, dict) and training.get("state") == "training"
    st.fragment(pipeline_panel, run_every=ui.REFRESH_SECONDS_WHILE_CHANGING * 2 if training_now else None)()

    st.subheader("Actions")
    start_col, extend_col, stop_col = st.columns(3)
    with start_col:
        # A text goes only to a number its owner confirmed with a texted code, which the web page does.
        st.caption("Starts the GPU model. To be texted when it is ready, confirm your number on the web page.")
        if st.button("Start model", type="primary", icon=":material/play_arrow:"):
            act("Start requested", ui.api().start)
    with extend_col:
        st.caption("Push the automatic shutdown back (only while in service).")
        if st.button("Extend", icon=":material/more_time:", disabled=state != "IN_SERVICE"):
            act("Extended", ui.api().extend)
    with stop_col:
        st.caption(
            "Delete the endpoint now. Needs the admin key, which the dashboard reads from ONDEMAND_ADMIN_KEY "
            "on its server and never shows."
        )
        if st.button("Stop", icon=":material/stop:", disabled=state in ("STOPPED", "STOPPING")):
            key = ui.admin_key()
            if key:
                act("Stop requested", lambda: ui.api().stop(key))
            else:
                st.error(
                    "Stop needs the admin key: set ONDEMAND_ADMIN_KEY where the dashboard runs, then restart it.",
                    icon=":material/key:",
                )

    transitions = parse_history(status.get("history"))[-5:]
    if transitions:
        st.subheader("Latest transitions")
        ui.transitions_table(transitions)


ui.show_errors(render)
