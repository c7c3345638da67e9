"""The one-time schedule's target: {"endpoint_name": ..., "expires_at": ...} -> tear the endpoint down if due."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ondemand import wiring
from ondemand.lifecycle import EndpointLifecycle
from ondemand.observability import logger, tracer
from ondemand.settings import get_settings


@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    name = event["endpoint_name"]
    outcome = EndpointLifecycle(wiring.adapters(), get_settings()).teardown(name)
    logger.info("teardown", extra={"endpoint_name": name, "scheduled_for": event.get("expires_at"), "outcome": outcome})
    return {"endpoint_name": name, "outcome": outcome}
