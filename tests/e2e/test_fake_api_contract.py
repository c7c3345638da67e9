"""The fake API the browser tests use answers in the shapes api/openapi.yaml documents, so the page is tested
against the contract the real handlers are checked against, not against a private invention."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from jsonschema import ValidationError
from openapi_schema_validator import OAS30Validator

from tests.e2e.fake_api import FakeModel, serve_fake_api

DOCUMENT = yaml.safe_load((Path(__file__).resolve().parents[2] / "api" / "openapi.yaml").read_text())


def response_schema(path: str, status: int) -> dict[str, Any]:
    """The documented schema of one response, with the document's components beside it for its $refs."""
    response = DOCUMENT["paths"][path]["post" if path != "/status" else "get"]["responses"][str(status)]
    if "$ref" in response:
        response = DOCUMENT["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return {**response["content"]["application/json"]["schema"], "components": DOCUMENT["components"]}


def assert_documented(path: str, answer: requests.Response) -> None:
    OAS30Validator(response_schema(path, answer.status_code)).validate(answer.json())


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
        ("/start", requests.post(f"{base_url}/start", json={"phone": "+15555550100"}, timeout=10), 202),
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


def test_a_drifted_answer_would_be_caught(api: tuple[str, FakeModel]) -> None:
    base_url, _ = api
    status = requests.get(f"{base_url}/status", timeout=10).json()
    del status["subscribers_count"]
    with pytest.raises(ValidationError, match="subscribers_count"):
        OAS30Validator(response_schema("/status", 200)).validate(status)
