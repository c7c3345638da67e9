"""Scoring every path on the test split and recording the one this machine serves (training/path_accuracy.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from tests.unit.pipeline.conftest import CALIBRATION_TEXTS
from training import model_metrics, path_accuracy, serving_path


def test_each_supported_path_is_scored_and_the_served_one_is_eligible_and_recorded(tiny_model_dir: Path, tmp_path):
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    test_dir = tmp_path / "split=test"
    test_dir.mkdir()
    words = ["a good fun film", "bad and dull", "the plot was terrible", "wonderful acting", "a waste of time"]
    rows = [
        {"text": text, "label": int(i % 2 == 0), "source": source}
        for source in ("imdb", "rotten_tomatoes")
        for i, text in enumerate(words * 4)
    ]
    pd.DataFrame(rows).to_parquet(test_dir / "part-0.parquet")

    result = path_accuracy.score_paths(folder, test_dir, CALIBRATION_TEXTS, export_seconds=12.0)

    metrics = model_metrics.read(folder)
    supported = serving_path.supported_paths(
        serving_path.Machine.here(), [p.name for p in folder.iterdir()], onnxruntime_installed=True
    )
    assert set(metrics["path_accuracy"]) == set(supported)
    assert all(set(scores) == {"imdb", "rotten_tomatoes"} for scores in metrics["path_accuracy"].values())
    assert result["served"] in serving_path.eligible_paths(supported, metrics["path_accuracy"])
    assert metrics["served_test"]["backend"] == result["served"] and metrics["served_test"]["export_seconds"] == 12.0
    assert json.loads((folder / "calibration_texts.json").read_text()) == CALIBRATION_TEXTS
    assert (folder / serving_path.CHOICE_FILE).exists()
    assert "<- served on this CPU" in path_accuracy.describe(result)
