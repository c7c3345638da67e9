"""Abuse limits a user would notice: a 4th /start for one phone in the hour is 429 with Retry-After, one client
cannot text a stream of phones, a refused call does not extend the window, and texts go out about one a second."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest
from jsonschema import Draft202012Validator
from ondemand.adapters.rate_limit import DynamoRateLimiter
from ondemand.bootstrap import Handler, Service, bootstrap
from ondemand.domain import EndpointStatus
from ondemand.handlers import api

from tests.conftest import create_table_from_template
from tests.lifecycle_driver import LifecycleDriver, confirming
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A, PHONE_B, PHONE_C
from tests.unit.lifecycle.test_lifecycle_openapi import schema_for

RATE_TABLE = "test-ondemand-rate-limits"


@pytest.fixture
def rate_limits(aws: None) -> None:
    """The RateLimitTable of template.yaml in moto."""
    create_table_from_template(boto3.client("dynamodb"), "RateLimitTable", RATE_TABLE)


@pytest.fixture
def limited(rate_limits: None, adapters, settings, clock) -> Callable[..., Service]:
    """`limited(start_limit_per_client=2)`: the service with the limits the stack deploys (3 per phone, 10 per
    client an hour), on the rate table, with any limit overridden."""

    def build(**limits: int) -> Service:
        deployed = {"start_limit_per_phone": 3, "start_limit_per_client": 10, "start_limit_window_seconds": 3600}
        limited_settings = dataclasses.replace(settings, rate_limit_table_name=RATE_TABLE, **(deployed | limits))
        limiter = DynamoRateLimiter(RATE_TABLE, lambda: "test-pepper")
        return bootstrap(limited_settings, dataclasses.replace(adapters, rate_limiter=limiter), now=clock)

    return build


def start(
    handler: Handler,
    event,
    phone: str | None = None,
    source_ip: str = "203.0.113.10",
) -> tuple[int, dict[str, Any], dict]:
    request = event("apigw_start")
    request["body"] = json.dumps({} if phone is None else {"phone": phone})
    request["requestContext"]["identity"]["sourceIp"] = source_ip
    response = handler(request, None)
    headers = {**(response.get("headers") or {})}
    headers.update({k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()})
    return response["statusCode"], json.loads(response["body"]), headers


def test_the_fourth_start_for_one_phone_in_the_hour_is_429_with_retry_after(limited, event) -> None:
    service = limited()
    handler = confirming(confirming(api.make_handler(service), service), service)
    for _ in range(3):
        status, _, _ = start(handler, event, PHONE_A)
        assert status == 202
    status, body, headers = start(handler, event, PHONE_A, source_ip="198.51.100.7")  # another address does not help
    assert status == 429
    assert body["error"] == "rate_limited" and "phone number" in body["message"]
    assert 0 < int(headers["Retry-After"]) <= 3600
    Draft202012Validator(schema_for("429", "/start", "post")).validate(body)
    assert start(handler, event, PHONE_B)[0] == 202  # other people can still ask to be texted


def test_one_client_cannot_text_a_stream_of_phone_numbers(limited, event) -> None:
    service = limited(start_limit_per_client=2)
    handler = confirming(confirming(api.make_handler(service), service), service)
    assert start(handler, event, PHONE_A)[0] == 202
    assert start(handler, event, PHONE_B)[0] == 202
    status, body, headers = start(handler, event, PHONE_C)
    assert (status, body["error"]) == (429, "rate_limited")
    assert "address" in body["message"] and int(headers["Retry-After"]) > 0
    assert start(handler, event, PHONE_C, source_ip="198.51.100.7")[0] == 202


def test_starts_that_cost_nothing_are_not_counted_against_the_client(limited, event, endpoints) -> None:
    service = limited(start_limit_per_client=1)
    handler = confirming(api.make_handler(service), service)
    status, started, _ = start(handler, event)
    assert status == 202
    endpoints.set_status(started["endpoint_name"], EndpointStatus.IN_SERVICE)
    LifecycleDriver(service).on_endpoint_status(started["endpoint_name"], EndpointStatus.IN_SERVICE)
    for _ in range(5):  # a page reloading and clicking Start while the model is up
        assert start(handler, event)[0] == 200


def test_the_limit_is_off_without_a_rate_table(service, event) -> None:
    assert service.adapters.rate_limiter is None
    handler = confirming(api.make_handler(service), service)
    assert [start(handler, event, PHONE_A)[0] for _ in range(5)] == [202] * 5


def test_a_window_refuses_without_counting_then_resets_and_never_stores_the_number(rate_limits) -> None:
    clock = [7200.0 + 100]
    limiter = DynamoRateLimiter(RATE_TABLE, lambda: "test-pepper", now=lambda: clock[0])
    key = f"start#phone#{PHONE_A}"
    assert [limiter.acquire(key, 2, 3600) for _ in range(2)] == [None, None]
    assert limiter.acquire(key, 2, 3600) == 3500
    clock[0] += 3499.5
    assert limiter.acquire(key, 2, 3600) == 1
    clock[0] += 1
    assert limiter.acquire(key, 2, 3600) is None  # a new window
    items = boto3.client("dynamodb").scan(TableName=RATE_TABLE)["Items"]
    assert {item["hits"]["N"] for item in items} == {"2", "1"}  # the refused calls were not counted
    assert PHONE_A not in json.dumps(items)
    assert all(int(item["expires_at"]["N"]) > clock[0] for item in items)  # TTL removes them after the window


def test_the_template_expires_counters_on_the_attribute_the_code_writes(template) -> None:
    table = template["Resources"]["RateLimitTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["RATE_LIMIT_TABLE_NAME"] == {"Ref": "RateLimitTable"}
    assert (env["START_LIMIT_PER_PHONE"], env["START_LIMIT_PER_CLIENT"]) == ("3", "10")
    stage = template["Resources"]["Api"]["Properties"]["MethodSettings"][0]
    assert stage["ThrottlingRateLimit"] <= 10 and stage["ThrottlingBurstLimit"] <= 20


def test_texts_go_out_about_one_a_second(adapters, settings, notifier, clock) -> None:
    pauses: list[float] = []
    machine = LifecycleDriver(bootstrap(settings, adapters, now=clock, sleep=pauses.append))
    name = machine.start(PHONE_A).state.endpoint_name
    machine.start(PHONE_B)
    machine.start(PHONE_C)
    clock.advance(seconds=timedelta(minutes=5).total_seconds())
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    assert [phone for phone, _ in notifier.sent] == [PHONE_A, PHONE_B, PHONE_C]
    assert pauses.count(settings.sms_min_interval_seconds) == 2
    assert settings.sms_min_interval_seconds == 1.0
