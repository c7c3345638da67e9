"""The smoke test against the live stack: GET /status and an instant-tier POST /predict, each answer held against its
schema in api/openapi.yaml (the document the handlers are checked against), then the page through CloudFront: its
index, the generated config.js naming the API, and the response headers policy's security headers.

A container that looked for the instant model before it was published looks again within a minute
(ondemand/adapters/instant.py, RECHECK_SECONDS), so /predict is retried that long before it counts as failed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml
from openapi_schema_validator import OAS30Validator

from deploy.waiting import IN_REAL_TIME, Waiting

DOCUMENT = Path(__file__).resolve().parents[1] / "api" / "openapi.yaml"
SAMPLE_REVIEW = "A warm, funny and beautifully acted film. I loved every minute of it."
RETRY_SECONDS, PATIENCE_SECONDS = 5.0, 120.0
SECURITY_HEADERS = (
    "strict-transport-security",
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
)


class SmokeTestError(RuntimeError):
    pass


def load_document(path: Path = DOCUMENT) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def answer_problems(document: dict[str, Any], method: str, path: str, status: int, body: Any) -> list[str]:
    """What is wrong with an answer, by the document: an undocumented status, or a body off its schema."""
    responses = document["paths"][path][method]["responses"]
    response = responses.get(str(status))
    if response is None:
        return [f"{method.upper()} {path} answered {status}, which api/openapi.yaml does not document"]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rpartition("/")[2]]
    schema = response["content"]["application/json"]["schema"]
    validator = OAS30Validator({**schema, "components": document["components"]})
    return [f"{method.upper()} {path} {status}: {error.message}" for error in validator.iter_errors(body)]


class DocumentedApi:
    """Calls to the stack's API whose answers must be the ones api/openapi.yaml documents."""

    def __init__(self, http: requests.Session, document: dict[str, Any] | None = None) -> None:
        self.http = http
        self.document = document or load_document()

    def call(self, method: str, api: str, path: str, **kwargs: Any) -> Any:
        """One call; its JSON answer, or SmokeTestError saying how it is off the document."""
        response = self.http.request(method.upper(), api.rstrip("/") + path, timeout=30, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise SmokeTestError(f"{method.upper()} {path} answered {response.status_code}, not JSON") from None
        problems = answer_problems(self.document, method, path, response.status_code, body)
        if problems:
            raise SmokeTestError("\n".join(problems))
        return body


class SmokeTest:
    def __init__(self, api: DocumentedApi, say: Callable[[str], None], waiting: Waiting = IN_REAL_TIME) -> None:
        self._api = api
        self._http = api.http
        self._document = api.document
        self._say = say
        self._waiting = waiting

    def run(self, api_url: str, page_url: str, *, instant_tier: bool = True) -> None:
        api = api_url.rstrip("/")
        status = self._api.call("get", api, "/status")
        self._say(f"GET /status: {status['state']}, per api/openapi.yaml")
        if instant_tier:
            answer = self._instant_prediction(api)
            top = answer["predictions"][0]
            self._say(f"POST /predict: {top['label']} ({top['prob']:.2f}), {answer['tier']} tier, per api/openapi.yaml")
        else:
            self._say("POST /predict: skipped, InstantTier is off (no tier answers until a GPU model starts)")
        self._page(page_url, api)

    def _instant_prediction(self, api: str) -> Any:
        for _ in self._waiting.looks(every=RETRY_SECONDS, within=PATIENCE_SECONDS):
            response = self._http.post(f"{api}/predict", json={"text": SAMPLE_REVIEW}, timeout=30)
            try:
                body = response.json()
            except ValueError:
                body = {}
            problems = answer_problems(self._document, "post", "/predict", response.status_code, body)
            if response.status_code == 200 and body.get("tier") == "instant" and not problems:
                return body
            if response.status_code == 200 and problems:
                break  # an answer off the document does not mend with time
            self._say(f"POST /predict: {response.status_code} {body.get('error', body.get('tier', ''))}; again shortly")
        raise SmokeTestError(
            f"POST /predict answered {response.status_code} {json.dumps(body)[:300]}"
            + ("\n" + "\n".join(problems) if problems else "")
        )

    def _page(self, page_url: str, api: str) -> None:
        """The page, its config.js and headers through CloudFront; asked again a while (a new distribution's name
        may take a moment to resolve everywhere) before it counts as failed."""
        base = page_url if page_url.endswith("/") else page_url + "/"
        for _ in self._waiting.looks(every=RETRY_SECONDS, within=PATIENCE_SECONDS):
            problems = self._page_problems(base, api)
            if not problems:
                self._say(f"the page: {base} (config.js names the API; security headers present)")
                return
            self._say(f"the page: {problems[0]}; again shortly")
        raise SmokeTestError("\n".join(problems))

    def _page_problems(self, base: str, api: str) -> list[str]:
        try:
            index = self._http.get(base, timeout=30)
            config = self._http.get(base + "config.js", timeout=30)
        except requests.RequestException as exc:
            return [f"the page does not answer ({exc})"]
        missing = [name for name in SECURITY_HEADERS if name not in {key.lower() for key in index.headers}]
        problems = []
        if index.status_code != 200 or "text/html" not in index.headers.get("content-type", ""):
            problems.append(f"the page answered {index.status_code} {index.headers.get('content-type')}")
        if config.status_code != 200 or json.dumps(api) not in config.text:
            problems.append(f"config.js ({config.status_code}) does not name the API {api}")
        if missing:
            problems.append(f"the page comes without the security headers {', '.join(missing)}")
        return problems
