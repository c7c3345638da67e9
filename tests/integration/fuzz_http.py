"""Raw HTTP on a loopback socket for the fuzz tests of the local gateway and the model server: requests whose
framing itself may be wrong, and the check every answer must pass."""

from __future__ import annotations

import contextlib
import socket

from hypothesis import strategies as st

from tests.unit.fuzz.fuzz_inputs import METHODS, any_body, check_answer, header_lists

ANSWER_TIMEOUT = 15.0


def exchange(
    port: int,
    request: bytes,
    half_close: bool,
    head_only: bool = False,
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


def check(status: int | None, body: bytes, method: str, request: bytes, headers: dict[str, str] | None = None) -> None:
    """Never a 5xx; a 4xx is JSON with error and message; a 2xx is JSON, or the web page the gateway serves (`/`,
    `/index.html`: HTML, which `headers` tells apart)."""
    assert status is not None, f"an answer without a status line: {body[:200]!r} to {request[:200]!r}"
    if method.upper() == "HEAD":
        assert status < 500, (status, request[:300])
        return
    if status < 400 and (headers or {}).get("content-type", "").startswith("text/html"):
        assert body.lstrip().lower().startswith(b"<!doctype html>"), (status, body[:200], request[:300])
        return
    check_answer(status, body, request[:300])


@st.composite
def framings(draw: st.DrawFn, port: int, routes: tuple[str, ...]) -> tuple[str, bytes, bool]:
    """(method, the raw request, whether to half-close after it) for a server on `port` serving `routes`."""
    method = draw(st.sampled_from(METHODS) | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ-_@", min_size=1, max_size=8))
    target = draw(
        st.sampled_from(routes)
        | st.sampled_from(
            (
                "/status?x=%ff&x=1",
                "//start",
                "/predict/",
                "/%2e%2e/%2e%2e/etc/passwd",
                "*",
                "http://evil.test/status",
                "/status#frag",
                "/\u00e9",
                "/outbox",
                "/index.html",
                "/" + "a" * 70000,
                "",
            )
        )
    )
    version = draw(
        st.sampled_from(
            ("HTTP/1.1",) * 6 + ("HTTP/1.0", "HTTP/2.0", "HTTP/1.1.1", "HTTP/9", "HTTP/0.9", "http/1.1", "")
        )
    )
    body = draw(st.none() | any_body) or b""
    lines = [f"{method} {target} {version}".rstrip()]
    host = draw(st.sampled_from((f"127.0.0.1:{port}",) * 5 + (f"localhost:{port}", "evil.test", "", "127.0.0.1")))
    if host is not None and draw(st.integers(0, 9)) > 0:
        lines.append(f"Host: {host}")
    lines += [f"{name}: {value}" for name, value in draw(header_lists())]
    framing = draw(
        st.sampled_from(
            ("exact",) * 4
            + (
                "none",
                "short",
                "long",
                "text",
                "negative",
                "two",
                "twice",
                "fullwidth",
                "huge",
                "chunked",
                "chunked_and_length",
            )
        )
    )
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
