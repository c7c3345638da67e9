"""Powertools Logger, Tracer and a metric helper shared by the handlers.

Locally safe: the Tracer disables itself outside Lambda (no X-Ray daemon), and `record_metric` prints nothing
when POWERTOOLS_METRICS_DISABLED is true. Metrics go out one at a time (`single_metric`) because the local
runtime may run handlers on several threads, and Powertools' Metrics object is one shared buffer.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "ondemand-sentiment")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OnDemandSentiment")

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)


def record_metric(name: str, unit: MetricUnit, value: float) -> None:
    if is_metrics_disabled():
        return
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
