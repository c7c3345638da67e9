"""The local model pipeline's stage: the CLI on curated Parquet channels publishes a model the server loads."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from ondemand.instant_model import METADATA_FILE, InstantModel

from local_runtime import model_pipeline


def test_the_pipeline_stage_publishes_a_scored_instant_model_beside_the_transformer(
    tiny_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    channels = {}
    for split, rows in (("train", tiny_reviews.iloc[:500]), ("test", tiny_reviews.iloc[500:])):
        channels[split] = tmp_path / "curated" / f"split={split}"
        channels[split].mkdir(parents=True)
        rows.assign(label_name=rows["label"].map({0: "NEGATIVE", 1: "POSITIVE"})).to_parquet(
            channels[split] / "part-0.parquet", index=False
        )
    out = model_pipeline.instant_model_dir(tmp_path / "model")
    assert out == tmp_path / "instant_model"

    model_pipeline.train_instant_model(channels, out)

    metadata = json.loads((out / METADATA_FILE).read_text())
    assert metadata["training"]["rows"] == 500
    assert metadata["metrics"]["instant"]["all"]["n"] == len(tiny_reviews) - 500
    assert set(metadata["metrics"]["instant"]) >= {"imdb", "rotten_tomatoes"}
    assert InstantModel.load(out).predict(["A wonderful film."])[0]["label"] == "POSITIVE"
    assert not list(tmp_path.glob(".instant_model-*"))  # no half-written folder left behind
