"""Fixtures for the lifecycle tests: moto-backed DynamoDB (table from template.yaml), fakes for the other ports,
a clock the test moves by hand, and the service `bootstrap` builds on them, with each handler made on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws
from ondemand.adapters.dynamodb import DynamoStateStore
from ondemand.bootstrap import Handler, Service, bootstrap
from ondemand.handlers import api, endpoint_events, reconciler, teardown
from ondemand.ports import Adapters
from ondemand.settings import Settings

from tests.lifecycle_driver import LifecycleDriver, confirming
from tests.settings_factory import TEST_STATE_TABLE, make_settings
from tests.unit.lifecycle.lifecycle_fakes import FakeEndpoints, FakeScheduler, RecordingNotifier

TABLE = TEST_STATE_TABLE
ADMIN_KEY = "s3cret-admin-key"
CONSENT_KEY = b"test-consent-key"


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
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "DYNAMODB_ENDPOINT_URL", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def aws(aws_env: None) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings() -> Settings:
    """Override in a test module (or use dataclasses.replace on it) to change a setting."""
    return make_settings()


@pytest.fixture
def store(aws: None, state_table, clock: Clock, settings: Settings) -> DynamoStateStore:
    state_table(boto3.client("dynamodb"), TABLE)
    return DynamoStateStore(TABLE, history_limit=settings.history_limit, now=clock)


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
    # No rate limiter here, so no pepper: the consent codes and tokens get a key of their own.
    return Adapters(
        store, endpoints, scheduler, notifier, admin_api_key=lambda: ADMIN_KEY, consent_key=lambda: CONSENT_KEY
    )


@pytest.fixture
def service(adapters: Adapters, settings: Settings, clock: Clock) -> Service:
    return bootstrap(settings, adapters, now=clock, sleep=lambda _: None)


@pytest.fixture
def machine(service: Service) -> LifecycleDriver:
    return LifecycleDriver(service)


@dataclass(frozen=True)
class Handlers:
    """Each Lambda handler, made on the test's service."""

    api: Handler
    endpoint_events: Handler
    teardown: Handler
    reconciler: Handler


@pytest.fixture
def handlers(service: Service) -> Handlers:
    return Handlers(
        api=confirming(api.make_handler(service), service),  # starts with a phone confirm it (not the consent tests)
        endpoint_events=endpoint_events.make_handler(service),
        teardown=teardown.make_handler(service),
        reconciler=reconciler.make_handler(service),
    )
