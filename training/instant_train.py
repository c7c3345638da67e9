"""Train the instant tier's model in seconds: Naive-Bayes-weighted logistic regression over hashed word unigrams and
bigrams (NBSVM's NB log-count ratios, Wang & Manning 2012, with a logistic loss), written as plain arrays that
functions/ondemand/instant_model.py serves without numpy, torch or scikit-learn.

Features come from `ondemand.instant_model.feature_buckets`, the function that serves them, so training and serving
cannot disagree. The test score is the served model's: the artifact is loaded back and predicts through
`InstantModel.predict`.

    python -m training.instant_train --train-dir D/split=train [--test-dir D/split=test] [--out var/instant_model]
        [--baseline]   # also the TF-IDF + LR baseline on all train rows (training/evaluate.py)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ondemand import instant_model
from ondemand.instant_model import METADATA_FILE, WEIGHTS_FILE, InstantModel
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from training.channels import read_channel

DEFAULT_OUT = Path("var") / "instant_model"
MODEL_NAME = "instant-nb-logreg-uni-bi"


@dataclass(frozen=True)
class InstantHyperparameters:
    bucket_bits: int = instant_model.DEFAULT_BUCKET_BITS
    nb_alpha: float = 1.0  # Laplace smoothing of the NB log-count ratios
    C: float = 0.5  # inverse L2 strength; 0.3-1 scored alike on the validation split, lower fits faster
    max_iter: int = 1000


def bucket_matrix(texts: list[str], bucket_count: int) -> sparse.csr_matrix:
    """Binary document x bucket matrix, built with the serving featurizer."""
    indptr, indices = [0], []
    for text in texts:
        indices.extend(instant_model.feature_buckets(text, bucket_count))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    return sparse.csr_matrix((data, np.array(indices, dtype=np.int64), np.array(indptr)), (len(texts), bucket_count))


def nb_log_count_ratios(features: sparse.csr_matrix, labels: np.ndarray, alpha: float) -> np.ndarray:
    """r = log((p / |p|_1) / (q / |q|_1)) with p, q the smoothed feature counts in positive and negative texts."""
    positive = alpha + np.asarray(features[labels == 1].sum(axis=0)).ravel()
    negative = alpha + np.asarray(features[labels == 0].sum(axis=0)).ravel()
    ratios: np.ndarray = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
    return ratios


@dataclass(frozen=True)
class InstantFit:
    """What serving needs (weights, bias) and what made them (the classifier on NB-scaled features, the ratios)."""

    weights: np.ndarray  # little-endian float32, one per bucket: the classifier's coefficients times the ratios
    bias: float
    classifier: LogisticRegression
    ratios: np.ndarray


def fit(texts: list[str], labels: list[int], hp: InstantHyperparameters, seed: int = 13) -> InstantFit:
    """The logistic regression sees x * r; since x is binary, w * r folded into one vector scores a text as the bias
    plus the sum of its buckets' weights, which is all serving has to compute."""
    y = np.asarray(labels, dtype=np.int64)
    if set(np.unique(y).tolist()) != {0, 1}:
        raise ValueError(f"Training needs labels 0 and 1, got {sorted(set(np.unique(y).tolist()))}")
    features = bucket_matrix(texts, 1 << hp.bucket_bits)
    ratios = nb_log_count_ratios(features, y, hp.nb_alpha)
    # The dual problem: far more buckets than texts, so it converges sooner than the primal (same accuracy).
    classifier = LogisticRegression(C=hp.C, max_iter=hp.max_iter, solver="liblinear", dual=True, random_state=seed)
    classifier.fit(nb_scaled(features, ratios), y)
    weights = (classifier.coef_.ravel() * ratios).astype("<f4")
    return InstantFit(weights=weights, bias=float(classifier.intercept_[0]), classifier=classifier, ratios=ratios)


def nb_scaled(features: sparse.csr_matrix, ratios: np.ndarray) -> sparse.csr_matrix:
    return features @ sparse.diags(ratios.astype(np.float32))


def save(out: Path, weights: np.ndarray, bias: float, metadata: dict[str, Any]) -> Path:
    """Write both files into a sibling folder, then swap it in: a reader sees the old model or the new, never half."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    building = out.parent / f".{out.name}-building"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    raw = np.ascontiguousarray(weights, dtype="<f4").tobytes()
    (building / WEIGHTS_FILE).write_bytes(raw)
    bucket_count = len(weights)
    full = {
        "format": instant_model.ARTIFACT_FORMAT,
        "featurizer": instant_model.featurizer_description(bucket_count),
        "weights": {
            "file": WEIGHTS_FILE,
            "dtype": "float32-le",
            "count": bucket_count,
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        "bias": bias,
        **metadata,
    }
    (building / METADATA_FILE).write_text(json.dumps(full, indent=2), encoding="utf-8")
    if out.exists():
        old = out.parent / f".{out.name}-old"
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        building.rename(out)
        shutil.rmtree(old)
    else:
        building.rename(out)
    return out


def label_names(frame: pd.DataFrame) -> list[str]:
    """["NEGATIVE", "POSITIVE"] from the curated label_name column, so the instant tier names labels as the GPU does."""
    if "label_name" not in frame:
        return ["NEGATIVE", "POSITIVE"]  # the curated data's names (glue_jobs/curate_reviews.LABEL_NAMES)
    names = frame.drop_duplicates("label").set_index("label")["label_name"].to_dict()
    return [str(names[0]), str(names[1])]


def served_scores(model: InstantModel, test: pd.DataFrame) -> dict[str, Any]:
    from training.evaluate import scores_by_source

    predicted = [p["label_id"] for p in model.predict(test["text"].tolist())]
    return scores_by_source(test, predicted)


def train_and_save(
    train: pd.DataFrame,
    out: Path,
    hp: InstantHyperparameters = InstantHyperparameters(),
    test: pd.DataFrame | None = None,
    baseline: bool = False,
    data_description: str = "",
) -> dict[str, Any]:
    """Fit, write the artifact, load it back as serving does, score it on `test`; returns the metrics it recorded."""
    started = time.perf_counter()
    fitted = fit(train["text"].tolist(), train["label"].tolist(), hp)
    weights, bias = fitted.weights, fitted.bias
    train_seconds = time.perf_counter() - started
    trained_at = datetime.now(timezone.utc)
    metadata = {
        "model_name": MODEL_NAME,
        "version": f"{trained_at:%Y%m%dT%H%M%SZ}-{hashlib.sha256(weights.tobytes()).hexdigest()[:8]}",
        "labels": label_names(train),
        "training": {
            "data": data_description,
            "rows": int(len(train)),
            "rows_by_source": {str(k): int(v) for k, v in train["source"].value_counts().sort_index().items()},
            "hyperparameters": asdict(hp),
            "seconds": round(train_seconds, 1),
            "trained_at": trained_at.isoformat(timespec="seconds"),
        },
        "metrics": {},
    }
    save(out, weights, bias, metadata)
    if test is not None:
        model = InstantModel.load(out)
        metrics = {"instant": served_scores(model, test)}
        if baseline:
            from training.evaluate import scores_by_source, tfidf_baseline_predictions

            metrics["tfidf_logreg_full_train"] = scores_by_source(
                test, tfidf_baseline_predictions(train, test["text"].tolist())
            )
        metadata["metrics"] = metrics
        save(out, weights, bias, metadata)  # same weights, now with the scores in the metadata
    return metadata


def headline(metadata: dict[str, Any]) -> str:
    """The line `make model` prints beside the transformer's."""
    line = f"instant model ({metadata['training']['rows']} rows, {metadata['training']['seconds']} s to fit)"
    for name, scores in metadata["metrics"].items():
        sources = [source for source in ("imdb", "rotten_tomatoes") if source in scores] or ["all"]
        parts = [f"{source} {scores[source]['accuracy']:.4f}" for source in sources]
        line += f" | {name}: " + ", ".join(parts)
    return line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    train_channel = os.environ.get("SM_CHANNEL_TRAIN")
    parser.add_argument("--train-dir", default=train_channel, required=train_channel is None)
    parser.add_argument("--test-dir", default=os.environ.get("SM_CHANNEL_TEST"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--bucket-bits", type=int, default=InstantHyperparameters.bucket_bits)
    parser.add_argument("--C", type=float, default=InstantHyperparameters.C)
    parser.add_argument("--nb-alpha", type=float, default=InstantHyperparameters.nb_alpha)
    parser.add_argument("--baseline", action="store_true", help="also fit and score the TF-IDF + LR baseline")
    args = parser.parse_args(argv)
    hp = InstantHyperparameters(bucket_bits=args.bucket_bits, C=args.C, nb_alpha=args.nb_alpha)
    test = read_channel(args.test_dir) if args.test_dir else None
    metadata = train_and_save(
        read_channel(args.train_dir), args.out, hp, test, args.baseline, data_description=str(args.train_dir)
    )
    print(headline(metadata), flush=True)


if __name__ == "__main__":
    main()
