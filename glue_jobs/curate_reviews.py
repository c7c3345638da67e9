"""Glue Python-shell job: raw review files in S3 -> cleaned, deduplicated, labelled, split Parquet + a catalog table.

Every path and name comes from the job arguments (`getResolvedOptions`), so the same script runs on Glue and, for the
local pipeline, as a plain process whose boto3 clients point at a moto server (`AWS_ENDPOINT_URL`). The transforms are
pure pandas functions, tested on their own. One file on purpose: Glue runs the script it is given, no package.

Arguments: --raw_path s3://.../raw/ --curated_path s3://.../curated/ --database NAME --table NAME
           [--validation_percent 10] [--test_percent 10]
No --JOB_NAME: `getResolvedOptions` makes every name it is asked for required, and Glue does not pass --JOB_NAME to a
Python shell job (the state machine starts the run with JobName only); the job asks only for what the template passes.
"""

from __future__ import annotations

import hashlib
import html
import re
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

REQUIRED_ARGS = ["raw_path", "curated_path", "database", "table"]
OPTIONAL_ARGS = {"validation_percent": "10", "test_percent": "10"}
LABEL_NAMES = {0: "NEGATIVE", 1: "POSITIVE"}
TEXT_LABELS = {"0": 0, "neg": 0, "negative": 0, "1": 1, "pos": 1, "positive": 1}
SPLITS = ("train", "validation", "test")
TABLE_DESCRIPTION = "Movie reviews, cleaned and labelled; split by a hash of the text."

_TAG = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")


@dataclass
class CurationCounts:
    """How many rows each rule removed; the job logs it so a bad drop shows up in the run's output."""

    read: int = 0
    non_text: int = 0
    empty: int = 0
    neutral_rating: int = 0
    unlabelled: int = 0
    duplicates: int = 0
    conflicting_labels: int = 0
    kept: int = 0
    per_split: dict[str, int] = field(default_factory=dict)


def clean_text(texts: pd.Series) -> pd.Series:
    """Line breaks and other HTML tags to spaces, entities decoded, whitespace collapsed."""
    return texts.map(lambda text: _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip())


def label_from_stars(stars: pd.Series) -> pd.Series:
    """1-2 stars negative (0), 4-5 positive (1), 3 and anything else unknown (NA)."""
    numeric = pd.to_numeric(stars, errors="coerce")
    labels = pd.Series(pd.NA, index=stars.index, dtype="Int64")
    labels[numeric.isin([1, 2])] = 0
    labels[numeric.isin([4, 5])] = 1
    return labels


def label_from_values(values: pd.Series) -> pd.Series:
    """A label column as 0/1, whether written 0/1, pos/neg or positive/negative; anything else NA."""
    normalised = values.map(lambda value: str(value).strip().lower().removesuffix(".0"))
    return normalised.map(TEXT_LABELS).astype("Int64")


def split_for(text: str, validation_percent: int, test_percent: int) -> str:
    """A split that depends on the text alone, so a review stays in its split when the data is re-run or grows."""
    bucket = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % 100
    if bucket < test_percent:
        return "test"
    if bucket < test_percent + validation_percent:
        return "validation"
    return "train"


def curate(
    raw: pd.DataFrame, validation_percent: int = 10, test_percent: int = 10
) -> tuple[pd.DataFrame, CurationCounts]:
    """Raw rows (text plus `label` or `stars`/`rating`, optional `source`) -> text, label, label_name, source, split."""
    if "text" not in raw:
        raise ValueError(f"The raw data has no text column, only {list(raw.columns)}")
    counts = CurationCounts(read=len(raw))
    frame = raw.copy()
    is_text = frame["text"].map(lambda value: isinstance(value, str))
    counts.non_text = int((~is_text).sum())
    frame = frame[is_text]
    frame["text"] = clean_text(frame["text"])
    is_empty = frame["text"] == ""
    counts.empty = int(is_empty.sum())
    frame = frame[~is_empty]

    labels = label_from_values(frame["label"]) if "label" in frame else pd.Series(pd.NA, index=frame.index)
    for star_column in ("stars", "rating"):
        if star_column in frame:
            from_stars = label_from_stars(frame[star_column])
            neutral = labels.isna() & (pd.to_numeric(frame[star_column], errors="coerce") == 3)
            counts.neutral_rating += int(neutral.sum())
            frame = frame[~neutral]
            labels = labels[~neutral].fillna(from_stars[~neutral])
    has_label = labels.notna()
    counts.unlabelled = int((~has_label).sum())
    frame = frame[has_label].assign(label=labels[has_label].astype("int64"))

    labels_per_text = frame.groupby("text")["label"].transform("nunique")
    conflicting = labels_per_text > 1
    counts.conflicting_labels = int(conflicting.sum())
    frame = frame[~conflicting]
    before = len(frame)
    frame = frame.drop_duplicates(subset="text", keep="first")
    counts.duplicates = before - len(frame)

    source = frame["source"].fillna("unknown").astype(str) if "source" in frame else "unknown"
    curated = pd.DataFrame(
        {
            "text": frame["text"].astype(str),
            "label": frame["label"].astype("int64"),
            "label_name": frame["label"].map(LABEL_NAMES),
            "source": source,
            "split": frame["text"].map(lambda text: split_for(text, validation_percent, test_percent)),
        }
    ).reset_index(drop=True)
    counts.kept = len(curated)
    counts.per_split = {split: int((curated["split"] == split).sum()) for split in SPLITS}
    return curated, counts


def resolve_args(argv: list[str]) -> dict[str, str]:
    """Glue's getResolvedOptions where it exists (on Glue), the same parsing elsewhere; optional args get defaults."""
    present = [name for name in OPTIONAL_ARGS if f"--{name}" in argv]
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        import argparse

        parser = argparse.ArgumentParser()
        for name in REQUIRED_ARGS + present:
            parser.add_argument(f"--{name}", required=True)
        args, _ = parser.parse_known_args(argv[1:])
        resolved = vars(args)
    else:
        resolved = getResolvedOptions(argv, REQUIRED_ARGS + present)
    return {**OPTIONAL_ARGS, **resolved}


def read_raw(raw_path: str) -> pd.DataFrame:
    """Every CSV and JSON-lines file under the raw prefix, as one frame."""
    import awswrangler as wr

    frames = []
    for path in wr.s3.list_objects(raw_path):
        if path.endswith(".csv"):
            frames.append(wr.s3.read_csv(path, dtype=str, keep_default_na=False, na_values=[]))
        elif path.endswith((".jsonl", ".json")):
            frames.append(wr.s3.read_json(path, lines=True, dtype=False))
    if not frames:
        raise FileNotFoundError(f"No .csv or .jsonl files under {raw_path}")
    return pd.concat(frames, ignore_index=True)


def write_curated(curated: pd.DataFrame, curated_path: str, database: str, table: str) -> None:
    """Parquet partitioned by split, and the catalog table that describes it (replaced on every run)."""
    import awswrangler as wr

    if database not in wr.catalog.databases(limit=1000)["Database"].tolist():
        wr.catalog.create_database(database, exist_ok=True)
    wr.s3.to_parquet(
        curated,
        path=curated_path,
        dataset=True,
        partition_cols=["split"],
        mode="overwrite",
        database=database,
        table=table,
        **table_settings(wr.__version__, TABLE_DESCRIPTION),
    )


def table_settings(awswrangler_version: str, description: str) -> dict[str, Any]:
    """The catalog-table keyword of `wr.s3.to_parquet` in the awswrangler that runs the job.

    On Glue (Python shell 3.9, library-set analytics) that is 2.15.1, which takes `description=`; 3.x moved it into
    `glue_table_settings=` and rejects the old keyword, and the local pipeline runs 3.x.
    """
    if int(awswrangler_version.split(".")[0]) >= 3:
        return {"glue_table_settings": {"description": description}}
    return {"description": description}


def run(argv: list[str]) -> CurationCounts:
    args = resolve_args(argv)
    raw = read_raw(args["raw_path"])
    curated, counts = curate(raw, int(args["validation_percent"]), int(args["test_percent"]))
    write_curated(curated, args["curated_path"], args["database"], args["table"])
    print(f"curated {args['database']}.{args['table']}: {asdict(counts)}", flush=True)
    return counts


if __name__ == "__main__":
    run(sys.argv)
