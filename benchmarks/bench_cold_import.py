"""How long a Lambda cold start spends importing our code: each handler module imported in a fresh interpreter,
against two baselines measured in the same run, interleaved: a bare interpreter, and `import boto3` (the floor of any
function that calls AWS: every handler does, so it cannot be avoided, only added to).

    .venv/bin/python benchmarks/bench_cold_import.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from machine import describe_machine

HANDLERS = ("api", "endpoint_events", "teardown", "reconciler")
CASES = {
    "bare interpreter": "pass",
    "import boto3": "import boto3",
    **{f"ondemand.handlers.{name}": f"import ondemand.handlers.{name}" for name in HANDLERS},
}


def seconds(code: str) -> float:
    """Wall time of a fresh interpreter that runs `code` (as `python -c`), startup included."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(describe_machine())
    for code in CASES.values():  # once unmeasured: bytecode written, files in the page cache
        seconds(code)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.runs):
        for name, code in CASES.items():  # interleaved, so a noisy moment touches every case alike
            times[name].append(seconds(code))
    boto3 = statistics.median(times["import boto3"])
    print(f"{'case':<36} {'median s':>9} {'min s':>7} {'vs import boto3':>16}")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"{name:<36} {median:>9.3f} {min(runs):>7.3f} {median / boto3:>15.2f}x")


if __name__ == "__main__":
    main()
