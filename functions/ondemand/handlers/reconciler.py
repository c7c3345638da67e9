"""Every 5 minutes: compare the state item with SageMaker and repair drift, so nothing bills unnoticed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ondemand import wiring
from ondemand.lifecycle import EndpointLifecycle
from ondemand.observability import logger, record_metric, tracer
from ondemand.settings import get_settings


@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    repairs = EndpointLifecycle(wiring.adapters(), get_settings()).reconcile()
    if repairs:
        logger.warning("reconciler repaired drift", extra={"repairs": repairs})
        record_metric("DriftRepairs", MetricUnit.Count, len(repairs))
    return {"repairs": repairs}
