"""A small stand-in for the API, for browser tests of the page's own behaviour (error messages, validation,
timeouts) without starting the model. It follows the contract in DESIGN.md and serves `frontend/` like the
local gateway does. The real runtime is exercised by test_page_real_runtime.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class FakeModel:
    """The state the fake API serves. Tests change the knobs to provoke each answer the page must explain."""

    start_seconds: float = 1.0
    keep_alive_seconds: int = 120
    predict_status: int = 200  # 200, 400, 503, 500
    predict_delay_seconds: float = 0.0
    state: str = "STOPPED"
    last_error: str | None = None
    since: datetime = field(default_factory=lambda: datetime.now(UTC))
    expires_at: datetime | None = None
    subscribers: list[str] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    version: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _move(self, to: str, reason: str) -> None:
        now = datetime.now(UTC)
        self.history.append({"at": _iso(now), "from": self.state, "to": to, "reason": reason})
        self.state, self.since, self.version = to, now, self.version + 1

    def _advance(self) -> None:
        """Time passes: a start finishes after `start_seconds`, and an expired model stops."""
        now = datetime.now(UTC)
        if self.state == "STARTING" and (now - self.since).total_seconds() >= self.start_seconds:
            self._move("IN_SERVICE", "endpoint InService")
            self.expires_at = now + timedelta(seconds=self.keep_alive_seconds)
            for phone in self.subscribers:
                self.outbox.append({"at": _iso(now), "phone": phone, "message": "Your model is ready.",
                                    "provider": "outbox", "ok": True, "detail": "fake-1"})
            self.subscribers.clear()
        if self.state == "IN_SERVICE" and self.expires_at and now >= self.expires_at:
            self._move("STOPPED", "keep-alive expired")
            self.expires_at = None

    def status(self, advance: bool = True) -> dict[str, Any]:
        if advance:
            self._advance()
        now = datetime.now(UTC)
        seconds_left = int((self.expires_at - now).total_seconds()) if self.expires_at else None
        eta = max(0, int(self.start_seconds - (now - self.since).total_seconds())) if self.state == "STARTING" else None
        return {"state": self.state, "endpoint_name": "sentiment-fake" if self.state != "STOPPED" else None,
                "since": _iso(self.since), "expires_at": _iso(self.expires_at) if self.expires_at else None,
                "seconds_left": seconds_left, "eta_seconds": eta, "version": self.version,
                "subscribers_count": len(self.subscribers), "last_error": self.last_error,
                "history": self.history[-20:]}


def _classify(text: str) -> dict[str, Any]:
    """A word count stands in for the model: enough to tell the page's rendering apart for two labels."""
    words = text.lower().split()
    score = sum(w.strip(".,!") in {"great", "wonderful", "delight", "loved", "superb"} for w in words) - sum(
        w.strip(".,!") in {"awful", "boring", "dull", "hated", "terrible", "mess"} for w in words
    )
    positive = score >= 0
    return {"label": "POSITIVE" if positive else "NEGATIVE", "label_id": int(positive), "prob": 0.9}


class _Handler(SimpleHTTPRequestHandler):
    model: FakeModel
    cors: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(FRONTEND_DIR), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        pass

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(data)

    def do_OPTIONS(self) -> None:  # noqa: N802 - the CORS preflight, answered as API Gateway's CORS config would
        self.send_response(204 if self.cors else 405)
        if self.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "GET,POST,OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.end_headers()

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/status":
            with self.model.lock:
                self._json(200, self.model.status())
        elif self.path == "/outbox":
            with self.model.lock:
                self._json(200, list(self.model.outbox))
        else:
            super().do_GET()

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        model = self.model
        if self.path == "/start":
            with model.lock:
                status = model.status()
                if status["state"] == "IN_SERVICE":
                    self._json(200, {**status, "subscribed": False})
                    return
                if body.get("phone"):
                    model.subscribers.append(body["phone"])
                if status["state"] in ("STOPPED", "FAILED"):
                    model._move("STARTING", "start requested")
                # As the real API: the answer to a start that was just accepted is STARTING, however fast.
                self._json(202, {**model.status(advance=False), "subscribed": bool(body.get("phone"))})
        elif self.path == "/extend":
            with model.lock:
                model.expires_at = datetime.now(UTC) + timedelta(seconds=model.keep_alive_seconds)
                self._json(200, {**model.status(), "capped": False})
        elif self.path == "/predict":
            time.sleep(model.predict_delay_seconds)
            with model.lock:
                status = model.status()
            if model.predict_status == 400:
                self._json(400, {"error": "text_too_long", "message": "Text 1 has 2345 characters; the limit is 2000."})
            elif model.predict_status == 500:
                self._json(500, {"error": "internal", "message": "Something broke."})
            elif model.predict_status == 503 or status["state"] != "IN_SERVICE":
                self._json(503, {"error": "model_not_ready", "message": "The model is not in service.",
                                 "state": status["state"]}, {"Retry-After": "30"})
            else:
                texts = body.get("texts") or [body.get("text", "")]
                self._json(200, {"predictions": [_classify(t) for t in texts], "latency_ms": 12, "model": "fake"})
        else:
            self._json(404, {"error": "not_found", "message": f"No route {self.path}."})


@contextmanager
def serve_fake_api(model: FakeModel, cors: bool = False) -> Iterator[str]:
    """Serve the page and the fake API on a free loopback port; yields the base URL. `cors`: let pages from
    other origins call the API (the deployed stack's CORS configuration)."""
    handler = type("BoundHandler", (_Handler,), {"model": model, "cors": cors})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
