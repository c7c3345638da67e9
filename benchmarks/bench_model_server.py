"""Benchmark: the model server over HTTP against a naive baseline on the same model, in the same run.

Workload: 256 held-out reviews of mixed length (IMDb paragraphs and Rotten Tomatoes one-liners, shuffled).
Baseline: the `transformers` text-classification pipeline called one text at a time (truncated to the same length).
Server: `python -m training.model_server` on loopback, requests of `--batch` texts (the /predict batch contract),
length-sorted micro-batches (token budget) with dynamic padding inside, on the backend a CPU serves by default
(onnx-int8: the int8 ONNX export in ONNX Runtime) unless `--backend` says otherwise. Both use the same number of
cores (torch threads for the baseline; torch threads or side-by-side passes for the server) and the same token limit.

    python benchmarks/bench_model_server.py [--model-dir var/model] [--profile quick] [--batch 32] [--threads 2]

A combined model's server does not run the transformer where the linear model alone decides the answer
(training/combination.py); a second server on the same folder with that rule taken out ("every text") shows what the
rule is worth, and the share of texts the linear model decided is printed.

Each round runs one pass of each side, alternating (`--rounds`, default 3). Prints throughput (texts/s) and p50/p95
latency per call for every pass, the ratio per round and its median. Goal: >= 4x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from machine import describe_machine

from training.combination import Combination

REPO_ROOT = Path(__file__).resolve().parents[1]


def workload(count: int, seed: int) -> list[str]:
    from glue_jobs.curate_reviews import curate
    from glue_jobs.seed_raw_reviews import load_movie_reviews

    curated, _ = curate(load_movie_reviews())
    test = curated[curated["split"] == "test"]
    return test.sample(count, random_state=seed)["text"].tolist()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(latencies_ms: list[float], texts: int, seconds: float) -> dict[str, float]:
    return {
        "throughput": texts / seconds,
        "p50_ms": percentile(latencies_ms, 50),
        "p95_ms": percentile(latencies_ms, 95),
        "requests": len(latencies_ms),
    }


def timed_pass(call: Callable[[list[str]], Any], texts: list[str], per_call: int) -> dict[str, float]:
    """One pass over the workload, `per_call` texts at a time: throughput and per-call latencies."""
    latencies = []
    started = time.perf_counter()
    for start in range(0, len(texts), per_call):
        t0 = time.perf_counter()
        call(texts[start : start + per_call])
        latencies.append((time.perf_counter() - t0) * 1000)
    return summary(latencies, len(texts), time.perf_counter() - started)


def baseline_classifier(model_dir: Path, threads: int, max_length: int) -> Callable[[list[str]], Any]:
    """The naive way: the `transformers` pipeline, one text per call."""
    import torch
    from transformers import pipeline

    torch.set_num_threads(threads)
    classify = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), device="cpu")
    classify("warm-up", truncation=True, max_length=max_length)
    return lambda one_text: classify(one_text[0], truncation=True, max_length=max_length)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=300) as answer:
        return json.loads(answer.read())


@contextmanager
def model_server(model_dir: Path, threads: int, backend: str | None) -> Iterator[tuple[str, str]]:
    """A model server subprocess on loopback, ready: yields (base URL, the backend it reports)."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "training.model_server",
            "--model-dir",
            str(model_dir),
            "--port",
            str(port),
            "--threads",
            str(threads),
            "--log-level",
            "WARNING",
            *(["--backend", backend] if backend else []),
        ],
        cwd=REPO_ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as ping:
                    if ping.status == 200:
                        yield base, json.loads(ping.read())["backend"]
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the model server did not become ready")
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)


def server_classifier(base: str, scored_by: Counter[str]) -> Callable[[list[str]], Any]:
    """One /invocations call per batch; counts what scored each text."""

    def classify(texts: list[str]) -> None:
        answer = post(f"{base}/invocations", {"texts": texts})
        assert len(answer["predictions"]) == len(texts)
        scored_by.update(prediction.get("scored_by", "?") for prediction in answer["predictions"])

    return classify


def every_text_folder(model_dir: Path, into: Path) -> Path | None:
    """A view of `model_dir` (links to its files) whose serving config lets no band skip the transformer; None if no
    band skips it anyway."""
    serving_file = model_dir / "serving_config.json"
    combination = Combination.from_serving_config(json.loads(serving_file.read_text()))
    if combination is None or combination == combination.on_every_text():
        return None
    into.mkdir()
    for item in model_dir.iterdir():
        if item.name != serving_file.name:
            (into / item.name).symlink_to(item.resolve())
    shutil.copy(serving_file, into / serving_file.name)
    combination.on_every_text().save(into / serving_file.name)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "var" / "model")
    parser.add_argument("--profile", default="quick", help="made with the local pipeline if the folder has no model")
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32, help="texts per /invocations request")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for both (0: the free cores)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="alternating passes of each side; the median counts")
    parser.add_argument("--backend", default=None, help="torch, torch-int8 or onnx-int8 (default: the server's)")
    args = parser.parse_args()

    from local_runtime.model_pipeline import ensure_model
    from training.train import free_cores

    model_dir = ensure_model(args.profile, args.model_dir)
    serving = json.loads((model_dir / "serving_config.json").read_text())
    threads = args.threads or free_cores()
    texts = workload(args.texts, args.seed)
    lengths = [len(t) for t in texts]
    print(
        f"model {model_dir} ({serving.get('profile')}), {len(texts)} texts, chars min/median/max "
        f"{min(lengths)}/{int(statistics.median(lengths))}/{max(lengths)}, torch threads {threads}, "
        f"max_length {serving['max_length']}"
    )
    print(describe_machine(), flush=True)
    baseline = baseline_classifier(model_dir, threads, serving["max_length"])
    sides = {"baseline: HF pipeline, 1 text/call": (baseline, 1)}
    scored_by: Counter[str] = Counter()
    with ExitStack() as stack:
        base, backend = stack.enter_context(model_server(model_dir, threads, args.backend))
        sides[f"model server: {backend}, {args.batch} texts/req"] = (server_classifier(base, scored_by), args.batch)
        every_text = every_text_folder(model_dir, Path(stack.enter_context(tempfile.TemporaryDirectory())) / "model")
        if every_text:
            base, _ = stack.enter_context(model_server(every_text, threads, args.backend))
            sides["  the same, transformer on every text"] = (server_classifier(base, Counter()), args.batch)
        for call, _ in list(sides.values())[1:]:
            call(texts[: args.batch])  # warm-up
        scored_by.clear()
        rounds = [  # alternate, so a noisy neighbour slows every side alike
            {name: timed_pass(call, texts, per_call) for name, (call, per_call) in sides.items()}
            for _ in range(args.rounds)
        ]
    print(f"{'round':6} {'':38} {'texts/s':>8} {'p50 ms':>9} {'p95 ms':>9} {'requests':>9}")
    for number, results in enumerate(rounds, 1):
        for name, result in results.items():
            print(
                f"{number:<6} {name:38} {result['throughput']:8.1f} {result['p50_ms']:9.1f} {result['p95_ms']:9.1f} "
                f"{result['requests']:9d}"
            )
    total = sum(scored_by.values())
    print("model server, texts scored by: " + ", ".join(f"{name} {n / total:.0%}" for name, n in scored_by.items()))
    baseline_name, server_name, *others = sides
    for name in (server_name, *others):
        ratios = [results[name]["throughput"] / results[baseline_name]["throughput"] for results in rounds]
        ratio = statistics.median(ratios)
        goal = f"  (goal >= 4x: {'met' if ratio >= 4 else 'NOT met'})" if name == server_name else ""
        print(
            f"throughput ratio ({name.strip()} / baseline) by round: {', '.join(f'{r:.2f}x' for r in ratios)}; "
            f"median {ratio:.2f}x{goal}"
        )


if __name__ == "__main__":
    main()
