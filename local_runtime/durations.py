"""Human durations on the command line (`2m`, `30s`, `1h`, `90`), so flags read like the issue says them."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$")


def parse_duration(text: str) -> float:
    """Seconds in `text`; a bare number means seconds. Raises ValueError with the accepted forms."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90, 30s, 2m, 1h)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def format_duration(seconds: float) -> str:
    """The short form of a duration, for the console."""
    if seconds < 120:
        return f"{seconds:g}s"
    if seconds < 7200:
        return f"{seconds / 60:g}m"
    return f"{seconds / 3600:g}h"
