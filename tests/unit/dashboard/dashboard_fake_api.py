"""An in-memory fake of the platform's HTTP API (DESIGN.md "Contracts"), served through requests-mock.

It keeps one state item and moves it the way the lifecycle does, records every call, and can be told to fail a
path with an error body or a refused connection."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import requests_mock

FAKE_API_URL = "http://fake-api.test"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakePlatformApi:
    state: str = "STOPPED"
    version: int = 0
    since: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    """A never-written item reads as STOPPED since the epoch at version 0, as the lifecycle's store answers."""
    endpoint_name: str | None = None
    expires_at: datetime | None = None
    subscribers: list[str] = field(default_factory=list)
    last_error: str | None = None
    history: list[dict[str, str]] = field(default_factory=list)
    outbox: list[dict[str, Any]] | None = field(default_factory=list)
    """None: the API has no /outbox (a deployed stack)."""
    admin_key: str | None = "admin-secret"
    """None: the API has no /stop."""
    failures: dict[str, tuple[int, dict[str, Any]] | str] = field(default_factory=dict)
    """path -> (status, body), or "refused" for a connection that never opens."""
    extend_capped: bool = False
    """True: /extend hits the hard cap and says so, as the lifecycle does."""
    instant_tier: str | None = None
    """"off" | "while-starting" | "always"; None: an API from before the instant tier (no field, no tier)."""
    gpu_fails: bool = False
    """The GPU endpoint fails every call: the instant tier answers, degraded."""
    notice_minutes: int = 0
    """The stop notice goes out this long before expires_at while IN_SERVICE (0: off, notice_at null)."""
    budget: dict[str, Any] | None = None
    """GET /status's `budget`; None leaves the field out."""
    last_error_code: str | None = None
    pipeline: dict[str, Any] | None = None
    """GET /pipeline's answer; None answers 404, as a deployed stack does."""
    calls: list[Call] = field(default_factory=list)

    # --- what tests arrange and inspect ----------------------------------------------------------------------

    def move(self, to: str, reason: str, at: datetime | None = None) -> None:
        at = at or datetime.now(UTC)
        self.history.append({"at": iso(at), "from": self.state, "to": to, "reason": reason})
        self.state, self.since, self.version = to, at, self.version + 1

    def posts(self, path: str) -> list[Call]:
        return [call for call in self.calls if call.method == "POST" and call.path == path]

    def status_body(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "state": self.state,
            "endpoint_name": self.endpoint_name,
            "since": iso(self.since),
            "expires_at": iso(self.expires_at) if self.expires_at else None,
            "seconds_left": int((self.expires_at - now).total_seconds()) if self.expires_at else None,
            "eta_seconds": 300 if self.state == "STARTING" else None,
            "version": self.version,
            "subscribers_count": len(self.subscribers),
            "last_error": self.last_error,
            "last_error_code": self.last_error_code,
            "history": list(self.history),
            "notice_at": (
                iso(self.expires_at - timedelta(minutes=self.notice_minutes))
                if self.state == "IN_SERVICE" and self.expires_at and self.notice_minutes
                else None
            ),
            **({"instant_tier": self.instant_tier} if self.instant_tier else {}),
            **({"budget": self.budget} if self.budget is not None else {}),
        }

    # --- the HTTP side ---------------------------------------------------------------------------------------

    def register(self, mocker: requests_mock.Mocker) -> None:
        mocker.register_uri(requests_mock.ANY, re.compile(re.escape(FAKE_API_URL) + "/.*"), text=self._answer)

    def _answer(self, request: requests.PreparedRequest, context: Any) -> str:
        path = request.path_url.split("?")[0]
        body = json.loads(request.body) if request.body else None
        self.calls.append(Call(request.method, path, dict(request.headers), body))
        failure = self.failures.get(path)
        if failure == "refused":
            raise requests.ConnectionError("[Errno 111] Connection refused")
        if failure:
            context.status_code, error_body = failure
            return json.dumps(error_body)
        status, answer = self._route(request.method, path, body or {}, request.headers)
        context.status_code = status
        context.headers["Content-Type"] = "application/json"
        return json.dumps(answer)

    def _route(self, method: str, path: str, body: dict[str, Any], headers: Any) -> tuple[int, Any]:
        if (method, path) == ("GET", "/status"):
            return 200, self.status_body()
        if (method, path) == ("POST", "/start"):
            if body.get("phone"):
                self.subscribers.append(body["phone"])
            if self.state in ("STOPPED", "FAILED"):
                self.endpoint_name = "ondemand-sentiment-20261123-091500"
                self.move("STARTING", "start requested")
            return (200 if self.state == "IN_SERVICE" else 202), self.status_body()
        if (method, path) == ("POST", "/extend"):
            if self.state != "IN_SERVICE":
                return 409, {
                    "error": "conflict",
                    "message": f"The model is {self.state}; only a model in service can be extended.",
                }
            if not self.extend_capped:
                self.expires_at = datetime.now(UTC) + timedelta(minutes=30)
            self.version += 1
            return 200, {**self.status_body(), "capped": self.extend_capped}
        if (method, path) == ("POST", "/stop") and self.admin_key:
            if headers.get("x-api-key") != self.admin_key:
                return 403, {"error": "forbidden", "message": "The admin key is missing or wrong."}
            self.move("STOPPING", "stopped by an admin")
            return 202, self.status_body()
        if (method, path) == ("POST", "/predict"):
            instant = self.instant_tier == "always" or (
                self.instant_tier == "while-starting" and self.state == "STARTING"
            )
            if self.state != "IN_SERVICE" and not instant:
                return 503, {"error": "model_not_ready", "message": f"The model is {self.state}; start it first."}
            predictions = [
                {"label": "NEGATIVE", "label_id": 0, "prob": 0.91, "scored_by": "transformer+linear"}
                if "never" in text or "bad" in text
                else {"label": "POSITIVE", "label_id": 1, "prob": 0.97, "scored_by": "linear"}
                for text in body.get("texts", [])
            ]
            if self.instant_tier is None:  # an API from before the instant tier
                return 200, {"predictions": predictions, "latency_ms": 38, "model": "minilm-sentiment-test"}
            if self.state == "IN_SERVICE" and not self.gpu_fails:
                return 200, {
                    "predictions": predictions,
                    "latency_ms": 38,
                    "model": "minilm-sentiment-test",
                    "tier": "gpu",
                }
            return 200, {
                "predictions": predictions,
                "latency_ms": 3,
                "model": "instant-nbsvm",
                "tier": "instant",
                "degraded": self.state == "IN_SERVICE",
            }
        if (method, path) == ("GET", "/pipeline") and self.pipeline is not None:
            return 200, self.pipeline
        if (method, path) == ("GET", "/outbox") and self.outbox is not None:
            return 200, self.outbox
        return 404, {"error": "not_found", "message": f"No route for {method} {path}."}
