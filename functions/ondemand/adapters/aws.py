"""The AWS adapters, built once per Lambda container from the settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ondemand.adapters.dynamodb import DynamoStateStore
from ondemand.adapters.instant import S3InstantModel
from ondemand.adapters.rate_limit import DynamoRateLimiter, DynamoTextClaims, MissingPepperError
from ondemand.adapters.sagemaker import SageMakerEndpoints
from ondemand.adapters.scheduler import EventBridgeScheduler
from ondemand.adapters.sms import DisabledNotifier, SnsNotifier, TextbeltNotifier
from ondemand.adapters.sqs import SqsTextQueue
from ondemand.domain import NotifierError
from ondemand.ports import Adapters, InstantModel, NoInstantModel, Notifier
from ondemand.settings import Settings


class SecretsManagerSecret:
    """A Secrets Manager secret's string, read on first use and then kept for the container's life (one read per
    cold start, not one per request); None when no secret is configured. A secret that cannot be read raises
    `unreadable(message)`, so each port reports it in its own terms."""

    def __init__(
        self, client: Any, secret_id: str | None, what: str, unreadable: Callable[[str], Exception] = RuntimeError
    ) -> None:
        self.client = client
        self.secret_id = secret_id
        self.what = what
        self.unreadable = unreadable
        self._value: str | None = None

    def __call__(self) -> str | None:
        if self.secret_id and self._value is None:
            try:
                value = self.client.get_secret_value(SecretId=self.secret_id)["SecretString"]
            except (ClientError, BotoCoreError) as exc:
                # The code only: the message of an AccessDenied names the role and the account.
                code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
                raise self.unreadable(f"could not read the {self.what} from Secrets Manager ({code})") from exc
            if not value:
                raise self.unreadable(f"the {self.what} in Secrets Manager is empty")
            self._value = value
        return self._value


def required(secret: SecretsManagerSecret) -> Callable[[], str]:
    """A secret the port cannot work without: no secret configured is the port's error too."""

    def read() -> str:
        value = secret()
        if value is None:
            raise secret.unreadable(f"no {secret.what} is configured")
        return value

    return read


def build_notifier(settings: Settings, session: boto3.Session, config: Config | None = None) -> Notifier:
    if settings.sms_provider == "textbelt":
        key = SecretsManagerSecret(
            session.client("secretsmanager", config=config), settings.textbelt_key_secret, "Textbelt key", NotifierError
        )
        return TextbeltNotifier(required(key), settings.textbelt_url)
    if settings.sms_provider == "sns":
        return SnsNotifier(session.client("sns", config=config))
    return DisabledNotifier()


# A GPU call that hangs is answered by the instant tier (degraded) well within the API function's 25 s timeout:
# one attempt, 10 s to read. Predictions are idempotent, but a retry would only double the wait.
GPU_INVOKE_CONFIG = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 1})


def build_instant_model(settings: Settings, session: boto3.Session, config: Config | None = None) -> InstantModel:
    """The published instant model, unless the tier is off or the stack records none."""
    if settings.instant_tier == "off" or not settings.instant_model_parameter:
        return NoInstantModel()
    return S3InstantModel(
        session.client("ssm", config=config), session.client("s3", config=config), settings.instant_model_parameter
    )


def build_aws_adapters(settings: Settings) -> Adapters:
    """One adapter per port, for the settings' stack (the rate limiter only when RATE_LIMIT_TABLE_NAME is set)."""
    session = boto3.Session(region_name=settings.region)
    # One Lambda handles one event at a time, but the local runtime's gateway serves requests on many threads.
    config = Config(max_pool_connections=50, retries={"mode": "standard"})
    secrets = session.client("secretsmanager", config=config)
    pepper = SecretsManagerSecret(secrets, settings.rate_limit_pepper_secret, "rate-limit pepper", MissingPepperError)
    return Adapters(
        store=DynamoStateStore(
            settings.table_name, settings.dynamodb_endpoint_url, settings.region, settings.history_limit
        ),
        endpoints=SageMakerEndpoints(
            session.client("sagemaker", config=config),
            session.client("sagemaker-runtime", config=config.merge(GPU_INVOKE_CONFIG)),
            session.client("ssm", config=config),
            prefix=settings.endpoint_name_prefix,
            instance_type=settings.instance_type,
            approved_model_parameter=settings.approved_model_parameter,
        ),
        scheduler=EventBridgeScheduler(
            session.client("scheduler", config=config),
            group_name=settings.schedule_group_name,
            role_arn=settings.scheduler_role_arn,
            target_arn=settings.teardown_function_arn,
        ),
        notifier=build_notifier(settings, session, config),
        rate_limiter=(
            DynamoRateLimiter(settings.rate_limit_table_name, pepper, settings.dynamodb_endpoint_url, settings.region)
            if settings.rate_limit_table_name
            else None
        ),
        admin_api_key=SecretsManagerSecret(secrets, settings.admin_api_key_secret, "admin API key"),
        text_queue=(
            SqsTextQueue(session.client("sqs", config=config), settings.text_queue_url)
            if settings.text_queue_url
            else None
        ),
        text_claims=(
            DynamoTextClaims(settings.rate_limit_table_name, pepper, settings.dynamodb_endpoint_url, settings.region)
            if settings.rate_limit_table_name
            else None
        ),
        instant_model=build_instant_model(settings, session, config),
    )
