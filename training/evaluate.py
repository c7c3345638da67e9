"""Evaluation on the held-out test split: accuracy, F1 and the confusion matrix, next to a TF-IDF + logistic
regression baseline trained and scored on the same splits, so a fine-tuned model that is no better shows up.

Every model is also scored on the behavioural set (`behavioural_reviews.csv`: short reviews written for this check,
with negation, "not bad", contrast, intensifiers, ratings in words, irony), and `results_table` puts the models side
by side: IMDb, Rotten Tomatoes, behavioural set, minutes to build; `make model` prints it.

Run on its own: `python -m training.evaluate --model-dir var/model --train-dir D/split=train --test-dir D/split=test
[--backend torch|torch-int8|onnx-int8]`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.pipeline import Pipeline, make_pipeline

from training.channels import read_channel

if TYPE_CHECKING:  # imported where used: it loads torch, which the report table and the instant model do not need
    from training import inference

PREDICT_CHUNK = 64
BEHAVIOURAL_FILE = Path(__file__).with_name("behavioural_reviews.csv")
TABLE_COLUMNS = ("imdb", "rotten_tomatoes", "behavioural")


def read_behavioural(path: Path = BEHAVIOURAL_FILE) -> pd.DataFrame:
    """The behavioural set: text, label (1 = positive), capability."""
    frame = pd.read_csv(path)
    missing = {"text", "label", "capability"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks the column(s) {sorted(missing)}")
    return frame.astype({"label": "int64"})


def behavioural_scores(frame: pd.DataFrame, predicted: list[int]) -> dict[str, Any]:
    """Metrics on the whole behavioural set, plus accuracy per capability."""
    scores = classification_metrics(frame["label"].tolist(), predicted)
    hits = pd.Series([p == y for p, y in zip(predicted, frame["label"], strict=True)], index=frame.index)
    scores["by_capability"] = {str(k): round(float(v), 4) for k, v in hits.groupby(frame["capability"]).mean().items()}
    return scores


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


def model_predictions_by_part(
    loaded: inference.LoadedModel, texts: list[str], progress: bool = True
) -> dict[str, list[int]]:
    """Label ids of the model as served ("model") and, for a combined model, of its two parts alone ("transformer", and
    "instant": the linear model, which is what the instant tier answers) and of the combination with the transformer
    run on every text ("every_text")."""
    return labels_by_part(margins_by_part(loaded, texts, progress))


def labels_by_part(margins: dict[str, np.ndarray]) -> dict[str, list[int]]:
    """Label ids (1 where the log-odds of POSITIVE are above 0) for every part margins_by_part scored."""
    return {part: [int(m > 0) for m in values] for part, values in margins.items() if part != "linear_decides"}


def margins_by_part(loaded: inference.LoadedModel, texts: list[str], progress: bool = True) -> dict[str, np.ndarray]:
    """Log-odds of POSITIVE per part (see model_predictions_by_part) from one pass of the transformer over every text,
    through the combination predict_fn answers with, and, for a combined model, where the linear model alone decided
    ("linear_decides": the texts the server does not run the transformer for)."""
    from tqdm.auto import tqdm

    from training import inference

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # chunks of similar length, like micro-batches
    combined = loaded.combined
    parts = ("model", "transformer", "instant", "every_text") if combined else ("model",)
    margins = {part: np.zeros(len(texts)) for part in parts}
    if combined:
        margins["linear_decides"] = np.zeros(len(texts), dtype=bool)
    for start in tqdm(range(0, len(order), PREDICT_CHUNK), desc="evaluate", unit="chunk", disable=not progress):
        chunk = order[start : start + PREDICT_CHUNK]
        chunk_texts = [texts[i] for i in chunk]
        logits, lengths = inference.transformer_logits(chunk_texts, loaded)
        transformer = logits[:, 1] - logits[:, 0]
        if combined:
            linear = combined.linear_scores(chunk_texts)  # the instant tier's model: its log-odds
            margins["transformer"][chunk] = transformer
            margins["instant"][chunk] = linear
            margins["model"][chunk] = combined.combination.margins(transformer, linear, lengths)
            margins["every_text"][chunk] = combined.combination.on_every_text().margins(transformer, linear, lengths)
            margins["linear_decides"][chunk] = combined.combination.linear_decides(linear, lengths)
        else:
            margins["model"][chunk] = transformer
    return margins


def linear_decides_report(margins: dict[str, np.ndarray]) -> dict[str, Any]:
    """How many texts the linear model alone decided (the server skips the transformer for them), and how many of
    their labels differ from the combination's with the transformer run on them too."""
    decides = margins["linear_decides"]
    changed = (margins["model"] > 0) != (margins["every_text"] > 0)
    return {
        "texts": len(decides),
        "linear_decided": int(decides.sum()),
        "share": round(float(decides.mean()), 4) if len(decides) else 0.0,
        "labels_changed": int(changed.sum()),
    }


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


def scored_parts(frame: pd.DataFrame, behavioural: pd.DataFrame, predicted: list[int]) -> dict[str, Any]:
    """Scores by source on the test rows (the first len(frame) predictions) and on the behavioural set (the rest)."""
    scores = scores_by_source(frame, predicted[: len(frame)])
    if len(behavioural):
        scores["behavioural"] = behavioural_scores(behavioural, predicted[len(frame) :])
    return scores


def evaluate(
    loaded: inference.LoadedModel,
    test: pd.DataFrame,
    model_train: pd.DataFrame,
    baseline_train: pd.DataFrame | None = None,
    progress: bool = True,
    behavioural: pd.DataFrame | None = None,
    baseline_test: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Model and baselines on the test split, overall and per source (IMDb is the headline number), and on the
    behavioural set (default: behavioural_reviews.csv). A combined model also gets a row per part ("transformer",
    "instant", "every_text") and `linear_decides` (how many texts the server would not run the transformer for).

    The baseline is trained on the rows the model saw and, if given, on `baseline_train` (the whole train split):
    the first comparison is fair, the second says what more data alone would buy. The baselines are scored on
    `baseline_test` if given (the whole test split when the model is scored on a sample of it: they cost seconds)."""
    behavioural = read_behavioural() if behavioural is None else behavioural
    texts = test["text"].tolist() + behavioural["text"].tolist()
    started = time.perf_counter()
    margins = margins_by_part(loaded, texts, progress)
    predicted = labels_by_part(margins)
    model_seconds = time.perf_counter() - started
    baseline_rows = {"tfidf_logreg_same_rows": model_train}
    if baseline_train is not None and len(baseline_train) > len(model_train):
        baseline_rows["tfidf_logreg_full_train"] = baseline_train

    report: dict[str, Any] = {"model_eval_seconds": round(model_seconds, 1), "fit_seconds": {}}
    for part, part_predicted in predicted.items():
        report[part] = scored_parts(test, behavioural, part_predicted)
    for name, rows in baseline_rows.items():
        started = time.perf_counter()
        baseline = tfidf_baseline(rows)
        report["fit_seconds"][name] = round(time.perf_counter() - started, 1)
        scored = test if baseline_test is None else baseline_test
        texts_scored = scored["text"].tolist() + behavioural["text"].tolist()
        report[name] = scored_parts(scored, behavioural, [int(label) for label in baseline.predict(texts_scored)])
    if "linear_decides" in margins:
        report["linear_decides"] = linear_decides_report(margins)
    report["train_rows"] = {
        "model": len(model_train),
        "baseline": len(baseline_train) if baseline_train is not None else 0,
    }
    return report


def headline(report: dict[str, Any]) -> str:
    """One line a person reads: the model against the baseline on IMDb (or on everything if no IMDb rows)."""
    part = "imdb" if "imdb" in report["model"] else "all"
    model = report["model"][part]
    line = f"test[{part}] n={model['n']}: model accuracy {model['accuracy']:.4f} F1 {model['f1']:.4f}"
    if "behavioural" in report["model"]:
        line += f", behavioural {report['model']['behavioural']['accuracy']:.4f}"
    for name in ("tfidf_logreg_same_rows", "tfidf_logreg_full_train"):
        if name in report:
            line += f" | {name} accuracy {report[name][part]['accuracy']:.4f} F1 {report[name][part]['f1']:.4f}"
    return line


def results_table(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows `make model` prints, from a model folder's metrics.json: the model as trained (fp32; for a combined
    model its transformer alone too), as served on CPU, the TF-IDF baselines and the instant model.

    Minutes: the transformer's fine-tune; the combined model adds the linear model and the combination fit; the
    served model is the whole pipeline run when it is recorded (`pipeline_seconds`), else the build plus the export;
    a baseline is its own fit."""
    test = metrics.get("test", {})
    combined = "transformer" in test
    train_minutes = metrics.get("train_seconds", 0) / 60
    build_minutes = metrics.get("build_seconds", metrics.get("train_seconds", 0)) / 60
    rows = []

    def add(name: str, scores: dict[str, Any] | None, minutes: float | None) -> None:
        if scores:
            rows.append(
                {
                    "model": name,
                    **{c: scores.get(c, {}).get("accuracy") for c in TABLE_COLUMNS},
                    "minutes": None if minutes is None else round(minutes, 1),
                }
            )

    # The fp32 rows may be scored on an IMDb sample (train.py --test-imdb-rows); the table says so.
    imdb_n = test.get("model", {}).get("imdb", {}).get("n")
    served_imdb_n = metrics.get("served_test", {}).get("imdb", {}).get("n")
    sample = f" [IMDb: sample of {imdb_n}]" if imdb_n and served_imdb_n and imdb_n < served_imdb_n else ""
    if combined:
        add(f"transformer alone, fp32{sample}", test.get("transformer"), train_minutes)
        add(f"transformer + linear, fp32 (as trained){sample}", test.get("model"), build_minutes)
    else:
        add(f"transformer, fp32 (as trained){sample}", test.get("model"), train_minutes)
    served = metrics.get("served_test")
    if served:
        export_seconds = served.get("export_seconds", 0)
        served_minutes = metrics.get("pipeline_seconds", metrics.get("build_seconds", 0) + export_seconds)
        decided = served.get("linear_decides")
        skipped = f"; {decided['share']:.0%} of texts by the linear model alone" if decided else ""
        add(
            f"as served on CPU ({served.get('backend', 'onnx-int8')}{' + linear' if combined else ''}{skipped})",
            served,
            served_minutes / 60,
        )
    fit = test.get("fit_seconds", {})
    rows_seen = test.get("train_rows", {})
    add(
        f"TF-IDF + LR, the model's {rows_seen.get('model', '?')} rows",
        test.get("tfidf_logreg_same_rows"),
        fit.get("tfidf_logreg_same_rows", 0) / 60,
    )
    add(
        f"TF-IDF + LR, all {rows_seen.get('baseline', '?')} train rows",
        test.get("tfidf_logreg_full_train"),
        fit.get("tfidf_logreg_full_train", 0) / 60,
    )
    if combined:
        add(
            f"instant tier (NB bigram logistic), alone{sample}",
            test.get("instant"),
            metrics.get("combination", {}).get("instant_seconds", 0) / 60,
        )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table: it reads in a terminal and pastes into a README."""
    header = ["model", "IMDb test", "RT test", "behavioural", "minutes"]

    def cell(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["model"], *(cell(row[c], ".4f") for c in TABLE_COLUMNS), cell(row["minutes"], ".1f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
    loaded = inference.load_model(args.model_dir, backend=args.backend)
    report = evaluate(loaded, read_channel(args.test_dir), train, train)
    out = Path(args.out or Path(args.model_dir) / "evaluation.json")
    out.write_text(json.dumps(report, indent=2))
    print(headline(report))


if __name__ == "__main__":
    main()
