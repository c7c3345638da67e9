"""Score every numeric path this machine can serve on the test split, so the server may choose among them.

Each path (serving_path.PATHS: fp32 torch, dynamic-int8 torch, bf16 torch where the CPU has bf16 hardware, the ONNX
exports the folder holds) answers the test split and the behavioural set as the server would (with the linear model
if the folder combines one). Their accuracy per test split goes into metrics.json as `path_accuracy`, which the
server reads to keep only paths within 0.5 points of fp32. The model's calibration texts (a few train rows of each
source) are saved beside it for the server's timing; the path this machine then chooses, with its scores, is
recorded as `served_test`: the "as served on CPU" row of the pipeline's table.

    python -m training.path_accuracy --model-dir var/model --test-dir CURATED/split=test \
        --calibration-dir CURATED/split=train
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

from training import inference, model_metrics, serving_path

TIMING_TEXTS = 64
TIMING_SEED = 3


def timing_sample(train_dir: Path) -> list[str]:
    """The calibration texts the server times its paths on: a few train rows of each source and label (one-liners and
    full reviews load the paths differently), a fixed seed."""
    from training.channels import per_source_sample, read_channel

    train = read_channel(str(train_dir))
    sources = ",".join(sorted(train["source"].unique()))
    return per_source_sample(train, sources, TIMING_TEXTS, TIMING_SEED)["text"].tolist()


def score_path(model_dir: Path, backend: str, test: Any, behavioural: Any) -> dict[str, Any]:
    """One path's answers on the test rows and the behavioural set, scored by source (evaluate.scored_parts)."""
    from training import evaluate

    started = time.perf_counter()
    loaded = inference.load_model(str(model_dir), backend=backend)
    margins = evaluate.margins_by_part(loaded, test["text"].tolist() + behavioural["text"].tolist(), progress=False)
    if loaded.pool:
        loaded.pool.shutdown()
    return {
        "backend": backend,
        "combined": loaded.combined is not None,
        **evaluate.scored_parts(test, behavioural, evaluate.labels_by_part(margins)["model"]),
        **({"linear_decides": evaluate.linear_decides_report(margins)} if "linear_decides" in margins else {}),
        "eval_seconds": round(time.perf_counter() - started, 1),
    }


def score_paths(
    model_dir: Path,
    test_dir: Path,
    calibration_texts: list[str] | None = None,
    paths: list[str] | None = None,
    export_seconds: float | None = None,
    rows_per_source: int = 0,
) -> dict[str, Any]:
    """Score `paths` (default: every path this machine supports) on the test split, record their accuracy per split,
    then let the server choose on this machine and record the chosen path's scores as `served_test`. With
    `rows_per_source`, every path is scored on the same sample of that many test rows of each source."""
    import pandas as pd

    from training import evaluate
    from training.channels import read_channel

    model_dir = Path(model_dir)
    if calibration_texts:
        (model_dir / inference.CALIBRATION_FILE).write_text(json.dumps(calibration_texts))
    paths = paths or serving_path.supported_paths(
        serving_path.Machine.here(),
        [path.name for path in model_dir.iterdir()],
        importlib.util.find_spec("onnxruntime") is not None,
    )
    paths = [serving_path.FP32, *(path for path in paths if path != serving_path.FP32)]  # the reference
    test, behavioural = read_channel(str(test_dir)), evaluate.read_behavioural()
    if rows_per_source:
        samples = [
            rows.sample(min(rows_per_source, len(rows)), random_state=TIMING_SEED) for _, rows in test.groupby("source")
        ]
        test = pd.concat(samples).reset_index(drop=True)
    scores = {path: score_path(model_dir, path, test, behavioural) for path in paths}
    accuracy = {
        path: {split: s[split]["accuracy"] for split in serving_path.ACCURACY_SPLITS if split in s}
        for path, s in scores.items()
    }
    with model_metrics.updating(model_dir) as metrics:
        metrics["path_accuracy"] = accuracy
    served = inference.load_model(str(model_dir)).backend  # times the eligible paths; cached for this CPU
    if served not in scores:  # no calibration texts: the server's default, which may not have been asked for
        scores[served] = score_path(model_dir, served, test, behavioural)
    with model_metrics.updating(model_dir) as metrics:
        if export_seconds is None:
            export_seconds = metrics.get("served_test", {}).get("export_seconds", 0.0)
        metrics["served_test"] = {**scores[served], "export_seconds": round(export_seconds, 1)}
    return {"served": served, "path_accuracy": accuracy}


def describe(result: dict[str, Any]) -> str:
    """One line per path: its accuracy per split and its gap to fp32, marking the one this CPU serves."""
    reference = result["path_accuracy"][serving_path.FP32]
    lines = []
    for path, accuracy in result["path_accuracy"].items():
        gaps = ", ".join(
            f"{split} {accuracy[split]:.4f} ({accuracy[split] - reference[split]:+.4f})" for split in accuracy
        )
        lines.append(f"{path:11} {gaps}{'  <- served on this CPU' if path == result['served'] else ''}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="a folder written by training/train.py")
    parser.add_argument("--test-dir", type=Path, required=True, help="the test channel to score each path on")
    parser.add_argument("--calibration-dir", type=Path, default=None, help="train rows to time the paths on")
    parser.add_argument("--paths", nargs="*", choices=serving_path.PATHS, help="default: every path this CPU runs")
    parser.add_argument("--rows-per-source", type=int, default=0, help="score on a sample of the test split (0: all)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    texts = timing_sample(args.calibration_dir) if args.calibration_dir else None
    result = score_paths(args.model_dir, args.test_dir, texts, args.paths, rows_per_source=args.rows_per_source)
    print(describe(result), flush=True)


if __name__ == "__main__":
    main()
