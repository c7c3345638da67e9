"""Prints what the model-based lifecycle test did: examples, faults injected by kind, handler runs."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.unit.lifecycle_model.test_lifecycle_model import PROFILE, TOTALS

    if not TOTALS:
        return
    terminalreporter.section(f"lifecycle model (profile {PROFILE})")
    for name, count in sorted(TOTALS.items()):
        terminalreporter.write_line(f"{name:>32}: {count}")
