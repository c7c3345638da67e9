"""Fixtures for the lifecycle tests: moto-backed DynamoDB (table from template.yaml), fakes for the other ports,
and a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from lifecycle_fakes import FakeEndpoints, FakeScheduler, RecordingNotifier
from moto import mock_aws
from ondemand import wiring
from ondemand.adapters.dynamodb import DynamoStateStore
from ondemand.lifecycle import EndpointLifecycle
from ondemand.settings import get_settings
from ondemand.wiring import Adapters

TABLE = "test-ondemand-state"


class Clock:
    """Starts at the real time (handlers use the real clock) and moves only when told."""

    def __init__(self) -> None:
        self.current = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "STATE_TABLE_NAME": TABLE,
        "SMS_PROVIDER": "none",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "DYNAMODB_ENDPOINT_URL", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    wiring.install(None)


@pytest.fixture
def aws(aws_env: None) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(aws: None, state_table, clock: Clock) -> DynamoStateStore:
    state_table(boto3.client("dynamodb"), TABLE)
    return DynamoStateStore(TABLE, history_limit=get_settings().history_limit, now=clock)


@pytest.fixture
def endpoints() -> FakeEndpoints:
    return FakeEndpoints()


@pytest.fixture
def scheduler() -> FakeScheduler:
    return FakeScheduler()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def adapters(store, endpoints, scheduler, notifier) -> Adapters:
    """The fakes, also installed for the handlers."""
    installed = Adapters(store, endpoints, scheduler, notifier, admin_api_key=lambda: "s3cret-admin-key")
    wiring.install(installed)
    return installed


@pytest.fixture
def machine(adapters: Adapters, clock: Clock) -> EndpointLifecycle:
    return EndpointLifecycle(adapters, get_settings(), now=clock, sleep=lambda _: None)
