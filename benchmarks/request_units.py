"""What one request of each route costs, measured by running the real API handler against a DynamoDB API.

`measure_routes()` starts moto's server behind the local runtime's guard (`local_runtime.state_server`, what the
integration tests use), builds the handler exactly as Lambda does (`build_aws_adapters`, `bootstrap`,
`api.make_handler`), and sends it each route's requests as API Gateway proxy events (the local gateway's
`proxy_event`). Every AWS call the handler makes is recorded at botocore (`BaseClient._make_api_call`, which
pynamodb's connection calls too), and every DynamoDB call is priced from the sizes of the items it really read and
wrote, by AWS's own rules:

- item size: attribute names plus values, 3 bytes per list or map and 1 per element ("DynamoDB item sizes and
  formats", docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html);
- read: 4 KB per unit, rounded up per item, half for an eventually consistent read, 1 (or a half) for an item that
  does not exist; write: 1 KB per unit rounded up, of the larger of the item before and after a PutItem or
  UpdateItem, and a conditional write that fails still consumes units for the existing item's size, at least 1
  ("DynamoDB read and write operations",
  docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html). On-demand tables bill the
  same units as request units (docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html).

The size before and after each write is read with a side client that is not recorded. Log bytes are what the
handler writes (Powertools' JSON lines at the stack's POWERTOOLS_LOG_LEVEL, EMF metric lines, and WARNING+ lines of
the standard loggers in the Lambda runtime's format) plus Lambda's START/END/REPORT lines and API Gateway's access log
line in the template's format. Duration is the handler thread's CPU time measured here, stretched to the function's
share of a vCPU (Lambda gives one vCPU at 1,769 MB: "Configure Lambda function memory",
docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), plus an assumed latency per AWS call it made (the
wall time against moto, in this process on a shared machine, is printed but not used).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import json
import logging
import math
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KB = 1024  # DynamoDB's KB is 1,024 bytes (Constraints in Amazon DynamoDB)
READ_UNIT_BYTES = 4 * KB
WRITE_UNIT_BYTES = 1 * KB
LAMBDA_FULL_VCPU_MB = 1769
LOG_EVENT_OVERHEAD_BYTES = 26  # PutLogEvents counts each event as its message's UTF-8 bytes + 26 (CloudWatch Logs API)
LAMBDA_TEXT_FORMAT = "[{level}]\t{time}\t{request_id}\t{message}\n"  # the Python runtime's text log line
# Assumed, not measured: in-region latency of one call. DynamoDB's single-item calls are single-digit milliseconds
# ("What is Amazon DynamoDB?"); a control-plane call (SageMaker, SSM, Scheduler, SNS) is given 50 ms.
DYNAMODB_CALL_SECONDS = 0.010
OTHER_AWS_CALL_SECONDS = 0.050


# --- AWS's rounding rules --------------------------------------------------------------------------------------------


def number_size(text: str) -> int:
    """Bytes of a DynamoDB number: 1 per two significant digits (leading and trailing zeros trimmed), plus 1."""
    digits = text.strip().lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB's wire form ({"S": ...}, {"N": ...}, {"L": [...]} ...), name not
    included."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return number_size(str(inner))
    if kind == "B":
        return len(inner if isinstance(inner, bytes | bytearray) else base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "NS":
        return sum(number_size(str(n)) for n in inner)
    if kind == "BS":
        return sum(len(b if isinstance(b, bytes | bytearray) else base64.b64decode(b)) for b in inner)
    if kind == "L":
        return 3 + sum(value_size(element) + 1 for element in inner)
    if kind == "M":
        return 3 + sum(len(name.encode("utf-8")) + value_size(element) + 1 for name, element in inner.items())
    raise ValueError(f"not a DynamoDB attribute value: {kind}")


def item_size(item: dict[str, dict[str, Any]] | None) -> int:
    """Bytes of an item: each attribute's name (UTF-8) plus its value. No item: 0."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in (item or {}).items())


def write_units(size_bytes: int) -> int:
    """Write request units for one item of `size_bytes`: 1 per KB, rounded up; at least 1."""
    return max(1, math.ceil(size_bytes / WRITE_UNIT_BYTES))


def read_units(size_bytes: int, consistent: bool) -> float:
    """Read request units for one item of `size_bytes` (0 when it does not exist): 1 per 4 KB rounded up, at least 1;
    half that for an eventually consistent read."""
    units = max(1, math.ceil(size_bytes / READ_UNIT_BYTES))
    return units if consistent else units / 2


# --- recording every AWS call ----------------------------------------------------------------------------------------


@dataclass
class DynamoCall:
    operation: str
    table: str
    size_before: int
    size_after: int
    read_units: float = 0.0
    write_units: float = 0.0
    failed_condition: bool = False


@dataclass
class Recording:
    calls: list[tuple[str, str]] = field(default_factory=list)  # (service, operation) of every AWS call
    dynamo: list[DynamoCall] = field(default_factory=list)

    @property
    def read_units(self) -> float:
        return sum(c.read_units for c in self.dynamo)

    @property
    def write_units(self) -> float:
        return sum(c.write_units for c in self.dynamo)

    def count(self, service: str, operation: str | None = None) -> int:
        return sum(1 for s, o in self.calls if s == service and (operation is None or o == operation))


class CallRecorder:
    """Patches botocore's `BaseClient._make_api_call` (every boto3 client and pynamodb's connection go through it)
    while `recording()` is open; DynamoDB calls are sized with `side_client`, whose own calls are not recorded."""

    def __init__(self, side_client: Any) -> None:
        self.side = side_client
        self._local = threading.local()
        self._current: Recording | None = None
        self._keys: dict[str, list[str]] = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        recorder = self

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if getattr(recorder._local, "quiet", False) or recorder._current is None:
                return original(client, operation, params)
            return recorder._record(original, client, operation, params)

        BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
        try:
            yield
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]

    @contextlib.contextmanager
    def recording(self) -> Iterator[Recording]:
        self._current = recording = Recording()
        try:
            yield recording
        finally:
            self._current = None

    def _stored(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        self._local.quiet = True
        try:
            return self.side.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        finally:
            self._local.quiet = False

    def _key(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        if table not in self._keys:
            self._local.quiet = True
            try:
                schema = self.side.describe_table(TableName=table)["Table"]["KeySchema"]
            finally:
                self._local.quiet = False
            self._keys[table] = [k["AttributeName"] for k in schema]
        return {name: item[name] for name in self._keys[table]}

    def _record(self, original: Any, client: Any, operation: str, params: dict[str, Any]) -> Any:
        from botocore.exceptions import ClientError

        service = client.meta.service_model.service_name
        recording = self._current
        assert recording is not None
        recording.calls.append((service, operation))
        if service != "dynamodb" or operation not in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
            if service == "dynamodb":
                raise NotImplementedError(f"no capacity rule here for DynamoDB {operation}")
            return original(client, operation, params)
        table = params["TableName"]
        key = params["Key"] if "Key" in params else self._key(table, params["Item"])
        before = item_size(self._stored(table, key)) if operation != "GetItem" else 0
        try:
            answer = original(client, operation, params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # A condition that fails still consumes write units for the existing item, at least 1.
            recording.dynamo.append(
                DynamoCall(operation, table, before, before, write_units=write_units(before), failed_condition=True)
            )
            raise
        if operation == "GetItem":
            size = item_size(answer.get("Item"))
            units = read_units(size, bool(params.get("ConsistentRead")))
            recording.dynamo.append(DynamoCall(operation, table, size, size, read_units=units))
        else:
            after = item_size(self._stored(table, key))
            recording.dynamo.append(
                DynamoCall(operation, table, before, after, write_units=write_units(max(before, after)))
            )
        return answer


def waiting(recording: Recording) -> float:
    """Seconds the handler waits on AWS: each call's assumed latency (moto on loopback, sharing this process's
    interpreter with the handler on a busy machine, says nothing about DynamoDB's)."""
    return sum(
        DYNAMODB_CALL_SECONDS if service == "dynamodb" else OTHER_AWS_CALL_SECONDS for service, _ in recording.calls
    )


# --- log lines -------------------------------------------------------------------------------------------------------


class LambdaRuntimeFormatter(logging.Formatter):
    """What the Python runtime's handler on the root logger writes for a standard logger's record."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return LAMBDA_TEXT_FORMAT.format(
            level=record.levelname, time=stamp, request_id=str(uuid.uuid4()), message=message
        ).rstrip("\n")


def platform_log_lines(duration_ms: float, memory_mb: int, traced: bool) -> list[str]:
    """Lambda's own lines for one invocation (START, END, REPORT, and XRAY with active tracing), in the formats of
    "Using CloudWatch Logs with Lambda" (docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html)."""
    request = str(uuid.uuid4())
    billed = math.ceil(duration_ms)
    lines = [
        f"START RequestId: {request} Version: $LATEST",
        f"END RequestId: {request}",
        f"REPORT RequestId: {request}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms\t"
        f"Memory Size: {memory_mb} MB\tMax Memory Used: {memory_mb // 2} MB\t",
    ]
    if traced:
        lines.append(
            f"XRAY TraceId: 1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}\tSegmentId: {uuid.uuid4().hex[:16]}\t"
            "Sampled: true\t"
        )
    return lines


def access_log_line(template: dict[str, Any], method: str, path: str, status: int, latency_ms: float) -> str:
    """The API stage's access log line for one request, from template.yaml's AccessLogSetting Format."""
    fmt = template["Resources"]["Api"]["Properties"]["AccessLogSetting"]["Format"]
    values = {
        "$context.requestId": str(uuid.uuid4()),
        "$context.identity.sourceIp": "203.0.113.200",
        "$context.httpMethod": method,
        "$context.resourcePath": path,
        "$context.status": str(status),
        "$context.responseLatency": str(round(latency_ms)),
    }
    for name in sorted(values, key=len, reverse=True):
        fmt = fmt.replace(name, values[name])
    return fmt


def log_bytes(lines: list[str]) -> int:
    """What CloudWatch Logs counts for `lines`: each event's UTF-8 bytes plus 26."""
    return sum(len(line.encode("utf-8")) + LOG_EVENT_OVERHEAD_BYTES for line in lines if line)


# --- the stack on moto -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One route's request with one outcome, measured `count` times (means)."""

    route: str  # "POST /start"
    outcome: str  # "failing start"
    statuses: tuple[int, ...]
    read_units: float
    write_units: float
    read_units_by_table: dict[str, float]
    write_units_by_table: dict[str, float]
    largest_item_bytes: int
    function_log_bytes: float
    platform_log_bytes: float
    access_log_bytes: float
    wall_seconds: float
    cpu_seconds: float
    lambda_seconds: float
    aws_calls: dict[str, float]
    count: int
    invokes_lambda: bool = True

    @property
    def log_bytes(self) -> float:
        return self.function_log_bytes + self.platform_log_bytes + self.access_log_bytes


def _deployed_settings(**overrides: Any) -> Any:
    """The product's settings as the stack deploys them (each setting's `deployed` value over its default)."""
    from ondemand.settings import Settings, declared

    fields = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for name in fields:
        try:
            deployed = declared(name).deployed
        except KeyError:
            continue
        if deployed is not None:
            values[name] = declared(name).value_of(deployed, name) if isinstance(deployed, str) else deployed
    base = Settings(
        table_name="bench-state",
        region="us-east-1",
        endpoint_name_prefix="ondemand-sentiment",
        instance_type="ml.g4dn.xlarge",
        approved_model_parameter="/bench/approved-model",
        schedule_group_name="bench-teardown",
        scheduler_role_arn="arn:aws:iam::123456789012:role/bench-scheduler",
        teardown_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench-teardown",
    )
    keep = {
        "table_name",
        "region",
        "endpoint_name_prefix",
        "instance_type",
        "approved_model_parameter",
        "schedule_group_name",
        "scheduler_role_arn",
        "teardown_function_arn",
    }
    values = {k: v for k, v in values.items() if k not in keep}
    try:
        settings = dataclasses.replace(base, **values)
    except (TypeError, ValueError):
        settings = base
    return dataclasses.replace(settings, **overrides)


def instant_model_folder() -> Path:
    """A published instant model: the local pipeline's, else the tests' (made by `ensure_test_model`)."""
    for folder in (ROOT / "var" / "instant_model", ROOT / "var" / "test-models" / "instant_model"):
        if (folder / "instant_model.json").is_file() and (folder / "instant_model.f32").is_file():
            return folder
    from local_runtime.harness import ensure_test_model

    ensure_test_model()
    return ROOT / "var" / "test-models" / "instant_model"


class Bench:
    """The API handler on the AWS adapters, against moto's server; a settable clock; item snapshots."""

    def __init__(self, url: str | None, template: dict[str, Any], **overrides: Any) -> None:
        import boto3
        from ondemand.adapters.aws import build_aws_adapters
        from ondemand.bootstrap import bootstrap
        from ondemand.handlers import api

        from local_runtime.cfn_template import table_definition

        self.template = template
        self.clock = datetime(2026, 6, 1, 12, tzinfo=UTC)
        dynamodb = boto3.client("dynamodb")
        for logical_id, name in (("StateTable", "bench-state"), ("RateLimitTable", "bench-rates")):
            definition = table_definition(template, logical_id)
            dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **definition)
        secrets = boto3.client("secretsmanager")
        pepper = secrets.create_secret(Name="bench-pepper", SecretString="p" * 64)["ARN"]
        admin = secrets.create_secret(Name="bench-admin", SecretString="a" * 40)["ARN"]
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name="/bench/approved-model", Value="none", Type="String")
        folder = instant_model_folder()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bench-models")
        for name in ("instant_model.json", "instant_model.f32"):
            s3.put_object(Bucket="bench-models", Key=f"instant/{name}", Body=(folder / name).read_bytes())
        ssm.put_parameter(Name="/bench/instant-model", Value="s3://bench-models/instant/", Type="String")
        boto3.client("scheduler").create_schedule_group(Name="bench-teardown")
        boto3.client("sagemaker").create_model(
            ModelName="bench-model",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker-execution",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/hf:latest"},
        )
        self.settings = _deployed_settings(
            table_name="bench-state",
            dynamodb_endpoint_url=url,
            rate_limit_table_name="bench-rates",
            rate_limit_pepper_secret=pepper,
            admin_api_key_secret=admin,
            instant_model_parameter="/bench/instant-model",
            sms_provider="sns",
            textbelt_key_secret=None,
            **overrides,
        )
        self.adapters = build_aws_adapters(self.settings)
        self.service = bootstrap(self.settings, self.adapters, now=lambda: self.clock, sleep=lambda _: None)
        self.handler = api.make_handler(self.service)
        self.dynamodb = dynamodb
        self.ssm = ssm
        self.steady: dict[str, Any] | None = None

    def approve(self, model: str) -> None:
        self.ssm.put_parameter(Name="/bench/approved-model", Value=model, Type="String", Overwrite=True)

    def snapshot(self) -> dict[str, Any] | None:
        return self.dynamodb.get_item(TableName="bench-state", Key={"pk": {"S": "endpoint"}}, ConsistentRead=True).get(
            "Item"
        )

    def restore(self, item: dict[str, Any] | None) -> None:
        if item is None:
            self.dynamodb.delete_item(TableName="bench-state", Key={"pk": {"S": "endpoint"}})
        else:
            self.dynamodb.put_item(TableName="bench-state", Item=item)

    def event(self, method: str, path: str, body: dict[str, Any] | None, ip: str, headers: dict[str, str]) -> Any:
        from local_runtime.gateway import proxy_event

        raw = json.dumps(body).encode() if body is not None else b""
        all_headers = {"Content-Type": ["application/json"], **{k: [v] for k, v in headers.items()}}
        event = proxy_event(method, path, all_headers, raw, ip)
        event["resource"] = event["requestContext"]["resourcePath"] = path
        event["requestContext"]["stage"] = "Prod"
        return event


@contextlib.contextmanager
def captured_function_logs() -> Iterator[list[str]]:
    """Every line the handler writes to CloudWatch Logs on Lambda: Powertools' JSON lines (its handler's stream),
    EMF metric lines (print to stdout) and the standard loggers' WARNING+ lines (the runtime's root handler)."""
    from ondemand.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    old_stream = handler.stream
    handler.setStream(buffer)
    root = logging.getLogger()
    runtime_handler = logging.StreamHandler(buffer)
    runtime_handler.setLevel(logging.WARNING)
    runtime_handler.setFormatter(LambdaRuntimeFormatter())
    root.addHandler(runtime_handler)
    lines: list[str] = []
    try:
        with contextlib.redirect_stdout(buffer):
            yield lines
    finally:
        root.removeHandler(runtime_handler)
        handler.setStream(old_stream)
        # A Lambda log event is a line; a traceback's lines arrive as one event with the runtime's text format, but
        # counting them as separate events only adds the 26-byte overhead per line: pessimistic, not optimistic.
        lines.extend(line for line in buffer.getvalue().splitlines() if line.strip())


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """Nothing the handler logs while a scenario is prepared reaches the console (measured requests are captured)."""
    from ondemand.observability import logger

    handler = logger.registered_handler
    old_stream = handler.stream
    handler.setStream(io.StringIO())
    root = logging.getLogger()
    sink = logging.NullHandler()
    root.addHandler(sink)  # else logging's last resort prints WARNING+ lines to stderr
    try:
        yield
    finally:
        root.removeHandler(sink)
        handler.setStream(old_stream)


@dataclass
class Scenario:
    """How to put the stack in the state a request of this outcome meets, and the request."""

    route: str
    outcome: str
    prepare: Callable[[Bench], None]
    body: Callable[[int], dict[str, Any] | None] = lambda _: None
    expected: tuple[int, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    same_client: bool = False
    repeat_from_snapshot: bool = True  # restore the prepared item before each request (else: requests in sequence)
    advance: timedelta = timedelta(seconds=0.1)  # the clock between two requests


def measure(bench: Bench, recorder: CallRecorder, scenario: Scenario, count: int, memory_mb: int) -> Outcome:
    from botocore.exceptions import ClientError  # noqa: F401  (imported before timing)

    method, path = scenario.route.split(" ", 1)
    scenario.prepare(bench)
    prepared = bench.snapshot()
    results = []
    for n in range(count + 1):  # the first request warms the handler's clients up and is not counted
        if scenario.repeat_from_snapshot:
            bench.restore(prepared)
        ip = REFUSED_CLIENT if scenario.same_client else f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        event = bench.event(method, path, scenario.body(n), ip, scenario.headers)
        with recorder.recording() as recording, captured_function_logs() as lines:
            wall, cpu = time.perf_counter(), time.thread_time()
            answer = bench.handler(event, None)
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        bench.clock += scenario.advance
        if n:
            results.append((answer["statusCode"], recording, lines, wall, cpu, answer["body"]))
    statuses = tuple(sorted({status for status, *_ in results}))
    if scenario.expected and not set(statuses) <= set(scenario.expected):
        bodies = sorted({body for status, *_, body in results if status not in scenario.expected})
        raise AssertionError(
            f"{scenario.route} ({scenario.outcome}): answered {statuses}, not {scenario.expected}: {bodies[:2]}"
        )
    share = min(1.0, memory_mb / LAMBDA_FULL_VCPU_MB)
    durations = [cpu / share + waiting(recording) for _, recording, _, _, cpu, _ in results]
    by_table: dict[str, dict[str, float]] = {"read": {}, "write": {}}
    services: dict[str, float] = {}
    for _, recording, _, _, _, _ in results:
        for call in recording.dynamo:
            for kind, units in (("read", call.read_units), ("write", call.write_units)):
                if units:
                    by_table[kind][call.table] = by_table[kind].get(call.table, 0) + units / count
        for service, operation in recording.calls:
            services[f"{service}:{operation}"] = services.get(f"{service}:{operation}", 0) + 1 / count
    mean_duration = statistics.fmean(durations)
    return Outcome(
        route=scenario.route,
        outcome=scenario.outcome,
        statuses=statuses,
        read_units=statistics.fmean(r.read_units for _, r, _, _, _, _ in results),
        write_units=statistics.fmean(r.write_units for _, r, _, _, _, _ in results),
        read_units_by_table=by_table["read"],
        write_units_by_table=by_table["write"],
        largest_item_bytes=max((c.size_after for _, r, _, _, _, _ in results for c in r.dynamo), default=0),
        function_log_bytes=statistics.fmean(log_bytes(lines) for _, _, lines, _, _, _ in results),
        platform_log_bytes=log_bytes(platform_log_lines(mean_duration * 1000, memory_mb, traced=True)),
        access_log_bytes=statistics.fmean(
            log_bytes([access_log_line(bench.template, method, path, status, wall * 1000)])
            for status, _, _, wall, _, _ in results
        ),
        wall_seconds=statistics.fmean(wall for *_, wall, _, _ in results),
        cpu_seconds=statistics.fmean(cpu for *_, cpu, _ in results),
        lambda_seconds=mean_duration,
        aws_calls=services,
        count=count,
    )


# --- the routes and their outcomes -----------------------------------------------------------------------------------


def _nothing(_: Bench) -> None:
    pass


PAST_ANY_COOLDOWN = timedelta(days=1)


def _failed_steady_state(bench: Bench) -> None:
    """The item after failing starts repeated until its history is full: each start fails inside the request (no
    approved model), so the attacker's next start meets the largest item a failing start leaves. Made once per
    bench, then restored."""
    bench.approve("none")
    if bench.steady is None:
        for n in range(bench.settings.history_limit + 2):
            bench.handler(bench.event("POST", "/start", None, f"172.16.{n // 256}.{n % 256}", {}), None)
            bench.clock += PAST_ANY_COOLDOWN
        bench.steady = bench.snapshot()
    bench.restore(bench.steady)
    bench.clock += PAST_ANY_COOLDOWN


def failing_start_spacing(bench: Bench) -> float:
    """Seconds the code makes an attacker wait between two failing starts: a failing start, then at once another from
    a new address; a 429 names the wait in Retry-After, another failure means none (0)."""
    _failed_steady_state(bench)
    first = bench.handler(bench.event("POST", "/start", None, "192.0.2.1", {}), None)
    if first["statusCode"] < 500:
        raise AssertionError(f"the steady state's start did not fail: {first['statusCode']} {first['body']}")
    second = bench.handler(bench.event("POST", "/start", None, "192.0.2.2", {}), None)
    if second["statusCode"] == 429:
        single, multi = second.get("headers") or {}, second.get("multiValueHeaders") or {}
        return float(single.get("Retry-After") or (multi.get("Retry-After") or [0])[0])
    return 0.0


REFUSED_CLIENT = "198.51.100.7"
PREFLIGHT = "CORS preflight (API Gateway's mock integration)"


def _client_window_full(bench: Bench) -> None:
    """The largest item, and one address that has used its window's starts: its next start is refused."""
    _failed_steady_state(bench)
    for _ in range(bench.settings.start_limit_per_client):
        bench.handler(bench.event("POST", "/start", None, REFUSED_CLIENT, {}), None)
        bench.clock += timedelta(minutes=bench.settings.cooldown_minutes + 1)


def _accepting(bench: Bench) -> None:
    from ondemand.domain import State

    bench.approve("bench-model")
    store = bench.adapters.store
    if store.get().state != State.STOPPED:
        store.transition([store.get().state], State.STOPPED, "bench")
    bench.clock += timedelta(days=1)  # a fresh day's GPU budget, past any cooldown


def _in_service(bench: Bench) -> None:
    from ondemand.domain import State

    store = bench.adapters.store
    current = store.get()
    if current.state != State.STOPPED:
        store.transition([current.state], State.STOPPED, "bench")
    store.transition(
        [State.STOPPED],
        State.STARTING,
        "bench",
        endpoint_name="ondemand-sentiment-bench-1",
        subscribers=[f"+1202555{n:04d}" for n in range(bench.settings.max_subscribers)],
        run_started_at=bench.clock,
    )
    store.transition(
        [State.STARTING],
        State.IN_SERVICE,
        "bench",
        in_service_at=bench.clock,
        expires_at=bench.clock + timedelta(minutes=10),
        last_used_at=bench.clock,
    )


def _batch(bench: Bench) -> Callable[[int], dict[str, Any]]:
    """The largest /predict the handler accepts: MAX_TEXTS_PER_CALL texts of MAX_TEXT_CHARS, under MAX_BODY_BYTES."""
    s = bench.settings
    per_text = max(1, min(s.max_text_chars, (s.max_body_bytes - 64) // s.max_texts_per_call - 8))
    words = "a wonderful film with terrible acting and a great score "

    def body(n: int) -> dict[str, Any]:
        text = (f"{n} " + words * (per_text // len(words) + 1))[:per_text]
        return {"texts": [text] * s.max_texts_per_call}

    return body


def scenarios(bench: Bench, routes: list[str]) -> list[Scenario]:
    """Each route's outcomes that matter for the bill; a route this list does not know gets a plain request, so it
    still has a row (and a measured price) in the table."""
    known = [
        Scenario(
            "GET /status", "status (the largest item a failing start leaves)", _failed_steady_state, expected=(200,)
        ),
        Scenario(
            "POST /start",
            "refused start (429: the address's window is full)",
            _client_window_full,
            same_client=True,
            expected=(429,),
        ),
        Scenario(
            "POST /start",
            "failing start (CreateEndpoint fails in the request: no approved model)",
            _failed_steady_state,
            expected=(502, 503),
            advance=PAST_ANY_COOLDOWN,
        ),
        Scenario(
            "POST /start",
            "start right after a failing start (refused while it cools down, if it does)",
            _failed_steady_state,
            repeat_from_snapshot=False,
        ),
        Scenario(
            "POST /start",
            "accepted start (creates the endpoint)",
            _accepting,
            expected=(202,),
        ),
        # Each to a new number: the per-number limits never refuse, only the day's text caps do.
        Scenario("POST /phone/code", "code requested", _nothing, body=lambda n: {"phone": f"+1202555{n % 10000:04d}"}),
        Scenario(
            "POST /phone/confirm",
            "wrong code",
            _nothing,
            body=lambda n: {"phone": f"+1202555{n % 10000:04d}", "code": "000000"},
        ),
        Scenario("POST /predict", "predict, instant tier (largest batch)", _nothing, expected=(200,)),
        Scenario("POST /extend", "extend while not in service (409)", _failed_steady_state, expected=(409,)),
        Scenario("POST /extend", "extend in service", _in_service, expected=(200, 409)),
        Scenario("POST /stop", "stop without the admin key (401)", _nothing, expected=(401,)),
    ]
    for scenario in known:
        if scenario.route == "POST /predict":
            scenario.body = _batch(bench)
            scenario.prepare = _failed_steady_state
    listed = [s for s in known if s.route in routes]
    for route in routes:
        if route not in {s.route for s in known}:
            method = route.split(" ", 1)[0]
            listed.append(
                Scenario(
                    route,
                    "a request this script has no scenario for",
                    _nothing,
                    body=lambda _, method=method: {} if method != "GET" else None,
                )
            )
    return listed


@contextlib.contextmanager
def lambda_like_environment() -> Iterator[None]:
    """The stack's logging and metrics as on Lambda (POWERTOOLS_LOG_LEVEL from template.yaml, EMF metrics on), no
    tracer (it needs the X-Ray daemon), before `ondemand` is imported."""
    values = {
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_METRICS_DISABLED": "false",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    saved = {
        name: os.environ.get(name) for name in [*values, "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_LAMBDA_FUNCTION_NAME"]
    }
    os.environ.update(values)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True)
class Measured:
    outcomes: list[Outcome]
    failing_start_every_seconds: float
    """The wait the code imposes between two failing starts (0: none, the throttle alone)."""
    settings: Any


def measure_routes(
    routes: list[str],
    template: dict[str, Any],
    memory_mb: int,
    count: int = 20,
    only: Callable[[str], bool] = lambda _: True,
    in_process: bool = False,
    **settings: Any,
) -> Measured:
    """Every outcome of every route in `routes` ("POST /start") whose name `only` accepts, measured `count` times each
    on a fresh moto server, with the stack's settings but `settings`. `in_process`: moto's same backends inside this
    process (`mock_aws`, no socket: the unit tests) instead of its server on a loopback port; the calls, items and
    units are the same."""
    with lambda_like_environment():
        import boto3
        from ondemand.handlers import api  # noqa: F401  (before AWS_LAMBDA_FUNCTION_NAME: it would build from the env)

        from local_runtime.state_server import LoopbackMotoServer

        os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "bench-api"  # record_metric prints EMF lines, as on Lambda

        if in_process:
            from moto import mock_aws

            server, url = mock_aws(), None
            server.start()
        else:
            server = LoopbackMotoServer()
            url = server.start()
            os.environ["AWS_ENDPOINT_URL"] = url
        try:
            bench = Bench(url, template, **settings)
            recorder = CallRecorder(boto3.client("dynamodb"))
            outcomes = []
            with recorder.installed(), quiet_logs():
                for scenario in scenarios(bench, [r for r in routes if not r.startswith("OPTIONS ")]):
                    if only(scenario.outcome):
                        outcomes.append(measure(bench, recorder, scenario, count, memory_mb))
                spacing = failing_start_spacing(bench)
            for route in routes:
                if route.startswith("OPTIONS ") and only(PREFLIGHT):
                    # SAM's Cors makes each path's OPTIONS a MOCK integration: API Gateway answers it, no Lambda.
                    path = route.split(" ", 1)[1]
                    access = log_bytes([access_log_line(template, "OPTIONS", path, 200, 1)])
                    outcomes.append(
                        Outcome(
                            route,
                            PREFLIGHT,
                            (200,),
                            0,
                            0,
                            {},
                            {},
                            0,
                            0,
                            0,
                            access,
                            0,
                            0,
                            0,
                            {},
                            1,
                            invokes_lambda=False,
                        )
                    )
            return Measured(outcomes, spacing, bench.settings)
        finally:
            server.stop()
