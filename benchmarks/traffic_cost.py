"""The worst month of API traffic the stage throttle admits, priced from template.yaml's own settings.

Anyone on the internet can send the API stage's `ThrottlingRateLimit` requests every second of a 30-day month. The
GPU budget bounds the endpoint (tests/unit/attacker), not this: API Gateway, Lambda, DynamoDB, X-Ray and CloudWatch
Logs bill every admitted request. The attacker's most expensive mix: during the day's GPU minutes, maximal
`/predict` batches that make the saturated endpoint run to the GPU client's read timeout; the rest of the day,
maximal `/predict` batches on the instant tier. Each request also costs a `/start`'s worst DynamoDB use (two
rate-counter writes, two strongly consistent reads of the state item). Free tiers are left out.

    .venv/bin/python benchmarks/traffic_cost.py
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAYS = 30

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
    # c3x.dev/blog/cloudwatch-logs-cost-optimization)
    "logs_ingested_per_gb": 0.50,
    "logs_stored_per_gb_month": 0.03,
}

# What one request costs besides its price; each an assumption, pessimistic where unmeasured.
GPU_READ_TIMEOUT_SECONDS = 10  # ondemand/adapters/aws.py GPU_INVOKE_CONFIG: a saturated endpoint makes each call wait
INSTANT_PREDICT_SECONDS = 0.25  # 32 texts of 2,000 characters on 256 MB (a seventh of a vCPU); ~16 ms on a full core
RATE_COUNTER_WRITES = 2  # /start with a phone from a new address: the client's and the phone's counter, 1 WRU each
STATE_ITEM_READS = 2  # /start reads the state item twice (the limit's check and the lifecycle's), strongly consistent
STATE_ITEM_KB = 12  # HISTORY_LIMIT 50 transitions and 20 subscribers: at most about this
LOG_BYTES_PER_REQUEST = 200 + 400 + 1000  # access log line, Lambda's START/END/REPORT, the function's own lines
XRAY_RESERVOIR_PER_SECOND, XRAY_FIXED_RATE = 1, 0.05  # X-Ray's default sampling rule (the template sets none)


@dataclass(frozen=True)
class Stack:
    """What template.yaml deploys that the price depends on."""

    requests_per_second: float
    memory_gb: float
    gpu_minutes_per_day: float
    reserved_concurrency: int


def read_stack(path: Path = ROOT / "template.yaml") -> Stack:
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(str(path))
    resources = template["Resources"]
    (throttle,) = resources["Api"]["Properties"]["MethodSettings"]
    function = resources["ApiFunction"]["Properties"]
    memory = function.get("MemorySize", template["Globals"]["Function"]["MemorySize"])
    reserved = function["ReservedConcurrentExecutions"]["Fn::If"][1]  # the value when ReservedConcurrency is "on"
    return Stack(
        requests_per_second=float(throttle["ThrottlingRateLimit"]),
        memory_gb=memory / 1024,
        gpu_minutes_per_day=float(template["Parameters"]["GpuMinutesPerDay"]["Default"]),
        reserved_concurrency=int(reserved),
    )


def worst_month(stack: Stack, concurrency_cap: int | None = None) -> dict[str, float]:
    """Dollars per line item for a month at the throttle; `concurrency_cap` bounds the API function's executions
    (ReservedConcurrency "on"), None leaves it to the account's quota."""
    seconds = DAYS * 86400
    gpu_seconds = DAYS * stack.gpu_minutes_per_day * 60
    requests = stack.requests_per_second * seconds

    def gb_seconds(period_seconds: float, duration: float) -> float:
        concurrent = stack.requests_per_second * duration
        if concurrency_cap is not None:
            concurrent = min(concurrent, concurrency_cap)
        return concurrent * period_seconds * stack.memory_gb

    lambda_gb_seconds = gb_seconds(gpu_seconds, GPU_READ_TIMEOUT_SECONDS) + gb_seconds(
        seconds - gpu_seconds, INSTANT_PREDICT_SECONDS
    )
    sampled = min(stack.requests_per_second, XRAY_RESERVOIR_PER_SECOND)
    traces = (sampled + XRAY_FIXED_RATE * (stack.requests_per_second - sampled)) * seconds
    log_gb = requests * LOG_BYTES_PER_REQUEST / 1e9
    read_units = STATE_ITEM_READS * math.ceil(STATE_ITEM_KB / 4)  # a strongly consistent read unit is 4 KB
    p = PRICES
    return {
        "API Gateway requests": requests / 1e6 * p["api_gateway_per_million"],
        "Lambda invocations": requests / 1e6 * p["lambda_requests_per_million"],
        "Lambda GB-s": lambda_gb_seconds * p["lambda_arm_gb_second"],
        "DynamoDB writes": requests * RATE_COUNTER_WRITES / 1e6 * p["dynamodb_write_units_per_million"],
        "DynamoDB reads": requests * read_units / 1e6 * p["dynamodb_read_units_per_million"],
        "X-Ray traces": traces / 1e6 * p["xray_traces_per_million"],
        "CloudWatch Logs": log_gb * (p["logs_ingested_per_gb"] + p["logs_stored_per_gb_month"]),
    }


def main() -> int:
    stack = read_stack()
    print(
        f"{DAYS} days at {stack.requests_per_second:g} requests/s ({stack.requests_per_second * DAYS * 86400:,.0f} "
        f"requests), {stack.memory_gb * 1024:g} MB, {stack.gpu_minutes_per_day:g} GPU minutes a day"
    )
    uncapped, capped = worst_month(stack), worst_month(stack, stack.reserved_concurrency)
    print(f"{'':24} {'ReservedConcurrency off':>24} {'on (' + str(stack.reserved_concurrency) + ')':>12}")
    for item in uncapped:
        print(f"{item:24} {uncapped[item]:>24.2f} {capped[item]:>12.2f}")
    print(f"{'total (USD)':24} {sum(uncapped.values()):>24.2f} {sum(capped.values()):>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
