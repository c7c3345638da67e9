"""Soak the embedded default: N start -> predict -> stop cycles through the local runtime's HTTP API, reporting
what a long-lived runtime would leak: processes left below it (model servers), open file descriptors and
resident memory (the runtime alone, and with its children). Not part of `make test`.

    .venv/bin/python benchmarks/soak.py [--cycles 20] [--profile tiny|quick]

Each cycle must end STOPPED with no model server left; growth is measured from the end of cycle 1 (after the
first start has paid for imports and caches) to the end of the last cycle.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests
from machine import describe_machine

from local_runtime.harness import RunningRuntime, descendants, ensure_benchmark_model, run_local_runtime
from local_runtime.runtime import RUNTIME_FILE


@dataclass
class Sample:
    cycle: int
    children: int
    model_servers: int
    open_files: int
    rss_mib: float
    rss_with_children_mib: float
    seconds: float


def wait_for(runtime: RunningRuntime, state: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while (current := requests.get(runtime.base_url + "/status", timeout=30).json()["state"]) != state:
        if current == "FAILED" or time.monotonic() > deadline:
            raise RuntimeError(f"waited for {state}, the model is {current}:\n{runtime.console()[-2000:]}")
        time.sleep(0.1)


def one_cycle(runtime: RunningRuntime, admin_key: str) -> None:
    requests.post(runtime.base_url + "/start", json={"phone": "+12025550100"}, timeout=30).raise_for_status()
    wait_for(runtime, "IN_SERVICE")
    answer = requests.post(
        runtime.base_url + "/predict", json={"texts": ["a wonderful film", "dull and long"]}, timeout=120
    )
    answer.raise_for_status()
    assert len(answer.json()["predictions"]) == 2
    requests.post(runtime.base_url + "/stop", headers={"x-api-key": admin_key}, timeout=120).raise_for_status()
    wait_for(runtime, "STOPPED")


def sample(runtime: RunningRuntime, cycle: int, seconds: float) -> Sample:
    process = psutil.Process(runtime.process.pid)
    children = descendants(runtime.process.pid)
    rss_children = 0
    for pid in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            rss_children += psutil.Process(pid).memory_info().rss
    rss = process.memory_info().rss
    return Sample(
        cycle,
        len(children),
        len(runtime.model_server_pids()),
        process.num_fds(),
        rss / 2**20,
        (rss + rss_children) / 2**20,
        seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--profile", choices=["tiny", "quick"], default="tiny")
    args = parser.parse_args()
    model_dir = ensure_benchmark_model(args.profile)

    samples: list[Sample] = []
    # One phone from one address starts N times: the soak measures leaks, so it lifts the /start rate limits
    # (the runtime inherits these; the defaults would answer 429 from the 4th cycle on).
    os.environ["START_LIMIT_PER_PHONE"] = os.environ["START_LIMIT_PER_CLIENT"] = str(args.cycles + 1)
    with (
        tempfile.TemporaryDirectory(prefix="soak-") as scratch,
        run_local_runtime(Path(scratch), model_dir, keep_alive="10m") as runtime,
    ):
        admin_key = json.loads((Path(scratch) / RUNTIME_FILE).read_text())["admin_key"]
        before = sample(runtime, 0, 0.0)
        print(describe_machine())
        print(
            f"start: {before.children} children, {before.open_files} fds, {before.rss_mib:.0f} MiB "
            f"({before.rss_with_children_mib:.0f} MiB with children)"
        )
        for cycle in range(1, args.cycles + 1):
            started = time.perf_counter()
            one_cycle(runtime, admin_key)
            time.sleep(0.5)  # let a stopped model server be reaped
            samples.append(sample(runtime, cycle, time.perf_counter() - started))
            s = samples[-1]
            print(
                f"cycle {cycle:3d}: {s.seconds:5.1f} s, model servers left {s.model_servers}, children "
                f"{s.children}, fds {s.open_files}, rss {s.rss_mib:.0f} MiB ({s.rss_with_children_mib:.0f} "
                "MiB with children)"
            )

    first, last = samples[0], samples[-1]
    leaked = max(s.model_servers for s in samples)
    print(
        f"\n{args.cycles} cycles: model servers left after a stop (max) {leaked}; "
        f"children {first.children} -> {last.children}; open files {first.open_files} -> {last.open_files} "
        f"({last.open_files - first.open_files:+d}); runtime rss {first.rss_mib:.0f} -> {last.rss_mib:.0f} MiB "
        f"({last.rss_mib - first.rss_mib:+.1f}); with children {first.rss_with_children_mib:.0f} -> "
        f"{last.rss_with_children_mib:.0f} MiB; cycle time {first.seconds:.1f} -> {last.seconds:.1f} s"
    )
    if leaked or last.children > first.children:
        sys.exit("leaked processes")


if __name__ == "__main__":
    main()
