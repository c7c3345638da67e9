"""The one-time schedules' target: {"endpoint_name": ..., "expires_at": ...} -> tear the endpoint down if due;
{"kind": "notice", "endpoint_name": ..., "expires_at": ...} -> text the "stops soon" notice if due."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ondemand.bootstrap import Handler, LambdaEntryPoint, Service
from ondemand.lifecycle.commands import SendNotice, TearDown
from ondemand.lifecycle.schedules import NOTICE_KIND
from ondemand.observability import logger, tracer


def make_handler(service: Service) -> Handler:
    """The teardown Lambda handler on `service`."""

    @tracer.capture_lambda_handler
    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        name = event["endpoint_name"]
        kind = event.get("kind", "teardown")
        # The expires_at the schedule was made for: trusted over the clock (Scheduler may fire early).
        scheduled_for = datetime.fromisoformat(event["expires_at"]) if event.get("expires_at") else None
        if kind == NOTICE_KIND:
            outcome = service.handle(SendNotice(name, scheduled_for))
        else:
            outcome = service.handle(TearDown(name, scheduled_for))
        logger.info(kind, extra={"endpoint_name": name, "scheduled_for": event.get("expires_at"), "outcome": outcome})
        return {"endpoint_name": name, "outcome": outcome}

    return handle


# The teardown function deletes schedules but never creates one (and cannot name its own ARN in the template).
handler = LambdaEntryPoint(make_handler, creates_schedules=False)
