"""Benchmark: the instant tier's model as a Lambda would serve it, beside the TF-IDF + LR baseline in the same run.

Prints the CPU, import + load time of ondemand.instant_model in a fresh interpreter (the Lambda cold-start proxy),
p50/p95 latency of 32-review requests of real held-out reviews on one core, and the artifact + code size. Baseline:
training/evaluate.py's TF-IDF + logistic regression pipeline (scikit-learn) predicting the same requests on the same
core. Goals (issue 13): import + load <= 1 s, p50 <= 20 ms per 32-review request, artifact + code <= 50 MB.

    python benchmarks/bench_instant.py [--model-dir var/instant_model] [--requests 200] [--batch 32] [--no-baseline]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench_model_server import percentile
from machine import describe_machine
from ondemand import instant_model

REPO_ROOT = Path(__file__).resolve().parents[1]

# Run under `python -I` (no PYTHONPATH, no user site): the project's editable install still finds ondemand by name.
COLD_START = """
import sys, time
started = time.perf_counter()
from ondemand.instant_model import InstantModel
model = InstantModel.load(sys.argv[1])
print(time.perf_counter() - started)
"""


def cold_starts(model_dir: Path, runs: int) -> tuple[list[float], list[float]]:
    """Seconds to import + load inside a fresh `python -I` (what the handler pays), and the process's whole wall time
    (interpreter start included, which a Lambda runtime has already paid)."""
    inside, whole = [], []
    for _ in range(runs):
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-I", "-c", COLD_START, str(model_dir)],
            capture_output=True,
            text=True,
            check=True,
        )
        whole.append(time.perf_counter() - started)
        inside.append(float(completed.stdout.strip()))
    return inside, whole


def requests_of(texts: list[str], count: int, batch: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [rng.sample(texts, batch) for _ in range(count)]


def latencies_ms(call: Callable[[list[str]], object], requests: list[list[str]]) -> list[float]:
    call(requests[0])  # warm: first-call allocations are not what a warm Lambda pays
    measured = []
    for request in requests:
        started = time.perf_counter()
        call(request)
        measured.append((time.perf_counter() - started) * 1000)
    return measured


def line(name: str, values: list[float]) -> str:
    return f"{name:<44} p50 {percentile(values, 50):7.2f} ms   p95 {percentile(values, 95):7.2f} ms"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "var" / "instant_model")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--cold-starts", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=None, help="the core to pin to (default: the first allowed)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF + LR baseline (the slow part)")
    args = parser.parse_args(argv)
    if not (args.model_dir / instant_model.METADATA_FILE).exists():
        sys.exit(f"No instant model in {args.model_dir}: run `python -m training.instant_train --train-dir ...` first.")

    cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})  # one core, for us and for scikit-learn's BLAS threads alike
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    print(f"{describe_machine()}; pinned to core {cpu}")

    inside, whole = cold_starts(args.model_dir, args.cold_starts)
    print(
        f"import + load in a fresh interpreter: median {statistics.median(inside) * 1000:.0f} ms, "
        f"max {max(inside) * 1000:.0f} ms over {len(inside)} runs (whole process incl. interpreter start: "
        f"median {statistics.median(whole) * 1000:.0f} ms)   goal <= 1000 ms"
    )

    artifact = sum(p.stat().st_size for p in args.model_dir.iterdir() if p.is_file())
    code = Path(instant_model.__file__).stat().st_size
    print(
        f"artifact {artifact / 1e6:.2f} MB + code {code / 1e3:.1f} kB = {(artifact + code) / 1e6:.2f} MB   "
        "goal <= 50 MB"
    )

    from glue_jobs.curate_reviews import curate
    from glue_jobs.seed_raw_reviews import load_movie_reviews

    curated, _ = curate(load_movie_reviews())
    test = curated[curated["split"] == "test"]
    mixed = requests_of(test["text"].tolist(), args.requests, args.batch, seed=1)
    imdb = requests_of(test[test["source"] == "imdb"]["text"].tolist(), args.requests, args.batch, seed=2)
    model = instant_model.InstantModel.load(args.model_dir)
    print(f"model {model.name}; {args.requests} requests of {args.batch} held-out reviews each, one core")
    instant_mixed = latencies_ms(model.predict, mixed)
    instant_imdb = latencies_ms(model.predict, imdb)
    print(line("instant, IMDb + Rotten Tomatoes mix", instant_mixed) + "   goal p50 <= 20 ms")
    print(line("instant, IMDb reviews only (longest)", instant_imdb))
    if args.no_baseline:
        return

    from training.evaluate import tfidf_baseline

    started = time.perf_counter()
    baseline = tfidf_baseline(curated[curated["split"] == "train"])
    print(f"baseline TF-IDF + LR fitted on the train split in {time.perf_counter() - started:.0f} s")
    baseline_mixed = latencies_ms(baseline.predict_proba, mixed)
    baseline_imdb = latencies_ms(baseline.predict_proba, imdb)
    print(line("baseline TF-IDF + LR (sklearn), mix", baseline_mixed))
    print(line("baseline TF-IDF + LR (sklearn), IMDb only", baseline_imdb))
    ratio = percentile(baseline_mixed, 50) / percentile(instant_mixed, 50)
    print(f"p50 ratio baseline / instant on the mix: {ratio:.2f}x")


if __name__ == "__main__":
    main()
