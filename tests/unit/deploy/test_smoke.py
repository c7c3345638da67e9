"""The smoke test holds each answer of the live API against api/openapi.yaml and the page against its headers; here
the HTTP is answered in-process (requests-mock), the answers shaped as the handlers shape them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import requests_mock
from ondemand.domain import EndpointState, State
from ondemand.status import status_view

from deploy.smoke import SECURITY_HEADERS, DocumentedApi, SmokeTest, SmokeTestError, answer_problems, load_document
from deploy.waiting import Waiting
from tests.settings_factory import make_settings

API = "https://abc123.execute-api.us-east-1.amazonaws.com/Prod"
PAGE = "https://d111111abcdef8.cloudfront.net/"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
# What GET /status answers for a stopped model: the handlers' own view of a fresh state item.
STATUS = json.loads(json.dumps(status_view(EndpointState(State.STOPPED, 3, NOW), NOW, make_settings()), default=str))
PREDICTION = {
    "predictions": [{"label": "POSITIVE", "label_id": 1, "prob": 0.93}],
    "latency_ms": 4,
    "model": "instant-nb-logreg-uni-bi",
    "tier": "instant",
}
HEADERS = {name: "x" for name in SECURITY_HEADERS} | {"Content-Type": "text/html; charset=utf-8"}


def smoke(
    mock: requests_mock.Mocker, predictions: list[dict[str, Any]], page_headers: dict[str, str] = HEADERS
) -> list[str]:
    said: list[str] = []
    document = load_document()
    mock.get(f"{API}/status", json=STATUS)
    mock.post(f"{API}/predict", predictions)
    mock.get(PAGE, text="<!doctype html>", headers=page_headers)
    mock.get(f"{PAGE}config.js", text=f'window.API_BASE = window.API_BASE || "{API}";')
    test = SmokeTest(DocumentedApi(requests.Session(), document), said.append, Waiting(sleep=lambda _: None))
    test.run(API, PAGE)
    return said


def test_an_undocumented_status_and_a_body_off_its_schema_are_problems() -> None:
    document = load_document()

    assert answer_problems(document, "get", "/status", 418, {}) == [
        "GET /status answered 418, which api/openapi.yaml does not document"
    ]
    assert any("'state' is a required property" in p for p in answer_problems(document, "get", "/status", 200, {}))
    assert answer_problems(document, "post", "/predict", 503, {"error": "model_not_ready"})  # no message: off schema


def test_predict_is_asked_again_until_the_instant_model_answers() -> None:
    not_yet = {"json": {"error": "model_not_ready", "message": "Not yet.", "request_id": "r", "state": "STOPPED"}}
    with requests_mock.Mocker() as mock:
        said = smoke(mock, [{"status_code": 503, **not_yet, "headers": {"Retry-After": "5"}}, {"json": PREDICTION}])

    assert said[0] == "GET /status: STOPPED, per api/openapi.yaml"
    assert said[1].startswith("POST /predict: 503 model_not_ready")
    assert said[2] == "POST /predict: POSITIVE (0.93), instant tier, per api/openapi.yaml"


def test_a_page_without_its_security_headers_fails_the_smoke_test() -> None:
    with requests_mock.Mocker() as mock, pytest.raises(SmokeTestError, match="content-security-policy"):
        smoke(mock, [{"json": PREDICTION}], {"Content-Type": "text/html"})
