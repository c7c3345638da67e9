"""Which adapters the handlers use. On Lambda: the AWS adapters, built once at cold start from settings.
The local runtime and the tests call `install()` before the first event to plug in their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ondemand.ports import EndpointControl, Notifier, RateLimiter, Scheduler, StateStore
from ondemand.settings import get_settings


@dataclass(frozen=True)
class Adapters:
    store: StateStore
    endpoints: EndpointControl
    scheduler: Scheduler
    notifier: Notifier
    admin_api_key: Callable[[], str | None] = lambda: None
    """The x-api-key POST /stop requires; None turns /stop off."""


_installed: Adapters | None = None


def install(adapters: Adapters | None) -> None:
    """Use these adapters from now on (None: go back to the AWS adapters on next use)."""
    global _installed
    _installed = adapters


def adapters() -> Adapters:
    global _installed
    if _installed is None:
        from ondemand.adapters.aws import build_aws_adapters  # boto3 clients only where they are used

        _installed = build_aws_adapters()
    return _installed


def rate_limiter() -> RateLimiter | None:
    """The /start rate limiter on RATE_LIMIT_TABLE_NAME (None when unset). Built from the settings, not installed,
    so the local runtime gets the same DynamoDB code against its own server."""
    settings = get_settings()
    if not settings.rate_limit_table_name:
        return None
    from ondemand.adapters.rate_limit import DynamoRateLimiter

    return DynamoRateLimiter(settings.rate_limit_table_name, settings.dynamodb_endpoint_url, settings.region)
