"""The AWS adapters against moto (decorator mode, no network) and Textbelt against a fake HTTP post."""

from __future__ import annotations

import io
import json
import logging
import os
import urllib.error
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from ondemand.adapters.sagemaker import SageMakerEndpoints
from ondemand.adapters.scheduler import EventBridgeScheduler
from ondemand.adapters.sms import SnsNotifier, TextbeltNotifier
from ondemand.bootstrap import service_from_environment
from ondemand.domain import EndpointError, EndpointNotDeletableError, EndpointStatus, NotifierError, SchedulerError
from ondemand.handlers import api, endpoint_events, texts  # at collection: X-Ray's SDK opens a UDP socket on import

from tests.conftest import create_table_from_template, queue_model_answers
from tests.lifecycle_driver import confirming
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A

MODEL_PARAMETER = "/ondemand-sentiment/approved-model"
ROLE_ARN = "arn:aws:iam::123456789012:role/sagemaker-execution"


def approve_model(name: str = "sentiment-minilm-v1") -> None:
    boto3.client("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/hf:latest"},
    )
    boto3.client("ssm").put_parameter(Name=MODEL_PARAMETER, Value=name, Type="String", Overwrite=True)


def sagemaker_endpoints() -> SageMakerEndpoints:
    return SageMakerEndpoints(
        boto3.client("sagemaker"),
        boto3.client("sagemaker-runtime"),
        boto3.client("ssm"),
        prefix="ondemand-sentiment",
        instance_type="ml.g4dn.xlarge",
        approved_model_parameter=MODEL_PARAMETER,
    )


# ----- SageMaker -----


def test_create_makes_the_config_once_and_the_endpoint(aws) -> None:
    approve_model()
    control = sagemaker_endpoints()
    control.create("ondemand-sentiment-20260101t120000")
    control.create("ondemand-sentiment-20260101t130000")
    client = boto3.client("sagemaker")
    configs = client.list_endpoint_configs()["EndpointConfigs"]
    assert [c["EndpointConfigName"] for c in configs] == [control.config_name("sentiment-minilm-v1")]
    config = client.describe_endpoint_config(EndpointConfigName=configs[0]["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    assert (variant["ModelName"], variant["InstanceType"]) == ("sentiment-minilm-v1", "ml.g4dn.xlarge")
    endpoint = client.describe_endpoint(EndpointName="ondemand-sentiment-20260101t120000")
    assert endpoint["EndpointConfigName"] == configs[0]["EndpointConfigName"]


def test_a_newly_approved_model_gets_its_own_config(aws) -> None:
    approve_model("sentiment-minilm-v1")
    control = sagemaker_endpoints()
    control.create("ondemand-sentiment-20260101t120000")
    approve_model("sentiment-minilm-v2")
    control.create("ondemand-sentiment-20260101t130000")
    assert len(boto3.client("sagemaker").list_endpoint_configs()["EndpointConfigs"]) == 2
    assert control.config_name("sentiment-minilm-v1") != control.config_name("sentiment-minilm-v2")


def test_create_without_an_approved_model_says_so(aws) -> None:
    with pytest.raises(EndpointError, match="No approved model"):
        sagemaker_endpoints().create("ondemand-sentiment-20260101t120000")


def test_create_before_the_pipeline_approved_a_model_says_so(aws) -> None:
    approve_model("none")  # the nested pipeline stack's value until its first approval
    with pytest.raises(EndpointError, match="No approved model yet"):
        sagemaker_endpoints().create("ondemand-sentiment-20260101t120000")
    assert boto3.client("sagemaker").list_endpoints()["Endpoints"] == []


def test_describe_and_delete_treat_a_missing_endpoint_as_gone(aws) -> None:
    approve_model()
    control = sagemaker_endpoints()
    assert control.describe("ondemand-sentiment-nothing") is None
    control.delete("ondemand-sentiment-nothing")  # no error
    control.create("ondemand-sentiment-20260101t120000")
    info = control.describe("ondemand-sentiment-20260101t120000")
    assert info is not None and info.status in (EndpointStatus.CREATING, EndpointStatus.IN_SERVICE)
    control.delete("ondemand-sentiment-20260101t120000")
    assert control.describe("ondemand-sentiment-20260101t120000") is None


IN_PROGRESS = 'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}".'


def described(name: str, status: str) -> dict:
    return {
        "EndpointName": name,
        "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}",
        "EndpointStatus": status,
        "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
        "LastModifiedTime": datetime(2026, 1, 1, tzinfo=UTC),
    }


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating"])
def test_a_delete_refused_while_the_endpoint_settles_is_a_not_deletable_error(aws, status) -> None:
    name = "ondemand-sentiment-20260101t120000"
    control = sagemaker_endpoints()
    with Stubber(control.sagemaker) as stub:
        stub.add_client_error("delete_endpoint", "ValidationException", IN_PROGRESS.format(name=name))
        stub.add_response("describe_endpoint", described(name, status), {"EndpointName": name})
        with pytest.raises(EndpointNotDeletableError, match=status) as refused:
            control.delete(name)
    assert refused.value.status == status


def test_an_in_progress_refusal_is_not_deletable_even_if_the_endpoint_settled_since(aws) -> None:
    name = "ondemand-sentiment-20260101t120000"
    control = sagemaker_endpoints()
    with Stubber(control.sagemaker) as stub:
        stub.add_client_error("delete_endpoint", "ValidationException", IN_PROGRESS.format(name=name))
        stub.add_response("describe_endpoint", described(name, "InService"), {"EndpointName": name})
        with pytest.raises(EndpointNotDeletableError):
            control.delete(name)


def test_other_delete_errors_stay_plain_endpoint_errors(aws) -> None:
    name = "ondemand-sentiment-20260101t120000"
    control = sagemaker_endpoints()
    with Stubber(control.sagemaker) as stub:
        stub.add_client_error("delete_endpoint", "ThrottlingException", "Rate exceeded")
        stub.add_client_error("delete_endpoint", "ValidationException", "Something else is wrong.")
        stub.add_response("describe_endpoint", described(name, "InService"), {"EndpointName": name})
        for _ in range(2):
            with pytest.raises(EndpointError) as failed:
                control.delete(name)
            assert not isinstance(failed.value, EndpointNotDeletableError)


def test_list_reads_every_page_and_only_the_prefix(aws, monkeypatch) -> None:
    approve_model()
    control = sagemaker_endpoints()
    names = [f"ondemand-sentiment-20260101t12{m:02d}00" for m in range(5)]
    for name in names:
        control.create(name)
    boto3.client("sagemaker").create_endpoint(
        EndpointName="other-team-endpoint", EndpointConfigName=control.config_name("sentiment-minilm-v1")
    )
    pages = []
    real_paginate = control.sagemaker.get_paginator("list_endpoints").paginate

    class TwoPerPage:
        def paginate(self, **kwargs):
            for page in real_paginate(**kwargs, PaginationConfig={"PageSize": 2}):
                pages.append(len(page["Endpoints"]))
                yield page

    monkeypatch.setattr(control.sagemaker, "get_paginator", lambda _: TwoPerPage())
    listed = control.list("ondemand-sentiment-")
    assert sorted(e.name for e in listed) == names
    assert len(pages) >= 3


def test_invoke_posts_json_and_returns_the_answer(aws) -> None:
    control = sagemaker_endpoints()
    answer = {"predictions": [{"label": "POSITIVE", "label_id": 1, "prob": 0.97}], "latency_ms": 4, "model": "m"}
    with Stubber(control.runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": io.BytesIO(json.dumps(answer).encode()), "ContentType": "application/json"},
            {
                "EndpointName": "ondemand-sentiment-x",
                "ContentType": "application/json",
                "Accept": "application/json",
                "Body": json.dumps({"texts": ["great"]}).encode(),
            },
        )
        assert control.invoke("ondemand-sentiment-x", {"texts": ["great"]}) == answer


def test_an_invocation_error_is_an_endpoint_error(aws) -> None:
    control = sagemaker_endpoints()
    with Stubber(control.runtime) as stub:
        stub.add_client_error("invoke_endpoint", "ModelError", "Received server error (500) from primary")
        with pytest.raises(EndpointError, match="server error"):
            control.invoke("ondemand-sentiment-x", {"texts": ["great"]})


# ----- EventBridge Scheduler -----


def make_scheduler() -> EventBridgeScheduler:
    client = boto3.client("scheduler")
    client.create_schedule_group(Name="ondemand-teardown")
    return EventBridgeScheduler(
        client,
        group_name="ondemand-teardown",
        role_arn="arn:aws:iam::123456789012:role/scheduler",
        target_arn="arn:aws:lambda:us-east-1:123456789012:function:teardown",
    )


def test_a_schedule_is_one_time_deletes_itself_and_carries_the_payload(aws) -> None:
    scheduler = make_scheduler()
    at = datetime(2026, 1, 1, 12, 37, 30, 400000, tzinfo=UTC)
    scheduler.schedule("teardown-ondemand-sentiment-x", at, {"endpoint_name": "ondemand-sentiment-x"})
    stored = scheduler.client.get_schedule(Name="teardown-ondemand-sentiment-x", GroupName="ondemand-teardown")
    # Rounded up to the minute: Scheduler fires an at() anywhere in its minute, so 12:37:30 could fire at 12:37:00.
    assert stored["ScheduleExpression"] == "at(2026-01-01T12:38:00)"
    assert stored["ScheduleExpressionTimezone"] == "UTC"
    assert stored["ActionAfterCompletion"] == "DELETE"
    assert json.loads(stored["Target"]["Input"]) == {"endpoint_name": "ondemand-sentiment-x"}


def test_scheduling_the_same_name_twice_leaves_one_schedule_at_the_later_time(aws) -> None:
    scheduler = make_scheduler()
    scheduler.schedule("teardown-x", datetime(2026, 1, 1, 12, 30, tzinfo=UTC), {"endpoint_name": "x"})
    scheduler.schedule("teardown-x", datetime(2026, 1, 1, 13, 0, tzinfo=UTC), {"endpoint_name": "x"})
    schedules = scheduler.client.list_schedules(GroupName="ondemand-teardown")["Schedules"]
    assert [s["Name"] for s in schedules] == ["teardown-x"]
    stored = scheduler.client.get_schedule(Name="teardown-x", GroupName="ondemand-teardown")
    assert stored["ScheduleExpression"] == "at(2026-01-01T13:00:00)"


@pytest.mark.parametrize(
    ("at", "expression"),
    [
        (datetime(2026, 1, 1, 12, 37, 0, tzinfo=UTC), "at(2026-01-01T12:37:00)"),
        (datetime(2026, 1, 1, 12, 37, 0, 1, tzinfo=UTC), "at(2026-01-01T12:38:00)"),
        (datetime(2026, 12, 31, 23, 59, 1, tzinfo=UTC), "at(2027-01-01T00:00:00)"),
        (datetime(2026, 1, 1, 14, 37, 59, tzinfo=timezone(timedelta(hours=2))), "at(2026-01-01T12:38:00)"),
    ],
)
def test_the_at_expression_is_never_before_the_moment_asked_for(aws, at, expression) -> None:
    assert make_scheduler().request("teardown-x", at, {})["ScheduleExpression"] == expression


def test_cancelling_a_missing_schedule_is_fine_and_a_real_failure_is_reported(aws) -> None:
    scheduler = make_scheduler()
    scheduler.cancel("teardown-never-made")
    with Stubber(scheduler.client) as stub:
        stub.add_client_error("create_schedule", "ValidationException", "The role cannot be assumed")
        with pytest.raises(SchedulerError, match="cannot be assumed"):
            scheduler.schedule("teardown-x", datetime(2026, 1, 1, tzinfo=UTC), {})


# ----- SNS -----


def test_sns_sends_a_transactional_sms(aws) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    result = SnsNotifier(boto3.client("sns")).send(PHONE_A, "Your sentiment model is ready.")
    assert result.ok and result.detail.startswith("MessageId=")
    messages = list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())
    assert messages == [(PHONE_A, "Your sentiment model is ready.")]


def test_sns_refusing_is_a_failed_result(aws) -> None:
    client = boto3.client("sns")
    with Stubber(client) as stub:
        stub.add_client_error("publish", "OptedOut", "Phone number is opted out")
        result = SnsNotifier(client).send(PHONE_A, "hello")
    assert not result.ok and "OptedOut" in result.detail


def test_sns_unreachable_is_a_notifier_error(aws, monkeypatch) -> None:
    client = boto3.client("sns")

    def unreachable(**_):
        raise EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com")

    monkeypatch.setattr(client, "publish", unreachable)
    with pytest.raises(NotifierError, match="could not be reached"):
        SnsNotifier(client).send(PHONE_A, "hello")


# ----- Textbelt -----


class FakeTextbelt:
    def __init__(self, status: int = 200, answer: object = None, error: Exception | None = None) -> None:
        self.status, self.answer, self.error = status, answer, error
        self.requests: list[tuple[str, dict[str, str]]] = []

    def __call__(self, url: str, fields: dict[str, str]) -> tuple[int, bytes]:
        self.requests.append((url, fields))
        if self.error:
            raise self.error
        body = self.answer if isinstance(self.answer, bytes) else json.dumps(self.answer).encode()
        return self.status, body


def test_textbelt_posts_phone_message_and_key() -> None:
    post = FakeTextbelt(answer={"success": True, "textId": "1234", "quotaRemaining": 40})
    result = TextbeltNotifier(lambda: "k3y", "https://textbelt.com/text", post).send(PHONE_A, "ready")
    assert result.ok and "textId=1234" in result.detail
    assert post.requests == [("https://textbelt.com/text", {"phone": PHONE_A, "message": "ready", "key": "k3y"})]


def test_textbelt_refusing_is_a_failed_result_with_its_error() -> None:
    post = FakeTextbelt(answer={"success": False, "error": "Out of quota", "quotaRemaining": 0})
    result = TextbeltNotifier(lambda: "k3y", post=post).send(PHONE_A, "ready")
    assert not result.ok and "Out of quota" in result.detail


def test_textbelt_low_quota_is_logged(caplog) -> None:
    post = FakeTextbelt(answer={"success": True, "textId": "9", "quotaRemaining": 2})
    with caplog.at_level(logging.WARNING):
        assert TextbeltNotifier(lambda: "k3y", post=post).send(PHONE_A, "ready").ok
    assert "quota is low: 2" in caplog.text


@pytest.mark.parametrize(
    "post",
    [
        FakeTextbelt(error=urllib.error.URLError("Name or service not known")),
        FakeTextbelt(error=TimeoutError("timed out")),
        FakeTextbelt(status=502, answer=b"<html>Bad Gateway</html>"),
    ],
)
def test_textbelt_unreachable_or_garbled_is_a_notifier_error(post: FakeTextbelt) -> None:
    with pytest.raises(NotifierError, match="Textbelt"):
        TextbeltNotifier(lambda: "k3y", post=post).send(PHONE_A, "ready")


# The Textbelt key and the rate-limit pepper (Secrets Manager): tests/unit/aws/test_secrets.py


# ----- the whole AWS wiring -----


@pytest.mark.parametrize("queued", [False, True], ids=["inline", "through-sqs"])
def test_start_to_sms_through_the_aws_adapters(aws, state_table, monkeypatch, event, queued: bool) -> None:
    """What a Lambda container builds from its environment: /start creates a real (moto) endpoint; the InService
    event schedules the teardown and sends an SNS SMS (with TEXT_QUEUE_URL: queues it on SQS, and the texts
    function sends it once, however often SQS delivers it)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    for name, value in {
        "STATE_TABLE_NAME": "aws-wiring-state",
        "ENDPOINT_NAME_PREFIX": "ondemand-sentiment",
        "INSTANCE_TYPE": "ml.g4dn.xlarge",
        "APPROVED_MODEL_PARAMETER": "/ondemand-sentiment/approved-model",
        "SCHEDULE_GROUP_NAME": "ondemand-teardown",
        "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/ondemand-scheduler",
        "TEARDOWN_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:ondemand-teardown",
        "SMS_PROVIDER": "sns",
        "RATE_LIMIT_TABLE_NAME": "aws-wiring-rates",
    }.items():
        monkeypatch.setenv(name, value)
    pepper = boto3.client("secretsmanager").create_secret(Name="aws-wiring-pepper", SecretString="pepper")
    monkeypatch.setenv("RATE_LIMIT_PEPPER_SECRET", pepper["ARN"])
    state_table(boto3.client("dynamodb"), "aws-wiring-state")
    create_table_from_template(boto3.client("dynamodb"), "RateLimitTable", "aws-wiring-rates")
    approve_model()
    boto3.client("scheduler").create_schedule_group(Name="ondemand-teardown")
    if queued:
        monkeypatch.setenv("TEXT_QUEUE_URL", boto3.client("sqs").create_queue(QueueName="aws-wiring-texts")["QueueUrl"])
    service = service_from_environment()
    handlers = SimpleNamespace(
        api=confirming(api.make_handler(service), service), endpoint_events=endpoint_events.make_handler(service)
    )

    response = handlers.api(event("apigw_start"), None)
    assert response["statusCode"] == 202
    name = json.loads(response["body"])["endpoint_name"]
    assert boto3.client("sagemaker").describe_endpoint(EndpointName=name)

    in_service = event("endpoint_state_change_in_service")
    in_service["detail"]["EndpointName"] = name
    queue_model_answers("m")  # the InService event texts only after a canary prediction
    assert handlers.endpoint_events(in_service, None)["outcome"].startswith("promoted")
    handlers.endpoint_events(in_service, None)

    status = json.loads(handlers.api(event("apigw_status"), None)["body"])
    assert status["state"] == "IN_SERVICE" and status["seconds_left"] > 0
    schedules = boto3.client("scheduler").list_schedules(GroupName="ondemand-teardown")["Schedules"]
    # One teardown and one stop notice, each once although the InService event came twice.
    assert sorted(s["Name"] for s in schedules) == [f"notice-{name}", f"teardown-{name}"]
    sms_sent = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages
    if queued:
        assert len(sms_sent) == 0  # queued, not sent, by the InService handler
        sqs, url = boto3.client("sqs"), os.environ["TEXT_QUEUE_URL"]
        [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        record = {"messageId": message["MessageId"], "body": message["Body"], "attributes": {}}
        for _ in range(2):  # SQS delivers at least once
            assert texts.make_handler(service)({"Records": [record]}, None) == {"batchItemFailures": []}
    sms = list(sms_sent.values())
    assert [phone for phone, _ in sms] == [PHONE_A]


def test_every_status_sagemaker_documents_is_understood(aws) -> None:
    """DescribeEndpoint's EndpointStatus enum, from botocore's own service model."""
    shape = boto3.client("sagemaker").meta.service_model.shape_for("EndpointStatus")
    assert set(shape.enum) <= {s.value for s in EndpointStatus}
