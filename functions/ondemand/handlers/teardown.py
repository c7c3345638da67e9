"""The one-time schedule's target: {"endpoint_name": ..., "expires_at": ...} -> tear the endpoint down if due."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ondemand.bootstrap import Handler, LambdaEntryPoint, Service
from ondemand.observability import logger, tracer


def make_handler(service: Service) -> Handler:
    """The teardown Lambda handler on `service`."""

    @tracer.capture_lambda_handler
    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        name = event["endpoint_name"]
        outcome = service.lifecycle.teardown(name)
        logger.info(
            "teardown", extra={"endpoint_name": name, "scheduled_for": event.get("expires_at"), "outcome": outcome}
        )
        return {"endpoint_name": name, "outcome": outcome}

    return handle


# The teardown function deletes schedules but never creates one (and cannot name its own ARN in the template).
handler = LambdaEntryPoint(make_handler, creates_schedules=False)
