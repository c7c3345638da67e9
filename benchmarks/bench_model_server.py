"""Benchmark: the model server over HTTP against the strongest peer a careful engineer would run without it.

Workload: 256 held-out reviews of mixed length (IMDb paragraphs and Rotten Tomatoes one-liners, shuffled).
Naive baseline: the `transformers` text-classification pipeline called one text at a time (truncated to the same
length). Peers: plain torch on the whole workload at once, tokenized, sorted by token count and cut into batches of
`--batch` padded to their own longest, in fp32, in torch dynamic int8 and, only on a CPU with bf16 hardware
(avx512_bf16 or amx_bf16), in bfloat16. Server: `python -m training.model_server` on loopback, requests of `--batch`
texts, on the path it picks for this machine (training/serving_path.py) unless `--backend` says otherwise. All use the
same number of cores and the same token limit.

    python benchmarks/bench_model_server.py [--model-dir var/model] [--texts 256] [--rounds 3] [--threads 2]

A combined model's server does not run the transformer where the linear model alone decides the answer
(training/combination.py); a second server on the same folder with that rule taken out ("every text") measures the
transformer path itself. Each round runs one pass of every side, alternating, so a busy neighbour slows them alike.
Prints the CPU model and the flags that matter, texts/s and p50/p95 per call for every pass, and the server's ratio to
the best peer of each round (median; goals: >= 1.25x with the transformer on every text, >= 2.5x as served). Then the
limit: the measured rate of one encoder layer's matmuls in the served number format, the model's FLOPs per text from
the workload's token counts, the texts/s they bound, and the server's share of that bound.
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
from training.serving_path import Machine

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


def peer_classifier(model: Any, tokenizer: Any, max_length: int, batch: int) -> Callable[[list[str]], list[int]]:
    """What a careful engineer writes without our server: tokenize everything, sort by token count, batches of
    `batch` padded to their own longest, `model` as given (fp32, dynamic int8 or bf16). Returns the labels."""
    import torch

    def classify(texts: list[str]) -> list[int]:
        ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        labels = [0] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), batch):
                chunk = order[start : start + batch]
                padded = tokenizer.pad({"input_ids": [ids[i] for i in chunk]}, return_tensors="pt")
                for i, label in zip(chunk, model(**padded).logits.argmax(-1).tolist(), strict=True):
                    labels[i] = label
        return labels

    return classify


def peers(model_dir: Path, max_length: int, batch: int, machine: Machine) -> dict[str, Callable[[list[str]], Any]]:
    """The peers by name: fp32, torch dynamic int8 and, on a CPU with bf16 hardware, bfloat16 (elsewhere torch
    emulates it, far slower than fp32: no careful engineer would serve it)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from training.inference import quantize_int8

    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def load(dtype: Any = torch.float32) -> Any:
        return AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=dtype).eval()

    sides = {
        f"peer: torch fp32, sorted batches of {batch}": peer_classifier(load(), tokenizer, max_length, batch),
        f"peer: torch dynamic int8, sorted {batch}": peer_classifier(
            quantize_int8(load()), tokenizer, max_length, batch
        ),
    }
    if machine.has_bf16:
        sides[f"peer: torch bf16, sorted batches of {batch}"] = peer_classifier(
            load(torch.bfloat16), tokenizer, max_length, batch
        )
    else:
        print("peer torch bf16: skipped: no bf16 hardware (neither avx512_bf16 nor amx_bf16)")
    return sides


LINEAR_FORMATS = {  # the served number format of each path, as the matmul limit measures it
    "torch": "fp32",
    "onnx-fp32": "fp32",
    "torch-int8": "int8 (torch)",
    "onnx-int8": "int8 (ONNX Runtime)",
    "torch-bf16": "bf16",
}


def layer_linears(hidden: int, intermediate: int) -> Any:
    """One encoder layer's matmuls in a chain: query, key, value, attention output, FFN in, FFN out (no bias)."""
    import torch

    shapes = [(hidden, hidden)] * 4 + [(hidden, intermediate), (intermediate, hidden)]
    return torch.nn.Sequential(*(torch.nn.Linear(a, b, bias=False) for a, b in shapes)).eval()


def matmul_rate(number_format: str, tokens: int, hidden: int, intermediate: int, threads: int) -> float:
    """GFLOP/s of one layer's matmuls on `tokens` rows in `number_format`, the best of a few timed runs."""
    import torch

    from training.inference import quantize_int8

    layer = layer_linears(hidden, intermediate)
    x = torch.randn(tokens, hidden)
    flops = 2 * tokens * (4 * hidden * hidden + 2 * hidden * intermediate)
    if number_format == "int8 (ONNX Runtime)":
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with tempfile.TemporaryDirectory() as scratch:
            fp32, int8 = Path(scratch) / "layer.onnx", Path(scratch) / "layer.int8.onnx"
            torch.onnx.export(layer, (x,), str(fp32), input_names=["x"], opset_version=17, dynamo=False)
            quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8, per_channel=True)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            session = onnxruntime.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])
        feed = {"x": x.numpy()}

        def run() -> None:
            session.run(None, feed)
    else:
        if number_format == "int8 (torch)":
            layer = quantize_int8(layer)
        elif number_format == "bf16":
            layer, x = layer.to(torch.bfloat16), x.to(torch.bfloat16)

        def run() -> None:
            with torch.inference_mode():
                layer(x)

    torch.set_num_threads(threads)
    run()
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(3):
            run()
        best = min(best, (time.perf_counter() - started) / 3)
    return flops / best / 1e9


def flops_per_text(token_counts: list[int], layers: int, hidden: int, intermediate: int) -> float:
    """The encoder's multiply-adds x 2 per text, averaged: per layer the six projections on every token and the
    attention's scores and weighted sum (T x T x hidden each)."""
    per_text = [
        layers * (2 * t * (4 * hidden * hidden + 2 * hidden * intermediate) + 4 * t * t * hidden) for t in token_counts
    ]
    return sum(per_text) / len(per_text)


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


MATTERING_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
GOAL_EVERY_TEXT, GOAL_AS_SERVED = 1.25, 2.5  # the server over the best peer (issue 25)


def describe_cpu(machine: Machine) -> str:
    present = [flag for flag in MATTERING_FLAGS if flag in machine.flags]
    absent = [flag for flag in MATTERING_FLAGS if flag not in machine.flags]
    return f"cpu: {machine.cpu}; flags: {' '.join(present) or '-'}; absent: {' '.join(absent) or '-'}"


def median_ratios(
    rounds: list[dict[str, dict[str, float]]], name: str, against: list[str]
) -> tuple[list[float], float]:
    """Per round, `name`'s throughput over the best of `against` in that same round; and their median."""
    ratios = [results[name]["throughput"] / max(results[a]["throughput"] for a in against) for results in rounds]
    return ratios, statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "var" / "model")
    parser.add_argument("--profile", default="quick", help="made with the local pipeline if the folder has no model")
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32, help="texts per /invocations request and per peer batch")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for both (0: the free cores)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="alternating passes of each side; the median counts")
    parser.add_argument("--backend", default=None, help="a path of training/serving_path.py (default: the server's)")
    parser.add_argument("--matmul-tokens", type=int, default=2048, help="rows of the matmul the limit is measured on")
    args = parser.parse_args()

    from transformers import AutoConfig, AutoTokenizer

    from local_runtime.model_pipeline import ensure_model
    from training.inference import encode_head_tail, text_encoding
    from training.train import free_cores

    model_dir = ensure_model(args.profile, args.model_dir)
    serving = json.loads((model_dir / "serving_config.json").read_text())
    encoding = text_encoding(serving)
    threads = args.threads or free_cores()
    texts = workload(args.texts, args.seed)
    lengths = [len(t) for t in texts]
    machine = Machine.here()
    print(
        f"model {model_dir} ({serving.get('profile')}), {len(texts)} texts, chars min/median/max "
        f"{min(lengths)}/{int(statistics.median(lengths))}/{max(lengths)}, torch threads {threads}, "
        f"max_length {encoding['max_length']}"
    )
    print(describe_machine())
    print(describe_cpu(machine), flush=True)
    baseline_name = "naive: HF pipeline, 1 text/call"
    sides = {baseline_name: (baseline_classifier(model_dir, threads, encoding["max_length"]), 1)}
    peer_names = []
    for name, call in peers(model_dir, encoding["max_length"], args.batch, machine).items():
        call(texts[: args.batch])  # warm-up
        sides[name] = (call, len(texts))  # a peer sees the whole workload at once: sorted over all of it
        peer_names.append(name)
    scored_by: Counter[str] = Counter()
    with ExitStack() as stack:
        base, backend = stack.enter_context(model_server(model_dir, threads, args.backend))
        served_name = f"model server: {backend}, {args.batch} texts/req"
        sides[served_name] = (server_classifier(base, scored_by), args.batch)
        every_text = every_text_folder(model_dir, Path(stack.enter_context(tempfile.TemporaryDirectory())) / "model")
        every_name = served_name
        if every_text:
            base, _ = stack.enter_context(model_server(every_text, threads, backend))
            every_name = "  the same, transformer on every text"
            sides[every_name] = (server_classifier(base, Counter()), args.batch)
        for name in (served_name, every_name):
            sides[name][0](texts[: args.batch])  # warm-up
        scored_by.clear()
        print(f"{'round':6} {'':40} {'texts/s':>8} {'p50 ms':>9} {'p95 ms':>9} {'requests':>9}", flush=True)
        rounds = []
        for number in range(1, args.rounds + 1):  # alternate, so a noisy neighbour slows every side alike
            rounds.append({})
            for name, (call, per_call) in sides.items():
                result = rounds[-1][name] = timed_pass(call, texts, per_call)
                print(
                    f"{number:<6} {name:40} {result['throughput']:8.1f} {result['p50_ms']:9.1f} "
                    f"{result['p95_ms']:9.1f} {result['requests']:9d}",
                    flush=True,
                )
    total = sum(scored_by.values())
    print("model server, texts scored by: " + ", ".join(f"{name} {n / total:.0%}" for name, n in scored_by.items()))
    best_peer = [max(peer_names, key=lambda name: results[name]["throughput"]).split(",")[0] for results in rounds]
    print(f"best peer by round: {', '.join(best_peer)}")
    for name, goal in ((every_name, GOAL_EVERY_TEXT), (served_name, GOAL_AS_SERVED)):
        ratios, ratio = median_ratios(rounds, name, peer_names)
        naive = median_ratios(rounds, name, [baseline_name])[1]
        print(
            f"{name.strip()} / best peer by round: {', '.join(f'{r:.2f}x' for r in ratios)}; median {ratio:.2f}x "
            f"(goal >= {goal}x: {'met' if ratio >= goal else 'NOT met'}); / naive baseline {naive:.2f}x"
        )

    config = AutoConfig.from_pretrained(model_dir)
    hidden, intermediate, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokens = [len(ids) for ids in encode_head_tail(tokenizer, texts, encoding["max_length"], encoding["head_tokens"])]
    per_text = flops_per_text(tokens, layers, hidden, intermediate)
    served_format = LINEAR_FORMATS.get(backend, "fp32")
    rates = {"fp32": matmul_rate("fp32", args.matmul_tokens, hidden, intermediate, threads)}
    rates[served_format] = matmul_rate(served_format, args.matmul_tokens, hidden, intermediate, threads)
    bound = rates[served_format] * 1e9 / per_text
    every = statistics.median(results[every_name]["throughput"] for results in rounds)
    print(
        f"limit: {layers} layers x {hidden} wide (FFN {intermediate}), {statistics.mean(tokens):.0f} tokens/text on "
        f"average -> {per_text / 1e9:.2f} GFLOP/text; matmul of {args.matmul_tokens} x {hidden} -> {intermediate} "
        f"shapes on {threads} threads: "
        + ", ".join(f"{fmt} {rate:.0f} GFLOP/s" for fmt, rate in rates.items())
        + f"; served format {served_format}: bound {bound:.0f} texts/s; the server's transformer on every text "
        f"{every:.1f} texts/s = {every / bound:.0%} of it"
    )


if __name__ == "__main__":
    main()
