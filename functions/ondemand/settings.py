"""One typed settings object, read once from the environment at cold start.

Every variable here is declared in template.yaml (Globals or the function's Environment); the local runtime
sets the same variables before it imports a handler. Defaults are the embedded default's values, so a test
or the local runtime only sets what differs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

SMS_PROVIDERS = ("textbelt", "sns", "none")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw.strip() else default


def _str(name: str, default: str | None = None) -> str | None:
    raw = os.environ.get(name, "")
    return raw if raw.strip() else default


@dataclass(frozen=True)
class Settings:
    table_name: str
    """STATE_TABLE_NAME: the DynamoDB table that holds the single state item."""
    dynamodb_endpoint_url: str | None
    """DYNAMODB_ENDPOINT_URL: None on AWS; the local runtime points it at a moto server on loopback."""
    region: str
    """AWS_REGION (set by Lambda) or AWS_DEFAULT_REGION."""
    endpoint_name_prefix: str
    """ENDPOINT_NAME_PREFIX: every endpoint this stack creates is named `<prefix>-<UTC timestamp>`."""
    instance_type: str
    """INSTANCE_TYPE: the SageMaker instance type of the endpoint."""
    approved_model_parameter: str
    """APPROVED_MODEL_PARAMETER: SSM String parameter holding the approved SageMaker model name."""
    keep_alive_minutes: float
    """KEEP_ALIVE_MINUTES: how long an endpoint lives after InService or after the last extend (fractions allowed,
    so the local runtime can demo a 30-second keep-alive)."""
    hard_cap_minutes: float
    """HARD_CAP_MINUTES: extends never push expires_at past InService + this."""
    starting_timeout_minutes: float
    """STARTING_TIMEOUT_MINUTES: the reconciler fails a start still STARTING after this."""
    typical_provisioning_seconds: int
    """TYPICAL_PROVISIONING_SECONDS: what eta_seconds counts down from while STARTING."""
    sms_provider: str
    """SMS_PROVIDER: textbelt | sns | none."""
    textbelt_key_parameter: str | None
    """TEXTBELT_KEY_PARAMETER: SSM SecureString parameter name with the Textbelt key."""
    textbelt_url: str
    """TEXTBELT_URL: the Textbelt endpoint (the local runtime may point it at a fake)."""
    schedule_group_name: str
    """SCHEDULE_GROUP_NAME: the EventBridge Scheduler group for teardown schedules."""
    scheduler_role_arn: str
    """SCHEDULER_ROLE_ARN: the role EventBridge Scheduler assumes to invoke the teardown function."""
    teardown_function_arn: str
    """TEARDOWN_FUNCTION_ARN: the teardown schedule's target."""
    admin_api_key_secret: str | None
    """ADMIN_API_KEY_SECRET: Secrets Manager secret with the x-api-key POST /stop requires (unset: /stop is off)."""
    max_text_chars: int
    """MAX_TEXT_CHARS: characters allowed in one text of /predict."""
    max_texts_per_call: int
    """MAX_TEXTS_PER_CALL: texts allowed in one /predict call."""
    max_body_bytes: int
    """MAX_BODY_BYTES: larger request bodies get 413."""
    max_subscribers: int
    """MAX_SUBSCRIBERS: phone numbers kept per start."""
    history_limit: int
    """HISTORY_LIMIT: transitions kept on the item."""
    rate_limit_table_name: str | None
    """RATE_LIMIT_TABLE_NAME: DynamoDB table of /start rate counters (TTL on expires_at); unset: no limits."""
    start_limit_per_phone: int
    """START_LIMIT_PER_PHONE: /start calls naming one phone number allowed per window."""
    start_limit_per_client: int
    """START_LIMIT_PER_CLIENT: /start calls from one source IP allowed per window, counting those that carry a
    phone or find the model STOPPED/FAILED (the ones that can text someone or create an endpoint)."""
    start_limit_window_seconds: int
    """START_LIMIT_WINDOW_SECONDS: the length of a rate-limit window."""
    sms_min_interval_seconds: float
    """SMS_MIN_INTERVAL_SECONDS: pause between two texts (Textbelt asks for at most about one a second)."""

    @classmethod
    def from_env(cls) -> Settings:
        provider = (_str("SMS_PROVIDER", "none") or "none").lower()
        if provider not in SMS_PROVIDERS:
            raise ValueError(f"SMS_PROVIDER must be one of {SMS_PROVIDERS}, not {provider!r}")
        return cls(
            table_name=_str("STATE_TABLE_NAME", "ondemand-sentiment-state"),
            dynamodb_endpoint_url=_str("DYNAMODB_ENDPOINT_URL"),
            region=_str("AWS_REGION") or _str("AWS_DEFAULT_REGION", "us-east-1"),
            endpoint_name_prefix=_str("ENDPOINT_NAME_PREFIX", "ondemand-sentiment"),
            instance_type=_str("INSTANCE_TYPE", "ml.g4dn.xlarge"),
            approved_model_parameter=_str("APPROVED_MODEL_PARAMETER", "/ondemand-sentiment/approved-model"),
            keep_alive_minutes=_float("KEEP_ALIVE_MINUTES", 30),
            hard_cap_minutes=_float("HARD_CAP_MINUTES", 240),
            starting_timeout_minutes=_float("STARTING_TIMEOUT_MINUTES", 20),
            typical_provisioning_seconds=_int("TYPICAL_PROVISIONING_SECONDS", 420),
            sms_provider=provider,
            textbelt_key_parameter=_str("TEXTBELT_KEY_PARAMETER"),
            textbelt_url=_str("TEXTBELT_URL", "https://textbelt.com/text"),
            schedule_group_name=_str("SCHEDULE_GROUP_NAME", "default"),
            scheduler_role_arn=_str("SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/ondemand-scheduler"),
            teardown_function_arn=_str(
                "TEARDOWN_FUNCTION_ARN", "arn:aws:lambda:us-east-1:123456789012:function:ondemand-teardown"
            ),
            admin_api_key_secret=_str("ADMIN_API_KEY_SECRET"),
            max_text_chars=_int("MAX_TEXT_CHARS", 2000),
            max_texts_per_call=_int("MAX_TEXTS_PER_CALL", 32),
            max_body_bytes=_int("MAX_BODY_BYTES", 65536),
            max_subscribers=_int("MAX_SUBSCRIBERS", 20),
            history_limit=_int("HISTORY_LIMIT", 50),
            rate_limit_table_name=_str("RATE_LIMIT_TABLE_NAME"),
            start_limit_per_phone=_int("START_LIMIT_PER_PHONE", 3),
            start_limit_per_client=_int("START_LIMIT_PER_CLIENT", 30),
            start_limit_window_seconds=_int("START_LIMIT_WINDOW_SECONDS", 3600),
            sms_min_interval_seconds=_float("SMS_MIN_INTERVAL_SECONDS", 1.0),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read on first use (tests call `get_settings.cache_clear()` after changing env)."""
    return Settings.from_env()
