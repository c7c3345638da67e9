"""api/openapi.yaml and the handlers agree: the same routes, and real responses validate against the schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from ondemand.bootstrap import Handler
from ondemand.consent import code_for
from ondemand.domain import EndpointStatus
from ondemand.handlers import api
from openapi_spec_validator import validate

from tests.lifecycle_driver import LifecycleDriver
from tests.unit.lifecycle.conftest import CONSENT_KEY
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A

ROOT = Path(__file__).resolve().parents[3]
DOCUMENT = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text())


def schema_for(status_code: str, path: str, method: str) -> dict:
    """The response schema, $refs inlined, `nullable` turned into JSON Schema's null type."""
    response = DOCUMENT["paths"][path][method]["responses"][status_code]
    if "$ref" in response:
        response = DOCUMENT["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return resolve(response["content"]["application/json"]["schema"])


def resolve(node):
    if isinstance(node, dict):
        if "$ref" in node:
            return resolve(DOCUMENT["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]])
        out = {k: resolve(v) for k, v in node.items() if k not in ("nullable", "example")}
        if node.get("nullable"):
            out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [resolve(v) for v in node]
    return node


def test_the_document_is_valid_openapi() -> None:
    validate(DOCUMENT)


def test_the_document_and_the_handler_have_the_same_routes() -> None:
    documented = {(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item}
    handled = {(route.method, route.path) for route in api.app._static_routes + api.app._dynamic_routes}
    assert documented == handled


def test_the_template_exposes_exactly_the_documented_routes(template) -> None:
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    deployed = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events}
    documented = {(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item}
    assert deployed == documented


def call(handler: Handler, event: dict, body: object = ...) -> tuple[int, dict]:
    if body is not ...:
        event["body"] = json.dumps(body)
    response = handler(event, None)
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(
    ("fixture", "body", "path", "expected"),
    [
        ("apigw_status", ..., "/status", 200),
        ("apigw_start", {"phone": PHONE_A}, "/start", 202),
        ("apigw_predict", ..., "/predict", 503),
        ("apigw_predict", {"text": ""}, "/predict", 400),
        ("apigw_extend", ..., "/extend", 409),
    ],
)
def test_responses_match_their_documented_schema(handlers, event, fixture, body, path, expected) -> None:
    fixture_event = event(fixture)
    status, answer = call(handlers.api, fixture_event, body)
    assert status == expected
    method = fixture_event["httpMethod"].lower()
    Draft202012Validator(schema_for(str(status), path, method)).validate(answer)


PHONE = "+12025550100"


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/phone/code", {"phone": PHONE}, 202),
        ("/phone/code", {"phone": "+18765550100"}, 400),  # outside the allowlist: phone_not_allowed
        ("/phone/code", {}, 400),
        ("/phone/confirm", {"phone": PHONE, "code": "right"}, 200),
        ("/phone/confirm", {"phone": PHONE, "code": "wrong"}, 400),
        ("/phone/confirm", {"phone": "+18765550100", "code": "123456"}, 400),
        ("/start", {"phone": PHONE, "confirmation": "1.ab"}, 400),  # unconfirmed_phone
    ],
)
def test_the_phone_routes_answer_as_documented(handlers, service, event, path, body, expected) -> None:
    right = code_for(CONSENT_KEY, PHONE, service.now())
    if body.get("code") in ("right", "wrong"):
        body = {**body, "code": right if body["code"] == "right" else f"{(int(right) + 1) % 10**6:06d}"}
    request = event("apigw_phone_code")
    request["path"] = request["resource"] = request["requestContext"]["resourcePath"] = path
    status, answer = call(handlers.api, request, body)
    assert status == expected, answer
    Draft202012Validator(schema_for(str(status), path, "post")).validate(answer)
    documented = DOCUMENT["paths"][path]["post"]["responses"]
    assert str(status) in documented


def test_a_prediction_and_an_in_service_start_match_their_schemas(handlers, service, event) -> None:
    status, started = call(handlers.api, event("apigw_start"))
    LifecycleDriver(service).on_endpoint_status(started["endpoint_name"], EndpointStatus.IN_SERVICE)
    status, answer = call(handlers.api, event("apigw_predict_batch"))
    assert status == 200
    Draft202012Validator(schema_for("200", "/predict", "post")).validate(answer)
    status, answer = call(handlers.api, event("apigw_start"))
    assert status == 200
    Draft202012Validator(schema_for("200", "/start", "post")).validate(answer)
    status, answer = call(handlers.api, event("apigw_extend"))
    Draft202012Validator(schema_for("200", "/extend", "post")).validate(answer)
