"""The dashboard's one HTTP client for the platform's API (the contract in DESIGN.md and api/openapi.yaml).

Every failure, from connection refused to a `{"error", "message"}` body, becomes one `ApiError` carrying a sentence a
developer can act on, so pages show messages and never tracebacks.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

LOCAL_TOKEN_HEADER = "X-Local-Token"


class ApiError(Exception):
    """The API could not be reached or answered with an error. `status` is None when no answer came back."""

    def __init__(self, message: str, status: int | None = None, code: str = "unreachable") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


@dataclass(frozen=True)
class PredictionCall:
    """One /predict call as the dashboard saw it: the model's own latency, the full round trip, and which tier
    answered (`tier` None: a failed call, or an API from before the instant tier)."""

    at: datetime
    texts: int
    model_latency_ms: float | None
    round_trip_ms: float
    ok: bool
    tier: str | None = None
    degraded: bool = False


class OndemandApiClient:
    """Talks to one API base URL. Thread-safe: Streamlit shares one instance across sessions (cache_resource)."""

    def __init__(
        self,
        base_url: str,
        timeout_seconds: float = 30.0,
        keep_predictions: int = 200,
        local_token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._session = requests.Session()
        if local_token:  # the local runtime's gateway wants it on everything but GET /status (local_runtime/README.md)
            self._session.headers[LOCAL_TOKEN_HEADER] = local_token
        self._lock = threading.Lock()
        self._predictions: deque[PredictionCall] = deque(maxlen=keep_predictions)

    # --- the API ---------------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """GET /status: the state item, its history and subscriber count."""
        return self._call_for_object("GET", "/status")

    def start(self) -> dict[str, Any]:
        """POST /start, without a phone: texts need a number confirmed by its owner, which the web page does."""
        return self._call_for_object("POST", "/start", json={})

    def extend(self) -> dict[str, Any]:
        """POST /extend: push the teardown back; answers the new status."""
        return self._call_for_object("POST", "/extend", json={})

    def stop(self, admin_key: str) -> dict[str, Any]:
        """POST /stop with the admin key in `x-api-key`; 403/404 get sentences of their own."""
        try:
            return self._call_for_object("POST", "/stop", json={}, headers={"x-api-key": admin_key})
        except ApiError as error:
            if error.status == 404:
                raise ApiError(
                    "This API has no POST /stop (the admin stop is not deployed here).", 404, error.code
                ) from error
            if error.status in (401, 403):
                raise ApiError(
                    f"The API refused the admin key ({error.status}): {error.message}", error.status, error.code
                ) from error
            raise

    def predict(self, texts: list[str]) -> dict[str, Any]:
        """POST /predict {"texts": [...]}; every call, failed or not, is remembered for the latency chart."""
        started = time.perf_counter()
        try:
            answer = self._call_for_object("POST", "/predict", json={"texts": texts})
        except ApiError:
            self._remember(PredictionCall(datetime.now(UTC), len(texts), None, _ms_since(started), ok=False))
            raise
        latency = answer.get("latency_ms")
        model_ms = float(latency) if isinstance(latency, int | float) else None
        tier = answer.get("tier") if answer.get("tier") in ("gpu", "instant") else None
        self._remember(
            PredictionCall(
                datetime.now(UTC),
                len(texts),
                model_ms,
                _ms_since(started),
                ok=True,
                tier=tier,
                degraded=answer.get("degraded") is True,
            )
        )
        return answer

    def outbox(self) -> list[dict[str, Any]]:
        """GET /outbox: the local runtime's SMS log. A deployed stack answers 404 (SMS go to the provider)."""
        answer = self._call("GET", "/outbox")
        if not isinstance(answer, list):
            raise ApiError("GET /outbox did not answer a list of messages.", 200, "bad_response")
        return answer

    def pipeline(self) -> dict[str, Any] | None:
        """GET /pipeline: the local runtime's model pipeline. None where there is none (a deployed stack answers 404,
        or API Gateway's 403 for an unknown route)."""
        try:
            return self._call_for_object("GET", "/pipeline")
        except ApiError as error:
            if error.status in (403, 404):
                return None
            raise

    def recent_predictions(self) -> list[PredictionCall]:
        """The last /predict calls this dashboard made, oldest first."""
        with self._lock:
            return list(self._predictions)

    # --- plumbing --------------------------------------------------------------------------------------------

    def _remember(self, call: PredictionCall) -> None:
        with self._lock:
            self._predictions.append(call)

    def _call_for_object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A call whose answer must be a JSON object: anything else is the API breaking its contract."""
        answer = self._call(method, path, **kwargs)
        if not isinstance(answer, dict):
            raise ApiError(f"{method} {path} did not answer an object.", 200, "bad_response")
        return answer

    def _call(self, method: str, path: str, **kwargs: Any) -> object:
        url = self.base_url + path
        try:
            response = self._session.request(method, url, timeout=self.timeout_seconds, **kwargs)
        except requests.Timeout as error:
            raise ApiError(
                f"{method} {path} got no answer from {self.base_url} within {self.timeout_seconds:g} s.",
                None,
                "timeout",
            ) from error
        except requests.RequestException as error:
            raise ApiError(
                f"Cannot reach the API at {self.base_url} ({_reason(error)}). Is it running, and is "
                "ONDEMAND_API_URL right?",
                None,
                "unreachable",
            ) from error
        body = _json_or_none(response)
        if response.status_code >= 400:
            code, message = "http_error", response.reason or "error"
            if isinstance(body, dict):
                code = str(body.get("error") or body.get("code") or code)
                message = str(body.get("message") or body.get("Message") or message)
            raise ApiError(
                f"{method} {path} failed with {response.status_code} ({code}): {message}", response.status_code, code
            )
        if body is None:
            raise ApiError(
                f"{method} {path} answered {response.status_code} without a JSON body.",
                response.status_code,
                "bad_response",
            )
        return body


def _json_or_none(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _reason(error: requests.RequestException) -> str:
    """The innermost cause's text ('Connection refused'), not requests' nested repr."""
    cause: BaseException = error
    while (inner := cause.__cause__ or cause.__context__) is not None:
        cause = inner
    text = str(cause)
    return text.split("] ", 1)[-1] if "] " in text else (text or type(error).__name__)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
