"""The local API gateway: serves the web page's static files, and turns every other HTTP request into an API
Gateway REST proxy event for the API handler, as `sam local start-api` would, returning the handler's response.

It listens on loopback for the developer who started it, and no web page they visit may use it: a Host header that
is not this loopback address is refused (DNS rebinding), a request carrying another Origin gets no more than a
plain GET of the API (no preflight, so no JSON POST; no /outbox), and a POST body must be `application/json`
(a cross-site form or `text/plain` fetch needs no preflight).

Other users of the machine can reach a loopback port too, so with a `token` (the runtime makes one per run and prints
the page's URL with it, `/?token=...`, as Jupyter does) everything but the page's files and the state (`GET /status`,
`GET /pipeline`: no phone numbers) needs that token in `X-Local-Token`: starting, extending, stopping, predicting,
the phone routes and the outbox. The page reads it once from its URL (frontend/js/api.js)."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import mimetypes
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
PAGE_FILE_SUFFIXES = frozenset({".html", ".js", ".css", ".png", ".svg", ".ico"})
STAGE = "local"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAFE_CROSS_ORIGIN_METHODS = frozenset({"GET", "HEAD"})  # what a foreign page may send without a preflight and read
JSON_MEDIA_TYPE = "application/json"
DRAIN_BODY_BYTES = 1024 * 1024
TOKEN_HEADER = "X-Local-Token"
OPEN_PATHS = frozenset({"/status", "/pipeline"})
"""What anyone on the machine may GET without the token: the state (it never shows a phone number) and the pipeline's
progress. The page's own files are open too (a browser sends no header for them). Everything else, any new route
included, needs the token."""
TOKEN_IN_QUERY = re.compile(r"(?<=[?&]token=)[^&#\s]*")


def redacted(path: str) -> str:
    """A request path for the log, without the token of a `?token=` URL."""
    return TOKEN_IN_QUERY.sub("***", path)


def proxy_event(
    method: str, raw_path: str, headers: dict[str, list[str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """An API Gateway REST API (v1) Lambda proxy event for one request."""
    split = urlsplit(raw_path)
    path = unquote(split.path) or "/"
    query = parse_qs(split.query, keep_blank_values=True)
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode("ascii"), True
    now = datetime.now(UTC)
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in headers.items()} or None,
        "multiValueHeaders": headers or None,
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": path.lstrip("/")} if path != "/" else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("Host", ["localhost"])[-1],
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", [""])[-1]},
        },
        "body": text if body else None,
        "isBase64Encoded": is_base64,
    }


class Gateway(ThreadingHTTPServer):
    """HTTP server on loopback. `api(event)` is the API handler; `extra_routes` answer GET paths with JSON."""

    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of simultaneous connects overflowed it and the kernel
    # reset the connections it had no room for, before any handler ran. The kernel caps this at somaxconn.
    request_queue_size = socket.SOMAXCONN

    def __init__(
        self,
        api: Callable[[dict[str, Any]], dict[str, Any]],
        static_dir: Path,
        extra_routes: dict[str, Callable[[], Any]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
    ) -> None:
        super().__init__((host, port), _GatewayRequestHandler)
        self.api = api
        self.token = token
        """None: no token asked (a gateway built in a test); the runtime always sets one."""
        self.static_dir = static_dir.resolve()
        self.extra_routes = extra_routes or {}
        self._thread: threading.Thread | None = None
        bound_port = self.server_address[1]
        names = {*LOOPBACK_NAMES, host.lower()} - {"0.0.0.0", "::", ""}
        # The Host header a browser sends for this server: name:port (the port is omitted only for 80).
        self.allowed_hosts = frozenset(f"{name}:{bound_port}" for name in names) | (
            frozenset(names) if bound_port == 80 else frozenset()
        )
        self.own_origins = frozenset(f"http://{allowed}" for allowed in self.allowed_hosts)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server's address is (str, int)
        return f"http://{host}:{port}"

    @property
    def page_url(self) -> str:
        """The page's URL with the token, the one to open (and print)."""
        return f"{self.base_url}/?token={self.token}" if self.token else f"{self.base_url}/"

    def needs_token(self, method: str, path: str) -> bool:
        if self.token is None:
            return False
        open_to_all = path in OPEN_PATHS or self.static_file(unquote(path)) is not None
        return not (method in SAFE_CROSS_ORIGIN_METHODS and open_to_all)

    def token_matches(self, sent: str | None) -> bool:
        assert self.token is not None
        return hmac.compare_digest((sent or "").encode(), self.token.encode())  # constant time

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever to return: it would wait forever otherwise
            self.shutdown()
        self.server_close()

    def static_file(self, path: str) -> Path | None:
        """The page's file under the static folder that `path` names (`/` is index.html), never outside it.
        Only the page's own kinds of file: the dashboard's Python beside it is not served."""
        relative = path.lstrip("/") or "index.html"
        if "\0" in relative:  # no file has one, and the OS refuses the name
            return None
        candidate = (self.static_dir / relative).resolve()
        if candidate.is_dir():
            candidate = candidate / "index.html"
        if candidate.is_file() and candidate.is_relative_to(self.static_dir) and candidate.suffix in PAGE_FILE_SUFFIXES:
            return candidate
        return None


class _GatewayRequestHandler(BaseHTTPRequestHandler):
    server: Gateway
    protocol_version = "HTTP/1.1"

    def parse_request(self) -> bool:
        """http.server's parsing, then the gate every request passes before any route or handler runs."""
        return super().parse_request() and self._allowed()

    def _allowed(self) -> bool:
        if not self._framing_is_clear():
            return False
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.allowed_hosts:
            # A page on another name that resolves here (DNS rebinding) sends its own name.
            self._refuse(
                HTTPStatus.FORBIDDEN,
                "host_not_allowed",
                "This local runtime answers only requests addressed to "
                f"http://127.0.0.1:{self.server.server_address[1]} (or localhost).",
            )
            return False
        origin = self.headers.get("Origin")
        path = urlsplit(self.path).path
        if (
            origin is not None
            and origin not in self.server.own_origins
            and (self.command not in SAFE_CROSS_ORIGIN_METHODS or path in self.server.extra_routes)
        ):
            # Refusing the preflight (OPTIONS) is what stops a foreign page's JSON POST: the browser never sends it.
            # Origin "null" (a file: page, a sandboxed frame on any site) is foreign too.
            self._refuse(
                HTTPStatus.FORBIDDEN,
                "cross_origin_refused",
                "Another web page may not use this local runtime; open the page it serves instead.",
            )
            return False
        if self.server.needs_token(self.command, path):
            sent = self.headers.get(TOKEN_HEADER)
            if not self.server.token_matches(sent):
                # Any user of this machine can reach a loopback port; only the developer has the printed URL.
                self._refuse(
                    HTTPStatus.FORBIDDEN,
                    "local_token_wrong" if sent else "local_token_required",
                    ("This local runtime's token is wrong" if sent else "This needs the local runtime's token")
                    + ": open the page from the URL the runtime printed (http://127.0.0.1:"
                    f"{self.server.server_address[1]}/?token=...), or send the token in the {TOKEN_HEADER} header.",
                )
                return False
        if self.command == "POST" and not self._json_or_no_body():
            self._refuse(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "A POST body must be JSON sent with Content-Type: application/json.",
            )
            return False
        return True

    def _framing_is_clear(self) -> bool:
        """One body length, in ASCII digits, and no chunked coding: anything else leaves bytes whose meaning the next
        reader could take differently (a request smuggled after this one), so it is refused and the connection
        closed. HTTP/0.9 (no headers, no status line) is refused too."""
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # so the refusal has a status line
            self._refuse(HTTPStatus.BAD_REQUEST, "unsupported_http_version", "Send HTTP/1.1 (or 1.0) requests.")
            return False
        lengths = {value.strip(" \t") for value in self.headers.get_all("Content-Length") or ()}
        if len(lengths) > 1 or any(not (length.isascii() and length.isdigit()) for length in lengths):
            self._refuse(
                HTTPStatus.BAD_REQUEST, "invalid_content_length", "Content-Length must be one whole number of bytes."
            )
            return False
        if self.headers.get("Transfer-Encoding"):
            self._refuse(
                HTTPStatus.LENGTH_REQUIRED,
                "length_required",
                "Send the body with a Content-Length; chunked transfer coding is not accepted here.",
            )
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a request line, version or header block it cannot parse), in JSON like every
        other answer instead of its HTML page. Its 505 for an HTTP version above 1.x is the client's error here too,
        so 400: no malformed request gets a 5xx."""
        status = HTTPStatus(code)
        if status >= 500:
            status = HTTPStatus.BAD_REQUEST
        if self.request_version == "HTTP/0.9":  # the default until a version is parsed: answer with a status line
            self.request_version = "HTTP/1.0"
        self.close_connection = True
        error = status.phrase.lower().replace(" ", "_").replace("-", "_")
        self._send(
            status,
            {"Content-Type": "application/json", "Connection": "close"},
            json.dumps({"error": error, "message": message or status.description}).encode(),
        )

    def _json_or_no_body(self) -> bool:
        if len(set(self.headers.get_all("Content-Type") or ())) > 1:
            return False  # two media types: which one the body is cannot be told
        content_type = self.headers.get("Content-Type")
        if content_type is None:
            return self.headers.get("Content-Length", "0").strip() in ("", "0") and not self.headers.get(
                "Transfer-Encoding"
            )
        return content_type.split(";", 1)[0].strip().lower() == JSON_MEDIA_TYPE

    def _refuse(self, status: HTTPStatus, code: str, message: str) -> None:
        """A JSON error without CORS headers, then the connection closes. A small body is read first: closing a
        socket with unread bytes resets it, and the client would see the reset instead of this answer."""
        self.close_connection = True
        length = self.headers.get("Content-Length", "")
        if length.isascii() and length.isdigit() and int(length) <= DRAIN_BODY_BYTES:
            self.rfile.read(int(length))
        self._send(
            status,
            {"Content-Type": "application/json", "Connection": "close"},
            json.dumps({"error": code, "message": message}).encode(),
        )

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path in self.server.extra_routes:
            # No CORS headers: only the page this gateway serves (same origin) reads the outbox.
            self._send(
                HTTPStatus.OK,
                {"Content-Type": "application/json", "Cache-Control": "no-store"},
                json.dumps(self.server.extra_routes[path]()).encode(),
            )
            return
        static = self.server.static_file(unquote(path))
        if static is not None:
            content_type = mimetypes.guess_type(static.name)[0] or "application/octet-stream"
            self._send(HTTPStatus.OK, {"Content-Type": content_type, "Cache-Control": "no-cache"}, static.read_bytes())
            return
        self._proxy()

    def do_POST(self) -> None:
        self._proxy()

    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_POST
    do_HEAD = do_GET

    def __getattr__(self, name: str) -> Any:
        """Any other method (TRACE, QUERY, ...) goes to the API too, which answers 404 as API Gateway would refuse
        it, instead of http.server's 501."""
        if name.startswith("do_"):
            return self._proxy
        raise AttributeError(name)

    def _proxy(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            error = {"error": "payload_too_large", "message": "The request body is larger than 10 MB."}
            self._send(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"Content-Type": "application/json"}, json.dumps(error).encode()
            )
            return
        body = self.rfile.read(length) if length else b""
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            if name.lower() != TOKEN_HEADER.lower():  # checked here; the handlers never see it (nor could log it)
                headers.setdefault(name, []).append(value)
        event = proxy_event(self.command, self.path, headers, body, self.client_address[0])
        try:
            response = self.server.api(event)
        except Exception:
            log.exception("the API handler raised on %s %s", self.command, redacted(self.path))
            error = {"error": "internal_error", "message": "The API failed unexpectedly; see the runtime's log."}
            self._send(HTTPStatus.BAD_GATEWAY, {"Content-Type": "application/json"}, json.dumps(error).encode())
            return
        self._send_proxy_response(response)
        log.info(
            "%s %s -> %s in %.0f ms",
            self.command,
            redacted(self.path),
            response.get("statusCode"),
            (time.perf_counter() - started) * 1000,
        )

    def _send_proxy_response(self, response: dict[str, Any]) -> None:
        raw = response.get("body") or ""
        body = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
        headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (response.get("headers") or {}).items()]
        single = {k.lower() for k, _ in headers}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            if name.lower() not in single:
                headers.extend((name, str(v)) for v in values)
        self._send(response.get("statusCode", 200), headers, body)

    def _send(self, status: int, headers: dict[str, str] | list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        items = headers.items() if isinstance(headers, dict) else headers
        for name, value in items:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), redacted(format % args))
