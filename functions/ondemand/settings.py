"""One typed settings object, read once per Lambda container from the environment (`Settings.from_environment`).

Every variable is declared in template.yaml (Globals or the function's Environment). Names and ARNs of the stack's
resources have no default: a variable missing on AWS fails the cold start with a message naming it, instead of
pointing at a made-up resource. Product tunables (limits, timings) keep the product's defaults. The local runtime
and the tests build `Settings` in code; nothing here is cached.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ondemand.phones import parse_country_codes

SMS_PROVIDERS = ("textbelt", "sns", "none")
INSTANT_TIERS = ("off", "while-starting", "always")
"""When /predict may answer from the instant CPU model: never; while a GPU start is under way (and when an endpoint
in service fails); whenever the GPU endpoint is not in service."""
DEFAULT_TYPICAL_PROVISIONING_SECONDS = 420

REQUIRED_VARIABLES = (
    "STATE_TABLE_NAME",
    "ENDPOINT_NAME_PREFIX",
    "INSTANCE_TYPE",
    "APPROVED_MODEL_PARAMETER",
    "SCHEDULE_GROUP_NAME",
)
"""Required by every function (plus a region: AWS_REGION or AWS_DEFAULT_REGION)."""
SCHEDULE_TARGET_VARIABLES = ("SCHEDULER_ROLE_ARN", "TEARDOWN_FUNCTION_ARN")
"""Required by the functions that create teardown schedules. The teardown function only deletes them, and it
cannot name its own ARN in the template (a circular reference)."""

T = TypeVar("T")


class ConfigurationError(Exception):
    """The environment does not describe a working stack; the message names every variable at fault."""


def required_variables(*, creates_schedules: bool = True) -> tuple[str, ...]:
    return REQUIRED_VARIABLES + (SCHEDULE_TARGET_VARIABLES if creates_schedules else ())


@dataclass(frozen=True)
class Settings:
    table_name: str
    """STATE_TABLE_NAME: the DynamoDB table that holds the single state item."""
    region: str
    """AWS_REGION (set by Lambda) or AWS_DEFAULT_REGION."""
    endpoint_name_prefix: str
    """ENDPOINT_NAME_PREFIX: every endpoint this stack creates is named `<prefix>-<UTC timestamp>-<version>`."""
    instance_type: str
    """INSTANCE_TYPE: the SageMaker instance type of the endpoint."""
    approved_model_parameter: str
    """APPROVED_MODEL_PARAMETER: SSM String parameter holding the approved SageMaker model name."""
    schedule_group_name: str
    """SCHEDULE_GROUP_NAME: the EventBridge Scheduler group for teardown schedules."""
    scheduler_role_arn: str | None
    """SCHEDULER_ROLE_ARN: the role EventBridge Scheduler assumes to invoke the teardown function (None: this
    function creates no schedules)."""
    teardown_function_arn: str | None
    """TEARDOWN_FUNCTION_ARN: the teardown schedule's target (None: this function creates no schedules)."""
    dynamodb_endpoint_url: str | None = None
    """DYNAMODB_ENDPOINT_URL: None on AWS; the local runtime points it at a moto server on loopback."""
    keep_alive_minutes: float = 30
    """KEEP_ALIVE_MINUTES: how long an endpoint lives after InService or after the last extend (fractions allowed,
    so the local runtime can demo a 30-second keep-alive)."""
    hard_cap_minutes: float = 240
    """HARD_CAP_MINUTES: extends never push expires_at past InService + this."""
    starting_timeout_minutes: float = 20
    """STARTING_TIMEOUT_MINUTES: the reconciler fails a start still STARTING after this."""
    typical_provisioning_seconds: int = DEFAULT_TYPICAL_PROVISIONING_SECONDS
    """TYPICAL_PROVISIONING_SECONDS: what eta_seconds counts down from while STARTING."""
    sms_provider: str = "none"
    """SMS_PROVIDER: textbelt | sns | none."""
    textbelt_key_secret: str | None = None
    """TEXTBELT_KEY_SECRET: Secrets Manager secret (name or ARN) with the Textbelt key (required for textbelt)."""
    textbelt_url: str = "https://textbelt.com/text"
    """TEXTBELT_URL: the Textbelt endpoint (the local runtime may point it at a fake)."""
    admin_api_key_secret: str | None = None
    """ADMIN_API_KEY_SECRET: Secrets Manager secret with the x-api-key POST /stop requires (unset: /stop is off)."""
    max_text_chars: int = 2000
    """MAX_TEXT_CHARS: characters allowed in one text of /predict."""
    max_texts_per_call: int = 32
    """MAX_TEXTS_PER_CALL: texts allowed in one /predict call."""
    max_body_bytes: int = 65536
    """MAX_BODY_BYTES: larger request bodies get 413."""
    max_subscribers: int = 20
    """MAX_SUBSCRIBERS: phone numbers kept per start."""
    history_limit: int = 50
    """HISTORY_LIMIT: transitions kept on the item."""
    rate_limit_table_name: str | None = None
    """RATE_LIMIT_TABLE_NAME: DynamoDB table of /start rate counters (TTL on expires_at); unset: no limits."""
    rate_limit_pepper_secret: str | None = None
    """RATE_LIMIT_PEPPER_SECRET: Secrets Manager secret with the HMAC pepper of the rate table's keys (required with
    RATE_LIMIT_TABLE_NAME on AWS)."""
    start_limit_per_phone: int = 3
    """START_LIMIT_PER_PHONE: /start calls naming one phone number allowed per window."""
    start_limit_per_client: int = 30
    """START_LIMIT_PER_CLIENT: /start calls from one source IP allowed per window, counting those that carry a
    phone or find the model STOPPED/FAILED (the ones that can text someone or create an endpoint)."""
    start_limit_window_seconds: int = 3600
    """START_LIMIT_WINDOW_SECONDS: the length of a rate-limit window."""
    sms_min_interval_seconds: float = 1.0
    """SMS_MIN_INTERVAL_SECONDS: pause between two texts (Textbelt asks for at most about one a second)."""
    instant_tier: str = "always"
    """INSTANT_TIER: off | while-starting | always: when /predict may answer from the instant CPU model."""
    instant_model_parameter: str | None = None
    """INSTANT_MODEL_PARAMETER: SSM String parameter with the S3 URI of the instant model the pipeline published
    ("none" before its first run); unset: no instant model on this stack."""
    notice_minutes: float = 5
    """NOTICE_MINUTES: the "stops soon" text goes out this long before expires_at; 0 turns it off."""
    page_url: str | None = None
    """PAGE_URL: the web page's address, linked from the "stops soon" text (unset: the text has no link)."""
    gpu_minutes_per_day: float = 240
    """GPU_MINUTES_PER_DAY: endpoint minutes (creation to deletion) allowed per UTC day, whoever asks."""
    min_run_minutes: float = 15
    """MIN_RUN_MINUTES: a start needs at least this much of today's budget left (provisioning included)."""
    cooldown_minutes: float = 5
    """COOLDOWN_MINUTES: after a teardown, /start is refused (429 cooling_down) for this long."""
    idle_minutes: float = 15
    """IDLE_MINUTES: /extend needs a successful /predict within this; an endpoint unused this long is torn down."""
    sms_country_codes: tuple[str, ...] = ("+1",)
    """SMS_COUNTRY_CODES: comma-separated calling codes ("+1,+44") that /start accepts and the notifier texts."""
    sms_per_day: int = 100
    """SMS_PER_DAY: texts per UTC day, all numbers together (needs RATE_LIMIT_TABLE_NAME)."""
    sms_per_number_per_day: int = 5
    """SMS_PER_NUMBER_PER_DAY: texts per UTC day to one number."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ, *, creates_schedules: bool = True) -> Settings:
        """Read every variable; raise one ConfigurationError naming each one missing or malformed."""
        reader = _Reader(environ)
        required = {name: reader.required(name) for name in required_variables(creates_schedules=creates_schedules)}
        region = reader.text("AWS_REGION") or reader.text("AWS_DEFAULT_REGION")
        if region is None:
            reader.missing.append("AWS_REGION (or AWS_DEFAULT_REGION)")
        provider = (reader.text("SMS_PROVIDER") or "none").lower()
        if provider not in SMS_PROVIDERS:
            reader.malformed.append(f"SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)}, not {provider!r}")
        textbelt_key_secret = reader.text("TEXTBELT_KEY_SECRET")
        if provider == "textbelt" and textbelt_key_secret is None:
            reader.missing.append("TEXTBELT_KEY_SECRET (SMS_PROVIDER is textbelt)")
        rate_limit_table_name = reader.text("RATE_LIMIT_TABLE_NAME")
        rate_limit_pepper_secret = reader.text("RATE_LIMIT_PEPPER_SECRET")
        if rate_limit_table_name is not None and rate_limit_pepper_secret is None:
            reader.missing.append("RATE_LIMIT_PEPPER_SECRET (RATE_LIMIT_TABLE_NAME is set)")
        settings = cls(
            table_name=required["STATE_TABLE_NAME"],
            region=region or "",
            endpoint_name_prefix=required["ENDPOINT_NAME_PREFIX"],
            instance_type=required["INSTANCE_TYPE"],
            approved_model_parameter=required["APPROVED_MODEL_PARAMETER"],
            schedule_group_name=required["SCHEDULE_GROUP_NAME"],
            scheduler_role_arn=required.get("SCHEDULER_ROLE_ARN"),
            teardown_function_arn=required.get("TEARDOWN_FUNCTION_ARN"),
            dynamodb_endpoint_url=reader.text("DYNAMODB_ENDPOINT_URL"),
            keep_alive_minutes=reader.number("KEEP_ALIVE_MINUTES", float, cls.keep_alive_minutes),
            hard_cap_minutes=reader.number("HARD_CAP_MINUTES", float, cls.hard_cap_minutes),
            starting_timeout_minutes=reader.number("STARTING_TIMEOUT_MINUTES", float, cls.starting_timeout_minutes),
            typical_provisioning_seconds=reader.number(
                "TYPICAL_PROVISIONING_SECONDS", int, cls.typical_provisioning_seconds
            ),
            sms_provider=provider,
            textbelt_key_secret=textbelt_key_secret,
            textbelt_url=reader.text("TEXTBELT_URL") or cls.textbelt_url,
            admin_api_key_secret=reader.text("ADMIN_API_KEY_SECRET"),
            max_text_chars=reader.number("MAX_TEXT_CHARS", int, cls.max_text_chars),
            max_texts_per_call=reader.number("MAX_TEXTS_PER_CALL", int, cls.max_texts_per_call),
            max_body_bytes=reader.number("MAX_BODY_BYTES", int, cls.max_body_bytes),
            max_subscribers=reader.number("MAX_SUBSCRIBERS", int, cls.max_subscribers),
            history_limit=reader.number("HISTORY_LIMIT", int, cls.history_limit),
            rate_limit_table_name=rate_limit_table_name,
            rate_limit_pepper_secret=rate_limit_pepper_secret,
            start_limit_per_phone=reader.number("START_LIMIT_PER_PHONE", int, cls.start_limit_per_phone),
            start_limit_per_client=reader.number("START_LIMIT_PER_CLIENT", int, cls.start_limit_per_client),
            start_limit_window_seconds=reader.number("START_LIMIT_WINDOW_SECONDS", int, cls.start_limit_window_seconds),
            sms_min_interval_seconds=reader.number("SMS_MIN_INTERVAL_SECONDS", float, cls.sms_min_interval_seconds),
            instant_tier=(reader.text("INSTANT_TIER") or cls.instant_tier).strip().lower(),
            instant_model_parameter=reader.text("INSTANT_MODEL_PARAMETER"),
            notice_minutes=reader.number("NOTICE_MINUTES", float, cls.notice_minutes),
            page_url=reader.text("PAGE_URL"),
            gpu_minutes_per_day=reader.number("GPU_MINUTES_PER_DAY", float, cls.gpu_minutes_per_day),
            min_run_minutes=reader.number("MIN_RUN_MINUTES", float, cls.min_run_minutes),
            cooldown_minutes=reader.number("COOLDOWN_MINUTES", float, cls.cooldown_minutes),
            idle_minutes=reader.number("IDLE_MINUTES", float, cls.idle_minutes),
            sms_country_codes=reader.country_codes("SMS_COUNTRY_CODES", cls.sms_country_codes),
            sms_per_day=reader.number("SMS_PER_DAY", int, cls.sms_per_day),
            sms_per_number_per_day=reader.number("SMS_PER_NUMBER_PER_DAY", int, cls.sms_per_number_per_day),
        )
        if settings.instant_tier not in INSTANT_TIERS:
            reader.malformed.append(
                f"INSTANT_TIER must be one of {', '.join(INSTANT_TIERS)}, not {settings.instant_tier!r}"
            )
        if settings.notice_minutes < 0:
            reader.malformed.append(f"NOTICE_MINUTES must be 0 (off) or more, not {settings.notice_minutes:g}")
        if provider != "none" and settings.rate_limit_table_name is None:
            reader.missing.append(f"RATE_LIMIT_TABLE_NAME (SMS_PROVIDER is {provider}: the daily text caps need it)")
        reader.raise_if_wrong()
        return settings


class _Reader:
    """Reads variables and collects every problem, so one error names them all."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.missing: list[str] = []
        self.malformed: list[str] = []

    def text(self, name: str) -> str | None:
        raw = self.environ.get(name, "")
        return raw if raw.strip() else None  # the template sets optional values to "" to mean unset

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            self.missing.append(name)
            return ""
        return value

    def number(self, name: str, kind: Callable[[str], T], default: T) -> T:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return kind(raw.strip())
        except ValueError:
            wanted = "a whole number" if kind is int else "a number"
            self.malformed.append(f"{name} must be {wanted}, not {raw!r}")
            return default

    def country_codes(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return parse_country_codes(raw)
        except ValueError as exc:
            self.malformed.append(f"{name}: {exc}")
            return default

    def raise_if_wrong(self) -> None:
        problems = []
        if self.missing:
            problems.append("missing environment variables: " + ", ".join(self.missing))
        problems.extend(self.malformed)
        if problems:
            raise ConfigurationError("; ".join(problems))
