"""Evaluation on the held-out test split: accuracy, F1 and the confusion matrix, next to a TF-IDF + logistic
regression baseline trained and scored on the same splits, so a fine-tuned model that is no better shows up.

Run on its own: `python -m training.evaluate --model-dir var/model --train-dir D/split=train --test-dir D/split=test
[--backend torch|torch-int8|onnx-int8]`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.pipeline import Pipeline, make_pipeline

from training.channels import read_channel

if TYPE_CHECKING:  # imported where used: it loads torch, which the instant model's training does not need
    from training import inference

PREDICT_CHUNK = 64


def classification_metrics(labels: list[int], predicted: list[int]) -> dict[str, Any]:
    """Accuracy, F1 of the positive class, and the confusion matrix as [[TN, FP], [FN, TP]]."""
    return {
        "n": len(labels),
        "accuracy": round(float(accuracy_score(labels, predicted)), 4),
        "f1": round(float(f1_score(labels, predicted, zero_division=0)), 4),
        "confusion_matrix": confusion_matrix(labels, predicted, labels=[0, 1]).tolist(),
    }


def tfidf_baseline(train: pd.DataFrame, seed: int = 13) -> Pipeline:
    """Word 1-2-gram TF-IDF + logistic regression: the classic strong baseline for movie reviews, fitted on `train`."""
    baseline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=200_000, sublinear_tf=True),
        LogisticRegression(C=4.0, max_iter=1000, random_state=seed),
    )
    return baseline.fit(train["text"].tolist(), train["label"].tolist())


def tfidf_baseline_predictions(train: pd.DataFrame, texts: list[str], seed: int = 13) -> list[int]:
    return [int(label) for label in tfidf_baseline(train, seed).predict(texts)]


def model_predictions(loaded: inference.LoadedModel, texts: list[str], progress: bool = True) -> list[int]:
    """Label ids through the serving code path (predict_fn), so the score is the endpoint's score."""
    from tqdm.auto import tqdm

    from training import inference

    # Sort by length first so every chunk, like every micro-batch, holds texts of similar length.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    predicted = [0] * len(texts)
    for start in tqdm(range(0, len(order), PREDICT_CHUNK), desc="evaluate", unit="chunk", disable=not progress):
        chunk = order[start : start + PREDICT_CHUNK]
        answer = inference.predict_fn([texts[i] for i in chunk], loaded)
        for i, prediction in zip(chunk, answer["predictions"], strict=True):
            predicted[i] = prediction["label_id"]
    return predicted


def scores_by_source(test: pd.DataFrame, predicted: list[int]) -> dict[str, Any]:
    """Metrics on the whole test split ("all") and on each source in it ("imdb", "rotten_tomatoes")."""
    labels = test["label"].astype(int).tolist()
    scores = {"all": classification_metrics(labels, predicted)}
    for source in sorted(test["source"].unique()):
        mask = (test["source"] == source).tolist()
        scores[source] = classification_metrics(
            [y for y, keep in zip(labels, mask, strict=True) if keep],
            [p for p, keep in zip(predicted, mask, strict=True) if keep],
        )
    return scores


def evaluate(
    loaded: inference.LoadedModel,
    test: pd.DataFrame,
    model_train: pd.DataFrame,
    baseline_train: pd.DataFrame | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Model and baselines on the test split, overall and per source (IMDb is the headline number).

    The baseline is trained on the rows the model saw and, if given, on `baseline_train` (the whole train split):
    the first comparison is fair, the second says what more data alone would buy."""
    started = time.perf_counter()
    texts = test["text"].tolist()
    model_predicted = model_predictions(loaded, texts, progress)
    model_seconds = time.perf_counter() - started
    baselines = {"tfidf_logreg_same_rows": tfidf_baseline_predictions(model_train, texts)}
    if baseline_train is not None and len(baseline_train) > len(model_train):
        baselines["tfidf_logreg_full_train"] = tfidf_baseline_predictions(baseline_train, texts)

    report = {
        "model": scores_by_source(test, model_predicted),
        "model_eval_seconds": round(model_seconds, 1),
        **{name: scores_by_source(test, predicted) for name, predicted in baselines.items()},
        "train_rows": {"model": len(model_train), "baseline": len(baseline_train) if baseline_train is not None else 0},
    }
    return report


def headline(report: dict[str, Any]) -> str:
    """One line a person reads: the model against the baseline on IMDb (or on everything if no IMDb rows)."""
    part = "imdb" if "imdb" in report["model"] else "all"
    model = report["model"][part]
    line = f"test[{part}] n={model['n']}: model accuracy {model['accuracy']:.4f} F1 {model['f1']:.4f}"
    for name in ("tfidf_logreg_same_rows", "tfidf_logreg_full_train"):
        if name in report:
            line += f" | {name} accuracy {report[name][part]['accuracy']:.4f} F1 {report[name][part]['f1']:.4f}"
    return line


def main(argv: list[str] | None = None) -> None:
    from training import inference

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--train-dir", required=True)
    parser.add_argument("--test-dir", required=True)
    parser.add_argument("--out", default=None, help="where to write the report (default: MODEL_DIR/evaluation.json)")
    parser.add_argument("--backend", choices=inference.BACKENDS, default=None, help="default: the server's")
    args = parser.parse_args(argv)
    train = read_channel(args.train_dir)
    loaded = inference.model_fn(args.model_dir, backend=args.backend)
    report = evaluate(loaded, read_channel(args.test_dir), train, train)
    out = Path(args.out or Path(args.model_dir) / "evaluation.json")
    out.write_text(json.dumps(report, indent=2))
    print(headline(report))


if __name__ == "__main__":
    main()
