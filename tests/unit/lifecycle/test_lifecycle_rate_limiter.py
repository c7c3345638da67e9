"""The rate limiter fails loudly, never open and never shut: an error of DynamoDB is an error (500), not a full
window (429); no pepper means no counting; the pepper is read once; Retry-After never asks to come back too early;
and a copy of the table names nobody without the pepper."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import boto3
import pytest
from ondemand.adapters.rate_limit import DynamoRateLimiter, MissingPepperError, hashed
from ondemand.bootstrap import bootstrap
from ondemand.handlers import api
from pynamodb.exceptions import UpdateError

from tests.conftest import create_table_from_template
from tests.lifecycle_driver import confirming
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A
from tests.unit.lifecycle.test_lifecycle_api import invoke

TABLE = "test-limiter-rate-limits"
KEY = f"start#phone#{PHONE_A}"


@pytest.fixture
def table(aws) -> str:
    create_table_from_template(boto3.client("dynamodb"), "RateLimitTable", TABLE)
    return TABLE


def test_a_dynamodb_error_is_an_error_not_a_full_window(aws, adapters, settings, clock, event) -> None:
    broken = DynamoRateLimiter("no-such-table", lambda: "test-pepper")
    with pytest.raises(UpdateError, match="ResourceNotFoundException"):
        broken.acquire(KEY, 3, 3600)
    service = bootstrap(
        dataclasses.replace(settings, rate_limit_table_name="no-such-table"),
        dataclasses.replace(adapters, rate_limiter=broken),
        now=clock,
    )
    handler = confirming(api.make_handler(service), service)
    status, body, headers = invoke(handler, event("apigw_start"), {"phone": PHONE_A})
    assert (status, body["error"]) == (500, "internal_error") and "Retry-After" not in headers


@pytest.mark.parametrize("pepper", [None, ""])
def test_without_a_pepper_nothing_is_counted(table, pepper) -> None:
    limiter = DynamoRateLimiter(table, lambda: pepper)
    with pytest.raises(MissingPepperError, match="pepper"):
        limiter.acquire(KEY, 3, 3600)
    with pytest.raises(MissingPepperError):
        hashed(KEY, b"")
    assert boto3.client("dynamodb").scan(TableName=table)["Items"] == []


def test_the_pepper_is_read_once(table) -> None:
    reads: list[str] = []
    limiter = DynamoRateLimiter(table, lambda: reads.append("read") or "test-pepper")
    for _ in range(3):
        limiter.acquire(KEY, 10, 3600)
    assert reads == ["read"]


def test_retry_after_rounds_up_to_the_end_of_the_window(table) -> None:
    limiter = DynamoRateLimiter(table, lambda: "test-pepper", now=lambda: 3 * 3600 - 1.5)
    assert limiter.acquire(KEY, 1, 3600) is None
    assert limiter.acquire(KEY, 1, 3600) == 2


def test_a_copy_of_the_table_does_not_name_the_number_without_the_pepper(table) -> None:
    DynamoRateLimiter(table, lambda: "test-pepper").acquire(KEY, 3, 3600)
    stored = json.dumps(boto3.client("dynamodb").scan(TableName=table)["Items"])
    assert PHONE_A not in stored and hashlib.sha256(KEY.encode()).hexdigest() not in stored
