"""The public API under bad input: schemathesis generates requests (valid and invalid) from api/openapi.yaml and
sends them through the local gateway to the real handlers, the state store and a real model server; every
response must match the document and none may be a server error. Then the cases a fuzzer rarely builds by
chance: non-JSON, wrong types, empty text, megabyte bodies, thousands of texts, control characters and emoji,
malformed phone numbers.

The model is brought into service first and the fuzzer never holds the admin key, so /predict answers 200 and a
5xx can only be a bug (503 and 502 are checked in tests/unit/lifecycle/test_lifecycle_api.py)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from local_runtime.harness import RunningRuntime, run_local_runtime
from tests.lifecycle_driver import confirm_over_http

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = schemathesis.openapi.from_path(ROOT / "api" / "openapi.yaml")
FUZZ_EXAMPLES = 60  # per operation
STATUS_COUNTS: Counter[str] = Counter()
ERROR_CODES = {
    "invalid_json",
    "missing_body",
    "invalid_phone",
    "missing_text",
    "invalid_type",
    "empty_text",
    "too_many_texts",
    "text_too_long",
    "payload_too_large",
    "missing_phone",
    "phone_not_allowed",
    "unconfirmed_phone",
    "invalid_code",
    "wrong_code",
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_in_service(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    """One local runtime for the module with the model IN_SERVICE and a keep-alive longer than the module runs.
    Every request comes from 127.0.0.1, so the per-client /start limit is lifted (the per-phone one stays)."""
    with pytest.MonkeyPatch.context() as env:  # the runtime inherits this process's environment
        env.setenv("START_LIMIT_PER_CLIENT", "100000")
        env.setenv("CODE_LIMIT_PER_CLIENT", "100000")
        with run_local_runtime(tmp_path_factory.mktemp("fuzz"), tiny_model_dir, keep_alive="30m") as runtime:
            requests.post(runtime.base_url + "/start", json={}, timeout=30).raise_for_status()
            deadline = time.monotonic() + 120
            while requests.get(runtime.base_url + "/status", timeout=30).json()["state"] != "IN_SERVICE":
                assert time.monotonic() < deadline, runtime.console()[-2000:]
                time.sleep(0.2)
            yield runtime
            assert requests.get(runtime.base_url + "/status", timeout=30).json()["state"] == "IN_SERVICE"


@SCHEMA.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_response_matches_the_openapi_document(case: schemathesis.Case, model_in_service: RunningRuntime) -> None:
    # A schema-valid phone outside the owner's country allowlist (SMS_COUNTRY_CODES, deployment configuration the
    # document cannot express), or one libphonenumber knows its country does not have, is a 400 (documented), which
    # this check counts as valid data rejected. An undeclared method is 405 with Allow (unsupported_method runs).
    excluded = [positive_data_acceptance]
    response = case.call(base_url=model_in_service.base_url, timeout=60)
    STATUS_COUNTS[f"{case.method} {case.path} {response.status_code}"] += 1
    STATUS_COUNTS["cases"] += 1
    if response.status_code >= 500:
        STATUS_COUNTS["5xx"] += 1
    case.validate_response(response, excluded_checks=excluded)


def test_call_sequences_along_the_documents_links_match_it(model_in_service: RunningRuntime) -> None:
    """Schemathesis's stateful phase: sequences chained by the document's links (a confirmation into /start, a start
    into /status and /predict), every response checked as above."""
    workflow = SCHEMA.as_state_machine()

    class AgainstTheRuntime(workflow):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            return {"base_url": model_in_service.base_url, "timeout": 60}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:  # type: ignore[no-untyped-def]
            STATUS_COUNTS[f"stateful {case.method} {case.path} {response.status_code}"] += 1
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

    AgainstTheRuntime.run(
        settings=settings(
            max_examples=FUZZ_EXAMPLES // 2,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    operations = {key.split()[2] for key in STATUS_COUNTS if key.startswith("stateful ")}
    assert {"/start", "/predict"} <= operations, STATUS_COUNTS  # sequences ran, not one call alone


def post(
    runtime: RunningRuntime, path: str, body: bytes | str, content_type: str = "application/json", **headers: str
) -> requests.Response:
    data = body.encode() if isinstance(body, str) else body
    return requests.post(
        runtime.base_url + path, data=data, headers={"Content-Type": content_type, **headers}, timeout=120
    )


def assert_error(response: requests.Response, status: int, code: str) -> None:
    """The documented error shape: {"error": <code>, "message": <a sentence>}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and len(body["message"]) > 10


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("great film", "invalid_json"),
        ('{"text": "great', "invalid_json"),
        ('["great film"]', "invalid_json"),
        ('"great film"', "invalid_json"),
        ("null", "invalid_json"),
        ("", "missing_body"),
        ("{}", "missing_text"),
        ('{"text": "a", "texts": ["b"]}', "missing_text"),
        ('{"text": 42}', "invalid_type"),
        ('{"text": null}', "invalid_type"),
        ('{"text": ["great"]}', "invalid_type"),
        ('{"texts": "great film"}', "invalid_type"),
        ('{"texts": ["ok", 3]}', "invalid_type"),
        ('{"texts": [{"text": "ok"}]}', "invalid_type"),
        ('{"text": ""}', "empty_text"),
        ('{"text": "   \\n\\t  "}', "empty_text"),
        ('{"texts": []}', "empty_text"),
        ('{"texts": ["ok", ""]}', "empty_text"),
        (json.dumps({"text": "x" * 2001}), "text_too_long"),
        (json.dumps({"texts": ["fine"] * 33}), "too_many_texts"),
        (json.dumps({"texts": ["fine"] * 5000}), "too_many_texts"),
    ],
)
def test_predict_rejects_bad_input_with_its_reason(model_in_service: RunningRuntime, body: str, code: str) -> None:
    assert_error(post(model_in_service, "/predict", body), 400, code)


def test_megabyte_bodies_get_413_on_every_route(model_in_service: RunningRuntime) -> None:
    megabyte = json.dumps({"text": "great film " * 100_000})
    for path in ("/predict", "/start", "/phone/code", "/phone/confirm", "/extend"):
        assert_error(post(model_in_service, path, megabyte), 413, "payload_too_large")
    eleven_megabytes = b'{"text": "' + b"a" * (11 * 1024 * 1024) + b'"}'
    assert_error(post(model_in_service, "/predict", eleven_megabytes), 413, "payload_too_large")


def test_not_utf8_is_not_json(model_in_service: RunningRuntime) -> None:
    assert_error(post(model_in_service, "/predict", b"\xff\xfe\x00garbage"), 400, "invalid_json")
    # The local gateway takes only JSON bodies (a cross-site form must not reach the API).
    assert_error(
        post(model_in_service, "/predict", b"great film", "application/octet-stream"), 415, "unsupported_media_type"
    )


def test_control_characters_and_emoji_are_classified(model_in_service: RunningRuntime) -> None:
    texts = [
        "Loved it \U0001f60d\U0001f3ac",
        "terrible \x00\x07\x1b[31m film",
        "\u202eevil bidi\u202c okay",
        "combining e\u0301\u0301\u0301",
        "\ud7ff edge of the BMP \U0010ffff",
        "tab\there\r\nnewline",
    ]
    response = post(model_in_service, "/predict", json.dumps({"texts": texts}))
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == len(texts)
    assert {p["label"] for p in predictions} <= {"POSITIVE", "NEGATIVE"}
    assert all(0.0 <= p["prob"] <= 1.0 for p in predictions)


def test_a_full_batch_of_longest_texts_is_classified(model_in_service: RunningRuntime) -> None:
    texts = ["a wonderful, moving film " * 80][:1] * 32
    texts = [t[:2000] for t in texts]
    response = post(model_in_service, "/predict", json.dumps({"texts": texts}))
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 32


# Spaces, dashes or a trailing newline are not malformed: they are canonicalised to E.164
# (tests/unit/lifecycle/test_lifecycle_phones.py).
@pytest.mark.parametrize(
    "phone",
    [
        "15555550100",
        "+0555550100",
        "+1202555010012345",
        "+12",
        "",
        "+1555555O100",
        "+12025550100; DROP TABLE",
        "\U0001f4de",
        15555550100,
        None,
        ["+12025550100"],
    ],
)
def test_start_rejects_malformed_phones(model_in_service: RunningRuntime, phone: object) -> None:
    body = json.dumps({"phone": phone})
    response = post(model_in_service, "/start", body)
    if phone is None:  # "phone": null is the same as no phone
        assert response.status_code == 200, response.text
        return
    assert_error(response, 400, "invalid_phone")


def test_stop_needs_the_admin_key(model_in_service: RunningRuntime) -> None:
    assert_error(post(model_in_service, "/stop", "{}"), 401, "missing_api_key")
    assert_error(post(model_in_service, "/stop", "{}", **{"x-api-key": "guess"}), 403, "invalid_api_key")
    assert_error(post(model_in_service, "/stop", "{}", **{"x-api-key": "caf\u00e9"}), 403, "invalid_api_key")


def test_unknown_routes_and_methods_are_404_not_5xx(model_in_service: RunningRuntime) -> None:
    for method, path, status, allow in (
        ("GET", "/predict", 405, "POST"),
        ("DELETE", "/status", 405, "GET"),
        ("TRACE", "/status", 405, "GET"),
        ("PUT", "/start", 405, "POST"),
        ("POST", "/admin", 404, None),
        ("GET", "/../../etc/passwd", 404, None),
        ("GET", "/status%00", 404, None),
    ):
        response = requests.request(method, model_in_service.base_url + path, timeout=30)
        assert (response.status_code, response.headers.get("Allow")) == (status, allow), (method, path)
        assert response.json()["error"] == ("method_not_allowed" if status == 405 else "not_found")


def test_document_allows_a_null_phone() -> None:
    phone = SCHEMA.raw_schema["components"]["schemas"]["StartRequest"]["properties"]["phone"]
    assert phone.get("nullable") is True


def test_document_says_exactly_one_of_text_and_texts() -> None:
    request = SCHEMA.raw_schema["components"]["schemas"]["PredictRequest"]
    assert "oneOf" in request


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/phone/code", "{}", "missing_phone"),
        ("/phone/code", '{"phone": 12025550100}', "invalid_phone"),
        ("/phone/code", '{"phone": "+18765550100"}', "phone_not_allowed"),
        ("/phone/confirm", '{"phone": "+12025550143", "code": "12 34 56"}', "invalid_code"),
        ("/phone/confirm", '{"phone": "+12025550143", "code": null}', "invalid_code"),
        ("/start", '{"phone": "+12025550143"}', "unconfirmed_phone"),
        ("/start", '{"phone": "+12025550143", "confirmation": "1.00"}', "unconfirmed_phone"),
    ],
)
def test_the_phone_routes_reject_bad_input_with_its_reason(
    model_in_service: RunningRuntime, path: str, body: str, code: str
) -> None:
    assert_error(post(model_in_service, path, body), 400, code)


def test_the_fourth_start_for_one_phone_is_rate_limited_through_the_gateway(model_in_service: RunningRuntime) -> None:
    """The local runtime limits /start on its own DynamoDB table, as the stack does."""
    body = json.dumps(confirm_over_http(model_in_service.base_url, "+12025550142", model_in_service.outbox))
    answers = [post(model_in_service, "/start", body) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200], answers[0].text
    assert_error(answers[3], 429, "rate_limited")
    assert 0 < int(answers[3].headers["Retry-After"]) <= 3600


def test_fuzz_summary(model_in_service: RunningRuntime) -> None:
    """Runs last in the module: prints how many generated requests were sent and how they were answered."""
    print(f"\nschemathesis: {STATUS_COUNTS['cases']} cases, {STATUS_COUNTS['5xx']} 5xx")
    for key, count in sorted(STATUS_COUNTS.items()):
        print(f"  {key}: {count}")
    assert STATUS_COUNTS["5xx"] == 0
