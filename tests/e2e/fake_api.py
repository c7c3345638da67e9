"""A small stand-in for the API, for browser tests of the page's own behaviour (error messages, validation,
timeouts, tiers, the stop notice, the budget) without starting the model. It follows the contract in DESIGN.md and
api/openapi.yaml (test_fake_api_contract.py checks that) and serves `frontend/` like the local gateway does. The real
runtime is exercised by test_page_real_runtime.py."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
CODE_ON_ITS_WAY = (
    "If this number can get texts, a code is on its way; a number gets one code a day, valid until midnight UTC."
)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class FakeModel:
    """The state the fake API serves. Tests change the knobs to provoke each answer the page must explain."""

    start_seconds: float = 1.0
    keep_alive_seconds: int = 120
    predict_status: int = 200  # 200, 400, 503, 500
    predict_delay_seconds: float = 0.0
    instant_tier: str = "off"  # "off" | "while-starting" | "always": when the instant CPU model answers /predict
    gpu_fails: bool = False  # the GPU endpoint fails every call, so the instant tier answers, degraded
    notice_seconds: int = 0  # how long before expires_at the stop notice is due (0: NoticeMinutes off)
    gpu_minutes_per_day: float | None = None  # None: an API without a budget (before wave 2)
    gpu_minutes_used_today: float = 0.0
    cooldown_seconds: float = 0.0  # after a teardown, /start is refused this long
    extend_needs_recent_use: bool = False  # /extend answers 409 no_recent_use until a /predict succeeds
    pipeline: dict[str, Any] | None = None  # GET /pipeline's answer; None answers 404 (a deployed stack)
    state: str = "STOPPED"
    last_error: str | None = None
    last_error_code: str | None = None
    cooldown_until: datetime | None = None
    predicted_at: datetime | None = None
    since: datetime = field(default_factory=lambda: datetime.now(UTC))
    expires_at: datetime | None = None
    subscribers: list[str] = field(default_factory=list)
    sms_country_codes: tuple[str, ...] = ("+1",)
    codes: dict[str, str] = field(default_factory=dict)  # today's code per number, as texted (the outbox has it)
    confirmations: dict[str, str] = field(default_factory=dict)  # the token /phone/confirm gave per number
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
                self.outbox.append(
                    {
                        "at": _iso(now),
                        "phone": phone,
                        "message": "Your model is ready.",
                        "provider": "outbox",
                        "ok": True,
                        "detail": "fake-1",
                    }
                )
            self.subscribers.clear()
        if self.state == "IN_SERVICE" and self.expires_at and now >= self.expires_at:
            self._move("STOPPED", "keep-alive expired")
            self.expires_at = None
            if self.cooldown_seconds:
                self.cooldown_until = now + timedelta(seconds=self.cooldown_seconds)

    def budget(self) -> dict[str, Any] | None:
        if self.gpu_minutes_per_day is None:
            return None
        tomorrow = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        return {
            "gpu_minutes_per_day": self.gpu_minutes_per_day,
            "gpu_minutes_used_today": self.gpu_minutes_used_today,
            "gpu_minutes_left_today": max(0.0, self.gpu_minutes_per_day - self.gpu_minutes_used_today),
            "resets_at": _iso(tomorrow),
        }

    def budget_spent(self) -> bool:
        budget = self.budget()
        return budget is not None and budget["gpu_minutes_left_today"] <= 0

    def status(self, advance: bool = True) -> dict[str, Any]:
        if advance:
            self._advance()
        now = datetime.now(UTC)
        seconds_left = int((self.expires_at - now).total_seconds()) if self.expires_at else None
        eta = max(0, int(self.start_seconds - (now - self.since).total_seconds())) if self.state == "STARTING" else None
        notice_at = (
            self.expires_at - timedelta(seconds=self.notice_seconds)
            if self.state == "IN_SERVICE" and self.expires_at and self.notice_seconds
            else None
        )
        cooling = self.cooldown_until if self.cooldown_until and self.cooldown_until > now else None
        status = {
            "state": self.state,
            "endpoint_name": "sentiment-fake" if self.state != "STOPPED" else None,
            "since": _iso(self.since),
            "expires_at": _iso(self.expires_at) if self.expires_at else None,
            "seconds_left": seconds_left,
            "eta_seconds": eta,
            "version": self.version,
            "subscribers_count": len(self.subscribers),
            "last_error": self.last_error,
            "last_error_code": self.last_error_code,
            "history": self.history[-20:],
            "notice_at": _iso(notice_at) if notice_at else None,
            "instant_tier": self.instant_tier,
            "cooldown_until": _iso(cooling) if cooling else None,
        }
        if (budget := self.budget()) is not None:
            status["budget"] = budget
        return status

    def instant_may_answer(self) -> bool:
        return self.instant_tier == "always" or (self.instant_tier == "while-starting" and self.state == "STARTING")


def _score(text: str) -> int:
    words = [w.strip(".,!") for w in text.lower().split()]
    return sum(w in {"great", "wonderful", "delight", "loved", "superb"} for w in words) - sum(
        w in {"awful", "boring", "dull", "hated", "terrible", "mess"} for w in words
    )


def _classify(text: str) -> dict[str, Any]:
    """A word count stands in for the model: enough to tell the page's rendering apart for two labels."""
    positive = _score(text) >= 0
    return {"label": "POSITIVE" if positive else "NEGATIVE", "label_id": int(positive), "prob": 0.9}


class _Handler(SimpleHTTPRequestHandler):
    model: FakeModel
    cors: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(FRONTEND_DIR), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if status >= 400:
            body = {**body, "request_id": str(uuid.uuid4())}
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

    def _budget_exhausted(self, model: FakeModel) -> None:
        """The 429 /start and /extend answer once today's GPU budget is spent."""
        self._json(
            429,
            {
                "error": "budget_exhausted",
                "message": "Today's GPU budget is spent.",
                "resets_at": model.budget()["resets_at"],
            },
            {"Retry-After": "3600"},
        )

    def do_OPTIONS(self) -> None:
        self.send_response(204 if self.cors else 405)
        if self.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "GET,POST,OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.end_headers()

    def _phone(self, body: Any) -> str | None:
        """The body's phone, or None after answering 400 as the real API does."""
        phone = body.get("phone") if isinstance(body, dict) else None
        if phone is None:
            self._json(400, {"error": "missing_phone", "message": 'Send "phone", such as {"phone": "+12025550100"}.'})
            return None
        phone = re.sub(r"[\s().-]", "", str(phone))
        if not E164.fullmatch(phone):
            self._json(400, {"error": "invalid_phone", "message": '"phone" must be an international number.'})
            return None
        if not phone.startswith(self.model.sms_country_codes):
            allowed = ", ".join(self.model.sms_country_codes)
            message = f'Texts go only to numbers starting with {allowed}; leave "phone" out.'
            self._json(400, {"error": "phone_not_allowed", "message": message})
            return None
        return phone

    def _send_code(self, body: Any) -> None:
        phone = self._phone(body)
        if phone is None:
            return
        with self.model.lock:
            if phone not in self.model.codes:  # one code a day: a second request texts nothing, answers the same
                code = self.model.codes[phone] = f"{secrets.randbelow(10**6):06d}"
                self.model.outbox.append(
                    {
                        "at": _iso(datetime.now(UTC)),
                        "phone": phone,
                        "message": f"Sentiment model on fake: your code is {code} (valid today, UTC).",
                        "provider": "outbox",
                        "ok": True,
                        "detail": "fake-code",
                    }
                )
        self._json(202, {"message": CODE_ON_ITS_WAY})

    def _confirm(self, body: Any) -> None:
        phone = self._phone(body)
        if phone is None:
            return
        code = body.get("code")
        if not (isinstance(code, str) and re.fullmatch(r"[0-9]{6}", code)):
            self._json(400, {"error": "invalid_code", "message": '"code" must be the 6 digits texted to the number.'})
            return
        with self.model.lock:
            if self.model.codes.get(phone) != code:
                self._json(400, {"error": "wrong_code", "message": "That is not the code texted to this number today."})
                return
            expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
            token = self.model.confirmations[phone] = f"{int(expires.timestamp())}.{secrets.token_hex(32)}"
        self._json(200, {"confirmation": token, "expires_at": _iso(expires)})

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        if self.path == "/status":
            with self.model.lock:
                self._json(200, self.model.status())
        elif self.path == "/outbox":
            with self.model.lock:
                self._json(200, list(self.model.outbox))
        elif self.path == "/pipeline":
            if self.model.pipeline is None:
                self._json(404, {"error": "not_found", "message": "No route /pipeline."})
            else:
                self._json(200, dict(self.model.pipeline))
        else:
            super().do_GET()

    def do_POST(self) -> None:
        body = self._body()
        model = self.model
        if self.path == "/phone/code":
            self._send_code(body)
        elif self.path == "/phone/confirm":
            self._confirm(body)
        elif self.path == "/start":
            if body.get("phone") is not None:
                phone = self._phone(body)
                if phone is None:
                    return
                given = body.get("confirmation")
                if not isinstance(given, str) or model.confirmations.get(phone) != given:
                    self._json(
                        400, {"error": "unconfirmed_phone", "message": "Confirm this number first: ask for a code."}
                    )
                    return
                body = {**body, "phone": phone}
            with model.lock:
                status = model.status()
                if status["state"] == "IN_SERVICE":
                    self._json(200, {**status, "subscribed": False})
                    return
                if status["state"] in ("STOPPED", "FAILED") and model.budget_spent():
                    self._budget_exhausted(model)
                    return
                if status["state"] in ("STOPPED", "FAILED") and status["cooldown_until"]:
                    wait = int((model.cooldown_until - datetime.now(UTC)).total_seconds()) + 1
                    self._json(
                        429,
                        {
                            "error": "cooling_down",
                            "message": "The model stopped moments ago.",
                            "retry_after_seconds": wait,
                        },
                        {"Retry-After": str(wait)},
                    )
                    return
                if body.get("phone") and body["phone"] not in model.subscribers:
                    model.subscribers.append(body["phone"])
                if status["state"] in ("STOPPED", "FAILED"):
                    model._move("STARTING", "start requested")
                # As the real API: the answer to a start that was just accepted is STARTING, however fast.
                self._json(202, {**model.status(advance=False), "subscribed": bool(body.get("phone"))})
        elif self.path == "/extend":
            with model.lock:
                if model.budget_spent():
                    self._budget_exhausted(model)
                    return
                if model.extend_needs_recent_use and model.predicted_at is None:
                    self._json(
                        409,
                        {
                            "error": "no_recent_use",
                            "message": "Extend works while someone is using the model: make a prediction first.",
                        },
                    )
                    return
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
            elif model.predict_status == 503 or (status["state"] != "IN_SERVICE" and not model.instant_may_answer()):
                self._json(
                    503,
                    {"error": "model_not_ready", "message": "The model is not in service.", "state": status["state"]},
                    {"Retry-After": "30"},
                )
            else:
                texts = body.get("texts") or [body.get("text", "")]
                answer = {"predictions": [_classify(t) for t in texts]}
                if status["state"] == "IN_SERVICE" and not model.gpu_fails:
                    answer |= {"latency_ms": 12, "model": "fake-gpu", "tier": "gpu"}
                    for text, prediction in zip(texts, answer["predictions"], strict=True):  # clear-cut: linear alone
                        prediction["scored_by"] = "linear" if abs(_score(text)) >= 3 else "transformer+linear"
                else:  # not in service, or the GPU call failed: the instant CPU model answers
                    answer |= {
                        "latency_ms": 2,
                        "model": "fake-instant",
                        "tier": "instant",
                        "degraded": status["state"] == "IN_SERVICE",
                    }
                with model.lock:
                    model.predicted_at = datetime.now(UTC)
                self._json(200, answer)
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
