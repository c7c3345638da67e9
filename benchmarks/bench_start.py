"""How long /start takes to reach IN_SERVICE in the embedded default, with a cached model and no provisioning
delay (goal: at most 5 s), against a baseline measured in the same run: the model server's own cold start
(spawn -> /ping answers -> one prediction), which is the floor any start has to pay.

    .venv/bin/python benchmarks/bench_start.py [--runs 3] [--profile tiny|quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from machine import describe_machine

from local_runtime.endpoints import REPO_ROOT, WARM_UP_PAYLOAD, free_port, model_server_command, stop_process
from local_runtime.harness import ensure_benchmark_model, run_local_runtime

GOAL_SECONDS = 5.0


def model_server_cold_start(model_dir: Path) -> float:
    """Seconds from spawning the model server to its first prediction: the baseline."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        model_server_command(model_dir)(port),
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the model server exited with {process.returncode}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.05)
        requests.post(f"http://127.0.0.1:{port}/invocations", json=WARM_UP_PAYLOAD, timeout=120).raise_for_status()
        return time.perf_counter() - started
    finally:
        stop_process(process, timeout=10)


def start_to_in_service(model_dir: Path, var_dir: Path) -> float:
    """Seconds from POST /start to /status saying IN_SERVICE, through the whole local runtime."""
    with run_local_runtime(var_dir, model_dir, keep_alive="5m") as runtime:
        started = time.perf_counter()
        requests.post(runtime.base_url + "/start", json={}, timeout=30).raise_for_status()
        while True:
            state = requests.get(runtime.base_url + "/status", timeout=30).json()["state"]
            if state == "IN_SERVICE":
                return time.perf_counter() - started
            if state == "FAILED":
                raise RuntimeError(f"the start failed:\n{runtime.console()[-2000:]}")
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--profile",
        choices=["tiny", "quick"],
        default="tiny",
        help="tiny: the tests' cached model; quick: the demo's model (made if missing)",
    )
    args = parser.parse_args()
    model_dir = ensure_benchmark_model(args.profile)

    baseline, local = [], []
    with tempfile.TemporaryDirectory(prefix="bench-start-") as scratch:
        for run in range(args.runs):  # interleaved, so machine load hits both alike
            baseline.append(model_server_cold_start(model_dir))
            local.append(start_to_in_service(model_dir, Path(scratch) / f"run-{run}"))
            print(
                f"run {run + 1}: model server cold start {baseline[-1]:.2f} s, /start -> IN_SERVICE {local[-1]:.2f} s",
                flush=True,
            )
    base, ours = statistics.median(baseline), statistics.median(local)
    print(f"\nmodel: {model_dir}")
    print(describe_machine())
    print(
        f"baseline  model server spawn -> first prediction   median {base:.2f} s  (runs: "
        + ", ".join(f"{x:.2f}" for x in baseline)
        + ")"
    )
    print(
        f"measured  POST /start -> /status IN_SERVICE         median {ours:.2f} s  (runs: "
        + ", ".join(f"{x:.2f}" for x in local)
        + ")"
    )
    print(f"ratio     {ours / base:.2f}x the baseline ({base - ours:+.2f} s: the fork server has the imports done)")
    print(f"goal      <= {GOAL_SECONDS:.0f} s: {'met' if ours <= GOAL_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
