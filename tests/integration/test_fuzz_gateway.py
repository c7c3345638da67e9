"""The local gateway over real HTTP on loopback, under requests that are not valid: raw bytes on a socket, so the
framing itself can be wrong (Content-Length absent, short, not a number, negative, twice with two values;
Transfer-Encoding chunked; bad request lines and versions; header lines too long or too many; duplicate and
conflicting Content-Type; gzip claimed), with the bodies and headers of tests/unit/fuzz/fuzz_inputs.py.

Every request gets an answer (no reset, no silence) that is not a 5xx, and every 4xx is JSON with `error` and
`message`. Behind the gateway: the real API handler on the real state store (moto, in process), the model IN_SERVICE
behind a fake endpoint, so any 5xx is the gateway's or the handler's own."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from local_runtime.gateway import Gateway
from tests.unit.fuzz.fuzz_inputs import FUZZ, METHODS, ROUTES, any_body, check_answer, header_lists
from tests.unit.fuzz.fuzz_service import InService, api_in_service_context

ROOT = Path(__file__).resolve().parents[2]
ANSWER_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[Gateway, InService]]:
    with api_in_service_context() as in_service:
        server = Gateway(api=lambda event: in_service.handler(event, None), static_dir=ROOT / "frontend",
                         extra_routes={"/outbox": lambda: []})
        server.start()
        try:
            yield server, in_service
        finally:
            server.close()


def exchange(port: int, request: bytes, half_close: bool, head_only: bool = False,
             ) -> tuple[int | None, dict[str, str], bytes]:
    """Send raw bytes; read the answer to its end. `half_close` ends our side after sending (so a body shorter than
    its Content-Length ends); otherwise the answer must come while the connection stays open. Status None: the
    answer had no status line (HTTP/0.9)."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT) as connection:
        # The gateway may answer and close before reading everything: then read what it said.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sendall(request)
        if half_close:
            with contextlib.suppress(OSError):  # already closed by the gateway, after its answer
                connection.shutdown(socket.SHUT_WR)
        received = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
            head, separator, rest = received.partition(b"\r\n\r\n")
            if separator and not half_close:
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                if head_only or len(rest) >= int(headers.get("content-length", "0")):  # HEAD: headers only
                    break
    assert received, f"no answer at all to {request[:300]!r}"
    if not received.startswith(b"HTTP/"):
        return None, {}, received
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body[: int(headers.get("content-length", len(body)))]


def check(status: int | None, body: bytes, method: str, request: bytes) -> None:
    assert status is not None, f"an answer without a status line: {body[:200]!r} to {request[:200]!r}"
    if method.upper() == "HEAD":
        assert status < 500, (status, request[:300])
        return
    check_answer(status, body, request[:300])


@st.composite
def framings(draw: st.DrawFn, port: int) -> tuple[str, bytes, bool]:
    """(method, the raw request, whether to half-close after it)."""
    method = draw(st.sampled_from(METHODS) | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ-_@", min_size=1, max_size=8))
    target = draw(st.sampled_from(ROUTES) | st.sampled_from(
        ("/status?x=%ff&x=1", "//start", "/predict/", "/%2e%2e/%2e%2e/etc/passwd", "*", "http://evil.test/status",
         "/status#frag", "/\u00e9", "/outbox", "/index.html", "/" + "a" * 70000, "")))
    version = draw(st.sampled_from(("HTTP/1.1",) * 6 + ("HTTP/1.0", "HTTP/2.0", "HTTP/1.1.1", "HTTP/9", "HTTP/0.9",
                                                        "http/1.1", "")))
    body = draw(st.none() | any_body) or b""
    lines = [f"{method} {target} {version}".rstrip()]
    host = draw(st.sampled_from((f"127.0.0.1:{port}",) * 5 + (f"localhost:{port}", "evil.test", "", "127.0.0.1")))
    if host is not None and draw(st.integers(0, 9)) > 0:
        lines.append(f"Host: {host}")
    lines += [f"{name}: {value}" for name, value in draw(header_lists())]
    framing = draw(st.sampled_from(("exact",) * 4 + ("none", "short", "long", "text", "negative", "two", "twice",
                                                       "fullwidth", "huge", "chunked", "chunked_and_length")))
    half_close = draw(st.booleans())
    if framing == "exact":
        lines.append(f"Content-Length: {len(body)}")
    elif framing == "short":
        lines.append(f"Content-Length: {max(0, len(body) - draw(st.integers(1, 10)))}")
    elif framing == "long":
        lines.append(f"Content-Length: {len(body) + draw(st.integers(1, 10))}")
        half_close = True  # the gateway cannot tell a slow client from a short body: it waits, as it should
    elif framing == "text":
        lines.append(f"Content-Length: {draw(st.sampled_from(('abc', '1e3', '0x10', ' ', '1 2', '+5')))}")
    elif framing == "negative":
        lines.append(f"Content-Length: -{draw(st.integers(1, 100))}")
    elif framing == "two":
        lines += [f"Content-Length: {len(body)}", f"Content-Length: {len(body) + 7}"]
    elif framing == "twice":
        lines += [f"Content-Length: {len(body)}", f"Content-Length: {len(body)}"]
    elif framing == "fullwidth":
        lines.append("Content-Length: " + "".join(chr(0xFF10 + int(d)) for d in str(len(body))))
    elif framing == "huge":
        lines.append("Content-Length: 99999999999999999999999")
    elif framing in ("chunked", "chunked_and_length"):
        lines.append("Transfer-Encoding: chunked")
        if framing == "chunked_and_length":
            lines.append(f"Content-Length: {len(body)}")
        body = (f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n") if body else b"0\r\n\r\n"
    extra = draw(st.sampled_from(("", "", "", "fold", "long_header", "many_headers", "no_colon", "latin1")))
    if extra == "fold":
        lines.append(" continued on an obsolete folded line")
    elif extra == "long_header":
        lines.append("X-Long: " + "a" * 70000)
    elif extra == "many_headers":
        lines += [f"X-Many-{i}: {i}" for i in range(120)]
    elif extra == "no_colon":
        lines.append("this line has no colon")
    head = "\r\n".join(lines).encode("utf-8", "surrogatepass")
    if extra == "latin1":
        head += b"\r\nX-Bytes: \x80\xff\xfe"
    return method, head + b"\r\n\r\n" + body, half_close


@FUZZ
@given(data=st.data())
def test_any_bytes_on_the_wire_get_an_answer_not_a_server_error(gateway, data) -> None:
    server, _ = gateway
    port = server.server_address[1]
    method, request, half_close = data.draw(framings(port))
    status, _, body = exchange(port, request, half_close, head_only=method.upper() == "HEAD")
    check(status, body, method, request)


def request(port: int, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers)]
    return "\r\n".join(head).encode() + b"\r\n\r\n" + body


@pytest.mark.parametrize(("headers", "body"), [
    ([("Content-Type", "application/json"), ("Content-Length", "abc")], b'{"text": "great"}'),
    ([("Content-Type", "application/json"), ("Content-Length", "-5")], b'{"text": "great"}'),
    ([("Content-Type", "application/json"), ("Content-Length", "17"), ("Content-Length", "5")], b'{"text": "great"}'),
    ([("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")], b'11\r\n{"text": "great"}\r\n0\r\n\r\n'),
    ([("Content-Type", "application/json"), ("Content-Type", "text/plain"), ("Content-Length", "17")],
     b'{"text": "great"}'),
])
def test_framing_the_gateway_cannot_trust_is_a_4xx_on_an_open_connection(gateway, headers, body) -> None:
    """A request whose length is unknowable or ambiguous, or whose media type is two things, is refused at once
    (and the connection closed, so nothing left unread is parsed as a next request)."""
    server, _ = gateway
    port = server.server_address[1]
    status, answer_headers, answer = exchange(port, request(port, "POST", "/predict", headers, body), half_close=False)
    check_answer(status or 0, answer, headers)
    assert status is not None and 400 <= status < 500, (status, answer)
    assert answer_headers.get("connection", "").lower() == "close"


@pytest.mark.parametrize("line", ["GET /status HTTP/2.0", "GET /status HTTP/1.1.1", "GET /status FOO/1.1",
                                  "GARBAGE", "GET  /status  HTTP/1.1 extra"])
def test_a_request_line_http_server_cannot_parse_is_a_json_4xx(gateway, line: str) -> None:
    server, _ = gateway
    port = server.server_address[1]
    status, _, body = exchange(port, f"{line}\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(), half_close=True)
    assert status is not None and 400 <= status < 500, (status, body)
    check_answer(status, body, line)
