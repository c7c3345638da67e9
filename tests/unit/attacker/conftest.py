"""Prints the attacker test's worst simulated month beside always-on, for docs/measurements.md."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.unit.attacker.test_attacker import DAYS, TOTALS, WORST

    if not WORST:
        return
    terminalreporter.section("attacker test: the worst month hypothesis found")
    terminalreporter.write_line(
        f"{DAYS} days: {WORST['gpu_hours']:.1f} GPU hours = ${WORST['usd']:.2f} of ml.g4dn.xlarge "
        f"(always-on: ${WORST['always_on_usd']:.2f})"
    )
    for name, count in sorted(TOTALS.items()):
        terminalreporter.write_line(f"{name:>24}: {count}")
