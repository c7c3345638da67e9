"""The local state store's server: moto's DynamoDB-compatible server on a loopback port, with the stack's table
created from the key schema in template.yaml. The lifecycle's own pynamodb adapter talks to it unchanged.

Two things stand between moto's app and the socket (`LoopbackOnly`):
- moto answers any web page: it echoes every Origin in CORS headers, so a page that finds the port could rewrite the
  tables. Requests carrying an Origin or a Host other than this loopback address are refused, CORS headers dropped.
- moto does not serialize requests: `update_item` reads the item, checks the condition and applies the update
  without a lock, so two identical conditional writes can both pass (a phone subscribed twice). DynamoDB applies a
  write to one item atomically; one lock around every request makes the local server do the same.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local_runtime.cfn_template import load_template, table_definition

log = logging.getLogger(__name__)
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request at INFO

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LoopbackOnly:
    """WSGI middleware around moto's app: SDK clients on this machine only, one request at a time."""

    def __init__(self, app: WsgiApp, allowed_hosts: Callable[[], frozenset[str]]) -> None:
        self._app = app
        self._allowed_hosts = allowed_hosts
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST", "").lower()
        if "HTTP_ORIGIN" in environ or host not in self._allowed_hosts():
            # An SDK sends no Origin; a browser always does on a cross-origin request, and DNS rebinding sends
            # its own Host. Neither gets an answer it may read (no CORS headers).
            body = json.dumps(
                {
                    "__type": "AccessDeniedException",
                    "message": "The local state store answers only SDK clients on this machine.",
                }
            ).encode()
            start_response(
                "403 Forbidden", [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))]
            )
            return [body]

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
    """moto's server (every service it emulates) behind `LoopbackOnly`, in a thread of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._allowed_hosts: frozenset[str] = frozenset()

    def start(self) -> str:
        """Start listening; returns the endpoint URL."""
        app = LoopbackOnly(DomainDispatcherApplication(create_backend_app), lambda: self._allowed_hosts)
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
    """Starts the loopback moto server in a thread (no child process to leak) and creates the tables."""

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
        self._server = LoopbackMotoServer(host=host, port=port)
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
        """A boto3 DynamoDB client for this server (local credentials, never AWS)."""
        return boto3.client(
            "dynamodb",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def close(self) -> None:
        self._server.stop()
