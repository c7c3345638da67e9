"""Streamlit glue shared by every page: the cached client, cached reads with short TTLs, the sidebar and the
auto-refresh while the state is changing. Pages call these and never `requests` themselves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import pandas as pd
import streamlit as st

from ondemand_dashboard.api_client import ApiError, OndemandApiClient
from ondemand_dashboard.config import DashboardConfig
from ondemand_dashboard.state_store import StateStoreReader
from ondemand_dashboard.timeline import Transition, parse_time

T = TypeVar("T")
BadgeColor = Literal["gray", "orange", "green", "red"]
"""The `st.badge` colours the states use."""

CHANGING_STATES = frozenset({"STARTING", "STOPPING"})
STATE_BADGES: dict[str, tuple[BadgeColor, str]] = {
    "STOPPED": ("gray", ":material/power_settings_new:"),
    "STARTING": ("orange", ":material/hourglass_top:"),
    "IN_SERVICE": ("green", ":material/check_circle:"),
    "STOPPING": ("orange", ":material/hourglass_bottom:"),
    "FAILED": ("red", ":material/error:"),
}
REFRESH_SECONDS_WHILE_CHANGING = 2
REFRESH_SECONDS_IN_SERVICE = 5


@st.cache_resource
def config() -> DashboardConfig:
    return DashboardConfig.from_env()


@st.cache_resource
def client(base_url: str) -> OndemandApiClient:
    """One client per base URL for the whole server: it keeps the connection pool and the latency log."""
    return OndemandApiClient(
        base_url, timeout_seconds=config().request_timeout_seconds, local_token=config().local_token
    )


def api_url() -> str:
    """The base URL in use: ONDEMAND_API_URL, fixed where the dashboard runs. Not editable in the page, because the
    admin key goes to it: a field would let anyone who can open the dashboard send the key to a server of theirs."""
    return config().api_url


def api() -> OndemandApiClient:
    return client(api_url())


@st.cache_resource
def state_store_reader(table_name: str) -> StateStoreReader:
    return StateStoreReader(table_name, config().dynamodb_endpoint_url, config().region, config())


@st.cache_data(ttl=2, show_spinner=False)
def fetch_status(base_url: str) -> dict[str, Any]:
    """The state item: from the table when ONDEMAND_STATE_TABLE is set, otherwise from GET /status."""
    table = config().state_table
    return state_store_reader(table).status() if table else client(base_url).status()


@st.cache_data(ttl=5, show_spinner=False)
def fetch_outbox(base_url: str) -> list[dict[str, Any]]:
    return client(base_url).outbox()


@st.cache_data(ttl=5, show_spinner=False)
def fetch_pipeline(base_url: str) -> dict[str, Any] | None:
    """The local runtime's model pipeline, or None where there is none (a deployed stack)."""
    return client(base_url).pipeline()


def forget_cached_reads() -> None:
    """After an action the next read must show its effect, not a cached answer."""
    fetch_status.clear()
    fetch_outbox.clear()
    fetch_pipeline.clear()


def attempt(action: Callable[[], T]) -> T | None:
    """Run an API call; an ApiError becomes an `st.error` message and None."""
    try:
        return action()
    except ApiError as error:
        st.error(error.message, icon=":material/cloud_off:")
        return None


def attempt_quietly(action: Callable[[], T]) -> T | None:
    """Run an API call for a decision only (how often to refresh); a failure is None, and the panel that shows the
    data says why."""
    try:
        return action()
    except ApiError:
        return None


def show_errors(render: Callable[[], None]) -> None:
    """Run a page (or the sidebar); a bug or an unexpected answer becomes a message, never a traceback."""
    try:
        render()
    except Exception as error:  # st.stop/st.rerun are BaseExceptions and pass through
        st.error(f"This page failed: {type(error).__name__}: {error}", icon=":material/bug_report:")


def status() -> dict[str, Any] | None:
    """GET /status through the cache, or None after showing why it failed."""
    return attempt(lambda: fetch_status(api_url()))


def admin_key() -> str | None:
    """ONDEMAND_ADMIN_KEY, from the dashboard's own environment only: it never reaches the browser."""
    return config().admin_key


def refresh_interval(state: str | None) -> int | None:
    """Seconds between automatic re-reads of the status: fast while the state is changing, slower while the
    countdown to teardown runs, never while nothing can change by itself."""
    if state in CHANGING_STATES:
        return REFRESH_SECONDS_WHILE_CHANGING
    if state == "IN_SERVICE":
        return REFRESH_SECONDS_IN_SERVICE
    return None


def state_badge(state: str) -> None:
    color, icon = STATE_BADGES.get(state, ("gray", ":material/help:"))
    st.badge(state, color=color, icon=icon)


def sidebar() -> None:
    """Connection settings, and a live state badge that reruns the whole page when the state moves on."""
    with st.sidebar:
        st.caption(
            f"API: `{api_url()}`. Set by ONDEMAND_API_URL where the dashboard runs, and not editable here: "
            "the admin key goes only to this API."
        )
        st.caption(
            "Admin key: set (ONDEMAND_ADMIN_KEY); it stays on the dashboard's server."
            if config().admin_key
            else "Admin key: not set, so Stop is off. Set ONDEMAND_ADMIN_KEY where the dashboard runs."
        )
        if config().state_table:
            st.caption(f"State read from the table {config().state_table}; actions go to the API.")
        _live_state()


def _live_state() -> None:
    try:
        current = fetch_status(api_url())
    except ApiError:
        current = {}
    seen = current.get("state"), current.get("version")

    @st.fragment(run_every=refresh_interval(seen[0]))
    def watch() -> None:
        try:
            fresh = fetch_status(api_url())
        except ApiError:
            st.caption("State: unknown (the API is not answering)")
            return
        if (fresh.get("state"), fresh.get("version")) != seen:
            st.rerun(scope="app")
        state_badge(str(fresh.get("state")))
        st.caption(f"Refreshed {datetime.now(UTC):%H:%M:%S} UTC")

    watch()


def transitions_table(transitions: list[Transition]) -> None:
    """Transitions newest first, as History and Overview show them."""
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "at (UTC)": f"{transition.at:%Y-%m-%d %H:%M:%S}",
                    "from": transition.from_state,
                    "to": transition.to_state,
                    "reason": transition.reason,
                }
                for transition in reversed(transitions)
            ],
            columns=["at (UTC)", "from", "to", "reason"],
        ),
        hide_index=True,
        width="stretch",
    )


def seconds_until(moment: str | None, now: datetime) -> float | None:
    """Seconds from `now` to an ISO-8601 moment of the API (None stays None)."""
    if not moment:
        return None
    return (parse_time(moment) - now).total_seconds()


def format_duration(seconds: float | None) -> str:
    """`1 h 02 min`, `4 min 05 s`, `12 s`; what a developer reads at a glance."""
    if seconds is None:
        return "–"
    whole = int(max(0, round(seconds)))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
