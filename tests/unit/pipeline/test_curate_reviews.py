"""The Glue job's transforms (pure pandas) and the job itself against S3 and the Glue catalog in moto."""

from __future__ import annotations

import awswrangler as wr
import boto3
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from glue_jobs.curate_reviews import (
    TABLE_DESCRIPTION,
    clean_text,
    curate,
    label_from_stars,
    label_from_values,
    run,
    split_for,
)
from glue_jobs.seed_raw_reviews import seed


def test_html_line_breaks_tags_entities_and_whitespace_are_cleaned():
    raw = pd.Series(["Great.<br /><br />Loved it", "  <i>so</i>   bad&amp;boring \n\t ", "<br/>"])

    assert clean_text(raw).tolist() == ["Great. Loved it", "so bad&boring", ""]


def test_star_ratings_map_to_labels_and_three_stars_to_none():
    labels = label_from_stars(pd.Series([1, 2, 3, 4, 5, "5", None, 7]))

    assert labels.tolist() == [0, 0, pd.NA, 1, 1, 1, pd.NA, pd.NA]


def test_label_words_and_numbers_map_to_0_and_1():
    labels = label_from_values(pd.Series(["pos", "NEGATIVE", 1, "0", 1.0, "maybe", None]))

    assert labels.tolist() == [1, 0, 1, 0, 1, pd.NA, pd.NA]


def test_curate_drops_bad_rows_and_counts_each_reason():
    raw = pd.DataFrame(
        {
            "text": ["Loved it", "Loved   it", "", 42, None, "Meh", "Hated it", "Odd one", "Odd one", "No label"],
            "label": [1, 1, 1, 1, 0, None, None, 1, 0, "?"],
            "stars": [None, None, None, None, None, 3, 1, None, None, None],
        }
    )

    curated, counts = curate(raw)

    assert sorted(curated["text"]) == ["Hated it", "Loved it"]
    assert curated.set_index("text")["label_name"].to_dict() == {"Loved it": "POSITIVE", "Hated it": "NEGATIVE"}
    assert (counts.read, counts.non_text, counts.empty, counts.neutral_rating) == (10, 2, 1, 1)
    assert (counts.duplicates, counts.conflicting_labels, counts.unlabelled, counts.kept) == (1, 2, 1, 2)
    assert set(curated.columns) == {"text", "label", "label_name", "source", "split"}


def test_split_proportions_follow_the_percentages():
    splits = pd.Series([split_for(f"review number {i}", 10, 10) for i in range(5000)]).value_counts(normalize=True)

    assert splits["train"] == pytest.approx(0.8, abs=0.03)
    assert splits["validation"] == pytest.approx(0.1, abs=0.02)
    assert splits["test"] == pytest.approx(0.1, abs=0.02)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(alphabet="abcdefgh !", min_size=1, max_size=30), min_size=2, max_size=30, unique=True))
def test_a_review_keeps_its_split_when_other_reviews_are_added_removed_or_reordered(texts):
    texts = [t for t in texts if t.strip()]
    frame = pd.DataFrame({"text": [t.strip() for t in texts], "label": 1}).drop_duplicates("text")
    whole, _ = curate(frame)
    part, _ = curate(frame.iloc[::-1].iloc[: max(1, len(frame) // 2)])

    whole_split = whole.set_index("text")["split"]
    assert all(whole_split[text] == split for text, split in part.set_index("text")["split"].items())


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3")
        for bucket in ("raw", "curated"):
            client.create_bucket(Bucket=bucket)
        yield client


def test_the_job_curates_csv_and_json_lines_from_s3_into_split_parquet_and_a_catalog_table(s3):
    reviews = pd.DataFrame(
        {
            "text": [f"imdb review {i}<br />with a break" for i in range(30)] + [f"rt line {i}" for i in range(20)],
            "label": [i % 2 for i in range(50)],
            "source": ["imdb"] * 30 + ["rotten_tomatoes"] * 20,
        }
    )
    keys = seed("s3://raw/reviews/", s3, rows_per_file=16, reviews=reviews)
    assert sum(k.endswith(".csv") for k in keys) == 2 and sum(k.endswith(".jsonl") for k in keys) == 2
    s3.put_object(
        Bucket="raw",
        Key="reviews/extra/stars.jsonl",
        Body=b'{"text": "Dreadful", "stars": 1}\n'
        b'{"text": "So-so", "stars": 3}\n{"text": "imdb review 0 with a break", "label": 1}\n',
    )

    counts = run(
        [
            "curate.py",
            "--JOB_NAME",
            "test",
            "--raw_path",
            "s3://raw/reviews/",
            "--curated_path",
            "s3://curated/reviews/",
            "--database",
            "reviews",
            "--table",
            "curated",
        ]
    )

    assert (counts.read, counts.neutral_rating, counts.conflicting_labels, counts.kept) == (53, 1, 2, 50)
    curated = wr.s3.read_parquet("s3://curated/reviews/", dataset=True)
    assert len(curated) == 50 and not curated["text"].str.contains("<br").any()
    assert set(curated["split"]) <= {"train", "validation", "test"}
    assert "Dreadful" in set(curated[curated["label"] == 0]["text"])
    assert "imdb review 0 with a break" not in set(curated["text"])  # labelled both ways: nobody knows which
    table = boto3.client("glue").get_table(DatabaseName="reviews", Name="curated")["Table"]
    assert [key["Name"] for key in table["PartitionKeys"]] == ["split"]
    assert {c["Name"] for c in table["StorageDescriptor"]["Columns"]} == {"text", "label", "label_name", "source"}
    assert table["Description"] == TABLE_DESCRIPTION
