"""The fake API the browser tests use answers in the shapes api/openapi.yaml documents, so the page is tested
against the contract the real handlers are checked against, not against a private invention."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from jsonschema import ValidationError
from ondemand.consent import UNCONFIRMED
from ondemand.handlers import api as api_handler
from openapi_schema_validator import OAS30Validator

from tests.e2e import fake_api
from tests.e2e.fake_api import FakeModel, serve_fake_api
from tests.e2e.test_page_tiers_notice_budget import TRAINING

DOCUMENT = yaml.safe_load((Path(__file__).resolve().parents[2] / "api" / "openapi.yaml").read_text())


def response_schema(path: str, status: int) -> dict[str, Any]:
    """The documented schema of one response, with the document's components beside it for its $refs."""
    response = DOCUMENT["paths"][path]["post" if path != "/status" else "get"]["responses"][str(status)]
    if "$ref" in response:
        response = DOCUMENT["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return {**response["content"]["application/json"]["schema"], "components": DOCUMENT["components"]}


def documented_fields(schema: dict[str, Any]) -> set[str]:
    """The top-level properties a schema names, through $refs and allOf."""
    if "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    fields = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        fields |= documented_fields(part)
    return fields


def assert_documented(path: str, answer: requests.Response) -> None:
    """Valid against the schema, and no field the document does not name (the schemas allow extra ones, so a field
    the page reads but the document forgot would otherwise slip through)."""
    schema = response_schema(path, answer.status_code)
    OAS30Validator(schema).validate(answer.json())
    assert set(answer.json()) <= documented_fields(schema), (path, set(answer.json()) - documented_fields(schema))


@pytest.fixture
def api() -> Iterator[tuple[str, FakeModel]]:
    model = FakeModel(start_seconds=0)
    with serve_fake_api(model) as base_url:
        yield base_url, model


def test_every_fake_answer_the_page_reads_is_documented(api: tuple[str, FakeModel]) -> None:
    base_url, model = api
    answers = [
        ("/status", requests.get(f"{base_url}/status", timeout=10), 200),
        ("/predict", requests.post(f"{base_url}/predict", json={"text": "Fine."}, timeout=10), 503),
        ("/start", requests.post(f"{base_url}/start", json=confirmed(base_url, model, PHONE), timeout=10), 202),
        ("/status", requests.get(f"{base_url}/status", timeout=10), 200),
        ("/start", requests.post(f"{base_url}/start", json={}, timeout=10), 200),
        ("/predict", requests.post(f"{base_url}/predict", json={"texts": ["Great.", "Awful."]}, timeout=10), 200),
        ("/extend", requests.post(f"{base_url}/extend", json={}, timeout=10), 200),
    ]
    model.predict_status = 400
    answers.append(("/predict", requests.post(f"{base_url}/predict", json={"text": "x"}, timeout=10), 400))

    for path, answer, expected in answers:
        assert answer.status_code == expected, (path, answer.text)
        assert_documented(path, answer)
    assert answers[1][1].headers["Retry-After"].isdigit()


PHONE = "+12025550100"


def confirmed(base_url: str, model: FakeModel, phone: str) -> dict[str, str]:
    """A /start body with the phone's confirmation, got as the page gets it (the code from the fake's outbox)."""
    assert requests.post(f"{base_url}/phone/code", json={"phone": phone}, timeout=10).status_code == 202
    answer = requests.post(f"{base_url}/phone/confirm", json={"phone": phone, "code": model.codes[phone]}, timeout=10)
    return {"phone": phone, "confirmation": answer.json()["confirmation"]}


def test_the_phone_routes_answer_as_documented(api: tuple[str, FakeModel]) -> None:
    base_url, model = api

    def post(path: str, body: dict[str, Any]) -> requests.Response:
        return requests.post(f"{base_url}{path}", json=body, timeout=10)

    answers = [("/phone/code", post("/phone/code", {"phone": PHONE}), 202)]
    wrong = f"{(int(model.codes[PHONE]) + 1) % 10**6:06d}"
    answers += [
        ("/phone/code", post("/phone/code", {"phone": PHONE}), 202),  # again today: texts nothing, the same answer
        ("/phone/code", post("/phone/code", {"phone": "+442079460123"}), 400),
        ("/phone/code", post("/phone/code", {}), 400),
        ("/phone/confirm", post("/phone/confirm", {"phone": PHONE, "code": "12345"}), 400),
        ("/phone/confirm", post("/phone/confirm", {"phone": PHONE, "code": wrong}), 400),
        ("/start", post("/start", {"phone": PHONE}), 400),
    ]
    confirmation = post("/phone/confirm", {"phone": PHONE, "code": model.codes[PHONE]})
    answers += [
        ("/phone/confirm", confirmation, 200),
        ("/start", post("/start", {"phone": PHONE, "confirmation": confirmation.json()["confirmation"]}), 202),
    ]
    for path, answer, expected in answers:
        assert answer.status_code == expected, (path, answer.text)
        assert_documented(path, answer)
    assert answers[0][1].json() == answers[1][1].json()
    assert [answers[i][1].json()["error"] for i in (2, 3, 4, 5, 6)] == [
        "phone_not_allowed",
        "missing_phone",
        "invalid_code",
        "wrong_code",
        "unconfirmed_phone",
    ]
    assert [sms["phone"] for sms in model.outbox] == [PHONE]  # one code text, for the number that asked


def test_the_fakes_phone_sentences_are_the_real_handlers() -> None:
    """What the page shows after Send code, and for a start without a confirmation, reads the same against the fake
    and the real API."""
    assert fake_api.CODE_ON_ITS_WAY == api_handler.CODE_ON_ITS_WAY
    with serve_fake_api(FakeModel()) as base_url:
        refused = requests.post(f"{base_url}/start", json={"phone": PHONE}, timeout=10).json()
    assert refused["message"] == UNCONFIRMED


def test_a_drifted_answer_would_be_caught(api: tuple[str, FakeModel]) -> None:
    base_url, _ = api
    status = requests.get(f"{base_url}/status", timeout=10).json()
    del status["subscribers_count"]
    with pytest.raises(ValidationError, match="subscribers_count"):
        OAS30Validator(response_schema("/status", 200)).validate(status)


def test_the_tiers_notice_budget_and_refusals_the_page_reads_are_documented() -> None:
    """The wave-2 answers: the instant tier while starting, a GPU and a degraded answer, the stop notice and the
    budget in the status, the 429s and 409 no_recent_use, each error with its request id."""
    model = FakeModel(
        start_seconds=30,
        instant_tier="while-starting",
        notice_seconds=300,
        gpu_minutes_per_day=240,
        gpu_minutes_used_today=38,
        extend_needs_recent_use=True,
    )
    with serve_fake_api(model) as base_url:

        def post(path: str, body: dict[str, Any]) -> requests.Response:
            return requests.post(f"{base_url}{path}", json=body, timeout=10)

        answers = [("/start", post("/start", {}), 202)]
        instant = post("/predict", {"text": "Great."})
        answers.append(("/predict", instant, 200))
        with model.lock:
            model.start_seconds, model.predicted_at = 0, None  # in service, and nobody has used the GPU model yet
        status = requests.get(f"{base_url}/status", timeout=10)
        answers += [("/status", status, 200), ("/extend", post("/extend", {}), 409)]
        gpu = post("/predict", {"text": "Great."})
        answers += [("/predict", gpu, 200), ("/extend", post("/extend", {}), 200)]
        model.gpu_fails = True
        degraded = post("/predict", {"texts": ["Great.", "Awful."]})
        answers.append(("/predict", degraded, 200))
        model.gpu_minutes_used_today = 240
        answers.append(("/extend", post("/extend", {}), 429))
        with model.lock:
            model._move("STOPPED", "keep-alive expired")
        answers.append(("/start", post("/start", {}), 429))
        model.gpu_minutes_used_today, model.cooldown_until = 0, datetime.now(UTC) + timedelta(minutes=2)
        answers.append(("/start", post("/start", {}), 429))

    for path, answer, expected in answers:
        assert answer.status_code == expected, (path, answer.text)
        assert_documented(path, answer)
        if expected >= 400:
            assert answer.json()["request_id"]
    assert (instant.json()["tier"], gpu.json()["tier"], degraded.json()["degraded"]) == ("instant", "gpu", True)
    assert status.json()["notice_at"] and status.json()["budget"]["gpu_minutes_left_today"] == 202
    assert [answers[i][1].json()["error"] for i in (3, 7, 8, 9)] == [
        "no_recent_use",
        "budget_exhausted",
        "budget_exhausted",
        "cooling_down",
    ]


def test_the_pipeline_answer_is_documented_and_a_drifted_one_caught() -> None:
    schema = {**DOCUMENT["components"]["schemas"]["PipelineStatus"], "components": DOCUMENT["components"]}
    pipeline = TRAINING  # what the page's training-progress test is served
    with serve_fake_api(FakeModel(pipeline=pipeline)) as base_url:
        answer = requests.get(f"{base_url}/pipeline", timeout=10)
    OAS30Validator(schema).validate(answer.json())
    with pytest.raises(ValidationError):
        OAS30Validator(schema).validate({**pipeline, "state": "almost"})
    with serve_fake_api(FakeModel()) as base_url:
        assert requests.get(f"{base_url}/pipeline", timeout=10).status_code == 404
