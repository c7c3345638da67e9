"""50 people click Start at the same moment: one endpoint, one schedule, one text per person, every caller 200/202.

Real moving parts over real sockets: moto's server on a free loopback port stands in for DynamoDB, SageMaker,
SSM, EventBridge Scheduler and SNS; the handlers use the same AWS adapters they use on Lambda (pynamodb with
optimistic locking, boto3 clients), called from 50 threads at once.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import requests
from ondemand.adapters.aws import build_aws_adapters
from ondemand.bootstrap import Handler, bootstrap
from ondemand.handlers import api, endpoint_events

from local_runtime.state_server import LoopbackMotoServer
from tests.conftest import queue_model_answers
from tests.lifecycle_driver import confirming
from tests.settings_factory import make_settings

CALLERS = 50
PHONES = [f"+1202555{n:04d}" for n in range(10)]  # 10 people, each clicking several times
GROUP = "ondemand-sentiment-teardown"
MODEL = "sentiment-minilm-v1"


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # moto's server behind the local runtime's guard: moto alone lets two identical conditional writes both pass.
    server = LoopbackMotoServer()
    url = server.start()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": url,  # every boto3 client, the adapters' and the test's
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def stack(moto_server: str, state_table) -> dict[str, Any]:
    """The stack's resources on the moto server, and the handlers on the AWS adapters with a CreateEndpoint counter."""
    settings = make_settings(
        table_name="concurrent-start-state",
        dynamodb_endpoint_url=moto_server,
        sms_provider="sns",
        schedule_group_name=GROUP,
    )
    state_table(boto3.client("dynamodb"), settings.table_name)  # key schema from template.yaml
    boto3.client("sagemaker").create_model(
        ModelName=MODEL,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker-execution",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/hf:latest"},
    )
    boto3.client("ssm").put_parameter(Name=settings.approved_model_parameter, Value=MODEL, Type="String")
    boto3.client("scheduler").create_schedule_group(Name=GROUP)

    adapters = build_aws_adapters(settings)
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def count(event_name: str, **_: Any) -> None:
        with lock:
            calls[event_name.rsplit(".", 1)[-1]] += 1

    adapters.endpoints.sagemaker.meta.events.register("before-call.sagemaker.CreateEndpoint", count)
    # No rate table here, so the consent tokens get a key of their own; every caller confirmed its number first.
    service = bootstrap(settings, dataclasses.replace(adapters, consent_key=lambda: b"concurrent-start-key"))
    return {
        "url": moto_server,
        "calls": calls,
        "api": confirming(api.make_handler(service), service),
        "endpoint_events": endpoint_events.make_handler(service),
    }


def click_start(
    handler: Handler,
    request: dict[str, Any],
    phone: str | None,
    barrier: threading.Barrier,
) -> tuple[int, dict[str, Any]]:
    request["body"] = json.dumps({"phone": phone} if phone else {})
    barrier.wait()
    response = handler(request, None)
    return response["statusCode"], json.loads(response["body"])


def sms_sent(url: str) -> list[str]:
    """Phone numbers SNS texted, from moto's own record of what it sent."""
    data = requests.get(f"{url}/moto-api/data.json", timeout=10).json()
    return [sms["phone_number"] for sms in data["sns"]["SMS"]]


def test_fifty_concurrent_starts_make_one_endpoint_one_schedule_and_one_text_each(stack: dict[str, Any], event) -> None:
    callers = [PHONES[i % len(PHONES)] if i % 7 else None for i in range(CALLERS)]
    people = sorted({phone for phone in callers if phone})
    assert len(people) == len(PHONES)
    barrier = threading.Barrier(CALLERS)
    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        answers = list(pool.map(lambda phone: click_start(stack["api"], event("apigw_start"), phone, barrier), callers))

    statuses = Counter(status for status, _ in answers)
    assert set(statuses) <= {200, 202}, statuses
    assert stack["calls"]["CreateEndpoint"] == 1
    endpoints = boto3.client("sagemaker").list_endpoints(NameContains="ondemand-sentiment-")["Endpoints"]
    assert len(endpoints) == 1
    name = endpoints[0]["EndpointName"]
    assert {body["endpoint_name"] for _, body in answers} == {name}
    status = json.loads(stack["api"](event("apigw_status"), None)["body"])
    assert status["state"] == "STARTING"
    assert status["subscribers_count"] == len(people)

    # SageMaker says InService; EventBridge may deliver it more than once, and at the same time. Each delivery first
    # invokes the endpoint once (the canary): moto answers what its results queue holds, the model's answer here.
    queue_model_answers(MODEL, moto_url=stack["url"])
    in_service = event("endpoint_state_change_in_service")
    in_service["detail"]["EndpointName"] = name
    with ThreadPoolExecutor(max_workers=4) as pool:
        deliveries = [dict(in_service) for _ in range(4)]
        outcomes = list(pool.map(lambda delivery: stack["endpoint_events"](delivery, None), deliveries))
    assert sum(o["outcome"].startswith("promoted") for o in outcomes) == 1

    schedules = boto3.client("scheduler").list_schedules(GroupName=GROUP)["Schedules"]
    assert sorted(s["Name"] for s in schedules) == [f"notice-{name}", f"teardown-{name}"]  # one each
    assert sorted(sms_sent(stack["url"])) == people

    # Everyone who clicks now gets 200, and still nobody creates a second endpoint.
    late = threading.Barrier(5)
    with ThreadPoolExecutor(max_workers=5) as pool:
        again = list(pool.map(lambda phone: click_start(stack["api"], event("apigw_start"), phone, late), PHONES[:5]))
    assert {status for status, _ in again} == {200}
    assert stack["calls"]["CreateEndpoint"] == 1
