"""Powertools Logger, Tracer and a metric helper shared by the handlers.

Locally safe: outside Lambda (no LAMBDA_TASK_ROOT) or with POWERTOOLS_TRACE_DISABLED, the tracer is a pass-through,
because the X-Ray SDK opens a UDP socket as soon as it is imported; `record_metric` prints nothing outside Lambda
(no AWS_LAMBDA_FUNCTION_NAME: the local runtime and the tests) or when POWERTOOLS_METRICS_DISABLED is true.
Metrics go out one at a time (`single_metric`) because the local
runtime may run handlers on several threads, and Powertools' Metrics object is one shared buffer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "ondemand-sentiment")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OnDemandSentiment")


class PassThroughTracer:
    """The two Tracer decorators the handlers use, doing nothing (local runs and tests)."""

    def capture_lambda_handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        return handler

    def capture_method(self, method: Callable[..., Any]) -> Callable[..., Any]:
        return method


def tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "true", "yes", "on")
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not disabled and not os.environ.get("AWS_SAM_LOCAL")


logger = Logger(service=SERVICE)
tracer: Tracer | PassThroughTracer = Tracer(service=SERVICE) if tracing_enabled() else PassThroughTracer()


def metrics_enabled() -> bool:
    # EMF metrics are JSON lines on stdout that only CloudWatch Logs turns into metrics; elsewhere they are noise.
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not is_metrics_disabled()


def record_metric(name: str, unit: MetricUnit, value: float) -> None:
    if not metrics_enabled():
        return
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
