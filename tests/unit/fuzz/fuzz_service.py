"""The API handler on a service whose model is IN_SERVICE, for the fuzz tests (unit, and the local gateway's)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import boto3
import pytest
from moto import mock_aws
from ondemand.adapters.dynamodb import DynamoStateStore
from ondemand.adapters.rate_limit import DynamoRateLimiter
from ondemand.bootstrap import Handler, bootstrap
from ondemand.domain import EndpointError, EndpointStatus
from ondemand.handlers import api
from ondemand.ports import Adapters

from tests.conftest import create_table_from_template
from tests.lifecycle_driver import LifecycleDriver
from tests.settings_factory import TEST_STATE_TABLE, make_settings
from tests.unit.lifecycle.lifecycle_fakes import FakeEndpoints, FakeScheduler, RecordingNotifier

ASCII_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
RATE_TABLE = "test-fuzz-rate-limits"


class ModelLikeEndpoints(FakeEndpoints):
    """The fake endpoint, strict where the real model server is: it must encode every text as UTF-8 to tokenize it
    (tests/integration/test_fuzz_model_server.py checks the real one), and a refusal reaches the API as SageMaker's
    ModelError does, an EndpointError."""

    def invoke(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise EndpointError("the model answered 400: a text is not valid Unicode") from exc
        return super().invoke(name, payload)


class PhoneWitness:
    """Every phone number that got past the handler's validation: keyed in the rate limiter or texted."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def foreign(self) -> list[str]:
        return [phone for phone in self.seen if not ASCII_E164.fullmatch(phone)]


class WitnessedLimiter:
    def __init__(self, limiter: DynamoRateLimiter, witness: PhoneWitness) -> None:
        self.limiter = limiter
        self.witness = witness

    def acquire(self, key: str, limit: int, window_seconds: int) -> int | None:
        if key.startswith("start#phone#"):
            self.witness.seen.append(key.removeprefix("start#phone#"))
        return self.limiter.acquire(key, limit, window_seconds)

    def release(self, key: str, window_seconds: int) -> None:
        self.limiter.release(key, window_seconds)


class InService(NamedTuple):
    handler: Handler
    witness: PhoneWitness
    notifier: RecordingNotifier


@contextmanager
def api_in_service_context() -> Iterator[InService]:
    """The API handler on a service whose model is IN_SERVICE; one for the module (hypothesis calls it thousands of
    times). The per-client limit is lifted: one fuzzer is one address."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }.items():
            env.setenv(name, value)
        for name in ("AWS_PROFILE", "DYNAMODB_ENDPOINT_URL", "AWS_ENDPOINT_URL"):
            env.delenv(name, raising=False)
        with mock_aws():
            dynamodb = boto3.client("dynamodb")
            create_table_from_template(dynamodb, "StateTable", TEST_STATE_TABLE)
            create_table_from_template(dynamodb, "RateLimitTable", RATE_TABLE)
            settings = make_settings(
                rate_limit_table_name=RATE_TABLE, start_limit_per_client=10**9, code_limit_per_client=10**9
            )
            witness, notifier, endpoints = PhoneWitness(), RecordingNotifier(), ModelLikeEndpoints()
            limiter = WitnessedLimiter(DynamoRateLimiter(RATE_TABLE, lambda: "fuzz-pepper"), witness)
            adapters = Adapters(
                DynamoStateStore(TEST_STATE_TABLE),
                endpoints,
                FakeScheduler(),
                notifier,
                rate_limiter=limiter,
                admin_api_key=lambda: "fuzz-admin-key",
                consent_key=lambda: b"fuzz-pepper",  # the witness wraps the limiter, so its pepper is not found
            )
            service = bootstrap(settings, adapters, sleep=lambda _: None)
            started = LifecycleDriver(service).start()
            name = started.state.endpoint_name or ""
            endpoints.set_status(name, EndpointStatus.IN_SERVICE)
            LifecycleDriver(service).on_endpoint_status(name, EndpointStatus.IN_SERVICE)
            yield InService(api.make_handler(service), witness, notifier)
