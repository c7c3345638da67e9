"""What a rush of simultaneous Start clicks costs: N concurrent POST /start through the API handler, against a
baseline measured in the same run, one uncontended POST /start (each on a fresh state item). Both use the AWS
adapters (pynamodb + boto3) against moto's server on a free loopback port, so the numbers are the lifecycle's own
cost plus local HTTP, not AWS's. Also counts the conditional writes that lost and were retried.

    .venv/bin/python benchmarks/bench_concurrent_start.py [--callers 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from machine import describe_machine
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[1]

GROUP = "bench-teardown"
MODEL = "bench-model"


def configure(url: str) -> None:
    """botocore's credentials and endpoint for every client (the adapters' and this script's): moto's server."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": url,
        }
    )


def fresh_stack(table: str, url: str) -> tuple[Any, dict[str, int]]:
    """A new state table (key schema from template.yaml) and the API handler on the AWS adapters pointed at it,
    with a counter of the writes that lost a race."""
    from ondemand.adapters.aws import build_aws_adapters
    from ondemand.bootstrap import bootstrap
    from ondemand.domain import ConflictError
    from ondemand.handlers import api
    from ondemand.observability import logger
    from ondemand.settings import Settings

    from tests.conftest import create_table_from_template

    settings = Settings(
        table_name=table,
        region="us-east-1",
        endpoint_name_prefix="ondemand-sentiment",
        instance_type="ml.g4dn.xlarge",
        approved_model_parameter="/ondemand-sentiment/approved-model",
        schedule_group_name=GROUP,
        scheduler_role_arn="arn:aws:iam::123456789012:role/bench-scheduler",
        teardown_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench-teardown",
        dynamodb_endpoint_url=url,
    )
    logger.setLevel("ERROR")
    create_table_from_template(boto3.client("dynamodb"), "StateTable", table)
    adapters = build_aws_adapters(settings)
    lost = {"writes": 0}
    lock = threading.Lock()
    for method in ("transition", "update"):
        original = getattr(adapters.store, method)

        def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            try:
                return _original(*args, **kwargs)
            except ConflictError:
                with lock:
                    lost["writes"] += 1
                raise

        setattr(adapters.store, method, counted)
    return api.make_handler(bootstrap(settings, adapters)), lost


def start_request(phone: str | None) -> dict[str, Any]:
    event = json.loads((ROOT / "tests" / "events" / "apigw_start.json").read_text())
    event["body"] = json.dumps({"phone": phone} if phone else {})
    return event


def run(callers: int, table: str, url: str) -> tuple[float, int, int]:
    """Seconds for `callers` simultaneous /start calls, how many writes lost a race, how many endpoints exist."""
    handler, lost = fresh_stack(table, url)
    requests = [start_request(f"+1555555{n % 20:04d}" if n % 3 else None) for n in range(callers)]
    barrier = threading.Barrier(callers)

    def click(event: dict[str, Any]) -> int:
        barrier.wait()
        return handler(event, None)["statusCode"]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=callers) as pool:
        statuses = list(pool.map(click, requests))
    elapsed = time.perf_counter() - started
    assert set(statuses) <= {200, 202}, statuses
    sagemaker = boto3.client("sagemaker")
    endpoints = sagemaker.list_endpoints(NameContains="ondemand-sentiment-")["Endpoints"]
    for endpoint in endpoints:  # the next run starts from nothing
        sagemaker.delete_endpoint(EndpointName=endpoint["EndpointName"])
    return elapsed, lost["writes"], len(endpoints)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    configure(url)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    boto3.client("sagemaker").create_model(
        ModelName=MODEL,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/bench",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/bench:latest"},
    )
    boto3.client("ssm").put_parameter(Name="/ondemand-sentiment/approved-model", Value=MODEL, Type="String")
    boto3.client("scheduler").create_schedule_group(Name=GROUP)
    try:
        baseline, burst, lost_writes = [], [], []
        for number in range(args.runs):
            seconds, _, _ = run(1, f"bench-single-{number}", url)
            baseline.append(seconds)
            seconds, lost, endpoints = run(args.callers, f"bench-burst-{number}", url)
            burst.append(seconds)
            lost_writes.append(lost)
            assert endpoints == 1, f"{endpoints} endpoints for one burst"
    finally:
        server.stop()
    one = statistics.median(baseline)
    many = statistics.median(burst)
    print(describe_machine())
    print(f"one uncontended /start:            {one * 1000:8.1f} ms (median of {args.runs})")
    print(f"{args.callers} concurrent /start (wall time): {many * 1000:8.1f} ms (median of {args.runs})")
    print(f"ratio burst / single:              {many / one:8.1f}x for {args.callers}x the calls")
    print(f"per call in the burst:             {many / args.callers * 1000:8.1f} ms")
    print(f"conditional writes that lost:      {statistics.median(lost_writes):8.0f} (median; each was retried)")
    print("endpoints created per burst:              1")


if __name__ == "__main__":
    main()
