"""The local state store's server: moto's DynamoDB-compatible server on a loopback port, with the stack's table
created from the key schema in template.yaml. The lifecycle's own pynamodb adapter talks to it unchanged.

Three things stand between moto's app and the socket (`LoopbackOnly`):
- moto answers any credentials, and any user of the machine can reach a loopback port: another user read the
  subscribers' phone numbers with made-up keys. Each run makes its own random access key
  (`LocalStateServer.credentials`, handed only to the runtime's own store adapters) and every request must carry a
  SigV4 signature made with it (`sigv4_refusal`); anything else gets DynamoDB's own error shape, 400
  UnrecognizedClientException or InvalidSignatureException. moto's unsigned `/moto-api/` (its data dump and reset) is
  refused the same way.
- moto answers any web page: it echoes every Origin in CORS headers, so a page that finds the port could rewrite the
  tables. Requests carrying an Origin or a Host other than this loopback address are refused, CORS headers dropped.
- moto does not serialize requests: `update_item` reads the item, checks the condition and applies the update
  without a lock, so two identical conditional writes can both pass (a phone subscribed twice). DynamoDB applies a
  write to one item atomically; one lock around every request makes the local server do the same.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from ondemand.adapters.dynamodb import StaticCredentials
from werkzeug.serving import BaseWSGIServer, make_server

from local_runtime.cfn_template import load_template, table_definition

log = logging.getLogger(__name__)
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request at INFO

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<scope>[^,\s]+),\s*"
    r"SignedHeaders=(?P<headers>[a-z0-9;\-]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW_SECONDS = 15 * 60  # DynamoDB's own limit ("Signature expired")
MAX_SIGNED_BODY_BYTES = 16 * 1024 * 1024  # DynamoDB's largest request; the body must be read to check its hash
# DynamoDB answers an unknown key or a bad signature with 400 and these types (Error handling with DynamoDB,
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html).
UNKNOWN_KEY = (
    "UnrecognizedClientException",
    "The security token included in the request is invalid: this local state store answers only the runtime that "
    "started it.",
)
NO_SIGNATURE = ("MissingAuthenticationTokenException", "Request is missing a SigV4 Authorization header.")
BAD_SIGNATURE = (
    "InvalidSignatureException",
    "The request signature we calculated does not match the signature you provided.",
)
EXPIRED = ("InvalidSignatureException", "Signature expired: X-Amz-Date is more than 15 minutes from now.")


def new_local_credentials() -> StaticCredentials:
    """A random access key for one run of the state store: no one else on the machine can guess it."""
    return StaticCredentials(f"LOCAL{secrets.token_hex(8).upper()}", secrets.token_urlsafe(30))


def _header(environ: dict[str, Any], name: str) -> str:
    key = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}.get(name)
    return str(environ.get(key or "HTTP_" + name.upper().replace("-", "_"), ""))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_refusal(
    environ: dict[str, Any], body: bytes, credentials: StaticCredentials, now: datetime | None = None
) -> tuple[str, str] | None:
    """None when the request is signed (SigV4, as botocore signs it) with `credentials`; otherwise DynamoDB's error
    (type, message) for it. The signature is recomputed whole: knowing the key id alone is not enough."""
    match = AUTHORIZATION.fullmatch(_header(environ, "authorization").strip())
    if match is None:
        return NO_SIGNATURE
    if not hmac.compare_digest(match["key"].encode(), credentials.access_key_id.encode()):
        return UNKNOWN_KEY
    amz_date = _header(environ, "x-amz-date")
    scope = match["scope"]
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return BAD_SIGNATURE
    if abs(((now or datetime.now(UTC)) - signed_at).total_seconds()) > MAX_CLOCK_SKEW_SECONDS:
        return EXPIRED
    if not scope.startswith(amz_date[:8] + "/") or not scope.endswith("/aws4_request"):
        return BAD_SIGNATURE
    names = match["headers"].split(";")
    query = sorted(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    canonical_request = "\n".join(
        [
            str(environ.get("REQUEST_METHOD", "")),
            quote(str(environ.get("PATH_INFO", "")) or "/", safe="/~"),
            "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query),
            "".join(f"{name}:{' '.join(_header(environ, name).split())}\n" for name in names),
            match["headers"],
            hashlib.sha256(body).hexdigest(),
        ]
    )
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = ("AWS4" + credentials.secret_access_key).encode()
    for part in scope.split("/"):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), match["signature"].encode()):
        return BAD_SIGNATURE
    return None


def _dynamodb_error(start_response: Callable[..., Any], status: str, kind: str, message: str) -> list[bytes]:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{kind}", "message": message}).encode()
    start_response(status, [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))])
    return [body]


class LoopbackOnly:
    """WSGI middleware around moto's app: SDK clients on this machine, signing with this run's key, one request at a
    time."""

    def __init__(
        self, app: WsgiApp, allowed_hosts: Callable[[], frozenset[str]], credentials: StaticCredentials | None
    ) -> None:
        self._app = app
        self._allowed_hosts = allowed_hosts
        self._credentials = credentials
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST", "").lower()
        if "HTTP_ORIGIN" in environ or host not in self._allowed_hosts():
            # An SDK sends no Origin; a browser always does on a cross-origin request, and DNS rebinding sends
            # its own Host. Neither gets an answer it may read (no CORS headers).
            return _dynamodb_error(
                start_response,
                "403 Forbidden",
                "AccessDeniedException",
                "The local state store answers only SDK clients on this machine.",
            )
        if self._credentials is None:
            return self._serve(environ, start_response)
        length = str(environ.get("CONTENT_LENGTH") or "0")
        if not length.isdigit() or int(length) > MAX_SIGNED_BODY_BYTES:
            return _dynamodb_error(
                start_response, "400 Bad Request", "ValidationException", "Send one Content-Length of at most 16 MB."
            )
        body = environ["wsgi.input"].read(int(length))
        refusal = sigv4_refusal(environ, body, self._credentials)
        if refusal is not None:
            # Another user of the machine can reach this port, but cannot sign with this run's key.
            return _dynamodb_error(start_response, "400 Bad Request", *refusal)
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads the body again
        return self._serve(environ, start_response)

    def _serve(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def without_cors(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            kept = [(name, value) for name, value in headers if not name.lower().startswith("access-control-")]
            return start_response(status, kept, *exc_info)

        with self._lock:
            # The whole body is made inside the lock: moto reads its backend while it renders the answer.
            answer = self._app(environ, without_cors)
            try:
                return [b"".join(answer)]
            finally:
                if hasattr(answer, "close"):
                    answer.close()


class LoopbackMotoServer:
    """moto's server (every service it emulates) behind `LoopbackOnly`, in a thread of this process. With
    `credentials`, only requests signed with them are served (the runtime's state store); without, any (the tests'
    stand-in for AWS, which sign with made-up keys)."""

    def __init__(self, credentials: StaticCredentials | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self._credentials = credentials
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._allowed_hosts: frozenset[str] = frozenset()

    def start(self) -> str:
        """Start listening; returns the endpoint URL."""
        app = LoopbackOnly(
            DomainDispatcherApplication(create_backend_app), lambda: self._allowed_hosts, self._credentials
        )
        self._server = make_server(self._host, self._port, app, threaded=True, request_handler=MotoRequestHandler)
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server's address is (str, int)
        self._allowed_hosts = frozenset({f"{host}:{port}", f"localhost:{port}"})
        self._thread = threading.Thread(target=self._server.serve_forever, name="state-store", daemon=True)
        self._thread.start()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()


class LocalStateServer:
    """Starts the loopback moto server in a thread (no child process to leak) and creates the tables. `credentials`,
    random for each server, are the only ones it answers: hand them to the store adapters."""

    def __init__(
        self,
        table_name: str,
        region: str = "us-east-1",
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit_table_name: str = "ondemand-sentiment-rate-limits",
    ) -> None:
        self.table_name = table_name
        self.rate_limit_table_name = rate_limit_table_name
        self.region = region
        self.credentials = new_local_credentials()
        self._server = LoopbackMotoServer(self.credentials, host=host, port=port)
        self.url = ""

    def start(self) -> str:
        """Start the server and create the state and rate-limit tables; returns the endpoint URL
        (DYNAMODB_ENDPOINT_URL)."""
        self.url = self._server.start()
        template = load_template()
        for logical_id, name in (("StateTable", self.table_name), ("RateLimitTable", self.rate_limit_table_name)):
            self.client().create_table(
                TableName=name, BillingMode="PAY_PER_REQUEST", **table_definition(template, logical_id)
            )
        log.info("state store: tables %s, %s on %s", self.table_name, self.rate_limit_table_name, self.url)
        return self.url

    def client(self) -> Any:
        """A boto3 DynamoDB client for this server (this run's credentials, never AWS's)."""
        return boto3.client(
            "dynamodb",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=self.credentials.access_key_id,
            aws_secret_access_key=self.credentials.secret_access_key,
        )

    def close(self) -> None:
        self._server.stop()
