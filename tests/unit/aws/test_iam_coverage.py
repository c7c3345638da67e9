"""Every AWS call each function makes on its paths (under moto) is allowed by its role in template.yaml on the resource
it touched: the stack resolved for one deployment, the functions' environment resolved from the same template."""

from __future__ import annotations

import importlib
import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from ondemand.bootstrap import LambdaEntryPoint
from ondemand.consent import code_for, new_token

from tests.conftest import queue_model_answers
from tests.unit.aws.iam_coverage import (
    Call,
    CallRecorder,
    Stack,
    check_calls,
    check_documented,
    raw_statements,
    scheduler_target_requests,
)
from tests.unit.lifecycle.test_lifecycle_tiers import model_tar_gz

ADMIN_KEY = "admin-key-from-secrets-manager"  # what tests/events/apigw_stop.json sends
KEEP_ALIVE_SECONDS = 1.2
SCHEDULE_WRITES = {"scheduler:CreateSchedule", "scheduler:UpdateSchedule"}
SECRETS = {"AdminApiKeySecret": ADMIN_KEY, "RateLimitPepperSecret": "p" * 64, "TextbeltKeySecret": "textbelt-key"}


# Not a lifecycle function (no Service behind it): tests/unit/aws/test_ceiling.py checks its calls against its role.
OWN_IAM_TESTS = {"ondemand.handlers.ceiling.handler"}


def handler_functions(template: dict[str, Any]) -> dict[str, str]:
    """Handler string -> the logical id of the function that runs it (the lifecycle's functions)."""
    return {
        resource["Properties"]["Handler"]: logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function" and resource["Properties"]["Handler"] not in OWN_IAM_TESTS
    }


def function_environment(stack: Stack) -> dict[str, str]:
    """The Globals' environment and every function's own, resolved for this deployment (one process runs them all)."""
    resources = stack.template["Resources"]
    variables = dict(stack.template["Globals"]["Function"]["Environment"]["Variables"])
    for logical_id in handler_functions(stack.template).values():
        variables.update(resources[logical_id]["Properties"].get("Environment", {}).get("Variables", {}))
    return {name: str(stack.resolve(value)) for name, value in variables.items()}


def create_table(stack: Stack, logical_id: str) -> None:
    properties = stack.template["Resources"][logical_id]["Properties"]
    boto3.client("dynamodb").create_table(
        TableName=stack.ref(logical_id),
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
def sms_provider() -> str:
    return "sns"


@pytest.fixture
def deployed(
    monkeypatch: pytest.MonkeyPatch, template: dict[str, Any], instant_artifact: Path, sms_provider: str
) -> Iterator[tuple[Stack, CallRecorder]]:
    """The stack "deployed" on moto: what CloudFormation and the pipeline would have created, under the names the
    template gives them; the functions' environment resolved from the template; a recorder of every call."""
    stack = Stack(template)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": stack.region,
        "AWS_REGION": stack.region,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "DYNAMODB_ENDPOINT_URL", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        create_table(stack, "StateTable")
        create_table(stack, "RateLimitTable")
        for logical_id, value in SECRETS.items():
            created = boto3.client("secretsmanager").create_secret(
                Name=stack.physical_name(logical_id), SecretString=value
            )
            stack.physical[logical_id] = created["ARN"]
        pipeline = stack.nested("TrainingPipeline")
        model_name = "sentiment-0123456789abcdef0123456789abcdef-0-0"
        boto3.client("sagemaker").create_model(
            ModelName=model_name,
            ExecutionRoleArn=pipeline.get_att("TrainingRole", "Arn"),
            PrimaryContainer={"Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:x"},
        )
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name=pipeline.ref("ApprovedModelParameter"), Value=model_name, Type="String")
        bucket = pipeline.ref("ArtifactsBucket")
        key = "instant/sentiment-instant-0123456789abcdef0123456789abcdef-0/output/model.tar.gz"
        boto3.client("s3").create_bucket(Bucket=bucket)
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=model_tar_gz(instant_artifact))
        ssm.put_parameter(Name=pipeline.ref("InstantModelParameter"), Value=f"s3://{bucket}/{key}", Type="String")
        boto3.client("scheduler").create_schedule_group(Name=stack.ref("TeardownScheduleGroup"))
        boto3.client("sqs").create_queue(QueueName=stack.physical_name("TextQueue"))
        environment = {
            **function_environment(stack),
            "SMS_PROVIDER": sms_provider,
            "POWERTOOLS_METRICS_DISABLED": "true",
            "KEEP_ALIVE_MINUTES": f"{KEEP_ALIVE_SECONDS / 60:g}",
            "COOLDOWN_MINUTES": "0",
        }
        environment.pop("DYNAMODB_ENDPOINT_URL")  # empty on AWS
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        queue_model_answers(model_name, count=4)  # for /predict and the canary prediction before texting
        recorder = CallRecorder()
        with recorder.installed(monkeypatch):  # the handlers build their AWS clients on first use, recorded
            yield stack, recorder


def drive_every_path(event) -> list[tuple[str, dict[str, Any]]]:
    """A prediction from the instant tier while stopped; two sessions: start, ready, status, predict, extend, the
    "stops soon" notice, a teardown before and one after expiry, reconcile; then a start that finds nothing to clean,
    ready, stop, reconcile. (KEEP_ALIVE_MINUTES is a second here.)"""
    return [
        ("ondemand.handlers.api.handler", event("apigw_predict")),
        ("ondemand.handlers.api.handler", event("apigw_phone_code")),
        ("ondemand.handlers.api.handler", event("apigw_phone_confirm")),  # the code is put in by run_paths
        ("ondemand.handlers.api.handler", event("apigw_start")),
        ("ondemand.handlers.endpoint_events.handler", event("endpoint_state_change_in_service")),
        ("ondemand.handlers.api.handler", event("apigw_status")),
        ("ondemand.handlers.api.handler", event("apigw_predict")),
        ("ondemand.handlers.api.handler", event("apigw_extend")),
        ("ondemand.handlers.teardown.handler", {**event("teardown_schedule"), "kind": "notice"}),
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


def run_paths(template: dict[str, Any], recorder: CallRecorder, event) -> tuple[dict[str, list[Call]], list[Any]]:
    """Each path through a fresh container of its function: the calls per function, and the answers in order."""
    functions = handler_functions(template)
    containers = {handler: fresh_entry_point(handler) for handler in functions}
    called: dict[str, list[Call]] = {logical_id: [] for logical_id in functions.values()}
    answers: list[Any] = []
    endpoint_name = None
    for handler, payload in drive_every_path(event):
        if handler == "sleep":
            time.sleep(KEEP_ALIVE_SECONDS + 1.5)
            continue
        if endpoint_name and "detail" in payload and "EndpointName" in payload["detail"]:
            payload["detail"]["EndpointName"] = endpoint_name
        if handler.endswith("api.handler") and payload["path"] in ("/phone/confirm", "/start"):
            payload = confirmed(payload)
        if endpoint_name and "endpoint_name" in payload:
            payload["endpoint_name"] = endpoint_name
            payload["expires_at"] = (datetime.now(UTC) + timedelta(seconds=KEEP_ALIVE_SECONDS)).isoformat()
        with recorder.call_section() as recorded:
            answer = containers[handler](payload, None)
        called[functions[handler]] += recorded
        answers.append(answer)
        deliver_texts(containers, functions, called, recorder)
        if handler.endswith("api.handler") and payload["path"] == "/start":
            assert answer["statusCode"] == 202, answer
            endpoint_name = json.loads(answer["body"])["endpoint_name"]
    return called, answers


TEXTS_HANDLER = "ondemand.handlers.texts.handler"


def confirmed(payload: dict[str, Any]) -> dict[str, Any]:
    """The fixture's phone with today's code (/phone/confirm) or a confirmation (/start), as its owner would send
    them: made with the stack's pepper, which this test created."""
    body = json.loads(payload["body"])
    pepper, now = SECRETS["RateLimitPepperSecret"].encode(), datetime.now(UTC)
    if payload["path"] == "/phone/confirm":
        body["code"] = code_for(pepper, body["phone"], now)
    else:
        body["confirmation"] = new_token(pepper, body["phone"], now)[0]
    return {**payload, "body": json.dumps(body)}


def deliver_texts(containers, functions, called: dict[str, list[Call]], recorder: CallRecorder) -> None:
    """What the SQS event source does: each queued text to the sender's container, one record per invocation."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=os.environ["TEXT_QUEUE_URL"].rsplit("/", 1)[-1])["QueueUrl"]
    while messages := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=1, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    ).get("Messages", []):
        [message] = messages
        record = {"messageId": message["MessageId"], "body": message["Body"], "attributes": message["Attributes"]}
        with recorder.call_section() as recorded:
            answer = containers[TEXTS_HANDLER]({"Records": [record], "eventSource": "aws:sqs"}, None)
        called[functions[TEXTS_HANDLER]] += recorded
        assert answer == {"batchItemFailures": []}, answer
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def actions(calls: list[Call]) -> set[str]:
    return {call.action for call in calls}


def test_every_call_a_function_makes_is_allowed_on_the_resource_it_touched(deployed, template, event) -> None:
    stack, recorder = deployed
    called, answers = run_paths(template, recorder, event)

    # The paths were really driven: each function called AWS, the instant tier answered while stopped, the start
    # created an endpoint, the ready event and the notice texted.
    assert all(called.values()), called
    assert json.loads(answers[0]["body"])["tier"] == "instant", answers[0]
    assert {"ssm:GetParameter", "s3:GetObject"} <= actions(called["ApiFunction"])
    assert {"sagemaker:CreateEndpoint", "sagemaker:InvokeEndpoint"} <= actions(called["ApiFunction"])
    assert {"sqs:SendMessage", "scheduler:CreateSchedule"} <= actions(called["EndpointEventsFunction"])
    assert answers[8]["outcome"].startswith("notice sent; queued 1 of 1"), answers[8]
    assert {"sagemaker:DeleteEndpoint", "sqs:SendMessage"} <= actions(called["TeardownFunction"])
    # Only the sender texts: the ready text and the notice, each through SNS once.
    assert [c.action for c in called["TextSenderFunction"]].count("sns:Publish") == 4  # code, two ready, notice
    assert not any("sns:Publish" in actions(calls) for f, calls in called.items() if f != "TextSenderFunction")
    assert "secretsmanager:GetSecretValue" in actions(called["ApiFunction"])  # the pepper (/start), admin key (/stop)

    refused = [line for function_id, calls in called.items() for line in check_calls(stack, function_id, calls)]
    assert not refused, "calls the role does not allow:\n" + "\n".join(refused)

    # EventBridge Scheduler invokes each schedule's target with the role the schedule names: the stack's SchedulerRole.
    schedules = [c for calls in called.values() for c in calls if c.action in SCHEDULE_WRITES]
    assert schedules and {c.params["Target"]["RoleArn"] for c in schedules} == {stack.get_att("SchedulerRole", "Arn")}
    refused = check_documented(stack, "SchedulerRole", [d for c in schedules for d in scheduler_target_requests(c)])
    assert not refused, "the scheduler's role does not allow:\n" + "\n".join(refused)

    # And the other way for DynamoDB: the roles grant no action on the tables that no function makes.
    called_dynamodb = {a for calls in called.values() for a in actions(calls) if a.startswith("dynamodb:")}
    granted_dynamodb = {
        str(a)
        for f in called
        for s in raw_statements(template, f)
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        if str(a).lower().startswith("dynamodb:")
    }
    assert granted_dynamodb <= called_dynamodb, f"granted, never called: {sorted(granted_dynamodb - called_dynamodb)}"


@pytest.mark.parametrize("sms_provider", ["textbelt"])
def test_texting_through_textbelt_reads_only_the_key_its_role_allows(
    deployed, template, event, monkeypatch: pytest.MonkeyPatch, sms_provider: str
) -> None:
    stack, recorder = deployed
    posted: list[bytes] = []

    class TextbeltAnswer:
        status = 200

        def __enter__(self) -> TextbeltAnswer:
            return self

        def __exit__(self, *_: Any) -> None:
            return None

        def read(self) -> bytes:
            return b'{"success": true, "textId": "1", "quotaRemaining": 40}'

    def urlopen(request: urllib.request.Request, timeout: float) -> TextbeltAnswer:
        assert request.full_url == "https://textbelt.com/text"  # the TEXTBELT_URL the template sets
        posted.append(request.data or b"")
        return TextbeltAnswer()

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    called, answers = run_paths(template, recorder, event)

    secret_reads = {
        function_id: {c.params["SecretId"] for c in calls if c.action == "secretsmanager:GetSecretValue"}
        for function_id, calls in called.items()
    }
    assert stack.physical["TextbeltKeySecret"] in secret_reads["TextSenderFunction"]
    others = [reads for function_id, reads in secret_reads.items() if function_id != "TextSenderFunction"]
    assert all(stack.physical["TextbeltKeySecret"] not in reads for reads in others)  # only the sender holds the key
    assert answers[8]["outcome"].startswith("notice sent; queued 1 of 1"), answers[8]
    assert posted and all(b"key=textbelt-key" in body for body in posted)
    assert not any(a == "sns:Publish" for calls in called.values() for a in actions(calls))
    refused = [line for function_id, calls in called.items() for line in check_calls(stack, function_id, calls)]
    assert not refused, "calls the role does not allow:\n" + "\n".join(refused)
