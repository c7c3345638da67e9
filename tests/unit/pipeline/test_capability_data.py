"""The generated capability rows (training/capability_data.py): deterministic, balanced, labelled as their templates
say, validation templates apart from training ones, and none of them a row of the behavioural test set."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from training import capability_data, evaluate, train


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return capability_data.generate(400, "train")


def test_the_same_seed_gives_the_same_rows_and_another_seed_others(rows):
    pd.testing.assert_frame_equal(rows, capability_data.generate(400, "train"))
    other = capability_data.generate(400, "train", seed=7)
    assert len(set(other["text"]) - set(rows["text"])) > len(rows) // 4


def test_every_capability_has_its_rows_half_of_each_label(rows):
    counts = rows.groupby(["capability", "label"]).size()
    assert set(rows["capability"]) == set(capability_data.CAPABILITIES)
    assert counts.min() == counts.max() == 200
    assert rows["text"].str.lower().is_unique
    assert set(rows["source"]) == {capability_data.SOURCE}


def test_validation_rows_come_from_templates_training_never_uses(rows):
    for capability in capability_data.CAPABILITIES:
        split = capability_data.template_split(capability)
        assert split["validation"] and split["train"]
        assert not {id(t) for t in split["validation"]} & {id(t) for t in split["train"]}
        assert {t.polarity for t in split["validation"]} == {0, 1}
    validation = capability_data.generate(100, "validation")
    assert validation.groupby(["capability", "label"]).size().min() == 50
    # Different templates can make the same short string now and then; train.capability_splits drops those.
    assert len(set(validation["text"].str.lower()) & set(rows["text"].str.lower())) < len(validation) // 20


def test_no_row_the_quick_profile_generates_is_a_row_of_the_behavioural_test_set():
    """The generator was written without reading the test set; train.py also drops any generated row equal to a test
    row (short stock phrases can coincide). Only a count is compared, so a failure never prints a test row."""
    test_rows = {capability_data.row_key(text) for text in evaluate.read_behavioural()["text"]}
    parts = train.capability_splits(train.Hyperparameters(**train.PROFILES["quick"]))
    generated = pd.concat(parts.values())
    overlapping = sum(capability_data.row_key(text) in test_rows for text in generated["text"])
    assert overlapping == 0, f"{overlapping} generated rows equal behavioural test rows"


def test_excluded_rows_are_never_generated(rows):
    excluded = frozenset(capability_data.row_key(text) for text in rows["text"][:500])
    again = capability_data.generate(400, "train", exclude=excluded)
    assert not {capability_data.row_key(text) for text in again["text"]} & excluded
    assert again.groupby(["capability", "label"]).size().min() == 200  # the templates have more to give


def test_ratings_are_labelled_by_their_score(rows):
    ratings = rows[rows["capability"] == "ratings"]
    checked = 0
    for text, label in zip(ratings["text"], ratings["label"], strict=True):
        match = re.search(r"(\d+(?:\.\d)?)\s*(?:/|out of |points out of )(10|5|ten|five)\b", text)
        if match:
            score, out_of = float(match.group(1)), {"ten": 10, "five": 5}.get(match.group(2)) or int(match.group(2))
            assert label == int(score / out_of >= 0.7), text
            checked += 1
    assert checked > 50


def test_the_clause_after_but_decides_a_contrast(rows):
    contrast = rows[(rows["capability"] == "contrast") & rows["text"].str.contains(", but ", regex=False)]
    clauses = {c.lower(): 1 for c in capability_data.POS_CLAUSES} | {c.lower(): 0 for c in capability_data.NEG_CLAUSES}
    checked = 0
    for text, label in zip(contrast["text"], contrast["label"], strict=True):
        after = text.lower().rsplit(", but ", 1)[1].rstrip(".!")
        after = after.removeprefix("in the end ")
        if after in clauses:
            assert clauses[after] == label, text
            checked += 1
    assert checked > 20


def test_the_quick_profile_trains_on_them_and_holds_out_three_disjoint_validation_parts():
    hp = train.Hyperparameters(**train.PROFILES["quick"])
    parts = train.capability_splits(hp)
    assert len(parts["train"]) == hp.capability_rows * len(capability_data.CAPABILITIES)
    held = [set(parts[name]["text"]) for name in ("choose", "fit", "report")]
    assert all(held) and not (held[0] & held[1]) and not (held[1] & held[2]) and not (held[0] & held[2])
    assert not set(parts["train"]["text"]) & set().union(*held)
    assert train.capability_splits(train.Hyperparameters())["train"].empty  # other profiles: none
