"""The local model server as the runtime runs it: `training.model_server` (the SageMaker container contract) behind
a gate that answers only the runtime that started it.

Any user of the machine can reach a loopback port, and any web page the developer opens can reach it by DNS
rebinding (a name of the attacker's that resolves to 127.0.0.1). So before any model work, a request must say
`Host: 127.0.0.1:PORT` (or localhost, [::1]) with this server's own port, and carry this run's token in
`X-Local-Model-Token`; anything else gets 403 with a sentence. The runtime's endpoint adapter
(`LocalEndpointControl`) sends the token on every call.

The token reaches the server in the environment (`LOCAL_MODEL_SERVER_TOKEN`), never on the command line, which every
user can read in /proc; the fork server passes it over its private pipe instead.

Run: `LOCAL_MODEL_SERVER_TOKEN=... python -m local_runtime.model_server_guard --model-dir DIR --port N`."""

from __future__ import annotations

import hmac
import json
import os
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

MODEL_TOKEN_HEADER = "X-Local-Model-Token"
MODEL_TOKEN_ENV = "LOCAL_MODEL_SERVER_TOKEN"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
DRAIN_BODY_BYTES = 1024 * 1024


def guarded(handler: type[BaseHTTPRequestHandler], token: str) -> type[BaseHTTPRequestHandler]:
    """`handler` (the model server's) with the Host and token check in front of every route."""
    if not token:
        raise ValueError("the model server's token is empty")
    expected = token.encode()

    class Guarded(handler):  # type: ignore[valid-type,misc]  # a class made at run time by make_handler
        def parse_request(self) -> bool:
            if not super().parse_request():
                return False
            port = self.server.server_address[1]
            host = (self.headers.get("Host") or "").strip().lower()
            if host not in {f"{name}:{port}" for name in LOOPBACK_NAMES}:
                self._refuse(
                    "host_not_allowed",
                    f"This model server answers only requests addressed to http://127.0.0.1:{port}.",
                )
                return False
            sent = (self.headers.get(MODEL_TOKEN_HEADER) or "").encode()
            if not hmac.compare_digest(sent, expected):
                self._refuse(
                    "token_required",
                    "This model server answers only the local runtime that started it (its token is missing or wrong).",
                )
                return False
            return True

        def _refuse(self, code: str, message: str) -> None:
            """403 and close, before any model work. A small body is read first: closing a socket with unread bytes
            resets it, and the client would see the reset instead of this answer."""
            self.close_connection = True
            length = self.headers.get("Content-Length", "")
            if length.isascii() and length.isdigit() and int(length) <= DRAIN_BODY_BYTES:
                self.rfile.read(int(length))
            body = json.dumps({"error": code, "message": message}).encode()
            self.send_response(HTTPStatus.FORBIDDEN)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{handler.__name__}"
    return Guarded


def serve_guarded(argv: list[str], token: str) -> None:
    """`training.model_server.main(argv)` with every handler it makes guarded by `token`. The model server builds its
    handler class through its module's `make_handler`, so that is where the gate goes in; training/ knows nothing of
    the runtime's token (on SageMaker, the platform in front of the container does this job)."""
    from training import model_server

    if not token:
        raise SystemExit(f"{MODEL_TOKEN_ENV} is not set: the model server will not run without its token")
    make_handler = model_server.make_handler
    model_server.make_handler = lambda app: guarded(make_handler(app), token)
    model_server.main(argv)


def main() -> None:
    token = os.environ.pop(MODEL_TOKEN_ENV, "")  # popped: nothing the model starts inherits it
    serve_guarded(sys.argv[1:], token)


if __name__ == "__main__":
    main()
