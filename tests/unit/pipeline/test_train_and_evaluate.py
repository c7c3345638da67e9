"""train.py in SageMaker's conventions and the evaluation report, on a tiny model and a toy data set made here."""

from __future__ import annotations

import ast
import json
import random
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.unit.pipeline.conftest import NEGATIVE_WORDS, NEUTRAL_WORDS, POSITIVE_WORDS
from training import channels, evaluate, inference, train

TRAINING_PACKAGE = Path(__file__).resolve().parents[3] / "training"


def toy_reviews(count: int, seed: int, source: str = "imdb") -> pd.DataFrame:
    """Sentences whose label is the sentiment word hidden among neutral words: learnable in a few steps."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        label = i % 2
        words = rng.choices(NEUTRAL_WORDS, k=rng.randint(2, 12))
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE_WORDS if label else NEGATIVE_WORDS))
        rows.append({"text": " ".join(words), "label": label, "source": source})
    return pd.DataFrame(rows)


@pytest.fixture
def channel_dirs(tmp_path):
    folders = {}
    for split, count, seed in (("train", 160, 1), ("validation", 40, 2), ("test", 60, 3)):
        folder = tmp_path / "curated" / f"split={split}"
        folder.mkdir(parents=True)
        toy_reviews(count, seed).to_parquet(folder / "part-0.parquet")
        folders[split] = folder
    return folders


def test_train_in_sagemaker_conventions_writes_a_servable_model_folder_that_learned(
    channel_dirs, tiny_model_dir, tmp_path, monkeypatch
):
    model_dir = tmp_path / "model"
    monkeypatch.setenv("SM_MODEL_DIR", str(model_dir))
    for split, folder in channel_dirs.items():
        monkeypatch.setenv(f"SM_CHANNEL_{split.upper()}", str(folder))
    hp, profile, paths = train.parse_args(
        [
            "--profile",
            "tiny",
            "--base-model",
            str(tiny_model_dir),
            "--train-size",
            "0",
            "--train-sources",
            "",
            "--max-length",
            "24",
            "--epochs",
            "4",
            "--learning-rate",
            "3e-3",
            "--eval-every",
            "10",
            "--patience",
            "5",
            "--freeze-embeddings",
            "0",
            "--warmup-ratio",
            "0",
            "--head-lr-multiplier",
            "1",
            "--model-name",
            "toy",
            "--no-progress",
        ]
    )
    assert (profile, hp.batch_size, hp.max_length, paths["train_dir"]) == ("tiny", 16, 24, str(channel_dirs["train"]))

    metrics = train.run(hp, profile, paths)

    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "label_map.json",
        "serving_config.json",
        "metrics.json",
        *(f"code/{path.name}" for path in train.SERVING_CODE),
    ):
        assert (model_dir / name).exists(), name
    assert json.loads((model_dir / "config.json").read_text())["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}
    assert json.loads((model_dir / "metrics.json").read_text())["test_accuracy"] == metrics["test_accuracy"]
    assert metrics["test_accuracy"] >= 0.9, metrics["validation_history"]
    assert metrics["test"]["model"]["imdb"]["n"] == 60
    assert "tfidf_logreg_same_rows" in metrics["test"]
    served = inference.predict_fn(["the movie was wonderful", "it was a waste"], inference.load_model(str(model_dir)))
    assert [p["label"] for p in served["predictions"]] == ["POSITIVE", "NEGATIVE"]
    assert served["model"] == "toy"


def test_profiles_set_hyperparameters_and_explicit_flags_win():
    quick, _, _ = train.parse_args(["--profile", "quick", "--train-dir", "x"])
    tuned, _, _ = train.parse_args(["--profile", "quick", "--train-dir", "x", "--epochs", "2", "--seed", "7"])

    assert quick.max_length == train.PROFILES["quick"]["max_length"] and quick.base_model
    assert (tuned.epochs, tuned.seed, tuned.max_length) == (2.0, 7, quick.max_length)


@pytest.mark.parametrize(
    ("given", "expected"),
    [(["true"], True), (["True"], True), (["1"], True), ([], True), (["false"], False), (["0"], False)],
)
def test_boolean_hyperparameters_take_what_sagemaker_passes(given, expected):
    """SageMaker passes every hyperparameter as a string (json-decoded and printed by the training toolkit: True)."""
    hp, _, _ = train.parse_args(["--train-dir", "x", "--freeze-embeddings", *given])

    assert hp.freeze_embeddings is expected


def test_every_hyperparameter_has_a_flag_with_help_and_a_wrong_boolean_is_refused(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--help"])
    helped = capsys.readouterr().out
    with pytest.raises(SystemExit):
        train.parse_args(["--combine-linear", "maybe"])

    assert "expected true or false" in capsys.readouterr().err
    for spec in fields(train.Hyperparameters):
        assert f"--{spec.name.replace('_', '-')}" in helped and spec.metadata["help"]


def test_balanced_sample_takes_half_of_each_label_from_the_named_sources_shuffled():
    frame = pd.concat([toy_reviews(100, 1, "imdb"), toy_reviews(100, 2, "rotten_tomatoes")]).sort_values("label")

    sample = channels.balanced_sample(frame, 40, seed=0, sources="imdb")

    assert len(sample) == 40 and set(sample["source"]) == {"imdb"}
    assert sample["label"].value_counts().to_dict() == {0: 20, 1: 20}
    assert sample["label"].head(10).nunique() == 2  # not sorted by label any more


def test_length_grouped_batches_cover_every_example_once_with_similar_lengths():
    lengths = [random.Random(i).randint(5, 500) for i in range(512)]

    batches = train.length_grouped_batches(lengths, 16, random.Random(0))

    assert sorted(i for batch in batches for i in batch) == list(range(512))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 60  # random batches of 16 would spread over ~440 tokens


def test_classification_metrics_and_the_tfidf_baseline():
    metrics = evaluate.classification_metrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert metrics == {
        "n": 5,
        "accuracy": 0.6,
        "f1": pytest.approx(0.6667, abs=1e-4),
        "confusion_matrix": [[1, 1], [1, 2]],
    }

    train_rows, test_rows = toy_reviews(200, 1), toy_reviews(50, 2)
    predicted = evaluate.tfidf_baseline_predictions(train_rows, test_rows["text"].tolist())
    assert evaluate.classification_metrics(test_rows["label"].tolist(), predicted)["accuracy"] >= 0.9


def test_with_a_gpu_present_the_model_and_every_batch_are_asked_onto_cuda(tiny_model_dir, monkeypatch):
    """No GPU here: CUDA is reported available and requests for it are recorded (and answered with the CPU tensor)."""
    assert train.pick_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert train.pick_device() == torch.device("cuda")
    asked = []
    module_to, tensor_to = torch.nn.Module.to, torch.Tensor.to

    def record_module(module, *args, **kwargs):
        if args and torch.device(args[0]).type == "cuda":
            asked.append(("model", type(module).__name__))
            return module
        return module_to(module, *args, **kwargs)

    def record_tensor(tensor, *args, **kwargs):
        if args and isinstance(args[0], (str, torch.device)) and torch.device(args[0]).type == "cuda":
            asked.append(("tensor", tuple(tensor.shape)))
            return tensor
        return tensor_to(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "to", record_module)
    monkeypatch.setattr(torch.Tensor, "to", record_tensor)
    batches = []
    monkeypatch.setattr(
        train,
        "on_device",
        lambda batch, device: (
            batches.append((set(batch), device)) or {name: tensor.to(device) for name, tensor in batch.items()}
        ),
    )
    hp = train.Hyperparameters(
        base_model=str(tiny_model_dir),
        max_length=24,
        head_tokens=8,
        batch_size=16,
        epochs=1,
        eval_every=2,
        patience=5,
        freeze_embeddings=False,
        threads=1,
    )

    _, _, report = train.fine_tune(hp, toy_reviews(32, 1), toy_reviews(16, 2), progress=False)

    assert report["steps"] == 2
    assert asked[0] == ("model", "BertForSequenceClassification")
    assert batches and all(device == torch.device("cuda") for _, device in batches)
    assert [keys for keys, _ in batches].count({"input_ids", "attention_mask", "labels"}) == 2  # the training steps
    assert sum(kind == "tensor" for kind, _ in asked) == sum(len(keys) for keys, _ in batches)


def test_the_training_modules_import_no_cycle_and_evaluate_does_not_import_train():
    """evaluate (and the ONNX export) read the splits through training.channels, not through train."""
    imports = {}
    for path in TRAINING_PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "training":
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("training."):
                names.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("training.")}
        imports[path.stem] = names

    def reaches(start: str, target: str, seen: frozenset = frozenset()) -> bool:
        return any(n == target or (n not in seen and reaches(n, target, seen | {n})) for n in imports.get(start, ()))

    assert "train" not in imports["evaluate"] and "train" not in imports["onnx_export"]
    assert [module for module in imports if reaches(module, module)] == []
