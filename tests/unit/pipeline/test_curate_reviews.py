"""The Glue job's transforms (pure pandas) and the job itself against S3 and the Glue catalog in moto, run with exactly
the arguments the stack gives it. Runs on the project's Python and on Glue's (make test-glue: Python 3.9, awswrangler
2.15.1, no conftest), so nothing here needs more than PyYAML to read the templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awswrangler as wr
import boto3
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from glue_jobs.curate_reviews import (
    REQUIRED_ARGS,
    TABLE_DESCRIPTION,
    clean_text,
    curate,
    label_from_stars,
    label_from_values,
    resolve_args,
    run,
    split_for,
)
from glue_jobs.seed_raw_reviews import seed

ROOT = Path(__file__).resolve().parents[3]
# What the template's intrinsics stand for in these tests: the buckets the `s3` fixture makes, and a database name of
# the shape pipeline.yaml gives (tests/unit/aws/test_template_names.py checks that shape for any stack name).
RESOURCE_NAMES = {"RawBucket": "raw", "CuratedBucket": "curated", "ReviewsDatabase": "reviews_51af3dc0"}
# Arguments Glue adds to every run of its own (a Python shell run's sys.argv also has these).
GLUE_OWN_ARGUMENTS = ["--job-bookmark-option", "job-bookmark-disable", "--scriptLocation", "s3://scripts/curate.py"]


class _CfnLoader(yaml.SafeLoader):
    """CloudFormation's short tags (!Ref, !Sub, ...) as {"Ref": x} / {"Fn::Sub": x}."""


_CfnLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: {
        ("Ref" if suffix == "Ref" else f"Fn::{suffix}"): (
            loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else loader.construct_sequence(node)
        )
    },
)


def _resolve(value: Any) -> str:
    if isinstance(value, str):
        return value
    ((function, argument),) = value.items()
    if function == "Ref":
        return RESOURCE_NAMES[argument]
    assert function == "Fn::Sub" and isinstance(argument, str), value
    for name, physical in RESOURCE_NAMES.items():
        argument = argument.replace("${" + name + "}", physical)
    assert "${" not in argument, argument
    return argument


def job_argv() -> list[str]:
    """The job's sys.argv on Glue: the script, Glue's own arguments, the job's DefaultArguments (pipeline.yaml) and
    the arguments the state machine's run adds (statemachine/training_pipeline.asl.json)."""
    template = yaml.load((ROOT / "statemachine" / "pipeline.yaml").read_text(), Loader=_CfnLoader)
    defaults = template["Resources"]["CurateReviewsJob"]["Properties"]["DefaultArguments"]
    asl = json.loads((ROOT / "statemachine" / "training_pipeline.asl.json").read_text())
    run_arguments = asl["States"]["Curate raw reviews"]["Parameters"].get("Arguments", {})
    passed = {**defaults, **run_arguments}
    argv = ["/tmp/glue-python-scripts/curate_reviews.py", *GLUE_OWN_ARGUMENTS]
    for name, value in passed.items():
        argv += [name if name.startswith("--") else f"--{name}", _resolve(value)]
    return argv


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

    argv = job_argv()
    counts = run(argv)

    assert (counts.read, counts.neutral_rating, counts.conflicting_labels, counts.kept) == (53, 1, 2, 50)
    curated = wr.s3.read_parquet("s3://curated/reviews/", dataset=True)
    assert len(curated) == 50 and not curated["text"].str.contains("<br").any()
    assert set(curated["split"]) <= {"train", "validation", "test"}
    assert "Dreadful" in set(curated[curated["label"] == 0]["text"])
    assert "imdb review 0 with a break" not in set(curated["text"])  # labelled both ways: nobody knows which
    database, table_name = argv[argv.index("--database") + 1], argv[argv.index("--table") + 1]
    table = boto3.client("glue").get_table(DatabaseName=database, Name=table_name)["Table"]
    assert [key["Name"] for key in table["PartitionKeys"]] == ["split"]
    assert {c["Name"] for c in table["StorageDescriptor"]["Columns"]} == {"text", "label", "label_name", "source"}
    assert table["Description"] == TABLE_DESCRIPTION


def test_the_job_asks_only_for_arguments_the_stack_passes_and_runs_without_job_name():
    """getResolvedOptions makes every name it is asked for required: a name the template and the state machine do not
    pass (such as JOB_NAME, which Glue gives Spark jobs but not a Python shell run) fails the run before it reads."""
    argv = job_argv()
    passed = {word[2:] for word in argv if word.startswith("--")}

    assert set(REQUIRED_ARGS) <= passed, sorted(set(REQUIRED_ARGS) - passed)
    assert "--JOB_NAME" not in argv
    resolved = resolve_args(argv)
    assert resolved["database"] == RESOURCE_NAMES["ReviewsDatabase"]
    assert (resolved["validation_percent"], resolved["test_percent"]) == ("10", "10")
    with pytest.raises(SystemExit):  # a name the stack does not pass is refused, as Glue's own parser refuses it
        resolve_args([word for word in argv if word != "--raw_path"])
