"""The local gateway over real HTTP on loopback, under requests that are not valid: raw bytes on a socket, so the
framing itself can be wrong (Content-Length absent, short, not a number, negative, twice with two values;
Transfer-Encoding chunked; bad request lines and versions; header lines too long or too many; duplicate and
conflicting Content-Type; gzip claimed), with the bodies and headers of tests/unit/fuzz/fuzz_inputs.py.

Every request gets an answer (no reset, no silence) that is not a 5xx, and every 4xx is JSON with `error` and
`message`. Behind the gateway: the real API handler on the real state store (moto, in process), the model IN_SERVICE
behind a fake endpoint, so any 5xx is the gateway's or the handler's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from local_runtime.gateway import Gateway
from tests.integration.fuzz_http import check, exchange, framings
from tests.unit.fuzz.fuzz_inputs import FUZZ, ROUTES, check_answer
from tests.unit.fuzz.fuzz_service import InService, api_in_service_context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[Gateway, InService]]:
    with api_in_service_context() as in_service:
        server = Gateway(
            api=lambda event: in_service.handler(event, None),
            static_dir=ROOT / "frontend",
            extra_routes={"/outbox": lambda: []},
        )
        server.start()
        try:
            yield server, in_service
        finally:
            server.close()


@FUZZ
@given(data=st.data())
def test_any_bytes_on_the_wire_get_an_answer_not_a_server_error(gateway, data) -> None:
    server, _ = gateway
    port = server.server_address[1]
    method, request, half_close = data.draw(framings(port, ROUTES))
    status, headers, body = exchange(port, request, half_close, head_only=method.upper() == "HEAD")
    check(status, body, method, request, headers)


def request(port: int, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers)]
    return "\r\n".join(head).encode() + b"\r\n\r\n" + body


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ([("Content-Type", "application/json"), ("Content-Length", "abc")], b'{"text": "great"}'),
        ([("Content-Type", "application/json"), ("Content-Length", "-5")], b'{"text": "great"}'),
        (
            [("Content-Type", "application/json"), ("Content-Length", "17"), ("Content-Length", "5")],
            b'{"text": "great"}',
        ),
        (
            [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
            b'11\r\n{"text": "great"}\r\n0\r\n\r\n',
        ),
        (
            [("Content-Type", "application/json"), ("Content-Type", "text/plain"), ("Content-Length", "17")],
            b'{"text": "great"}',
        ),
    ],
)
def test_framing_the_gateway_cannot_trust_is_a_4xx_on_an_open_connection(gateway, headers, body) -> None:
    """A request whose length is unknowable or ambiguous, or whose media type is two things, is refused at once
    (and the connection closed, so nothing left unread is parsed as a next request)."""
    server, _ = gateway
    port = server.server_address[1]
    status, answer_headers, answer = exchange(port, request(port, "POST", "/predict", headers, body), half_close=False)
    check_answer(status or 0, answer, headers)
    assert status is not None and 400 <= status < 500, (status, answer)
    assert answer_headers.get("connection", "").lower() == "close"


@pytest.mark.parametrize(
    "line",
    [
        "GET /status HTTP/2.0",
        "GET /status HTTP/1.1.1",
        "GET /status FOO/1.1",
        "GARBAGE",
        "GET  /status  HTTP/1.1 extra",
    ],
)
def test_a_request_line_http_server_cannot_parse_is_a_json_4xx(gateway, line: str) -> None:
    server, _ = gateway
    port = server.server_address[1]
    status, _, body = exchange(port, f"{line}\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(), half_close=True)
    assert status is not None and 400 <= status < 500, (status, body)
    check_answer(status, body, line)
