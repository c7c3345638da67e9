"""Prints the attacker test's worst simulated month beside always-on, for docs/measurements.md, and the whole bill
of such a month: its GPU and texts, plus every route at its throttle priced by benchmarks/traffic_cost.py from units
measured on the real handler (moto in this process; about a minute more; ATTACKER_WHOLE_BILL=0 skips it)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def whole_bill(gpu_usd: float, texts: int) -> tuple[float, float, float]:
    """(the month with the simulated GPU and texts, its traffic at the throttles, MonthlyBudgetUsd's default)."""
    spec = importlib.util.spec_from_file_location("traffic_cost", ROOT / "benchmarks" / "traffic_cost.py")
    assert spec is not None and spec.loader is not None
    traffic_cost = sys.modules.get("traffic_cost") or importlib.util.module_from_spec(spec)
    if "traffic_cost" not in sys.modules:
        sys.modules["traffic_cost"] = traffic_cost
        spec.loader.exec_module(traffic_cost)
    stack = traffic_cost.read_stack()
    measured = traffic_cost.measure(stack, count=1, in_process=True)
    size, files = traffic_cost.page_size()
    month = traffic_cost.worst_month(
        stack, measured, traffic_cost.gpu_read_timeout(), page_bytes=size, page_files=files
    )
    return traffic_cost.with_simulated(month, gpu_usd, texts), month.traffic, stack.monthly_budget_usd


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.unit.attacker.test_attacker import DAYS, TOTALS, WORST

    if not WORST:
        return
    terminalreporter.section("attacker test: the worst month hypothesis found")
    terminalreporter.write_line(
        f"{DAYS} days: {WORST['gpu_hours']:.1f} GPU hours = ${WORST['usd']:.2f} of ml.g4dn.xlarge "
        f"(always-on: ${WORST['always_on_usd']:.2f})"
    )
    if os.environ.get("ATTACKER_WHOLE_BILL", "1") != "0":
        total, traffic, budget = whole_bill(WORST["usd"], int(WORST.get("texts", 0)))
        terminalreporter.write_line(
            f"whole bill of that month: ${total:.2f} (GPU ${WORST['usd']:.2f}, {int(WORST.get('texts', 0))} texts, "
            f"every route at its throttle ${traffic:.2f}, fixed costs), MonthlyBudgetUsd default ${budget:.0f}"
        )
    for name, count in sorted(TOTALS.items()):
        terminalreporter.write_line(f"{name:>24}: {count}")
