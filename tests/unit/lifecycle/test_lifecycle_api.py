"""The REST API through `api.make_handler(service)` with API Gateway proxy events from tests/events: shapes, codes,
messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ondemand.bootstrap import Handler, bootstrap
from ondemand.domain import EndpointStatus, State
from ondemand.handlers import api
from ondemand.ports import Adapters

from tests.lifecycle_driver import LifecycleDriver
from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A, PHONE_B


def invoke(
    handler: Handler,
    event: dict[str, Any],
    body: Any = ...,
    headers: dict[str, str] | None = None,
    raw: str | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """Invoke the API handler; returns (status, JSON body, headers)."""
    if raw is not None:
        event["body"] = raw
    elif body is not ...:
        event["body"] = None if body is None else json.dumps(body)
    if headers is not None:
        event["headers"] = {**event["headers"], **headers}
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    response = handler(event, None)
    merged = {**(response.get("headers") or {})}
    merged.update({k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()})
    return response["statusCode"], json.loads(response["body"]), merged


@pytest.fixture
def call(handlers):
    """`call(event, body, headers=..., raw=...)` on the API handler made on the test's service."""
    return lambda *args, **kwargs: invoke(handlers.api, *args, **kwargs)


@pytest.fixture
def in_service(call, service, adapters, event, endpoints) -> str:
    status, body, _ = call(event("apigw_start"))
    name = body["endpoint_name"]
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    LifecycleDriver(service).on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    return name


def test_status_of_a_fresh_stack_is_stopped(call, adapters, event) -> None:
    status, body, _ = call(event("apigw_status"))
    assert status == 200
    assert body["state"] == "STOPPED"
    for key in (
        "endpoint_name",
        "since",
        "expires_at",
        "seconds_left",
        "eta_seconds",
        "version",
        "subscribers_count",
        "last_error",
        "history",
    ):
        assert key in body
    assert body["eta_seconds"] is None and body["history"] == []


def test_start_answers_202_with_an_eta_and_status_never_shows_phone_numbers(call, adapters, event, endpoints) -> None:
    status, body, _ = call(event("apigw_start"))
    assert status == 202
    assert body["state"] == "STARTING" and body["subscribed"] is True
    assert body["eta_seconds"] > 0
    status, body, _ = call(event("apigw_start"), {"phone": PHONE_B})
    assert status == 202 and body["subscribers_count"] == 2
    status, body, _ = call(event("apigw_status"))
    assert PHONE_A not in json.dumps(body) and PHONE_B not in json.dumps(body)
    assert body["history"][0] == {"at": body["since"], "from": "STOPPED", "to": "STARTING", "reason": "start requested"}
    assert len(endpoints.created) == 1


def test_start_without_a_body_or_phone_is_fine(call, adapters, event) -> None:
    status, body, _ = call(event("apigw_start"), None)
    assert status == 202 and body["subscribed"] is False


def test_start_when_in_service_answers_200(call, in_service, event) -> None:
    status, body, _ = call(event("apigw_start"), {"phone": PHONE_B})
    assert status == 200 and body["state"] == "IN_SERVICE" and body["seconds_left"] > 0


def test_predict_returns_labels_probabilities_latency_and_model(call, in_service, event, endpoints) -> None:
    status, body, _ = call(event("apigw_predict_batch"))
    assert status == 200
    assert [p["label"] for p in body["predictions"]] == ["POSITIVE", "NEGATIVE"]
    assert body["model"] == "fake-minilm"
    assert isinstance(body["latency_ms"], float | int) and body["latency_ms"] >= 0
    assert endpoints.invocations[-1] == (
        in_service,
        {"texts": ["A warm, funny and beautifully acted film.", "Two hours I will never get back."]},
    )
    status, body, _ = call(event("apigw_predict"))
    assert status == 200 and len(body["predictions"]) == 1


def test_predict_when_stopped_is_503_with_retry_after_and_the_state(call, adapters, event) -> None:
    status, body, headers = call(event("apigw_predict"))
    assert status == 503
    assert body["error"] == "model_not_ready" and body["state"] == "STOPPED"
    assert "POST /start" in body["message"]
    assert int(headers["Retry-After"]) > 0


def test_predict_while_starting_is_503_and_says_wait(call, adapters, event) -> None:
    call(event("apigw_start"))
    status, body, headers = call(event("apigw_predict"))
    assert status == 503 and body["state"] == "STARTING" and "Wait" in body["message"]
    assert int(headers["Retry-After"]) >= 5


def test_an_endpoint_failure_is_502(call, in_service, event, endpoints) -> None:
    endpoints.fail_invoke = "ModelError: CUDA out of memory"
    status, body, _ = call(event("apigw_predict"))
    assert status == 502 and body["error"] == "endpoint_error" and "CUDA" not in body["message"]
    assert body["message"] == "The model could not answer; try again in a moment." and body["request_id"]


def test_a_failed_start_is_502_and_the_item_failed(call, adapters, event, endpoints, store) -> None:
    endpoints.fail_create = "CreateEndpoint failed: ValidationException: config ondemand-cfg-1 not found"
    status, body, _ = call(event("apigw_start"))
    assert status == 502 and body["error"] == "endpoint_failed" and "ValidationException" not in body["message"]
    assert store.get().state == State.FAILED and store.get().last_error_code == "endpoint_failed"


def test_extend_pushes_expires_at(call, in_service, event, store, clock) -> None:
    before = store.get().expires_at
    assert call(event("apigw_predict"))[0] == 200
    clock.advance(minutes=2)
    status, body, _ = call(event("apigw_extend"))
    assert status == 200 and body["state"] == "IN_SERVICE" and body["capped"] is False
    assert store.get().expires_at >= before


LONG = "x" * 2001


@pytest.mark.parametrize(
    ("fixture", "body", "raw", "code", "words"),
    [
        ("apigw_start", ..., "{not json", "invalid_json", "not valid JSON"),
        ("apigw_start", ..., " ", "invalid_json", "not valid JSON"),
        ("apigw_predict", ..., " \n", "missing_body", "JSON object"),
        ("apigw_start", ["+12025550100"], None, "invalid_json", "JSON object"),
        ("apigw_start", {"phone": "555-0100"}, None, "invalid_phone", "with its country code"),
        ("apigw_start", {"phone": "+1 202 555 0100 ext 7"}, None, "invalid_phone", "with its country code"),
        ("apigw_start", {"phone": "+١٢٠٢٥٥٥٠١٠٠"}, None, "invalid_phone", "with its country code"),
        ("apigw_start", {"phone": "+1202555010012345"}, None, "invalid_phone", "with its country code"),
        ("apigw_start", {"phone": 12025550100}, None, "invalid_phone", "must be a string"),
        ("apigw_predict", None, None, "missing_body", "JSON object"),
        ("apigw_predict", {}, None, "missing_text", 'either "text"'),
        ("apigw_predict", {"text": "a", "texts": ["b"]}, None, "missing_text", 'either "text"'),
        ("apigw_predict", {"text": 5}, None, "invalid_type", "must be a string"),
        ("apigw_predict", {"texts": "one"}, None, "invalid_type", "list of strings"),
        ("apigw_predict", {"texts": ["ok", 3]}, None, "invalid_type", "list of strings"),
        ("apigw_predict", {"text": "   "}, None, "empty_text", "Text 0 is empty"),
        ("apigw_predict", {"texts": []}, None, "empty_text", "is empty"),
        ("apigw_predict", {"texts": ["fine"] * 33}, None, "too_many_texts", "at most 32"),
        ("apigw_predict", {"texts": ["fine", LONG]}, None, "text_too_long", "Text 1 has 2001 characters"),
    ],
)
def test_bad_input_is_400_with_a_code_and_a_sentence(call, adapters, event, fixture, body, raw, code, words) -> None:
    status, answer, _ = call(event(fixture), body, raw=raw)
    assert status == 400
    assert answer["error"] == code
    assert words in answer["message"]


def test_an_oversized_body_is_413(call, adapters, event) -> None:
    status, body, _ = call(event("apigw_predict"), {"texts": ["y" * 1000] * 70})
    assert status == 413 and body["error"] == "payload_too_large" and "65536" in body["message"]


def test_extend_when_stopped_is_409(call, adapters, event) -> None:
    status, body, _ = call(event("apigw_extend"))
    assert status == 409 and body["error"] == "conflict" and "only a model in service" in body["message"]


def test_start_while_stopping_is_409(call, adapters, event, store) -> None:
    call(event("apigw_start"))
    store.transition([State.STARTING], State.STOPPING, "test")
    status, body, _ = call(event("apigw_start"))
    assert status == 409 and "shutting down" in body["message"]


def test_an_unknown_route_is_404_in_the_error_shape(call, adapters, event) -> None:
    unknown = event("apigw_status")
    unknown["path"] = unknown["resource"] = "/nope"
    status, body, _ = call(unknown)
    assert status == 404 and body == {
        "error": "not_found",
        "message": "There is no GET /nope.",
        "request_id": unknown["requestContext"]["requestId"],
    }


@pytest.mark.parametrize(("path", "method", "allow"), [("/status", "TRACE", "GET"), ("/start", "GET", "POST")])
def test_an_undeclared_method_on_a_route_is_405_with_allow(call, event, path, method, allow) -> None:
    request = event("apigw_status")
    request["path"] = request["resource"] = path
    request["httpMethod"] = method
    status, body, headers = call(request)
    assert (status, body["error"], headers["Allow"]) == (405, "method_not_allowed", allow)
    assert body["message"] == f"{path} answers {allow}, not {method}."


def test_stop_needs_the_admin_key(call, in_service, event, store, endpoints) -> None:
    stop = event("apigw_stop")
    del stop["headers"]["x-api-key"]
    status, body, _ = call(stop)
    assert status == 401 and body["error"] == "missing_api_key"
    status, body, _ = call(event("apigw_stop"))
    assert status == 403 and body["error"] == "invalid_api_key"
    assert store.get().state == State.IN_SERVICE
    status, body, _ = call(event("apigw_stop"), headers={"x-api-key": "s3cret-admin-key"})
    assert status == 200 and body["state"] == "STOPPED"
    assert endpoints.deleted == [in_service]
    status, body, _ = call(event("apigw_stop"), headers={"x-api-key": "s3cret-admin-key"})
    assert status == 409 and "nothing to stop" in body["message"]


def test_stop_is_off_without_an_admin_key(store, endpoints, scheduler, notifier, event) -> None:
    no_admin_key = bootstrap(make_settings(), Adapters(store, endpoints, scheduler, notifier))
    status, body, _ = invoke(api.make_handler(no_admin_key), event("apigw_stop"))
    assert status == 403 and body["error"] == "stop_disabled"


def test_a_phone_is_kept_in_its_one_canonical_form(call, adapters, event, store) -> None:
    status, body, _ = call(event("apigw_start"), {"phone": "+1 (202) 555-0100\n"})
    assert status == 202 and store.get().subscribers == ("+12025550100",)
    status, body, _ = call(event("apigw_start"), {"phone": "００１ ２０２ ５５５ ０１００"})  # fullwidth, 00 prefix
    assert status == 202 and store.get().subscribers == ("+12025550100",)  # the same number, not a second one


def test_a_phone_outside_the_allowed_countries_is_refused_before_anything_happens(call, adapters, event, store):
    status, body, _ = call(event("apigw_start"), {"phone": "+442079460123"})
    assert status == 400 and body["error"] == "phone_not_allowed" and "+1" in body["message"]
    assert store.get().state == State.STOPPED


def test_a_body_that_is_not_utf8_is_invalid_json(call, adapters, event) -> None:
    import base64

    request = event("apigw_predict")
    request["body"] = base64.b64encode(b'\xff\xfe{"text": 1}').decode()
    request["isBase64Encoded"] = True
    status, body, _ = call(request)
    assert status == 400 and body["error"] == "invalid_json"
