"""The curated review splits as SageMaker hands them to a training job: one folder per input channel
(`SM_CHANNEL_TRAIN`, `..._VALIDATION`, `..._TEST`) holding the Glue job's Parquet. Training, evaluation and the ONNX
export all read them through here, so none of them imports another to get at the data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def read_channel(folder: str | Path) -> pd.DataFrame:
    """Every Parquet (or CSV) file under a channel folder, as text/label/source."""
    folder = Path(folder)
    parquet = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix == ".parquet")
    csv = sorted(folder.rglob("*.csv"))
    frames = [pd.read_parquet(p) for p in parquet if not p.name.startswith((".", "_"))] + [pd.read_csv(p) for p in csv]
    if not frames:
        raise FileNotFoundError(f"No Parquet or CSV files under {folder}")
    frame = pd.concat(frames, ignore_index=True)
    if "source" not in frame:
        frame["source"] = "unknown"
    return frame[["text", "label", "source"]].astype({"label": "int64"})


def balanced_sample(frame: pd.DataFrame, size: int, seed: int, sources: str = "") -> pd.DataFrame:
    """Up to `size` rows, half of each label, from the named sources; shuffled (the raw data is sorted by label)."""
    if sources:
        frame = frame[frame["source"].isin(sources.split(","))]
    if size <= 0 or size >= len(frame):
        return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    per_label = size // 2
    parts = [group.sample(min(per_label, len(group)), random_state=seed) for _, group in frame.groupby("label")]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)
