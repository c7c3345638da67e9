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


def source_counts(sources: str) -> dict[str, int | None]:
    """`"rotten_tomatoes,imdb:800"` -> {"rotten_tomatoes": None, "imdb": 800}: a source's own row count after a colon,
    None where it shares the overall size."""
    counts: dict[str, int | None] = {}
    for item in filter(None, (part.strip() for part in sources.split(","))):
        name, _, rows = item.partition(":")
        counts[name] = int(rows) if rows else None
    return counts


def sample_sources(frame: pd.DataFrame, sources: str, size: int, seed: int) -> pd.DataFrame:
    """Training rows per source: `sources` as in `source_counts`; sources without a count of their own share `size`
    (0 = all their rows), each part balanced by label; shuffled together. No sources: `size` rows from all."""
    counts = source_counts(sources)
    if not counts:
        return balanced_sample(frame, size, seed)
    shared = [name for name, rows in counts.items() if rows is None]
    parts = [balanced_sample(frame, rows, seed, name) for name, rows in counts.items() if rows is not None]
    if shared:
        parts.append(balanced_sample(frame, size, seed, ",".join(shared)))
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def per_source_sample(frame: pd.DataFrame, sources: str, size: int, seed: int) -> pd.DataFrame:
    """`size` rows split evenly over the named sources (validation: each domain gets the same say)."""
    names = list(source_counts(sources)) or [""]
    each = max(1, size // len(names))
    return pd.concat([balanced_sample(frame, each, seed, name) for name in names]).reset_index(drop=True)
