"""Every 5 minutes: compare the state item with SageMaker and repair drift, so nothing bills unnoticed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ondemand.bootstrap import Handler, LambdaEntryPoint, Service
from ondemand.lifecycle.commands import Reconcile
from ondemand.observability import logger, record_metric, tracer


def make_handler(service: Service) -> Handler:
    """The reconciler's Lambda handler on `service`."""

    @tracer.capture_lambda_handler
    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        repairs = [repair.as_dict() for repair in service.handle(Reconcile())]
        if repairs:
            logger.warning("reconciler repaired drift", extra={"repairs": repairs})
            record_metric("DriftRepairs", MetricUnit.Count, len(repairs))
        return {"repairs": repairs}

    return handle


handler = LambdaEntryPoint(make_handler)
