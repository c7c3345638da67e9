"""A model folder's `metrics.json`: what each step that made the model measured, in one record.

train.py writes it, onnx_export.py and path_accuracy.py add the served model's scores, the local pipeline its wall time
and the table it prints. They all read and write it through here, so each knows its own keys (`Metrics`) and keeps
the others'.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict

METRICS_FILE = "metrics.json"


class Metrics(TypedDict, total=False):
    """The record's keys, by the step that writes them."""

    # train.py: the fine-tune
    profile: str
    hyperparameters: dict[str, Any]
    train_rows: int
    train_rows_by_source: dict[str, int]
    train_seconds: float
    steps: int
    best_step: int
    validation_history: list[dict[str, float]]
    # train.py: the combination with the linear model (bands, fit report, seconds), then the evaluation
    combination: dict[str, Any]
    build_seconds: float
    capability_validation: dict[str, Any]
    test: dict[str, Any]
    test_accuracy: float
    total_seconds: float
    # onnx_export.py: the model as a CPU serves it
    served_test: dict[str, Any]
    # path_accuracy.py: each numeric path's accuracy per test split, which the server chooses among
    path_accuracy: dict[str, dict[str, float]]
    # local_runtime/model_pipeline.py
    pipeline_seconds: float
    table: list[dict[str, Any]]


def read(model_dir: Path) -> Metrics:
    """The folder's record; empty if it has none yet."""
    path = Path(model_dir) / METRICS_FILE
    metrics: Metrics = json.loads(path.read_text()) if path.exists() else {}
    return metrics


def write(model_dir: Path, metrics: Metrics) -> None:
    """Replace the folder's record: a new model's measurements owe nothing to an old one's."""
    (Path(model_dir) / METRICS_FILE).write_text(json.dumps(metrics, indent=2))


@contextmanager
def updating(model_dir: Path) -> Iterator[Metrics]:
    """The folder's record to change in the `with` block; written back when the block ends without an error."""
    metrics = read(model_dir)
    yield metrics
    write(model_dir, metrics)
