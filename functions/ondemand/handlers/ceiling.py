"""CeilingFunction: the ceiling on the month's bill (MonthlyBudgetUsd).

Closes the API when AWS Budgets says the month's actual or forecast spend crossed the budget (an SNS record from
CeilingTopic), or when the 15-minute check finds the month's API requests past the allowance the budget leaves after
the GPU budget's worst month and fixed costs. Closing sets every route's throttle on the stage to 0, so API Gateway
answers 429 itself and no function runs, and writes `service-closed.json` into the page's bucket so the page can say
why. Reopening (the 1st of the month, or `make reopen`) restores the throttles CEILING_CONFIG states, the same numbers
as the template's MethodSettings, and deletes the file.

The decisions are pure functions (`decide`, `patch_operations`, `request_allowance`, `closed_notice`); `Ceiling` makes
the three calls (apigateway UpdateStage/GetStage, s3 PutObject/DeleteObject, cloudwatch GetMetricStatistics).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ondemand.observability import logger

# List prices of the endpoint's instance types (us-east-1, on-demand, per hour); a type not here counts no GPU cost,
# so the request allowance is larger and the AWS Budgets notification is the only ceiling left for it.
GPU_USD_PER_HOUR = {"ml.g4dn.xlarge": 0.7364, "ml.g4dn.2xlarge": 1.0528, "ml.g5.xlarge": 1.408}
# What a request can cost at worst: benchmarks/traffic_cost.py's all-/predict worst month divided by its requests
# (350.52 USD / 25.92 million = 13.52), rounded up. Pessimistic: most requests (/status) cost a third of it.
USD_PER_MILLION_REQUESTS = 13.6
# What the stack costs a month whoever uses it: three secrets (0.40 USD each), the artefacts in S3, the check's calls.
FIXED_USD_PER_MONTH = 2.0
# A text at SMS_PER_DAY a day: Textbelt sells prepaid quota with no price page in reach, so the same pessimistic
# assumption as benchmarks/traffic_cost.py (SNS's US rate is under a cent plus carrier fees).
USD_PER_TEXT = 0.05
CLOSE_AT_PERCENT = 95
"""The API closes at this share of the monthly budget (the template's actual-spend notification, and the request
allowance): what still bills after it closes (a GPU run already started, texts already queued, about a day of the
GPU budget and the text cap) fits in the rest."""
DAYS_PER_MONTH = 31  # the worst month of the GPU budget
REOPENED_VARIABLE = "ceilingReopenedAt"  # a stage variable: when the API last reopened (the check counts from it)


@dataclass(frozen=True)
class Throttle:
    path: str  # "/status", or "/*" for every method not listed
    method: str  # "GET", "POST", "OPTIONS" or "*"
    rate: float
    burst: int

    @property
    def method_path(self) -> str:
        """The stage's method-setting path: "~1status/GET" ("/" escaped as "~1"), or "*/*"."""
        resource = "*" if self.path == "/*" else self.path.replace("/", "~1")
        return f"{resource}/{self.method}"


@dataclass(frozen=True)
class CeilingConfig:
    rest_api_id: str
    stage: str
    api_name: str
    bucket: str
    key: str
    topic_arn: str
    monthly_budget_usd: float
    gpu_minutes_per_day: float
    sms_per_day: int
    instance_type: str
    throttles: tuple[Throttle, ...]

    @classmethod
    def from_json(cls, text: str) -> CeilingConfig:
        raw = json.loads(text)
        throttles = tuple(Throttle(t["path"], t["method"], float(t["rate"]), int(t["burst"])) for t in raw["throttles"])
        fields = {
            k: raw[k] for k in ("rest_api_id", "stage", "api_name", "bucket", "key", "topic_arn", "instance_type")
        }
        return cls(
            **fields,
            monthly_budget_usd=float(raw["monthly_budget_usd"]),
            gpu_minutes_per_day=float(raw["gpu_minutes_per_day"]),
            sms_per_day=int(raw["sms_per_day"]),
            throttles=throttles,
        )


# ----- pure decisions -----


@dataclass(frozen=True)
class Close:
    reason: str


@dataclass(frozen=True)
class Reopen:
    pass


@dataclass(frozen=True)
class Check:
    pass


@dataclass(frozen=True)
class Refuse:
    why: str


Decision = Close | Reopen | Check | Refuse

BUDGET_ACTUAL = (
    "This month's AWS bill has reached the owner's monthly budget, so the service is closed until the budget resets."
)
BUDGET_FORECAST = (
    "This month's AWS bill is forecast to pass the owner's monthly budget, so the service is closed until the budget "
    "resets."
)
REQUESTS_SPENT = (
    "This month's requests have used what the owner's monthly budget leaves for them, so the service is closed until "
    "the budget resets."
)


def decide(event: Any, config: CeilingConfig) -> Decision:
    """What an invocation asks: the schedules' {"action": "reopen" | "check"}, `make reopen`'s {"action": "reopen"},
    or an SNS record from CeilingTopic (only AWS Budgets may publish there). Anything else is refused."""
    if not isinstance(event, dict):
        return Refuse("the event is not a JSON object")
    action = event.get("action")
    if action == "reopen":
        return Reopen()
    if action == "check":
        return Check()
    records = event.get("Records")
    if action is None and isinstance(records, list) and records:
        sns = records[0].get("Sns") if isinstance(records[0], dict) else None
        if not isinstance(sns, dict) or sns.get("TopicArn") != config.topic_arn:
            return Refuse("an SNS record from a topic that is not CeilingTopic")
        message = str(sns.get("Message", ""))
        return Close(BUDGET_FORECAST if "FORECAST" in message.upper() else BUDGET_ACTUAL)
    return Refuse(f"unknown action {action!r}" if action is not None else "neither an action nor an SNS record")


def patch_operations(throttles: tuple[Throttle, ...], *, closed: bool) -> list[dict[str, str]]:
    """UpdateStage's patch operations: every listed method's rate and burst, 0 when closed, else the stated values
    (paths as in API Gateway's "PATCH operations" for a stage: /{resource path}/{method}/throttling/rateLimit)."""
    operations = []
    for throttle in throttles:
        rate, burst = (0.0, 0) if closed else (throttle.rate, throttle.burst)
        operations += [
            {"op": "replace", "path": f"/{throttle.method_path}/throttling/rateLimit", "value": f"{rate:g}"},
            {"op": "replace", "path": f"/{throttle.method_path}/throttling/burstLimit", "value": str(burst)},
        ]
    return operations


def gpu_worst_month_usd(config: CeilingConfig) -> float:
    hourly = GPU_USD_PER_HOUR.get(config.instance_type, 0.0)
    return config.gpu_minutes_per_day * DAYS_PER_MONTH / 60 * hourly


def texts_worst_month_usd(config: CeilingConfig) -> float:
    return config.sms_per_day * DAYS_PER_MONTH * USD_PER_TEXT


def request_allowance(config: CeilingConfig) -> int:
    """API requests a month the ceiling (CLOSE_AT_PERCENT of the budget) leaves after the GPU budget's and the
    texts' worst months and the fixed costs, each priced as the most expensive request can be; 0 when nothing is
    left."""
    closes_at = config.monthly_budget_usd * CLOSE_AT_PERCENT / 100
    left = closes_at - gpu_worst_month_usd(config) - texts_worst_month_usd(config) - FIXED_USD_PER_MONTH
    return max(0, math.floor(left / USD_PER_MILLION_REQUESTS * 1_000_000))


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime) -> datetime:
    return (month_start(now) + timedelta(days=32)).replace(day=1)


def closed_notice(reason: str, now: datetime) -> dict[str, str]:
    """What service-closed.json says: when, why (a sentence for people), when it reopens."""
    return {
        "closed_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "reason": reason,
        "reopens_at": next_month_start(now).isoformat(timespec="seconds"),
    }


def counting_since(now: datetime, reopened_at: str | None) -> datetime:
    """The check counts from the month's start, or from a later reopening (an owner's `make reopen` grants the month's
    allowance afresh)."""
    start = month_start(now)
    try:
        reopened = datetime.fromisoformat(reopened_at) if reopened_at else None
    except ValueError:
        reopened = None
    return max(start, reopened) if reopened and reopened.tzinfo else start


# ----- the calls -----


class Ceiling:
    def __init__(self, config: CeilingConfig, apigateway: Any, s3: Any, cloudwatch: Any) -> None:
        self.config = config
        self._apigateway = apigateway
        self._s3 = s3
        self._cloudwatch = cloudwatch

    def close(self, reason: str, now: datetime) -> dict[str, Any]:
        c = self.config
        operations = patch_operations(c.throttles, closed=True)
        self._apigateway.update_stage(restApiId=c.rest_api_id, stageName=c.stage, patchOperations=operations)
        notice = closed_notice(reason, now)
        self._s3.put_object(
            Bucket=c.bucket,
            Key=c.key,
            Body=json.dumps(notice).encode(),
            ContentType="application/json",
            CacheControl="max-age=60",  # CloudFront keeps it a minute, so a reopening shows soon
        )
        logger.warning("the API is closed", extra={"reason": reason, "reopens_at": notice["reopens_at"]})
        return {"outcome": "closed", **notice}

    def reopen(self, now: datetime) -> dict[str, Any]:
        c = self.config
        operations = patch_operations(c.throttles, closed=False)
        operations.append(
            {"op": "replace", "path": f"/variables/{REOPENED_VARIABLE}", "value": now.isoformat(timespec="seconds")}
        )
        self._apigateway.update_stage(restApiId=c.rest_api_id, stageName=c.stage, patchOperations=operations)
        self._s3.delete_object(Bucket=c.bucket, Key=c.key)
        logger.info("the API is open", extra={"throttles": len(c.throttles)})
        return {"outcome": "open"}

    def requests_since(self, start: datetime, now: datetime) -> int:
        """The API's requests (AWS/ApiGateway Count) from `start` to now, whole days and then the rest by hour."""
        c = self.config
        total = 0.0
        for period, begin, end in _windows(start, now):
            answer = self._cloudwatch.get_metric_statistics(
                Namespace="AWS/ApiGateway",
                MetricName="Count",
                Dimensions=[{"Name": "ApiName", "Value": c.api_name}, {"Name": "Stage", "Value": c.stage}],
                StartTime=begin,
                EndTime=end,
                Period=period,
                Statistics=["Sum"],
            )
            total += sum(point["Sum"] for point in answer.get("Datapoints", []))
        return int(total)

    def check(self, now: datetime) -> dict[str, Any]:
        c = self.config
        stage = self._apigateway.get_stage(restApiId=c.rest_api_id, stageName=c.stage)
        since = counting_since(now, (stage.get("variables") or {}).get(REOPENED_VARIABLE))
        requests, allowance = self.requests_since(since, now), request_allowance(c)
        if requests > allowance:
            return self.close(REQUESTS_SPENT, now) | {"requests": requests, "allowance": allowance}
        return {"outcome": "open", "requests": requests, "allowance": allowance}


def _windows(start: datetime, now: datetime) -> list[tuple[int, datetime, datetime]]:
    """At most two GetMetricStatistics queries under its 1,440-datapoint limit: whole days, then hours to now."""
    days = (now - start) // timedelta(days=1)
    windows = []
    if days:
        windows.append((86400, start, start + timedelta(days=days)))
    rest = start + timedelta(days=days)
    if now > rest:
        windows.append((3600, rest, now))
    return windows


def make_handler(ceiling: Ceiling, clock: Any = lambda: datetime.now(UTC)) -> Any:
    def handle(event: Any, context: Any) -> dict[str, Any]:
        decision = decide(event, ceiling.config)
        now = clock()
        if isinstance(decision, Refuse):
            # Returned, not raised: an asynchronous invocation that raises is retried, and this one would never pass.
            logger.warning("ceiling refused an event", extra={"why": decision.why})
            return {"outcome": "refused", "why": decision.why}
        if isinstance(decision, Close):
            return ceiling.close(decision.reason, now)
        if isinstance(decision, Reopen):
            return ceiling.reopen(now)
        return ceiling.check(now)

    return handle


class _LazyHandler:
    """Builds the clients and reads CEILING_CONFIG on the first invocation, once per container."""

    creates_schedules = False  # asked of every handler by the template checks: it creates no schedule
    reads_settings = False  # it reads CEILING_CONFIG only, not the lifecycle's Settings

    def __init__(self) -> None:
        self._handle: Any = None

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        if self._handle is None:
            import boto3

            config = CeilingConfig.from_json(os.environ["CEILING_CONFIG"])
            self._handle = make_handler(
                Ceiling(config, boto3.client("apigateway"), boto3.client("s3"), boto3.client("cloudwatch"))
            )
        result: dict[str, Any] = self._handle(event, context)
        return result


handler = _LazyHandler()
