"""The worst month of API traffic docs/measurements.md and the deploy guide quote is what benchmarks/traffic_cost.py
computes from today's template: a changed throttle, memory size or GPU budget makes them disagree here, not on a
bill."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]


def traffic_cost() -> ModuleType:
    spec = importlib.util.spec_from_file_location("traffic_cost", ROOT / "benchmarks" / "traffic_cost.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    spec.loader.exec_module(module)
    return module


def test_the_measurements_and_the_deploy_guide_quote_the_worst_month_of_todays_template() -> None:
    script = traffic_cost()
    stack = script.read_stack()
    uncapped = sum(script.worst_month(stack).values())
    capped = sum(script.worst_month(stack, stack.reserved_concurrency).values())
    measurements = (ROOT / "docs" / "measurements.md").read_text()
    guide = (ROOT / "docs" / "deploy.md").read_text()

    assert f"**${uncapped:,.2f}**" in measurements and f"**${capped:,.2f}**" in measurements
    assert f"about {uncapped:.0f} USD" in guide and f"{capped:.0f} USD with `ReservedConcurrency=on`" in guide


def test_the_cost_follows_the_throttle_and_a_concurrency_cap_only_lowers_it() -> None:
    script = traffic_cost()
    stack = script.read_stack()
    once, twice = (
        script.worst_month(stack),
        script.worst_month(replace(stack, requests_per_second=2 * stack.requests_per_second)),
    )
    assert sum(twice.values()) > 1.9 * sum(once.values())
    capped = script.worst_month(stack, stack.reserved_concurrency)
    assert all(capped[item] <= once[item] for item in once)
