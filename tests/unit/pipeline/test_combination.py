"""The transformer combined with the instant tier's linear model (training/combination.py): trained into one folder,
served by inference.py on every backend, scored by evaluate.py next to the baselines and the behavioural set."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.unit.pipeline.test_train_and_evaluate import channel_dirs, toy_reviews  # noqa: F401  # a fixture
from training import channels, combination, evaluate, inference, instant_train, train
from training.combination import LONGEST, Band, Combination


def combined_folder(tiny_model_dir, tmp_path, bands, name="combined"):
    """The tiny model (with its ONNX export) plus a linear model trained on toy reviews, combined by `bands` (as the
    serving config holds them)."""
    folder = tmp_path / name
    shutil.copytree(tiny_model_dir, folder)
    instant_train.train_and_save(toy_reviews(200, 1), folder / combination.LINEAR_MODEL_DIR)
    write_bands(folder, bands)
    return folder


def write_bands(folder, bands):
    serving = json.loads((folder / inference.SERVING_CONFIG_FILE).read_text())
    (folder / inference.SERVING_CONFIG_FILE).write_text(json.dumps({**serving, "combination": bands}))


LINEAR_ONLY = [{"max_tokens": LONGEST, "transformer": 0.0, "linear": 1.0, "bias": 0.0}]
TEXTS = [
    "the movie was wonderful",
    "a dull and boring film",
    "it was a waste of time and the plot was awful",
    "brilliant acting and a great plot",
]


@pytest.mark.parametrize("backend", ["torch", "onnx-int8"])
def test_a_combined_folder_answers_with_the_combination_on_every_backend(tiny_model_dir, tmp_path, backend):
    """All weight on the linear model: the answers are the (trained) linear model's, not the random transformer's."""
    folder = combined_folder(tiny_model_dir, tmp_path, LINEAR_ONLY)
    linear = instant_train.InstantModel.load(folder / combination.LINEAR_MODEL_DIR)

    combined = inference.predict_fn(TEXTS, inference.load_model(str(folder), backend=backend))["predictions"]
    alone = inference.predict_fn(TEXTS, inference.load_model(str(folder), backend=backend, combine=False))

    expected = linear.predict(TEXTS)
    assert (
        [p["label"] for p in combined]
        == [p["label"] for p in expected]
        == ["POSITIVE", "NEGATIVE", "NEGATIVE", "POSITIVE"]
    )
    assert [p["prob"] for p in combined] == pytest.approx([p["prob"] for p in expected], abs=1e-3)
    tiny_alone = inference.predict_fn(TEXTS, inference.load_model(str(tiny_model_dir), backend=backend))
    assert alone["predictions"] == tiny_alone["predictions"]


def test_each_length_band_weighs_the_two_models_its_own_way():
    bands = Combination((Band(10, transformer=1.0, linear=0.0, bias=0.0), Band(LONGEST, 0.0, 2.0, -1.0)))
    transformer, linear = np.array([3.0, 3.0, -3.0]), np.array([-5.0, 4.0, 4.0])

    margins = bands.margins(transformer, linear, [10, 11, 400])

    assert margins.tolist() == [3.0, 7.0, 7.0]
    assert bands.positive_probability(transformer, linear, [10, 11, 400]) == pytest.approx(1 / (1 + np.exp(-margins)))


@pytest.mark.parametrize("backend", ["torch", "onnx-int8"])
def test_where_the_linear_model_alone_decides_the_transformer_is_not_run_and_the_answer_says_so(
    tiny_model_dir, tmp_path, backend
):
    band = {"max_tokens": LONGEST, "transformer": 1.0, "linear": 1.0, "bias": 0.0}
    folder = combined_folder(tiny_model_dir, tmp_path, [band])
    every_text = inference.load_model(str(folder), backend=backend)
    linear = np.abs(every_text.combined.linear_scores(TEXTS))
    beyond = float(np.median(linear))  # half the texts beyond it
    write_bands(folder, [{**band, "linear_decides_beyond": beyond}])
    served = inference.load_model(str(folder), backend=backend)
    rows_run = []
    classify = served.classify
    served.classify = lambda batch: rows_run.append(len(batch["input_ids"])) or classify(batch)

    answer = inference.predict_fn(TEXTS, served)["predictions"]
    full = inference.predict_fn(TEXTS, every_text)["predictions"]

    decided = linear > beyond
    assert [p["scored_by"] for p in answer] == ["linear" if d else "transformer+linear" for d in decided]
    assert sum(rows_run) == (~decided).sum() == 2  # the transformer ran on the other texts only
    for prediction, whole, by_linear, score in zip(answer, full, decided, linear, strict=True):
        assert prediction["label"] == whole["label"]
        if by_linear:  # the logistic of the linear part alone
            assert prediction["prob"] == pytest.approx(1 / (1 + np.exp(-score)), abs=1e-4)
        else:
            assert prediction["prob"] == whole["prob"]
    assert all(p["scored_by"] == "transformer+linear" for p in full)  # no band may skip: every text is run


def test_the_linear_model_decides_only_beyond_its_bands_bound():
    bands = Combination(
        (
            Band(10, transformer=1.0, linear=1.0, bias=0.0),  # no bound: never decides alone
            Band(LONGEST, transformer=1.0, linear=1.0, bias=0.0, linear_decides_beyond=2.0),
        )
    )
    transformer, linear = np.array([-9.0, -9.0, -9.0]), np.array([5.0, 1.5, 2.5])

    served = bands.margins(transformer, linear, [5, 400, 400])
    every_text = bands.on_every_text().margins(transformer, linear, [5, 400, 400])

    assert served.tolist() == [-4.0, -7.5, 2.5]
    assert every_text.tolist() == [-4.0, -7.5, -6.5]
    assert bands.linear_decides(linear, [5, 400, 400]).tolist() == [False, False, True]


# The inference image imports code/inference.py with code/ on the path and nothing of this repository.
SERVE_FROM_CODE_DIR = """
import json, sys
sys.modules["training"] = sys.modules["ondemand"] = None  # not in the image: importing them fails
import inference
loaded = inference.model_fn(sys.argv[1])
print(json.dumps(inference.predict_fn(json.loads(sys.argv[2]), loaded)["predictions"]))
"""


def test_the_model_folders_code_serves_the_combination_with_nothing_else_of_the_repository(tiny_model_dir, tmp_path):
    bands = [{"max_tokens": LONGEST, "transformer": 1.0, "linear": 1.0, "bias": 0.0, "linear_decides_beyond": 0.1}]
    folder = combined_folder(tiny_model_dir, tmp_path, bands)
    train.copy_serving_code(folder)
    env = {**os.environ, "PYTHONPATH": str(folder / "code"), "HF_HUB_OFFLINE": "1", "INFERENCE_BACKEND": "torch"}

    ran = subprocess.run(
        [sys.executable, "-c", SERVE_FROM_CODE_DIR, str(folder), json.dumps(TEXTS)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert ran.returncode == 0, ran.stderr[-3000:]
    expected = inference.predict_fn(TEXTS, inference.load_model(str(folder), backend="torch"))["predictions"]
    assert json.loads(ran.stdout.splitlines()[-1]) == expected
    assert "linear" in {p["scored_by"] for p in expected}


def test_an_old_serving_config_loads_and_answers_as_before(tiny_model_dir, tmp_path):
    """A folder trained before the rename names the linear weight "instant": it loads to the same bands and the same
    answers, skipped texts included, as the current format."""
    old_bands = [
        {"max_tokens": 9, "transformer": 1.5, "instant": 0.3, "bias": 0.1, "linear_decides_beyond": 0.5},
        {"max_tokens": 1000000, "transformer": 2.0, "instant": 0.4, "bias": -0.2, "linear_decides_beyond": 0.8},
    ]
    old = combined_folder(tiny_model_dir, tmp_path, old_bands, name="old")
    current = tmp_path / "current"
    shutil.copytree(old, current)
    write_bands(
        current,
        [
            {"max_tokens": 9, "transformer": 1.5, "linear": 0.3, "bias": 0.1, "linear_decides_beyond": 0.5},
            {"max_tokens": LONGEST, "transformer": 2.0, "linear": 0.4, "bias": -0.2, "linear_decides_beyond": 0.8},
        ],
    )
    texts = [*TEXTS, "the plot was dull", "wonderful " * 12, "awful boring waste of time " * 3]

    loaded = inference.load_model(str(old), backend="torch")
    answers = inference.predict_fn(texts, loaded)["predictions"]

    assert loaded.combined.combination == Combination((Band(9, 1.5, 0.3, 0.1, 0.5), Band(LONGEST, 2.0, 0.4, -0.2, 0.8)))
    assert answers == inference.predict_fn(texts, inference.load_model(str(current), backend="torch"))["predictions"]
    assert {p["scored_by"] for p in answers} == {"linear", "transformer+linear"}  # both paths taken


def test_the_bound_is_the_hardest_push_against_the_linear_part_so_no_held_out_answer_turns():
    rng = np.random.default_rng(0)
    linear_parts = rng.normal(0, 3, 500)
    transformer_terms = 0.5 * linear_parts + rng.normal(0, 1, 500)  # mostly agrees, sometimes pushes against

    beyond = combination.hardest_push(transformer_terms, linear_parts)

    combined = transformer_terms + linear_parts
    decided = np.abs(linear_parts) > beyond
    assert 0.05 < decided.mean() < 0.95
    assert np.array_equal(np.sign(combined[decided]), np.sign(linear_parts[decided]))
    pushes = -np.sign(linear_parts) * transformer_terms
    assert beyond >= pushes.max() and beyond - pushes.max() < 1e-4
    assert combination.hardest_push(np.array([1.0, -1.0]), np.array([2.0, -2.0])) == 0.0  # never against: any decides


def test_the_report_counts_the_texts_the_linear_part_decided_and_the_labels_that_changed():
    margins = {
        "model": np.array([2.5, -3.0, 1.0, -1.0]),
        "every_text": np.array([2.0, 0.5, 1.0, -1.0]),
        "linear_decides": np.array([True, True, False, False]),
    }

    assert evaluate.linear_decides_report(margins) == {
        "texts": 4,
        "linear_decided": 2,
        "share": 0.5,
        "labels_changed": 1,
    }


def test_a_combination_without_its_linear_model_is_a_clear_error(tiny_model_dir, tmp_path):
    folder = combined_folder(tiny_model_dir, tmp_path, LINEAR_ONLY)
    shutil.rmtree(folder / combination.LINEAR_MODEL_DIR)

    with pytest.raises(FileNotFoundError, match="combines the linear model"):
        inference.load_model(str(folder), backend="torch")


@pytest.mark.parametrize("from_channel", [False, True], ids=["trained-here", "from-the-instant-channel"])
def test_training_with_combine_linear_writes_a_folder_that_serves_the_combination(
    channel_dirs,  # noqa: F811  # the fixture imported above
    tiny_model_dir,
    tmp_path,
    monkeypatch,
    from_channel,
):
    monkeypatch.setattr(combination, "MIN_BAND_ROWS_PER_LABEL", 3)  # 30 toy rows held out instead of hundreds
    if from_channel:  # else too few rows to bound where the linear model may decide alone: the transformer always runs
        monkeypatch.setattr(combination, "MIN_ROWS_FOR_LINEAR_BOUND", 10)
    channel = tmp_path / "instant_model"
    if from_channel:  # the local pipeline trains the instant tier first and hands it over as SM_CHANNEL_INSTANT
        instant_train.train_and_save(channels.read_channel(channel_dirs["train"]), channel)
        monkeypatch.setenv("SM_CHANNEL_INSTANT", str(channel))
    model_dir = tmp_path / "model"
    hp, profile, paths = train.parse_args(
        [
            "--profile",
            "tiny",
            "--base-model",
            str(tiny_model_dir),
            "--train-size",
            "0",
            "--train-sources",
            "imdb",
            "--max-length",
            "24",
            "--epochs",
            "1",
            "--learning-rate",
            "3e-3",
            "--eval-every",
            "5",
            "--patience",
            "5",
            "--validation-size",
            "10",
            "--combination-rows",
            "100",
            "--short-tokens",
            "9",
            "--combine-linear",
            "1",  # SageMaker passes every hyperparameter as a string
            "--freeze-embeddings",
            "0",
            "--warmup-ratio",
            "0",
            "--head-lr-multiplier",
            "1",
            "--model-name",
            "toy",
            "--model-dir",
            str(model_dir),
            "--train-dir",
            str(channel_dirs["train"]),
            "--validation-dir",
            str(channel_dirs["validation"]),
            "--test-dir",
            str(channel_dirs["test"]),
            "--no-progress",
        ]
    )

    metrics = train.run(hp, profile, paths)

    assert sorted(path.name for path in (model_dir / "code").iterdir()) == sorted(p.name for p in train.SERVING_CODE)
    bands = json.loads((model_dir / inference.SERVING_CONFIG_FILE).read_text())["combination"]
    # The toy rows are 5-15 tokens: both bands have rows; the last band takes every longer input.
    assert [band["max_tokens"] for band in bands] == [9, LONGEST]
    assert metrics["combination"]["fit"]["long"]["rows"] + metrics["combination"]["fit"]["short"]["rows"] == 30
    assert bands[-1]["linear"] > 0  # the linear model learned the toy task: a positive weight
    test = metrics["test"]
    assert {"model", "transformer", "instant"} <= set(test)
    assert test["instant"]["imdb"]["accuracy"] >= 0.9 and test["model"]["imdb"]["accuracy"] >= 0.9
    assert test["model"]["behavioural"]["n"] == len(evaluate.read_behavioural())
    if from_channel:
        assert all(band["linear_decides_beyond"] >= 0 for band in bands)
        assert 0 <= metrics["combination"]["fit"]["long"]["linear_decides_share"] <= 1
    else:
        assert not any("linear_decides_beyond" in band for band in bands)
        assert test["linear_decides"]["linear_decided"] == 0
    assert test["linear_decides"]["texts"] == test["model"]["imdb"]["n"] + test["model"]["behavioural"]["n"]
    served = inference.load_model(str(model_dir), backend="torch")
    assert served.combined is not None and served.combined.combination.to_config() == bands
    assert metrics["combination"]["bands"] == bands
    if from_channel:
        assert served.combined.linear.name == instant_train.InstantModel.load(channel).name  # copied, not trained


def test_the_table_puts_every_model_in_a_row_with_the_three_test_sets_and_minutes():
    def scores(imdb, rt, behavioural):
        return {
            name: {"accuracy": accuracy}
            for name, accuracy in (("imdb", imdb), ("rotten_tomatoes", rt), ("behavioural", behavioural))
        }

    metrics = {
        "train_seconds": 300,
        "build_seconds": 420,
        "pipeline_seconds": 720,
        "combination": {"instant_seconds": 60},
        "test": {
            "model": scores(0.91, 0.84, 0.86),
            "transformer": scores(0.85, 0.82, 0.8),
            "instant": scores(0.9, 0.8, 0.7),
            "tfidf_logreg_same_rows": scores(0.85, 0.75, 0.6),
            "tfidf_logreg_full_train": scores(0.8976, 0.803, 0.65),
            "fit_seconds": {"tfidf_logreg_same_rows": 6, "tfidf_logreg_full_train": 48},
            "train_rows": {"model": 7651, "baseline": 26745},
        },
        "served_test": {"backend": "onnx-int8", **scores(0.909, 0.838, 0.86), "linear_decides": {"share": 0.381}},
    }

    rows = evaluate.results_table(metrics)
    table = evaluate.format_table(rows)

    assert [row["model"] for row in rows] == [
        "transformer alone, fp32",
        "transformer + linear, fp32 (as trained)",
        "as served on CPU (onnx-int8 + linear; 38% of texts by the linear model alone)",
        "TF-IDF + LR, the model's 7651 rows",
        "TF-IDF + LR, all 26745 train rows",
        "instant tier (NB bigram logistic), alone",
    ]
    assert [row["minutes"] for row in rows] == [5.0, 7.0, 12.0, 0.1, 0.8, 1.0]
    served_row = "| as served on CPU (onnx-int8 + linear; 38% of texts by the linear model alone) | 0.9090 | 0.8380 |"
    assert served_row + " 0.8600 | 12.0 |" in table.splitlines()
    assert "| TF-IDF + LR, the model's 7651 rows | 0.8500 | 0.7500 | 0.6000 | 0.1 |" in table.splitlines()


def test_the_behavioural_set_is_over_100_short_labelled_reviews_covering_each_capability():
    frame = evaluate.read_behavioural()

    assert len(frame) >= 100 and frame["text"].is_unique
    assert set(frame["label"]) == {0, 1}
    assert {"negation", "not_bad", "contrast", "intensifier", "rating_words", "irony", "one_liner"} <= set(
        frame["capability"]
    )
    assert frame.groupby("capability")["label"].nunique().min() == 2  # both labels in every capability
    assert frame["text"].str.len().max() <= 200


def test_behavioural_scores_count_per_capability():
    frame = pd.DataFrame({"text": list("abcd"), "label": [1, 0, 1, 0], "capability": ["x", "x", "y", "y"]})

    scores = evaluate.behavioural_scores(frame, [1, 0, 0, 0])

    assert scores["accuracy"] == 0.75 and scores["by_capability"] == {"x": 1.0, "y": 0.5}


def test_a_source_can_have_its_own_row_count_and_validation_splits_evenly_over_sources():
    frame = pd.concat([toy_reviews(100, 1, "imdb"), toy_reviews(300, 2, "rotten_tomatoes")])

    mixed = channels.sample_sources(frame, "rotten_tomatoes,imdb:20", 0, seed=0)
    validation = channels.per_source_sample(frame, "rotten_tomatoes,imdb:20", 40, seed=0)

    assert mixed["source"].value_counts().to_dict() == {"rotten_tomatoes": 300, "imdb": 20}
    assert mixed.groupby("source")["label"].mean().to_dict() == {"imdb": 0.5, "rotten_tomatoes": 0.5}
    assert validation["source"].value_counts().to_dict() == {"rotten_tomatoes": 20, "imdb": 20}
    assert channels.source_counts("imdb") == {"imdb": None}
