"""The whole bill's worst month (benchmarks/traffic_cost.py) is priced from units measured by running the API handler:
every route the stack serves has a row, DynamoDB's units follow the items the code really writes (a bigger item costs
more, with nothing to edit here), AWS's rounding rules hold on known sizes, and the docs quote today's numbers."""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def load(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def traffic_cost() -> ModuleType:
    return load("traffic_cost")


@pytest.fixture(scope="module")
def units() -> ModuleType:
    load("traffic_cost")
    return importlib.import_module("benchmarks.request_units")  # the one traffic_cost imports


@pytest.fixture(scope="module")
def measured(traffic_cost: ModuleType):
    """Every route's outcomes, measured twice each against moto's DynamoDB in this process (no socket)."""
    return traffic_cost.measure(traffic_cost.read_stack(), count=2, in_process=True)


def test_dynamodb_rounding_follows_the_documented_rules(units: ModuleType) -> None:
    # "DynamoDB read and write operations": writes per 1 KB, reads per 4 KB, an eventually consistent read halves.
    assert units.write_units(1024) == 1
    assert units.write_units(1025) == 2
    assert units.write_units(0) == 1  # a failed condition on a missing item still costs one
    assert units.write_units(6 * 1024 + 1) == 7
    assert units.read_units(4096, consistent=True) == 1
    assert units.read_units(4097, consistent=True) == 2
    assert units.read_units(4097, consistent=False) == 1
    assert units.read_units(0, consistent=True) == 1 and units.read_units(0, consistent=False) == 0.5
    # "DynamoDB item sizes and formats": names + values, a number 1 byte per two digits + 1, lists and maps 3 + 1 each.
    assert units.item_size({"pk": {"S": "endpoint"}}) == 10
    assert units.item_size({"n": {"N": "12345"}}) == 1 + 4
    assert units.item_size({"n": {"N": "-0.00120"}}) == 1 + 2  # zeros trimmed: "12"
    assert units.item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 4
    assert units.item_size({"l": {"L": [{"S": "ab"}, {"S": "é"}]}}) == 1 + 3 + (2 + 1) + (2 + 1)
    assert units.item_size({"m": {"M": {"at": {"S": "x"}}}}) == 1 + 3 + (2 + 1 + 1)


def test_every_route_and_method_the_stack_serves_has_a_priced_row(traffic_cost: ModuleType, measured) -> None:
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    stack = traffic_cost.read_stack()
    served = set(traffic_cost.api_routes(template))
    assert {"GET /status", "POST /start", "POST /predict", "OPTIONS /start"} <= served
    # Read independently of the script: every path an Api event names in the template, as a route and a preflight.
    paths = set(re.findall(r"^\s+Path: (/\S+)$", (ROOT / "template.yaml").read_text(), flags=re.M))
    assert paths and {route.split(" ", 1)[1] for route in served} == paths
    assert {f"OPTIONS {path}" for path in paths} <= served
    month = traffic_cost.worst_month(stack, measured, traffic_cost.gpu_read_timeout())
    rows = {row.mix.route.route: row for row in month.routes}
    assert set(rows) == served
    for route, row in rows.items():
        assert (
            row.total > 0
            and row.mix.route.rate
            == traffic_cost.method_setting(template["Resources"]["Api"]["Properties"]["MethodSettings"], route)[
                "ThrottlingRateLimit"
            ]
        )
    # A route the measurements lack cannot be priced by a guess.
    missing = type(measured)([o for o in measured.outcomes if o.route != "GET /status"], 0.0, measured.settings)
    with pytest.raises(KeyError, match="GET /status"):
        traffic_cost.worst_month(stack, missing, 10.0)


def test_a_failing_start_costs_what_its_item_costs_and_the_throttle_multiplies_it(
    traffic_cost: ModuleType, measured
) -> None:
    failing = next(o for o in measured.outcomes if o.outcome.startswith("failing start"))
    status = next(o for o in measured.outcomes if o.route == "GET /status")
    # The failing start reads and writes the whole state item; at its steady size that is several units each.
    assert failing.largest_item_bytes > 1024 and failing.write_units > 2 and failing.read_units >= 2
    assert status.read_units == math.ceil(status.largest_item_bytes / 4096)  # one strongly consistent read
    stack = traffic_cost.read_stack()
    once = traffic_cost.worst_month(stack, measured, 10.0)
    doubled = replace(stack, routes=tuple(replace(route, rate=2 * route.rate) for route in stack.routes))
    twice = traffic_cost.worst_month(doubled, measured, 10.0)
    assert sum(r.total for r in twice.routes) == pytest.approx(2 * sum(r.total for r in once.routes), rel=0.01)
    capped = traffic_cost.worst_month(stack, measured, 10.0, concurrency_cap=1)
    assert all(c.total <= u.total + 1e-9 for c, u in zip(capped.routes, once.routes, strict=True))


def test_the_failing_starts_write_units_are_measured_from_the_item_it_grows(traffic_cost: ModuleType) -> None:
    """With a shorter history the state item is smaller, so a failing start writes fewer units: nothing is typed in."""
    stack = traffic_cost.read_stack()

    def failing_write_units(history_limit: int) -> float:
        measured = traffic_cost.measure(
            stack,
            count=1,
            only=lambda name: name.startswith("failing start"),
            history_limit=history_limit,
            in_process=True,
        )
        (failing,) = measured.outcomes
        return failing.write_units

    assert failing_write_units(2) < failing_write_units(50)


def test_the_ceiling_stops_what_the_api_drives_but_not_the_fixed_costs(traffic_cost: ModuleType, measured) -> None:
    stack = traffic_cost.read_stack()
    month = traffic_cost.worst_month(stack, measured, 10.0)
    fixed = sum(v for k, v in month.other.items() if k in traffic_cost.FIXED_LINES)
    assert traffic_cost.with_ceiling(month, 10_000, 15) == pytest.approx(month.total)  # never crossed
    soon, late = traffic_cost.with_ceiling(month, 50, 0), traffic_cost.with_ceiling(month, 50, 600)
    assert fixed < soon < late < month.total


def test_the_readme_and_the_measurements_quote_todays_worst_month(traffic_cost: ModuleType, measured) -> None:
    """Within a fifth: the Lambda share follows this machine's CPU, the units and prices do not."""
    stack = traffic_cost.read_stack()
    month = traffic_cost.worst_month(stack, measured, traffic_cost.gpu_read_timeout(), **page_kwargs(traffic_cost))
    quoted = []
    for path in (ROOT / "docs" / "measurements.md", ROOT / "functions" / "README.md"):
        found = re.findall(r"whole bill's worst month[^$]*\$([\d,]+\.\d\d)", path.read_text())
        assert found, f"{path.name} quotes no whole-bill worst month"
        quoted += [float(value.replace(",", "")) for value in found]
    for value in quoted:
        assert value == pytest.approx(month.total, rel=0.2)


def page_kwargs(traffic_cost: ModuleType) -> dict[str, float]:
    size, files = traffic_cost.page_size()
    return {"page_loads": 100_000, "page_bytes": size, "page_files": files}
