"""The Lambda API handler, in process, under inputs that are not valid requests (tests/unit/fuzz/fuzz_inputs.py):
every answer is a 2xx or a 4xx with `error` and `message`, never a 5xx, and no phone number reaches the state item,
the rate limiter or the texts unless it is plain ASCII E.164.

The handler runs on the real state store and rate limiter (moto), with the model IN_SERVICE behind a fake endpoint
that answers every text, so a 503 or a 5xx can only come from the handler's own parsing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from ondemand.bootstrap import Handler

from tests.conftest import load_event
from tests.unit.fuzz.fuzz_inputs import (
    FUZZ,
    METHODS,
    ROUTES,
    any_body,
    check_answer,
    crafted_bodies,
    header_lists,
    json_bodies,
    phones,
)
from tests.unit.fuzz.fuzz_service import ASCII_E164, InService, api_in_service_context


@pytest.fixture(scope="module")
def api_in_service() -> Iterator[InService]:
    with api_in_service_context() as in_service:
        yield in_service


def proxy_event(
    method: str, path: str, body: bytes | str | None, headers: list[tuple[str, str]], source_ip: str = "203.0.113.10"
) -> dict[str, Any]:
    """An API Gateway REST proxy event as the stage would send it (binary bodies base64-encoded)."""
    event = load_event("apigw_predict")
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for header, value in headers:
        single[header] = value
        multi.setdefault(header, []).append(value)
    event.update(httpMethod=method, path=path, resource=path, headers=single or None, multiValueHeaders=multi or None)
    event["requestContext"].update(httpMethod=method, path=f"/Prod{path}", resourcePath=path)
    event["requestContext"]["identity"]["sourceIp"] = source_ip
    if isinstance(body, bytes):
        try:
            event.update(body=body.decode("utf-8"), isBase64Encoded=False)
        except UnicodeDecodeError:
            event.update(body=base64.b64encode(body).decode("ascii"), isBase64Encoded=True)
    else:
        event.update(body=body, isBase64Encoded=False)
    return event


def call(handler: Handler, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = handler(event, None)
    raw = response.get("body") or ""
    body = base64.b64decode(raw) if response.get("isBase64Encoded") else raw
    return response["statusCode"], check_answer(response["statusCode"], body, event)


@FUZZ
@given(
    method=st.sampled_from(METHODS),
    path=st.sampled_from(ROUTES),
    body=st.none() | any_body,
    headers=header_lists(),
    source_ip=st.ip_addresses().map(str),
)
def test_any_request_gets_an_answer_not_a_server_error(api_in_service, method, path, body, headers, source_ip) -> None:
    handler, witness, notifier = api_in_service
    witness.seen.clear()
    call(handler, proxy_event(method, path, body, headers, source_ip))
    assert not witness.foreign() and not [p for p, _ in notifier.sent if not ASCII_E164.fullmatch(p)]


@FUZZ
@given(
    path=st.sampled_from(("/predict", "/start", "/phone/code", "/phone/confirm", "/extend")),
    body=json_bodies() | crafted_bodies(),
)
@example(path="/predict", body="[" * 32000 + "]" * 32000)  # deeper than Python's recursion limit
@example(path="/start", body='{"a":' * 20000 + "1" + "}" * 20000)
@example(path="/predict", body='{"text": "ok \\ud800"}')  # a lone surrogate, legal JSON, not text a model can encode
@example(path="/predict", body='{"texts": ["fine", "\\udfff"]}')
@example(path="/predict", body='{"text": ' + "1" * 5000 + "}")
@example(path="/start", body='{"phone": "+\uff11\uff15\uff15\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff10"}')
@example(path="/start", body='{"phone": "+1\u0665\u0665\u0665\u0665\u0665\u0665\u0660\u0661\u0660\u0660"}')
def test_json_bodies_of_any_shape_get_an_answer_not_a_server_error(api_in_service, path, body) -> None:
    handler, witness, _ = api_in_service
    witness.seen.clear()
    headers = [("Content-Type", "application/json")]
    call(handler, proxy_event("POST", path, body, headers, source_ip="198.51.100.1"))
    assert not witness.foreign(), witness.foreign()


@FUZZ
@given(phone=phones())
@example(phone="+\uff11\uff15\uff15\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff10")  # fullwidth
@example(phone="+1\u0665\u0665\u0665\u0665\u0665\u0665\u0660\u0661\u0660\u0660")  # Arabic-Indic
@example(phone="+1\u096b\u096b\u096b\u096b\u096b\u096b\u0966\u0967\u0966\u0966")  # Devanagari
@example(phone="+1\U0001d7d3\U0001d7d3\U0001d7d3\U0001d7d3\U0001d7d3\U0001d7d3\U0001d7ce\U0001d7cf\U0001d7ce\U0001d7ce")
@pytest.mark.parametrize("path", ["/start", "/phone/code", "/phone/confirm"])
def test_a_phone_in_another_numeral_system_never_keys_a_limit_or_gets_a_text(api_in_service, phone, path) -> None:
    """A number that is not ASCII E.164 is either refused (400) or turned into ASCII before anything keys on it;
    otherwise "+１５５５…" and "+1555…" would be two numbers to the per-phone limit and one to the SMS provider."""
    handler, witness, notifier = api_in_service
    witness.seen.clear()
    status, answer = call(
        handler,
        proxy_event(
            "POST",
            path,
            json.dumps({"phone": phone, "code": "123456"}),
            [("Content-Type", "application/json")],
            source_ip="198.51.100.2",
        ),
    )
    assert not witness.foreign(), witness.foreign()
    assert not [p for p, _ in notifier.sent if not ASCII_E164.fullmatch(p)]
    if not ASCII_E164.fullmatch(phone) and status >= 400:
        # phone_not_allowed: folded to ASCII, then refused by the country allowlist before anything keys on it
        allowed = ("invalid_phone", "phone_not_allowed", "rate_limited", "conflict", "unconfirmed_phone", "wrong_code")
        assert answer["error"] in allowed, answer
