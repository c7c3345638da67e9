"""`clocked_limits(adapters, settings, clock)`: the service on moto's rate table (RateLimitTable of template.yaml),
its windows following the test's clock, so a test can step to the end of an hour or a UTC day."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import boto3
from ondemand.adapters.rate_limit import DynamoRateLimiter
from ondemand.bootstrap import Service, bootstrap
from ondemand.ports import Adapters
from ondemand.settings import Settings

from tests.conftest import create_table_from_template
from tests.unit.lifecycle.conftest import Clock

RATE_TABLE = "test-clocked-rate-limits"


def clocked_limits(adapters: Adapters, settings: Settings, clock: Clock) -> Callable[..., Service]:
    """Creates the table (call once per test, inside moto) and returns `build(**settings_overrides)`."""
    create_table_from_template(boto3.client("dynamodb"), "RateLimitTable", RATE_TABLE)
    limiter = DynamoRateLimiter(RATE_TABLE, lambda: "test-pepper", now=lambda: clock().timestamp())

    def build(**overrides: object) -> Service:
        limited = dataclasses.replace(settings, rate_limit_table_name=RATE_TABLE, **overrides)
        return bootstrap(limited, dataclasses.replace(adapters, rate_limiter=limiter), now=clock, sleep=lambda _: None)

    return build
