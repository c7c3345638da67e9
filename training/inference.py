"""The inference handler, in the SageMaker Hugging Face inference toolkit's contract.

The toolkit (and our local model server) calls `model_fn` once, then `input_fn` -> `predict_fn` -> `output_fn` per
request. The launcher ships this file as `code/inference.py` inside `model.tar.gz`, so it imports nothing from this
repository. Inputs are sorted by length and cut into micro-batches padded only to their own longest text: a batch of
mixed lengths costs about what its texts cost one by one, without padding every short text to the longest.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerBase

SERVING_CONFIG_FILE = "serving_config.json"
JSON_CONTENT_TYPE = "application/json"
MAX_TEXTS = int(os.environ.get("MAX_TEXTS", "64"))
MAX_TEXT_CHARS = int(os.environ.get("MAX_TEXT_CHARS", "20000"))
DEFAULT_MAX_LENGTH = 256
DEFAULT_HEAD_TOKENS = 64
DEFAULT_MICRO_BATCH = 16
DEFAULT_TOKEN_BUDGET = 1024  # rows x padded length per pass: best of 256-8192 measured with int8 on 2 cores
QUANTIZE_ENV = "INFERENCE_QUANTIZE"  # "int8": dynamic int8 Linear layers (see training/README.md for its accuracy)


class PayloadError(ValueError):
    """A request the model cannot answer; `code` and the message go back to the caller as a 400."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class LoadedModel:
    """What `model_fn` hands to `predict_fn`: the network, its tokenizer and how to cut long texts."""

    model: Any
    tokenizer: PreTrainedTokenizerBase
    name: str
    max_length: int = DEFAULT_MAX_LENGTH
    head_tokens: int = DEFAULT_HEAD_TOKENS
    micro_batch: int = DEFAULT_MICRO_BATCH
    token_budget: int = DEFAULT_TOKEN_BUDGET
    quantize: str = ""


def encode_head_tail(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int, head_tokens: int
) -> list[list[int]]:
    """Token ids with special tokens, keeping the first `head_tokens` and the end of each long text.

    A review's verdict is usually in its last sentences, which plain truncation throws away."""
    first = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    last = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    prefix, suffix = [t for t in (first,) if t is not None], [t for t in (last,) if t is not None]
    budget = max_length - len(prefix) - len(suffix)
    head = min(head_tokens, budget)
    encoded = tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    ids_with_specials = []
    for ids in encoded:
        if len(ids) > budget:
            ids = ids[:head] + ids[len(ids) - (budget - head) :]
        ids_with_specials.append(prefix + ids + suffix)
    return ids_with_specials


def pad_batch(tokenizer: PreTrainedTokenizerBase, batch_ids: list[list[int]]) -> dict[str, torch.Tensor]:
    """Pad to the longest sequence of this batch only (dynamic padding)."""
    features = [{"input_ids": ids, "attention_mask": [1] * len(ids)} for ids in batch_ids]
    return tokenizer.pad(features, padding="longest", return_tensors="pt")


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 weights for every Linear layer: on CPU the encoder is matmul-bound and int8 GEMMs are ~3x faster."""
    import warnings

    with warnings.catch_warnings():  # the eager API is deprecated in favour of torchao, which is not installed here
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def model_fn(model_dir: str, context: Any = None, quantize: str | None = None) -> LoadedModel:
    """Load the fine-tuned model folder written by training/train.py.

    `quantize` ("int8" or "" for none) defaults to $INFERENCE_QUANTIZE, then the folder's serving config, then int8
    on a machine without CUDA: it cost 0.37 points of IMDb test accuracy for ~2.5x the throughput (training/README.md),
    and quantized Linear layers run only on CPU."""
    folder = Path(model_dir)
    serving = {}
    if (folder / SERVING_CONFIG_FILE).exists():
        serving = json.loads((folder / SERVING_CONFIG_FILE).read_text())
    if quantize is None:
        cpu_default = "" if torch.cuda.is_available() else "int8"
        quantize = os.environ.get(QUANTIZE_ENV, serving.get("quantize", cpu_default))
    if quantize not in ("", "int8"):
        raise ValueError(f"quantize must be 'int8' or empty, not {quantize!r}")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    model.eval()
    if quantize == "int8":
        model = quantize_int8(model)
    elif torch.cuda.is_available():  # the SageMaker endpoint's GPU
        model.to("cuda")
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=serving.get("model_name", folder.name),
        max_length=int(serving.get("max_length", DEFAULT_MAX_LENGTH)),
        head_tokens=int(serving.get("head_tokens", DEFAULT_HEAD_TOKENS)),
        micro_batch=int(serving.get("micro_batch", DEFAULT_MICRO_BATCH)),
        token_budget=int(serving.get("token_budget", DEFAULT_TOKEN_BUDGET)),
        quantize=quantize,
    )


def input_fn(request_body: str | bytes, content_type: str = JSON_CONTENT_TYPE) -> list[str]:
    """Parse `{"text": "..."}` or `{"texts": [...]}` (`inputs` as the toolkit spells it also works)."""
    if content_type.split(";")[0].strip().lower() != JSON_CONTENT_TYPE:
        raise PayloadError("unsupported_content_type", f"Send {JSON_CONTENT_TYPE}, not {content_type or 'nothing'}.")
    try:
        payload = json.loads(request_body)
    except (ValueError, UnicodeDecodeError) as err:
        raise PayloadError("invalid_json", f"The body is not valid JSON: {err}.") from None
    if not isinstance(payload, dict):
        raise PayloadError("wrong_type", 'The body must be a JSON object like {"text": "..."}.')
    present = [key for key in ("text", "texts", "inputs") if key in payload]
    if len(present) != 1:
        raise PayloadError("missing_text", 'Send exactly one of "text" (a string) or "texts" (a list of strings).')
    value = payload[present[0]]
    texts = value if isinstance(value, list) else [value]
    if not texts:
        raise PayloadError("empty_batch", "The list of texts is empty.")
    if len(texts) > MAX_TEXTS:
        raise PayloadError("too_many_texts", f"Send at most {MAX_TEXTS} texts per request, not {len(texts)}.")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise PayloadError("wrong_type", f"Text {index} is a {type(text).__name__}, not a string.")
        if not text.strip():
            raise PayloadError("empty_text", f"Text {index} is empty.")
        if len(text) > MAX_TEXT_CHARS:
            raise PayloadError(
                "text_too_long", f"Text {index} has {len(text)} characters; the limit is {MAX_TEXT_CHARS}."
            )
    return texts


def micro_batches(lengths: list[int], max_rows: int, token_budget: int) -> list[list[int]]:
    """Indices grouped shortest first, each group at most `max_rows` and `token_budget` padded tokens.

    Many short texts share a pass; long ones go a few at a time, so no pass is big enough to spill the CPU caches."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (len(current) == max_rows or (len(current) + 1) * lengths[i] > token_budget):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def predict_fn(texts: list[str], loaded: LoadedModel) -> dict[str, Any]:
    """Label every text; micro-batches of similar length keep padding (wasted compute) small."""
    started = time.perf_counter()
    ids = encode_head_tail(loaded.tokenizer, texts, loaded.max_length, loaded.head_tokens)
    probabilities: list[torch.Tensor | None] = [None] * len(ids)
    with torch.inference_mode():
        for chunk in micro_batches([len(i) for i in ids], loaded.micro_batch, loaded.token_budget):
            batch = pad_batch(loaded.tokenizer, [ids[i] for i in chunk]).to(loaded.model.device)
            logits = loaded.model(**batch).logits
            for i, row in zip(chunk, torch.softmax(logits.float(), dim=-1), strict=True):
                probabilities[i] = row
    id2label = loaded.model.config.id2label
    predictions = []
    for row in probabilities:
        label_id = int(torch.argmax(row))
        predictions.append({"label": id2label[label_id], "label_id": label_id, "prob": round(float(row[label_id]), 4)})
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return {"predictions": predictions, "latency_ms": latency_ms, "model": loaded.name}


def output_fn(prediction: dict[str, Any], accept: str = JSON_CONTENT_TYPE) -> str:
    """Serialise as JSON, the only format we answer in."""
    if accept and accept not in ("*/*", JSON_CONTENT_TYPE) and not accept.startswith(JSON_CONTENT_TYPE):
        raise PayloadError("unsupported_accept", f"The model answers in {JSON_CONTENT_TYPE}, not {accept}.")
    return json.dumps(prediction)
