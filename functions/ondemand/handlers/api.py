"""The REST API: GET /status, POST /start, /phone/code, /phone/confirm, /predict, /extend, /stop (API Gateway REST
proxy events).

Parsing and HTTP shaping live here; decisions live in the lifecycle's rooms (ondemand.lifecycle), which each
route reaches through one command. Each error class maps to one response
with the body {"error": <code>, "message": <sentence>, "request_id": <id>}: the sentence says what to do, never
what is inside (a provider's message, an ARN); the raw detail goes to the log beside the same request id.
The routes are registered on the module-level resolver; the handler `make_handler(service)` makes hands them
its service in a context variable for the length of one event.
Not the resolver's own `append_context`: that is one dict on the shared resolver, cleared after every event, so
two events resolved at once on different threads (the local gateway, the concurrency tests) would clear each
other's service.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ondemand.bootstrap import Handler, LambdaEntryPoint, Service
from ondemand.consent import CODE_DIGITS, TextsOffError, UnconfirmedPhoneError, WrongCodeError, is_code_shaped
from ondemand.domain import (
    BudgetExhaustedError,
    ConflictError,
    CoolingDownError,
    EndpointError,
    InstantModelError,
    LifecycleError,
    ModelNotReadyError,
    NoRecentUseError,
    RateLimitedError,
    State,
    iso,
)
from ondemand.lifecycle.commands import ConfirmPhone, Extend, Predict, SendCode, Start, Stop
from ondemand.lifecycle.starts import LOG_DETAIL_CHARS
from ondemand.observability import logger, record_metric, tracer
from ondemand.phones import InvalidPhoneError, describe_allowlist, is_allowed, normalize_phone

# A start that failed for want of something only time or the owner can fix is 503 (try later); the rest 502.
UNAVAILABLE_CODES = frozenset({"no_approved_model", "no_capacity", "quota_exceeded"})
CODE_ON_ITS_WAY = (
    "If this number can get texts, a code is on its way; a number gets one code a day, valid until midnight UTC."
)

app = APIGatewayRestResolver(cors=CORSConfig(allow_origin="*", allow_headers=["x-api-key"], max_age=300))
RouteHandler = TypeVar("RouteHandler", bound=Callable[..., Any])
ROUTE_METHODS: dict[str, list[str]] = {}
"""Each route's methods, for the Allow header of a 405 (an undeclared method on a route that exists)."""


def route(method: str, path: str) -> Callable[[RouteHandler], RouteHandler]:
    """Register a handler on the resolver and in ROUTE_METHODS."""
    ROUTE_METHODS.setdefault(path, []).append(method)
    return app.route(path, method)


_current_service: ContextVar[Service] = ContextVar("service")


class InvalidRequestError(Exception):
    """The request itself is wrong (400); `code` names what is wrong."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PayloadTooLargeError(Exception):
    """The body is larger than MAX_BODY_BYTES (413)."""


class UnauthorizedError(Exception):
    """POST /stop without the right x-api-key (401 missing, 403 wrong or /stop turned off)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def service() -> Service:
    """The service of the event being resolved (set by the handler `make_handler` made)."""
    return _current_service.get()


def request_id() -> str:
    """API Gateway's id of this request (in its access log too); Lambda's when the event has none."""
    try:
        found = app.current_event.request_context.request_id
    except (AttributeError, KeyError, TypeError):
        found = None
    if not found:
        context = getattr(app, "lambda_context", None)
        found = getattr(context, "aws_request_id", None)
    return str(found or "unknown")


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": code, "message": message, "request_id": request_id(), **extra}),
        headers=headers,
    )


def phone_from(body: dict[str, Any]) -> str | None:
    """The caller's phone in canonical E.164, if given and in the owner's allowlist of countries."""
    raw = body.get("phone")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidRequestError("invalid_phone", '"phone" must be a string such as "+12025550100".')
    try:
        phone = normalize_phone(raw)
    except InvalidPhoneError as exc:
        raise InvalidRequestError("invalid_phone", str(exc)) from None
    codes = service().settings.sms_country_codes
    if not is_allowed(phone, codes):
        raise InvalidRequestError(
            "phone_not_allowed",
            f'Texts go only to numbers starting with {describe_allowlist(codes)}; leave "phone" out.',
        )
    return phone


def json_body(required: bool) -> dict[str, Any]:
    """The request body as a JSON object; no body is {} unless the route needs one."""
    try:
        raw = app.current_event.decoded_body or ""
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError("invalid_json", "The body is not UTF-8 text, so it is not valid JSON.") from None
    limit = service().settings.max_body_bytes
    if len(raw.encode()) > limit:
        raise PayloadTooLargeError(f"The body is larger than {limit} bytes.")
    if required and not raw.strip():
        raise InvalidRequestError("missing_body", 'Send a JSON object, for example {"text": "Great film!"}.')
    if not raw:  # no body at all; whitespace alone is a body that is not JSON
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidRequestError("invalid_json", "The body is not valid JSON.") from None
    except RecursionError:  # "[[[[..." deeper than the interpreter's stack; valid JSON, but no request nests so deep
        raise InvalidRequestError("invalid_json", "The body nests arrays or objects too deeply.") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("invalid_json", "The body must be a JSON object.")
    return body


def texts_from(body: dict[str, Any]) -> list[str]:
    """`text` (one) or `texts` (a list), within the configured limits."""
    settings = service().settings
    if ("text" in body) == ("texts" in body):
        raise InvalidRequestError("missing_text", 'Send either "text" (a string) or "texts" (a list of strings).')
    if "text" in body:
        texts = [body["text"]]
        if not isinstance(body["text"], str):
            raise InvalidRequestError("invalid_type", '"text" must be a string.')
    else:
        texts = body["texts"]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise InvalidRequestError("invalid_type", '"texts" must be a list of strings.')
        if not texts:
            raise InvalidRequestError("empty_text", '"texts" is empty; send at least one text.')
        if len(texts) > settings.max_texts_per_call:
            raise InvalidRequestError(
                "too_many_texts", f"Send at most {settings.max_texts_per_call} texts per call, not {len(texts)}."
            )
    for position, text in enumerate(texts):
        if not text.replace("\ufeff", "").strip():  # the whitespace of api/openapi.yaml's pattern
            raise InvalidRequestError("empty_text", f"Text {position} is empty.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800" is legal JSON): no tokenizer can encode it
            raise InvalidRequestError("invalid_text", f"Text {position} holds a lone surrogate, not text.") from None
        if len(text) > settings.max_text_chars:
            raise InvalidRequestError(
                "text_too_long", f"Text {position} has {len(text)} characters; the limit is {settings.max_text_chars}."
            )
    return texts


@route("GET", "/status")
def get_status() -> dict[str, Any]:
    return service().status()


@route("POST", "/start")
def post_start() -> tuple[dict[str, Any], int]:
    body = json_body(required=False)
    phone = phone_from(body)
    confirmation = body.get("confirmation")
    if confirmation is not None and not isinstance(confirmation, str):
        raise InvalidRequestError("invalid_confirmation", '"confirmation" must be the string /phone/confirm answered.')
    current = service()
    client = app.current_event.request_context.identity.source_ip or "unknown"
    # A phone without its confirmation is refused (400) before anything is counted or written.
    result = current.handle(Start(phone, client, confirmation))
    if result.created:
        record_metric("EndpointStarts", MetricUnit.Count, 1)
        logger.info("created endpoint", extra={"endpoint_name": result.state.endpoint_name})
    status = current.status()
    status["subscribed"] = result.subscribed
    return status, 200 if status["state"] == State.IN_SERVICE else 202


def required_phone(body: dict[str, Any]) -> str:
    phone = phone_from(body)
    if phone is None:
        raise InvalidRequestError("missing_phone", 'Send "phone", such as {"phone": "+12025550100"}.')
    return phone


@route("POST", "/phone/code")
def post_phone_code() -> tuple[dict[str, Any], int]:
    phone = required_phone(json_body(required=True))
    client = app.current_event.request_context.identity.source_ip or "unknown"
    service().handle(SendCode(phone, client))
    # One answer whether a code went out now or earlier today (or a cap kept it back): it tells nothing about others.
    return {"message": CODE_ON_ITS_WAY}, 202


@route("POST", "/phone/confirm")
def post_phone_confirm() -> dict[str, Any]:
    body = json_body(required=True)
    phone = required_phone(body)
    code = body.get("code")
    if not is_code_shaped(code):
        raise InvalidRequestError("invalid_code", f'"code" must be the {CODE_DIGITS} digits texted to the number.')
    token, expires_at = service().handle(ConfirmPhone(phone, code))
    return {"confirmation": token, "expires_at": iso(expires_at)}


@route("POST", "/predict")
def post_predict() -> dict[str, Any]:
    started = time.perf_counter()
    texts = texts_from(json_body(required=True))
    answer = service().handle(Predict(texts))
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    record_metric("PredictLatency", MetricUnit.Milliseconds, latency_ms)
    body = {
        "predictions": answer["predictions"],
        "latency_ms": latency_ms,
        "model": answer.get("model", "unknown"),
        "tier": answer["tier"],
    }
    if answer.get("degraded"):
        body["degraded"] = True
        record_metric("DegradedPredictions", MetricUnit.Count, 1)
    return body


@route("POST", "/extend")
def post_extend() -> dict[str, Any]:
    json_body(required=False)
    current = service()
    result = current.handle(Extend())
    status = current.status()
    status["capped"] = result.capped
    return status


@route("POST", "/stop")
def post_stop() -> tuple[dict[str, Any], int]:
    current = service()
    expected = current.adapters.admin_api_key()
    given = app.current_event.headers.get("x-api-key") or app.current_event.headers.get("X-Api-Key")
    if not expected:
        raise UnauthorizedError(403, "stop_disabled", "POST /stop is turned off: no admin API key is configured.")
    if not given:
        raise UnauthorizedError(401, "missing_api_key", "POST /stop needs the admin key in the x-api-key header.")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise UnauthorizedError(403, "invalid_api_key", "The x-api-key header does not match the admin key.")
    stopped = current.handle(Stop())
    if stopped.waiting:  # SageMaker refuses to delete a Creating endpoint: STOPPING is recorded, finished later
        return {**current.status(), "message": stopped.waiting}, 202
    return current.status(), 200


@app.exception_handler(InvalidRequestError)
def on_invalid_request(exc: InvalidRequestError) -> Response:
    return error_response(400, exc.code, str(exc))


@app.exception_handler(UnconfirmedPhoneError)
def on_unconfirmed_phone(exc: UnconfirmedPhoneError) -> Response:
    return error_response(400, "unconfirmed_phone", str(exc))


@app.exception_handler(WrongCodeError)
def on_wrong_code(exc: WrongCodeError) -> Response:
    return error_response(400, "wrong_code", str(exc))


@app.exception_handler(TextsOffError)
def on_texts_off(exc: TextsOffError) -> Response:
    return error_response(400, "texts_off", str(exc))


@app.exception_handler(PayloadTooLargeError)
def on_payload_too_large(exc: PayloadTooLargeError) -> Response:
    return error_response(413, "payload_too_large", str(exc))


@app.exception_handler(UnauthorizedError)
def on_unauthorized(exc: UnauthorizedError) -> Response:
    return error_response(exc.status, exc.code, str(exc))


@app.exception_handler(RateLimitedError)
def on_rate_limited(exc: RateLimitedError) -> Response:
    return error_response(429, "rate_limited", str(exc), headers={"Retry-After": str(exc.retry_after_seconds)})


@app.exception_handler(BudgetExhaustedError)
def on_budget_exhausted(exc: BudgetExhaustedError) -> Response:
    return error_response(
        429,
        "budget_exhausted",
        str(exc),
        headers={"Retry-After": str(exc.retry_after_seconds)},
        resets_at=iso(exc.resets_at),
    )


@app.exception_handler(CoolingDownError)
def on_cooling_down(exc: CoolingDownError) -> Response:
    return error_response(
        429,
        "cooling_down",
        str(exc),
        headers={"Retry-After": str(exc.retry_after_seconds)},
        retry_after_seconds=exc.retry_after_seconds,
    )


@app.exception_handler(NoRecentUseError)
def on_no_recent_use(exc: NoRecentUseError) -> Response:
    return error_response(409, "no_recent_use", str(exc))


@app.exception_handler(ConflictError)
def on_conflict(exc: ConflictError) -> Response:
    return error_response(409, "conflict", str(exc))


@app.exception_handler(ModelNotReadyError)
def on_model_not_ready(exc: ModelNotReadyError) -> Response:
    hint = "Start it with POST /start." if exc.state in (State.STOPPED, State.FAILED) else "Wait for it to be ready."
    return error_response(
        503,
        "model_not_ready",
        f"{exc} {hint}",
        headers={"Retry-After": str(exc.retry_after_seconds)},
        state=exc.state.value,
    )


@app.exception_handler(InstantModelError)
def on_instant_model_error(exc: InstantModelError) -> Response:
    # The details (paths, parameter names) are for the log; the caller learns that no tier can answer now.
    logger.exception("instant model error")
    return error_response(
        503,
        "model_not_ready",
        "The instant model could not be loaded and the GPU model is not in service; try again later.",
        headers={"Retry-After": "60"},
        state=service().adapters.store.get().state.value,
    )


@app.exception_handler(EndpointError)
def on_endpoint_error(exc: EndpointError) -> Response:
    # An expected failure (no approved model, a quota, throttling): its code, no traceback, so a start that keeps
    # failing writes a bounded log line per request, the provider's message cut short beside the request id.
    logger.warning(
        "endpoint error: %s", str(exc)[:LOG_DETAIL_CHARS], extra={"request_id": request_id(), "error_code": exc.code}
    )
    return error_response(503 if exc.code in UNAVAILABLE_CODES else 502, exc.code, exc.public_message)


@app.exception_handler(LifecycleError)
def on_lifecycle_error(exc: LifecycleError) -> Response:
    logger.exception("lifecycle error", extra={"request_id": request_id()})
    return error_response(500, "internal_error", "Something went wrong on our side; try again in a minute.")


@app.exception_handler(Exception)
def on_unexpected_error(exc: Exception) -> Response:
    logger.exception("unexpected error", extra={"request_id": request_id()})
    return error_response(500, "internal_error", "Something went wrong on our side; try again in a minute.")


@app.not_found
def on_not_found(exc: Exception) -> Response:
    method, path = app.current_event.http_method, app.current_event.path
    allowed = ROUTE_METHODS.get(path)
    if allowed:
        # The route exists, the method does not (RFC 9110: 405 with Allow). On AWS, API Gateway refuses such a
        # method itself before the function runs; locally every method reaches this handler.
        return error_response(
            405,
            "method_not_allowed",
            f"{path} answers {' and '.join(allowed)}, not {method}.",
            {"Allow": ", ".join(allowed)},
        )
    return error_response(404, "not_found", f"There is no {method} {path}.")


def make_handler(current: Service) -> Handler:
    """The API's Lambda handler on `current`."""

    @tracer.capture_lambda_handler
    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        token = _current_service.set(current)
        try:
            return app.resolve(event, context)
        finally:
            _current_service.reset(token)

    return handle


handler = LambdaEntryPoint(make_handler)
