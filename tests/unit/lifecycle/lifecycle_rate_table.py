"""`with_rate_table(adapters, clock)`: the adapters with a rate limiter and the texts' claims on moto's rate table
(RateLimitTable of template.yaml), whose windows and leases follow the test's clock, so a test can step to the end of
an hour or a UTC day."""

from __future__ import annotations

import dataclasses

import boto3
from ondemand.adapters.rate_limit import DynamoRateLimiter, DynamoTextClaims
from ondemand.ports import Adapters

from tests.conftest import create_table_from_template
from tests.unit.lifecycle.conftest import Clock

RATE_TABLE = "test-clocked-rate-limits"


def with_rate_table(adapters: Adapters, clock: Clock) -> Adapters:
    """Creates the table (once per test, inside moto)."""
    create_table_from_template(boto3.client("dynamodb"), "RateLimitTable", RATE_TABLE)
    limiter = DynamoRateLimiter(RATE_TABLE, lambda: "test-pepper", now=lambda: clock().timestamp())
    claims = DynamoTextClaims(RATE_TABLE, lambda: "test-pepper", now=lambda: clock().timestamp())
    return dataclasses.replace(adapters, rate_limiter=limiter, text_claims=claims)
