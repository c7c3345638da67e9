"""Every AWS call each function makes on its paths (under moto) is an action its role in template.yaml grants."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws
from ondemand.bootstrap import LambdaEntryPoint

from tests.unit.aws.iam_coverage import CallRecorder, granted_actions, is_granted

ADMIN_KEY = "admin-key-from-secrets-manager"  # what tests/events/apigw_stop.json sends
MODEL_PARAMETER = "/test-stack/approved-model"
GROUP = "test-stack-teardown"
KEEP_ALIVE_SECONDS = 1.2
INSTANCE_TYPE = "ml.g4dn.xlarge"


def handler_functions(template: dict[str, Any]) -> dict[str, str]:
    """Handler string -> the logical id of the function that runs it."""
    return {
        resource["Properties"]["Handler"]: logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def create_table(template: dict[str, Any], logical_id: str, name: str) -> None:
    properties = template["Resources"][logical_id]["Properties"]
    boto3.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        BillingMode=properties["BillingMode"],
    )


def fresh_entry_point(handler: str) -> Callable[[Any, Any], dict[str, Any]]:
    """A new container's handler: what the module's `handler` is, built from the environment on its first call (the
    module's own instance may already hold a service from another test)."""
    module_name, _, name = handler.rpartition(".")
    module = importlib.import_module(module_name)
    return LambdaEntryPoint(module.make_handler, creates_schedules=getattr(module, name).creates_schedules)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, template: dict[str, Any]) -> Iterator[CallRecorder]:
    """The AWS adapters against moto, with what the stack would have created, and a recorder of every call."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "STATE_TABLE_NAME": "test-state",
        "RATE_LIMIT_TABLE_NAME": "test-rate-limits",
        "SMS_PROVIDER": "sns",
        "SCHEDULE_GROUP_NAME": GROUP,
        "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler",
        "TEARDOWN_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:teardown",
        "APPROVED_MODEL_PARAMETER": MODEL_PARAMETER,
        "ENDPOINT_NAME_PREFIX": "ondemand-sentiment-51af3dc0",
        "INSTANCE_TYPE": INSTANCE_TYPE,
        "POWERTOOLS_METRICS_DISABLED": "true",
        "KEEP_ALIVE_MINUTES": f"{KEEP_ALIVE_SECONDS / 60:g}",
        "COOLDOWN_MINUTES": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "DYNAMODB_ENDPOINT_URL", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        create_table(template, "StateTable", "test-state")
        create_table(template, "RateLimitTable", "test-rate-limits")
        boto3.client("sagemaker").create_model(
            ModelName="sentiment-v1",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/hf:latest"},
        )
        boto3.client("ssm").put_parameter(Name=MODEL_PARAMETER, Value="sentiment-v1", Type="String")
        boto3.client("scheduler").create_schedule_group(Name=GROUP)
        secret = boto3.client("secretsmanager").create_secret(Name="admin-key", SecretString=ADMIN_KEY)
        monkeypatch.setenv("ADMIN_API_KEY_SECRET", secret["ARN"])
        pepper = boto3.client("secretsmanager").create_secret(Name="pepper", SecretString="p" * 64)
        monkeypatch.setenv("RATE_LIMIT_PEPPER_SECRET", pepper["ARN"])
        # moto's InvokeEndpoint answers each new endpoint with the next of its moto-api results (else a plain "body"):
        # the model's answer, for /predict and for a canary prediction before texting.
        answer = {"predictions": [{"label": "POSITIVE", "label_id": 1, "prob": 0.9}], "model": "sentiment-v1"}
        requests.post(
            "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
            timeout=5,
            json={"results": [{"Body": json.dumps(answer), "ContentType": "application/json"}] * 4},
        )
        recorder = CallRecorder()
        with recorder.installed(monkeypatch):  # the handlers build their AWS clients on first use, recorded
            yield recorder


def drive_every_path(event) -> list[tuple[str, dict[str, Any]]]:
    """Two sessions: start, ready, status, predict, extend, a teardown before and one after expiry, reconcile; then a
    start that finds nothing to clean, ready, stop, reconcile. (KEEP_ALIVE_MINUTES is a second here.)"""
    return [
        ("ondemand.handlers.api.handler", event("apigw_start")),
        ("ondemand.handlers.endpoint_events.handler", event("endpoint_state_change_in_service")),
        ("ondemand.handlers.api.handler", event("apigw_status")),
        ("ondemand.handlers.api.handler", event("apigw_predict")),
        ("ondemand.handlers.api.handler", event("apigw_extend")),
        ("ondemand.handlers.teardown.handler", event("teardown_schedule")),
        ("sleep", {}),
        ("ondemand.handlers.teardown.handler", event("teardown_schedule")),
        ("ondemand.handlers.reconciler.handler", event("reconciler_scheduled")),
        ("ondemand.handlers.api.handler", event("apigw_start")),
        ("ondemand.handlers.endpoint_events.handler", event("endpoint_state_change_in_service")),
        ("ondemand.handlers.reconciler.handler", event("reconciler_scheduled")),
        ("ondemand.handlers.api.handler", event("apigw_stop")),
        ("ondemand.handlers.reconciler.handler", event("reconciler_scheduled")),
    ]


def test_every_call_a_function_makes_is_granted_by_its_role(stack: CallRecorder, template, event) -> None:
    functions = handler_functions(template)
    containers = {handler: fresh_entry_point(handler) for handler in functions}
    called: dict[str, set[str]] = {logical_id: set() for logical_id in functions.values()}
    endpoint_name = None
    for handler, payload in drive_every_path(event):
        if handler == "sleep":
            time.sleep(KEEP_ALIVE_SECONDS + 1.5)
            continue
        if endpoint_name and "detail" in payload and "EndpointName" in payload["detail"]:
            payload["detail"]["EndpointName"] = endpoint_name
        if endpoint_name and "endpoint_name" in payload:
            payload["endpoint_name"] = endpoint_name
            payload["expires_at"] = (datetime.now(UTC) + timedelta(seconds=KEEP_ALIVE_SECONDS)).isoformat()
        with stack.section() as recorded:
            answer = containers[handler](payload, None)
        called[functions[handler]].update(recorded)
        if handler.endswith("api.handler") and payload["path"] == "/start":
            assert answer["statusCode"] == 202, answer
            endpoint_name = json.loads(answer["body"])["endpoint_name"]

    # The paths were really driven: each function called AWS, and the start created an endpoint.
    assert all(called.values()), called
    assert "sagemaker:CreateEndpoint" in called["ApiFunction"]
    assert "sagemaker:InvokeEndpoint" in called["ApiFunction"]
    assert "sns:Publish" in called["EndpointEventsFunction"]
    assert "sagemaker:DeleteEndpoint" in called["TeardownFunction"]
    missing = {
        logical_id: sorted(a for a in actions if not is_granted(a, granted_actions(template, logical_id)))
        for logical_id, actions in called.items()
    }
    assert not any(missing.values()), f"calls the role does not grant: {missing}"
    # And the other way for DynamoDB: the roles grant no action on the tables that no function makes.
    called_dynamodb = {a for actions in called.values() for a in actions if a.startswith("dynamodb:")}
    granted_dynamodb = {a for f in called for a in granted_actions(template, f) if a.lower().startswith("dynamodb:")}
    assert granted_dynamodb <= called_dynamodb, f"granted, never called: {sorted(granted_dynamodb - called_dynamodb)}"
    assert "secretsmanager:GetSecretValue" in called["ApiFunction"]  # the pepper (/start) and the admin key (/stop)
