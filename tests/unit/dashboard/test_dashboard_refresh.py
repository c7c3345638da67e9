"""How often the dashboard re-reads the status, and how it writes durations."""

from __future__ import annotations

import pytest
from ondemand_dashboard.ui import format_duration, refresh_interval


@pytest.mark.parametrize(
    ("state", "seconds"),
    [("STARTING", 2), ("STOPPING", 2), ("IN_SERVICE", 5), ("STOPPED", None), ("FAILED", None), (None, None)],
)
def test_only_a_state_that_changes_by_itself_is_re_read(state: str | None, seconds: int | None) -> None:
    assert refresh_interval(state) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "–"), (-3, "0 s"), (12.4, "12 s"), (245, "4 min 05 s"), (3720, "1 h 02 min")]
)
def test_durations_read_at_a_glance(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text
