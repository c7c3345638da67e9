"""SageMaker Endpoint State Change (EventBridge) -> the lifecycle.

EventBridge spells the status IN_SERVICE / FAILED / CREATING; DescribeEndpoint spells it InService. Both are
accepted, so the local runtime's events and the reconciler's view speak the same language.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from ondemand.bootstrap import Handler, LambdaEntryPoint, Service
from ondemand.domain import EndpointStatus
from ondemand.lifecycle.commands import EndpointStatusChanged
from ondemand.observability import logger, tracer

_BY_SPELLING = {s.value.upper(): s for s in EndpointStatus} | {s.name: s for s in EndpointStatus}


def parse_status(raw: str) -> EndpointStatus | None:
    """IN_SERVICE, InService and inservice all mean EndpointStatus.IN_SERVICE; an unknown status is None."""
    return _BY_SPELLING.get(raw.upper()) or _BY_SPELLING.get(raw.replace("_", "").upper())


def make_handler(service: Service) -> Handler:
    """The endpoint-events Lambda handler on `service`."""

    @tracer.capture_lambda_handler
    @event_source(data_class=EventBridgeEvent)
    def handle(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
        detail = event.detail
        name = detail.get("EndpointName", "")
        status = parse_status(detail.get("EndpointStatus", ""))
        if status is None:
            outcome = f"ignored: unknown status {detail.get('EndpointStatus')!r}"
        else:
            outcome = service.handle(EndpointStatusChanged(name, status, detail.get("FailureReason")))
        logger.info("endpoint state change", extra={"endpoint_name": name, "status": str(status), "outcome": outcome})
        return {"endpoint_name": name, "outcome": outcome}

    return handle


handler = LambdaEntryPoint(make_handler)
