"""The whole bill's worst month: every route at its own throttle for 30 days, priced from measured per-request units.

Anyone on the internet can send each route's `ThrottlingRateLimit` (template.yaml's MethodSettings: API Gateway
applies a stage's method settings to each method on its own, "Throttle requests to your REST APIs",
docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html) every second of the month.
What one request of each route costs is measured, not assumed: benchmarks/request_units.py runs the real API handler
against moto's DynamoDB API and prices the items it really reads and writes by DynamoDB's rounding rules, with the
log lines it really writes. Per route the month takes the outcome an attacker can repeat that costs most:

- POST /start: a start that fails inside the request (CreateEndpoint refused) as often as the code lets one follow
  another (measured: the Retry-After of the start right after one), refused starts the rest of the time;
- POST /predict and /extend: while the GPU endpoint is up (the daily GPU budget's minutes), the in-service outcome
  (a /predict then waits out the GPU client's read timeout), the rest of the day the out-of-service one;
- every other route: its most expensive measured outcome; each path's OPTIONS is API Gateway's mock (no Lambda).

On top: the GPU endpoint (the daily budget spent every day), the texts (the daily cap every day), Secrets Manager,
CloudWatch alarms and custom metrics, the page on CloudFront, X-Ray. Free tiers are left out. Printed twice: at the
throttles all month, and with the ceiling (MonthlyBudgetUsd: CeilingFunction closes the API) acting `--lag-minutes`
after the month's spend crosses it.

    .venv/bin/python benchmarks/traffic_cost.py [--count 20] [--lag-minutes 15] [--page-loads 100000]
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.machine import cpu_model, describe_machine
from benchmarks.request_units import Measured, Outcome, measure_routes

ROOT = Path(__file__).resolve().parents[1]
DAYS = 30
SECONDS = DAYS * 86400

# us-east-1 list prices. Where the page itself was not readable offline, a copy of it is named.
PRICES = {
    # https://aws.amazon.com/api-gateway/pricing/ (REST, first 333 million a month; also AWS's whitepaper
    # docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/cost-optimization.html)
    "api_gateway_per_million": 3.50,
    # https://aws.amazon.com/lambda/pricing/ (requests; Arm duration, first 7.5 billion GB-s; figures as quoted by
    # cloudchipr.com/blog/aws-lambda-pricing)
    "lambda_requests_per_million": 0.20,
    "lambda_arm_gb_second": 0.0000133334,
    # https://aws.amazon.com/dynamodb/pricing/on-demand/ (on-demand after the November 2024 reduction; figures as
    # quoted by airbyte.com/data-engineering-resources/dynamodb-pricing)
    "dynamodb_write_units_per_million": 0.625,
    "dynamodb_read_units_per_million": 0.125,
    # https://aws.amazon.com/xray/pricing/ (traces recorded)
    "xray_traces_per_million": 5.00,
    # https://aws.amazon.com/cloudwatch/pricing/ (Logs, Standard class; figures as quoted by
    # c3x.dev/blog/cloudwatch-logs-cost-optimization). Alarms: standard resolution, per alarm metric; custom metrics:
    # the first 10,000 a month.
    "logs_ingested_per_gb": 0.50,
    "logs_stored_per_gb_month": 0.03,
    "alarm_per_month": 0.10,
    "custom_metric_per_month": 0.30,
    # https://aws.amazon.com/secrets-manager/pricing/ ($0.40 per secret a month, $0.05 per 10,000 API calls, as
    # transcribed in github.com/api-evangelist/amazon-secrets-manager's pricing file)
    "secret_per_month": 0.40,
    "secret_calls_per_10k": 0.05,
    # https://aws.amazon.com/cloudfront/pricing/ (North America, first 10 TB; HTTPS requests). Not checked here.
    "cloudfront_per_gb": 0.085,
    "cloudfront_https_per_10k": 0.01,
    # SageMaker real-time ml.g4dn.xlarge on-demand, as tests/unit/attacker uses (HOURLY_USD).
    "gpu_hour": 0.7364,
    # A text: Textbelt sells prepaid quota; no price page was in reach, so this is an assumption (pessimistic for
    # SNS's US rate of under a cent plus carrier fees).
    "text": 0.05,
}

# Assumed, not measured: the scheduled functions' runs (a run reads the item and lists endpoints).
SCHEDULED_RUN_SECONDS = 1.0
XRAY_RESERVOIR_PER_SECOND, XRAY_FIXED_RATE = 1, 0.05  # X-Ray's default sampling rule (the template sets none)


@dataclass(frozen=True)
class Route:
    route: str  # "POST /start"
    rate: float  # requests per second the stage admits
    burst: int


@dataclass(frozen=True)
class Stack:
    """What template.yaml deploys that the price depends on."""

    routes: tuple[Route, ...]
    memory_mb: int
    gpu_minutes_per_day: float
    reserved_concurrency: int
    monthly_budget_usd: float
    sms_per_day: int
    log_retention_days: int
    secrets: int
    alarms: int
    scheduled_runs_per_month: float
    single_throttle: bool = False
    """True when MethodSettings has only the "/*" entry: it then applies to each route and method on its own."""

    @property
    def requests_per_second(self) -> float:
        return sum(route.rate for route in self.routes)


def _parameter_default(template: dict[str, Any], name: str, fallback: float) -> float:
    parameter = template.get("Parameters", {}).get(name)
    return float(parameter["Default"]) if parameter and "Default" in parameter else fallback


def _resolve(value: Any, template: dict[str, Any], fallback: float) -> float:
    """A number, or a !Ref to a parameter's default."""
    if isinstance(value, dict) and "Ref" in value:
        return _parameter_default(template, value["Ref"], fallback)
    try:
        return float(value)
    except (TypeError, ValueError):
        return fallback


def api_routes(template: dict[str, Any]) -> list[str]:
    """Every method the Api stage serves: each function's Api events, and each path's OPTIONS (SAM's Cors)."""
    routes: list[str] = []
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "Api":
                properties = event["Properties"]
                routes.append(f"{properties['Method'].upper()} {properties['Path']}")
    if template["Resources"]["Api"]["Properties"].get("Cors"):
        routes += [f"OPTIONS {path}" for path in sorted({r.split(" ", 1)[1] for r in routes})]
    return routes


def method_setting(settings: list[dict[str, Any]], route: str) -> dict[str, Any]:
    """The MethodSettings entry API Gateway applies to `route`: its own path and method, else its path with "*",
    else "/*" with its method, else "/*" "*". ResourcePath spells "/" inside a path "~1"."""
    method, path = route.split(" ", 1)
    encoded = "/" + path.replace("/", "~1")
    for want_path, want_method in ((encoded, method), (encoded, "*"), ("/*", method), ("/*", "*")):
        for entry in settings:
            if entry.get("ResourcePath") == want_path and entry.get("HttpMethod", "*").upper() == want_method:
                return entry
    raise ValueError(f"no MethodSettings entry throttles {route}")


def read_stack(path: Path = ROOT / "template.yaml") -> Stack:
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(str(path))
    resources = template["Resources"]
    settings = resources["Api"]["Properties"]["MethodSettings"]
    routes = []
    for route in api_routes(template):
        entry = method_setting(settings, route)
        routes.append(
            Route(
                route,
                _resolve(entry["ThrottlingRateLimit"], template, 0),
                int(_resolve(entry["ThrottlingBurstLimit"], template, 0)),
            )
        )
    function = resources["ApiFunction"]["Properties"]
    memory = function.get("MemorySize", template["Globals"]["Function"]["MemorySize"])
    reserved = function["ReservedConcurrentExecutions"]["Fn::If"][1]  # the value when ReservedConcurrency is "on"
    retention = 14
    for resource in resources.values():
        if resource.get("Type") == "AWS::Logs::LogGroup":
            retention = max(retention, int(_resolve(resource["Properties"].get("RetentionInDays"), template, 14)))
    scheduled = 0.0
    for resource in resources.values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            expression = str(event.get("Properties", {}).get("Schedule", ""))
            if expression.startswith("rate("):
                amount, unit = expression[5:-1].split()
                seconds = float(amount) * {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]
                scheduled += SECONDS / seconds
    return Stack(
        routes=tuple(routes),
        memory_mb=int(memory),
        gpu_minutes_per_day=_parameter_default(template, "GpuMinutesPerDay", 240),
        reserved_concurrency=int(reserved),
        monthly_budget_usd=_parameter_default(template, "MonthlyBudgetUsd", 0),
        sms_per_day=int(_parameter_default(template, "SmsPerDay", 0)),
        log_retention_days=retention,
        secrets=sum(1 for r in resources.values() if r.get("Type") == "AWS::SecretsManager::Secret"),
        alarms=sum(1 for r in resources.values() if r.get("Type") == "AWS::CloudWatch::Alarm"),
        scheduled_runs_per_month=scheduled,
        single_throttle=len(settings) == 1,
    )


# --- pricing ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mix:
    """One route's month: which measured outcomes, in what shares of its requests."""

    route: Route
    parts: tuple[tuple[float, Outcome, float], ...]  # (share of requests, outcome, extra seconds of Lambda waiting)
    note: str = ""


def mix_for(route: Route, measured: Measured, stack: Stack, gpu_wait_seconds: float) -> Mix:
    """The outcome mix an attacker gets from `route` at its throttle (see the module's docstring)."""
    outcomes = [o for o in measured.outcomes if o.route == route.route]
    if not outcomes:
        raise KeyError(f"{route.route} has no measured outcome")

    def named(prefix: str) -> Outcome | None:
        return next((o for o in outcomes if o.outcome.startswith(prefix)), None)

    gpu_share = min(1.0, stack.gpu_minutes_per_day / 1440)
    if route.route == "POST /start" and named("failing start"):
        failing = named("failing start")
        refused = max((o for o in outcomes if "refused" in o.outcome), key=lambda o: cost_of(o, stack.memory_mb))
        assert failing is not None
        every = max(measured.failing_start_every_seconds, 1 / route.rate if route.rate else math.inf)
        share = min(1.0, (1 / every) / route.rate) if route.rate else 0.0
        return Mix(
            route,
            ((share, failing, 0.0), (1 - share, refused, 0.0)),
            f"a failing start every {every:g} s, refused starts between",
        )
    if route.route == "POST /predict" and named("predict"):
        instant = named("predict")
        assert instant is not None
        # A GPU endpoint that is up but saturated: each call waits out the read timeout, then the instant tier answers.
        return Mix(
            route,
            ((gpu_share, instant, gpu_wait_seconds), (1 - gpu_share, instant, 0.0)),
            f"GPU hours: each waits {gpu_wait_seconds:g} s for the GPU, then the instant tier",
        )
    if route.route == "POST /extend" and named("extend in service") and named("extend while"):
        up, down = named("extend in service"), named("extend while")
        assert up is not None and down is not None
        return Mix(route, ((gpu_share, up, 0.0), (1 - gpu_share, down, 0.0)), "in service during the GPU hours")
    worst = max(outcomes, key=lambda o: cost_of(o, stack.memory_mb))
    return Mix(route, ((1.0, worst, 0.0),), worst.outcome)


def cost_of(outcome: Outcome, memory_mb: int, extra_seconds: float = 0.0) -> float:
    """Dollars of one request with this outcome (API Gateway, Lambda, DynamoDB, logs ingested)."""
    return sum(request_items(outcome, memory_mb, extra_seconds).values())


def request_items(outcome: Outcome, memory_mb: int, extra_seconds: float = 0.0) -> dict[str, float]:
    p = PRICES
    lambda_cost = 0.0
    if outcome.invokes_lambda:
        seconds = outcome.lambda_seconds + extra_seconds
        lambda_cost = p["lambda_requests_per_million"] / 1e6 + seconds * memory_mb / 1024 * p["lambda_arm_gb_second"]
    return {
        "API Gateway": p["api_gateway_per_million"] / 1e6,
        "Lambda": lambda_cost,
        "DynamoDB": outcome.write_units * p["dynamodb_write_units_per_million"] / 1e6
        + outcome.read_units * p["dynamodb_read_units_per_million"] / 1e6,
        "Logs": outcome.log_bytes / 1e9 * p["logs_ingested_per_gb"],
    }


@dataclass
class RouteMonth:
    mix: Mix
    requests: float
    items: dict[str, float]
    log_bytes: float
    concurrency: float  # Lambda executions the route keeps busy at its throttle

    @property
    def total(self) -> float:
        return sum(self.items.values())


@dataclass
class Month:
    routes: list[RouteMonth]
    other: dict[str, float] = field(default_factory=dict)

    @property
    def traffic(self) -> float:
        return sum(r.total for r in self.routes) + self.other.get("X-Ray traces", 0)

    @property
    def total(self) -> float:
        return sum(r.total for r in self.routes) + sum(self.other.values())


def worst_month(
    stack: Stack,
    measured: Measured,
    gpu_wait_seconds: float,
    concurrency_cap: int | None = None,
    page_loads: float = 100_000,
    page_bytes: int = 0,
    page_files: int = 1,
) -> Month:
    """Dollars per route and per other line item for a month at the throttles; `concurrency_cap` bounds the API
    function's executions (ReservedConcurrency "on": the requests past it are refused by Lambda, so they bill API
    Gateway and its access log only), None leaves it to the account's quota."""
    mixes = [mix_for(route, measured, stack, gpu_wait_seconds) for route in stack.routes]
    busy = sum(
        route.rate * share * (o.lambda_seconds + extra) if o.invokes_lambda else 0
        for route, mix in zip(stack.routes, mixes, strict=True)
        for share, o, extra in mix.parts
    )
    admitted = 1.0 if concurrency_cap is None or busy <= concurrency_cap else concurrency_cap / busy
    months = []
    all_log_bytes = 0.0
    for route, mix in zip(stack.routes, mixes, strict=True):
        requests = route.rate * SECONDS
        items: dict[str, float] = {}
        log_total = 0.0
        concurrency = 0.0
        for share, outcome, extra in mix.parts:
            ran = admitted if outcome.invokes_lambda else 1.0
            per = request_items(outcome, stack.memory_mb, extra)
            for name, dollars in per.items():
                weight = 1.0 if name == "API Gateway" else ran
                if name == "Logs":  # the access log line is written for every request, run or refused
                    logged = outcome.access_log_bytes + ran * (outcome.log_bytes - outcome.access_log_bytes)
                    dollars, weight = logged / 1e9 * PRICES["logs_ingested_per_gb"], 1.0
                    log_total += requests * share * logged
                items[name] = items.get(name, 0) + requests * share * weight * dollars
            if outcome.invokes_lambda:
                concurrency += route.rate * share * ran * (outcome.lambda_seconds + extra)
        all_log_bytes += log_total
        months.append(RouteMonth(mix, requests, items, log_total, concurrency))
    p = PRICES
    rate = stack.requests_per_second
    sampled = min(rate, XRAY_RESERVOIR_PER_SECOND)
    traces = (sampled + XRAY_FIXED_RATE * (rate - sampled)) * SECONDS
    stored_gb_month = all_log_bytes / DAYS * min(stack.log_retention_days, DAYS) / 1e9  # uncompressed: pessimistic
    other = {
        "X-Ray traces": traces / 1e6 * p["xray_traces_per_million"],
        "CloudWatch Logs storage": stored_gb_month * p["logs_stored_per_gb_month"],
        GPU_LINE: DAYS * stack.gpu_minutes_per_day / 60 * p["gpu_hour"],
        TEXTS_LINE: DAYS * stack.sms_per_day * p["text"],
        "Secrets Manager": stack.secrets * p["secret_per_month"],
        "CloudWatch alarms and custom metrics": stack.alarms * p["alarm_per_month"]
        + custom_metrics() * p["custom_metric_per_month"],
        "scheduled functions": stack.scheduled_runs_per_month
        * (
            p["lambda_requests_per_million"] / 1e6
            + SCHEDULED_RUN_SECONDS * stack.memory_mb / 1024 * p["lambda_arm_gb_second"]
        ),
        "page on CloudFront": page_loads * page_bytes / 1e9 * p["cloudfront_per_gb"]
        + page_loads * page_files / 1e4 * p["cloudfront_https_per_10k"],
    }
    return Month(months, other)


def custom_metrics() -> int:
    """EMF metrics the functions record (each `record_metric("Name", ...)`, one dimension): each bills as a metric."""
    import re

    names = set()
    for source in (ROOT / "functions" / "ondemand").rglob("*.py"):
        names |= set(re.findall(r'record_metric\(\s*"(\w+)"', source.read_text()))
    return len(names)


GPU_LINE, TEXTS_LINE = "GPU endpoint (daily budget every day)", "texts (daily cap every day)"
FIXED_LINES = frozenset(
    {"Secrets Manager", "CloudWatch alarms and custom metrics", "scheduled functions", "page on CloudFront"}
)
"""What a closed API does not stop: the month's fixed costs, and the page (CloudFront is not behind the API)."""


def with_ceiling(month: Month, budget: float, lag_minutes: float) -> float:
    """The month's total when the ceiling closes the API `lag_minutes` after the whole bill crosses `budget`. Until
    then everything the API drives (traffic, GPU runs, texts) accrues evenly at the attack's pace; after it only the
    fixed lines, plus one more day of GPU budget and of texts (a run already started ends at its own deadline; texts
    already queued go out)."""
    fixed = sum(dollars for name, dollars in month.other.items() if name in FIXED_LINES)
    driven = month.total - fixed
    per_minute = driven / (DAYS * 1440)
    tail = (month.other.get(GPU_LINE, 0) + month.other.get(TEXTS_LINE, 0)) / DAYS
    return fixed + min(driven, max(0.0, budget - fixed) + lag_minutes * per_minute + tail)


def with_simulated(month: Month, gpu_usd: float, texts: int) -> float:
    """The month's total with the GPU and texts of a simulated month (tests/unit/attacker) in place of the daily
    budget and the text cap spent every day."""
    return month.total - month.other[GPU_LINE] - month.other[TEXTS_LINE] + gpu_usd + texts * PRICES["text"]


def page_size() -> tuple[int, int]:
    """Bytes and files of the page a visitor loads (frontend/, not the dashboard)."""
    files = [
        f for f in (ROOT / "frontend").rglob("*") if f.is_file() and "dashboard" not in f.parts and f.suffix != ".txt"
    ]
    return sum(f.stat().st_size for f in files), len(files)


def gpu_read_timeout() -> float:
    """The GPU client's read timeout (ondemand/adapters/aws.py): how long a saturated endpoint holds each /predict."""
    from ondemand.adapters.aws import GPU_INVOKE_CONFIG

    return float(GPU_INVOKE_CONFIG.read_timeout)


def measure(stack: Stack, count: int, **settings: Any) -> Measured:
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    return measure_routes([r.route for r in stack.routes], template, stack.memory_mb, count=count, **settings)


def print_outcomes(measured: Measured) -> None:
    print(
        f"{'route':22} {'outcome':62} {'status':>7} {'RRU':>5} {'WRU':>5} {'item B':>7} "
        f"{'log B':>6} {'CPU ms':>7} {'Lambda ms':>9} {'wall ms':>8}"
    )
    for o in measured.outcomes:
        print(
            f"{o.route:22} {o.outcome[:62]:62} {','.join(map(str, o.statuses)):>7} {o.read_units:5.1f} "
            f"{o.write_units:5.1f} {o.largest_item_bytes:7d} {o.log_bytes:6.0f} {o.cpu_seconds * 1000:7.1f} "
            f"{o.lambda_seconds * 1000:9.0f} {o.wall_seconds * 1000:8.0f}"
        )


def print_month(title: str, month: Month) -> None:
    print(f"\n{title}")
    names = ["API Gateway", "Lambda", "DynamoDB", "Logs"]
    print(f"{'route':22} {'req/s':>6} {'requests':>12} " + " ".join(f"{n:>11}" for n in names) + f" {'total':>9}  mix")
    for r in month.routes:
        print(
            f"{r.mix.route.route:22} {r.mix.route.rate:6g} {r.requests:12,.0f} "
            + " ".join(f"{r.items.get(n, 0):11.2f}" for n in names)
            + f" {r.total:9.2f}  {r.mix.note}"
        )
    print(
        f"{'all routes':22} {sum(r.mix.route.rate for r in month.routes):6g} {'':12} " + " " * 48 + f" "
        f"{sum(r.total for r in month.routes):9.2f}"
    )
    for name, dollars in month.other.items():
        print(f"{name:60} {dollars:9.2f}")
    print(f"{'total (USD)':60} {month.total:9.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20, help="requests measured per outcome")
    parser.add_argument(
        "--lag-minutes", type=float, default=15, help="minutes at the throttles before the ceiling closes the API"
    )
    parser.add_argument(
        "--page-loads", type=float, default=100_000, help="page loads a month (CloudFront is not throttled)"
    )
    args = parser.parse_args(argv)

    stack = read_stack()
    print(describe_machine())
    print(f"CPU model: {cpu_model()}")
    if stack.single_throttle:
        print('MethodSettings has one "/*" entry: API Gateway applies it to each route and method on its own.')
    measured = measure(stack, args.count)
    print_outcomes(measured)
    wait = gpu_read_timeout()
    bytes_, files = page_size()
    kwargs = {"page_loads": args.page_loads, "page_bytes": bytes_, "page_files": files}
    uncapped = worst_month(stack, measured, wait, **kwargs)
    capped = worst_month(stack, measured, wait, stack.reserved_concurrency, **kwargs)
    print_month(
        f"Worst month, every route at its throttle ({stack.requests_per_second:g} requests/s in all, {DAYS} days), "
        "ReservedConcurrency off",
        uncapped,
    )
    print_month(f"The same with ReservedConcurrency on ({stack.reserved_concurrency} executions)", capped)
    from ondemand.handlers.ceiling import CLOSE_AT_PERCENT

    budget = stack.monthly_budget_usd
    closes_at = budget * CLOSE_AT_PERCENT / 100
    for name, month in (("off", uncapped), ("on", capped)):
        ceiling = with_ceiling(month, closes_at, args.lag_minutes)
        verdict = "under" if ceiling <= budget else "over"
        print(
            f"\nReservedConcurrency {name}: uncapped ${month.total:,.2f}; with the ceiling closing the API "
            f"{args.lag_minutes:g} min after the bill crosses {CLOSE_AT_PERCENT} % of MonthlyBudgetUsd "
            f"(${budget:,.0f}): ${ceiling:,.2f}, {verdict} it"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
