"""The ceiling on the month's bill (CeilingFunction) against moto: closing sets every route's throttle on the stage to 0
and tells the page why; reopening restores the template's numbers; a second close is harmless; an event it does not
know is refused with a log line, not an exception that would be retried; and every call it makes is allowed by its
role in template.yaml."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws
from ondemand.handlers.ceiling import Ceiling, CeilingConfig, make_handler, month_start, request_allowance

from tests.unit.aws.iam_coverage import CallRecorder, Stack, check_calls

NOW = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:test-stack-CeilingTopic-ABC"


def method_settings_of_template(template: dict[str, Any]) -> dict[str, tuple[float, int]]:
    """The Api's MethodSettings as the stage keys them ("~1status/GET"): (rate, burst)."""
    found = {}
    for entry in template["Resources"]["Api"]["Properties"]["MethodSettings"]:
        resource = entry["ResourcePath"]
        key = "*" if resource == "/*" else resource[1:]
        found[f"{key}/{entry['HttpMethod']}"] = (
            float(entry["ThrottlingRateLimit"]),
            int(entry["ThrottlingBurstLimit"]),
        )
    return found


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, template: dict[str, Any]) -> Iterator[tuple[Stack, CallRecorder]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        apigateway = boto3.client("apigateway")
        api = apigateway.create_rest_api(name="test-api")["id"]
        root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
        status = apigateway.create_resource(restApiId=api, parentId=root, pathPart="status")["id"]
        apigateway.put_method(restApiId=api, resourceId=status, httpMethod="GET", authorizationType="NONE")
        apigateway.put_integration(restApiId=api, resourceId=status, httpMethod="GET", type="MOCK")
        apigateway.create_deployment(restApiId=api, stageName="Prod")
        stack = Stack(template)
        stack.physical["Api"] = api
        stack.physical["CeilingTopic"] = TOPIC_ARN
        bucket = stack.ref("PageBucket")
        boto3.client("s3").create_bucket(Bucket=bucket)
        recorder = CallRecorder()
        with recorder.installed(monkeypatch):
            yield stack, recorder


def config_of(stack: Stack) -> CeilingConfig:
    """CEILING_CONFIG as the template resolves it for this deployment."""
    variables = stack.template["Resources"]["CeilingFunction"]["Properties"]["Environment"]["Variables"]
    return CeilingConfig.from_json(stack.resolve(variables["CEILING_CONFIG"]))


HANDLER_CALLS: list[Any] = []  # what the function itself called (not the test's own reads), for the IAM check


def handler_for(stack: Stack, recorder: CallRecorder, now: datetime = NOW) -> Any:
    handle = make_handler(
        Ceiling(config_of(stack), boto3.client("apigateway"), boto3.client("s3"), boto3.client("cloudwatch")),
        clock=lambda: now,
    )

    def invoke(event: Any, context: Any) -> dict[str, Any]:
        with recorder.call_section() as recorded:
            answer = handle(event, context)
        HANDLER_CALLS.extend(recorded)
        return answer

    HANDLER_CALLS.clear()
    return invoke


def refused_calls(stack: Stack) -> list[str]:
    assert HANDLER_CALLS, "the function made no call"
    return check_calls(stack, "CeilingFunction", HANDLER_CALLS)


def stage_settings(stack: Stack) -> dict[str, tuple[float, int]]:
    stage = boto3.client("apigateway").get_stage(restApiId=stack.ref("Api"), stageName="Prod")
    return {k: (v["throttlingRateLimit"], v["throttlingBurstLimit"]) for k, v in stage["methodSettings"].items()}


def budget_notice(topic_arn: str, message: str) -> dict[str, Any]:
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"TopicArn": topic_arn, "Message": message}}]}


def closed_file(stack: Stack) -> dict[str, Any] | None:
    s3 = boto3.client("s3")
    try:
        body = s3.get_object(Bucket=stack.ref("PageBucket"), Key="service-closed.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def test_a_budget_notice_closes_every_route_and_tells_the_page_why(aws, template) -> None:
    stack, recorder = aws
    handle = handler_for(stack, recorder)
    handle({"action": "reopen"}, None)

    answer = handle(budget_notice(TOPIC_ARN, "AWS Budget Notification ... Alert Type: FORECASTED"), None)

    settings = stage_settings(stack)
    assert set(settings) == set(method_settings_of_template(template))  # every route, OPTIONS and "/*" included
    assert all(value == (0.0, 0) for value in settings.values()), settings
    notice = closed_file(stack)
    assert notice is not None and answer["outcome"] == "closed"
    assert "forecast" in notice["reason"] and notice["reason"].endswith(".")
    assert notice["reopens_at"] == "2027-01-01T00:00:00+00:00"
    assert notice["closed_at"] == "2026-12-08T03:00:00+00:00"

    refused = refused_calls(stack)
    assert not refused, "calls the role does not allow:\n" + "\n".join(refused)


def test_reopening_restores_the_templates_numbers_and_removes_the_notice(aws, template) -> None:
    stack, recorder = aws
    handle = handler_for(stack, recorder)
    handle(budget_notice(TOPIC_ARN, "ACTUAL Amount: $121.00"), None)
    assert closed_file(stack) is not None

    assert handle({"action": "reopen"}, None) == {"outcome": "open"}

    assert stage_settings(stack) == method_settings_of_template(template)
    assert closed_file(stack) is None
    refused = refused_calls(stack)
    assert not refused, "calls the role does not allow:\n" + "\n".join(refused)


def test_a_second_close_is_harmless(aws) -> None:
    stack, recorder = aws
    handle = handler_for(stack, recorder)
    first = handle(budget_notice(TOPIC_ARN, "ACTUAL"), None)
    second = handle(budget_notice(TOPIC_ARN, "ACTUAL"), None)

    assert first == second
    assert all(value == (0.0, 0) for value in stage_settings(stack).values())
    assert handle({"action": "reopen"}, None) == {"outcome": "open"}


@pytest.mark.parametrize(
    "event",
    [
        {"action": "open-sesame"},
        budget_notice("arn:aws:sns:us-east-1:123456789012:someone-elses-topic", "ACTUAL"),
        {"Records": "not a list"},
        ["not", "an", "object"],
        {},
    ],
)
def test_an_unknown_event_is_refused_with_a_log_line_and_changes_nothing(aws, event, caplog) -> None:
    stack, recorder = aws
    handle = handler_for(stack, recorder)
    handle({"action": "reopen"}, None)
    before = stage_settings(stack)
    HANDLER_CALLS.clear()

    answer = handle(event, None)  # returns: raising would make Lambda retry an event that can never pass

    assert answer["outcome"] == "refused"
    assert any(r.getMessage() == "ceiling refused an event" and r.levelname == "WARNING" for r in caplog.records)
    assert not HANDLER_CALLS and stage_settings(stack) == before
    assert closed_file(stack) is None


def test_the_check_closes_once_the_months_requests_pass_the_allowance(aws) -> None:
    stack, recorder = aws
    allowance = request_allowance(config_of(stack))
    cloudwatch = boto3.client("cloudwatch")

    def record(requests: int, at: datetime) -> None:
        cloudwatch.put_metric_data(
            Namespace="AWS/ApiGateway",
            MetricData=[
                {
                    "MetricName": "Count",
                    "Dimensions": [
                        {"Name": "ApiName", "Value": config_of(stack).api_name},
                        {"Name": "Stage", "Value": "Prod"},
                    ],
                    "Timestamp": at,
                    "Value": requests,
                }
            ],
        )

    now = datetime.now(UTC).replace(microsecond=0)
    if now.day == 1 and now.hour < 3:
        pytest.skip("the month has just begun: no earlier hour of it to record requests in")
    handler_for(stack, recorder, month_start(now))({"action": "reopen"}, None)  # the 1st's reopening
    handle = handler_for(stack, recorder, now)
    record(allowance // 2, now - timedelta(hours=2))
    assert handle({"action": "check"}, None)["outcome"] == "open"
    assert closed_file(stack) is None

    record(allowance // 2 + 10, now - timedelta(hours=1))
    answer = handle({"action": "check"}, None)

    assert answer["outcome"] == "closed" and answer["requests"] > allowance
    assert "requests" in closed_file(stack)["reason"]
    assert all(value == (0.0, 0) for value in stage_settings(stack).values())
    refused = refused_calls(stack)
    assert not refused, "calls the role does not allow:\n" + "\n".join(refused)

    # The owner's `make reopen` grants the allowance afresh: the check counts from the reopening, not the 1st.
    handle({"action": "reopen"}, None)
    assert handle({"action": "check"}, None) == {"outcome": "open", "requests": 0, "allowance": allowance}


def test_the_allowance_leaves_the_gpu_budgets_and_the_texts_worst_months_and_the_fixed_costs() -> None:
    config = CeilingConfig.from_json(
        json.dumps(
            {
                "rest_api_id": "a",
                "stage": "Prod",
                "api_name": "n",
                "bucket": "b",
                "key": "k",
                "topic_arn": TOPIC_ARN,
                "monthly_budget_usd": 120,
                "gpu_minutes_per_day": 240,
                "sms_per_day": 10,
                "instance_type": "ml.g4dn.xlarge",
                "throttles": [],
            }
        )
    )
    gpu, texts = Decimal(240 * 31) / 60 * Decimal("0.7364"), Decimal(10 * 31) * Decimal("0.05")
    left = Decimal(120) * Decimal("0.95") - gpu - texts - Decimal(2)
    assert request_allowance(config) == int(left / Decimal("13.6") * 1_000_000)
    assert request_allowance(config.__class__(**{**config.__dict__, "sms_per_day": 100})) == 0  # texts take it all
    assert request_allowance(config.__class__(**{**config.__dict__, "monthly_budget_usd": 50.0})) == 0
