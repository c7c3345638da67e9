"""The AWS adapters, built once per Lambda container from the settings."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ondemand.adapters.dynamodb import DynamoStateStore
from ondemand.adapters.rate_limit import DynamoRateLimiter
from ondemand.adapters.sagemaker import SageMakerEndpoints
from ondemand.adapters.scheduler import EventBridgeScheduler
from ondemand.adapters.sms import DisabledNotifier, SnsNotifier, TextbeltNotifier
from ondemand.domain import NotifierError
from ondemand.ports import Adapters, Notifier
from ondemand.settings import Settings


class SsmSecret:
    """A secret read from SSM (decrypted if it is a SecureString) on first use, then kept for the container's life."""

    def __init__(self, ssm: Any, parameter_name: str | None) -> None:
        self.ssm = ssm
        self.parameter_name = parameter_name
        self._value: str | None = None

    def __call__(self) -> str:
        if self._value is None:
            if not self.parameter_name:
                raise NotifierError("TEXTBELT_KEY_PARAMETER is not set")
            try:
                answer = self.ssm.get_parameter(Name=self.parameter_name, WithDecryption=True)
            except (ClientError, BotoCoreError) as exc:
                raise NotifierError(f"could not read the Textbelt key from {self.parameter_name}: {exc}") from exc
            self._value = answer["Parameter"]["Value"]
        return self._value


class SecretsManagerSecret:
    """The admin API key from Secrets Manager, read on first use; None when no secret is configured."""

    def __init__(self, client: Any, secret_id: str | None) -> None:
        self.client = client
        self.secret_id = secret_id
        self._value: str | None = None

    def __call__(self) -> str | None:
        if self.secret_id and self._value is None:
            self._value = self.client.get_secret_value(SecretId=self.secret_id)["SecretString"]
        return self._value


def build_notifier(settings: Settings, session: boto3.Session, config: Config | None = None) -> Notifier:
    if settings.sms_provider == "textbelt":
        key = SsmSecret(session.client("ssm", config=config), settings.textbelt_key_parameter)
        return TextbeltNotifier(key, settings.textbelt_url)
    if settings.sms_provider == "sns":
        return SnsNotifier(session.client("sns", config=config))
    return DisabledNotifier()


def build_aws_adapters(settings: Settings) -> Adapters:
    """One adapter per port, for the settings' stack (the rate limiter only when RATE_LIMIT_TABLE_NAME is set)."""
    session = boto3.Session(region_name=settings.region)
    # One Lambda handles one event at a time, but the local runtime's gateway serves requests on many threads.
    config = Config(max_pool_connections=50, retries={"mode": "standard"})
    return Adapters(
        store=DynamoStateStore(
            settings.table_name, settings.dynamodb_endpoint_url, settings.region, settings.history_limit
        ),
        endpoints=SageMakerEndpoints(
            session.client("sagemaker", config=config),
            session.client("sagemaker-runtime", config=config),
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
            DynamoRateLimiter(settings.rate_limit_table_name, settings.dynamodb_endpoint_url, settings.region)
            if settings.rate_limit_table_name
            else None
        ),
        admin_api_key=SecretsManagerSecret(
            session.client("secretsmanager", config=config), settings.admin_api_key_secret
        ),
    )
