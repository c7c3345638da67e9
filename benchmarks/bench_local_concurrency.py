"""The local runtime's two concurrency fixes, each beside what it replaced, under the loads their tests use:

- the gateway under a burst of simultaneous connections (tests/integration/test_gateway_load.py), listening with
  the kernel's largest backlog, as it does, and with socketserver's default backlog of 5;
- identical conditional subscribe writes of one item from many threads at once
  (tests/integration/test_state_server_atomicity.py), on the runtime's state store (moto behind one lock) and on
  moto's server alone: the rounds in which more than one writer won, at the tests' thread switch interval and at
  Python's default.

    .venv/bin/python -m benchmarks.bench_local_concurrency [--trials 3]   # from the repository's root: it imports
                                                                          # the tests' load generators by package name
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer
from ondemand.adapters.dynamodb import StaticCredentials

from benchmarks.machine import describe_machine
from local_runtime.cfn_template import load_template, table_definition
from local_runtime.gateway import Gateway
from local_runtime.state_server import LocalStateServer
from tests.integration import test_gateway_load as gateway_load
from tests.integration import test_state_server_atomicity as atomicity

SWITCH_INTERVALS = {"1 us (the test's)": 1e-6, f"{sys.getswitchinterval() * 1000:g} ms (Python's default)": None}


class BacklogOfFive(Gateway):
    request_queue_size = 5  # socketserver's default, before the fix


def gateway_burst(server_class: type[Gateway], connections: int) -> Counter[Any]:
    with tempfile.TemporaryDirectory() as static_dir:
        gateway = server_class(api=gateway_load.slow_api, static_dir=Path(static_dir))
        gateway.start()
        try:
            host, port = gateway.server_address[:2]
            return gateway_load.burst(host, port, connections, gateway_load.post_start)
        finally:
            gateway.close()


def lost_rounds(url: str, table: str, writers: int, rounds: int, credentials: StaticCredentials | None = None) -> int:
    """Rounds in which more than one identical conditional write won (the item is reset first). `credentials`: the
    runtime's store answers only its own."""
    dynamodb = atomicity.client_for(url, writers, credentials)
    return sum(winners > 1 for winners in atomicity.subscribe_rounds(dynamodb, table, writers, rounds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--connections", type=int, default=gateway_load.CONNECTIONS)
    parser.add_argument("--writers", type=int, default=atomicity.WRITERS)
    parser.add_argument("--rounds", type=int, default=atomicity.ROUNDS)
    args = parser.parse_args()

    print(describe_machine())
    print(f"Gateway: {args.connections} simultaneous POST /start, {args.trials} trials (status or error: count)")
    for label, server_class in (("backlog SOMAXCONN (now)", Gateway), ("backlog 5 (before)", BacklogOfFive)):
        for trial in range(args.trials):
            outcomes = gateway_burst(server_class, args.connections)
            failed = sum(count for outcome, count in outcomes.items() if not isinstance(outcome, int) or outcome >= 500)
            print(f"  {label:24} trial {trial + 1}: {failed:4} resets or 5xx  {dict(outcomes)}")

    print(f"State store: {args.writers} identical conditional writes x {args.rounds} rounds, {args.trials} trials")
    print("  (rounds in which more than one writer won)")
    table = f"bench-{uuid.uuid4().hex[:8]}"  # moto keeps tables per process: one name per server
    locked = LocalStateServer(table_name=table, rate_limit_table_name=f"{table}-rates")
    locked.start()
    alone = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    alone.start()
    host, port = alone.get_host_and_port()
    alone_url, alone_table = f"http://{host}:{port}", f"{table}-alone"
    atomicity.client_for(alone_url, 1).create_table(
        TableName=alone_table, BillingMode="PAY_PER_REQUEST", **table_definition(load_template(), "StateTable")
    )
    default_interval = sys.getswitchinterval()
    try:
        for interval_label, interval in SWITCH_INTERVALS.items():
            sys.setswitchinterval(interval or default_interval)
            for label, url, name, credentials in (
                ("runtime's store (locked)", locked.url, table, locked.credentials),
                ("moto's server alone", alone_url, alone_table, None),
            ):
                lost = [lost_rounds(url, name, args.writers, args.rounds, credentials) for _ in range(args.trials)]
                print(f"  switch {interval_label:28} {label:26} {lost}")
    finally:
        sys.setswitchinterval(default_interval)
        alone.stop()
        locked.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
