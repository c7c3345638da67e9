"""The inference handler, in the SageMaker Hugging Face inference toolkit's contract.

The toolkit (and our local model server) calls `model_fn` once, then `input_fn` -> `predict_fn` -> `output_fn` per
request. train.py ships this file as `code/inference.py` inside `model.tar.gz`, so it imports nothing from this
repository but the modules shipped beside it (`train.SERVING_CODE`). Inputs are sorted by length and cut into
micro-batches padded only to their own longest text: a batch of mixed lengths costs about what its texts cost one by
one, without padding every short text to the longest.

A model folder may also hold the instant tier's linear model and, in its serving config, how to combine the two
(training/combination.py: fitted by train.py with `--combine-linear`). The answer is then the combination's, and where
the linear model decides alone the transformer is not run for that text: the prediction says `"scored_by": "linear"`
(else "transformer+linear", or "transformer" for a folder without the linear model).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerBase

try:  # in the repository
    from training import serving_path
    from training.combination import CombinedModel
except ImportError:  # in model.tar.gz: code/combination.py and code/serving_path.py sit beside this file
    import serving_path  # type: ignore[import-not-found,no-redef]
    from combination import CombinedModel  # type: ignore[import-not-found,no-redef]

SERVING_CONFIG_FILE = "serving_config.json"
ONNX_FILE = serving_path.ONNX_FILES[serving_path.ONNX_INT8]  # written by training/onnx_export.py
CALIBRATION_FILE = "calibration_texts.json"  # train rows the server times its paths on (training/path_accuracy.py)
JSON_CONTENT_TYPE = "application/json"
MAX_TEXTS = int(os.environ.get("MAX_TEXTS", "64"))
MAX_TEXT_CHARS = int(os.environ.get("MAX_TEXT_CHARS", "20000"))
DEFAULT_MAX_LENGTH = 256
DEFAULT_HEAD_TOKENS = 64
DEFAULT_MICRO_BATCH = 16
DEFAULT_TOKEN_BUDGET = 384  # rows x padded length per pass: the best budget tried with ONNX int8 (training/README.md)
BACKEND_ENV = "INFERENCE_BACKEND"
# torch: the weights as trained (fp32; half precision on CUDA, serving_path.gpu_plan); torch-int8: dynamic int8
# Linear layers in torch; torch-bf16: bfloat16 weights; onnx-int8 / onnx-fp32: the ONNX exports in ONNX Runtime.
# Without a choice, a CPU serves the fastest of them within 0.5 points of fp32 (serving_path.py).
BACKENDS = serving_path.PATHS
TIMING_ROUNDS = 2
logger = logging.getLogger(__name__)


class PayloadError(ValueError):
    """A request the model cannot answer; `code` and the message go back to the caller as a 400."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Batch = dict[str, np.ndarray]  # input_ids and attention_mask, padded to the batch's longest text


@dataclass
class LoadedModel:
    """What `model_fn` hands to `predict_fn`: a function from a padded batch to logits, the tokenizer, and how to cut
    long texts and group them."""

    classify: Callable[[Batch], np.ndarray]
    tokenizer: PreTrainedTokenizerBase
    name: str
    id2label: dict[int, str]
    backend: str
    max_length: int = DEFAULT_MAX_LENGTH
    head_tokens: int = DEFAULT_HEAD_TOKENS
    micro_batch: int = DEFAULT_MICRO_BATCH
    token_budget: int = DEFAULT_TOKEN_BUDGET
    pool: ThreadPoolExecutor | None = None  # runs micro-batches side by side when the backend releases the GIL
    combined: CombinedModel | None = None  # the linear model and how to combine it with the transformer

    def classify_all(self, batches: list[Batch]) -> Iterator[np.ndarray]:
        return self.pool.map(self.classify, batches) if self.pool else map(self.classify, batches)


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


def pad_batch(tokenizer: PreTrainedTokenizerBase, batch_ids: list[list[int]], return_tensors: str = "pt") -> Any:
    """Pad to the longest sequence of this batch only (dynamic padding); torch tensors, or numpy with "np"."""
    features = [{"input_ids": ids, "attention_mask": [1] * len(ids)} for ids in batch_ids]
    return tokenizer.pad(features, padding="longest", return_tensors=return_tensors)


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 weights for every Linear layer: on CPU the encoder is matmul-bound and int8 GEMMs are faster."""
    import warnings

    with warnings.catch_warnings():  # the eager API is deprecated in favour of torchao, which is not installed here
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def torch_classifier(model: Any) -> Callable[[Batch], np.ndarray]:
    device = next(model.parameters()).device

    def classify(batch: Batch) -> np.ndarray:
        with torch.inference_mode():
            inputs = {name: torch.from_numpy(array).to(device) for name, array in batch.items()}
            logits: np.ndarray = model(**inputs).logits.float().cpu().numpy()
            return logits

    return classify


def onnx_classifier(path: Path) -> Callable[[Batch], np.ndarray]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # One thread per pass and the passes side by side (predict_fn's pool): faster than two threads sharing each pass,
    # whose small matmuls spend their time waiting for each other (training/README.md).
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs = {node.name for node in session.get_inputs()}

    def classify(batch: Batch) -> np.ndarray:
        feed = {name: array for name, array in batch.items() if name in inputs}
        logits: np.ndarray = session.run(["logits"], feed)[0]
        return logits

    return classify


def default_backend(folder: Path) -> str:
    """The backend when no path was timed: the trained weights on a GPU; on a CPU the ONNX export if there is one
    and ONNX Runtime is installed, else torch's int8 (with a warning saying how to get the faster one)."""
    if torch.cuda.is_available():
        return "torch"
    if (folder / ONNX_FILE).exists() and importlib.util.find_spec("onnxruntime") is not None:
        return "onnx-int8"
    logger.warning(
        "serving with torch-int8: %s; `python -m training.onnx_export --model-dir %s --calibration-dir TRAIN_ROWS` "
        "(or --quantization dynamic without train rows) makes the faster onnx-int8",
        f"no {ONNX_FILE} in the model folder" if not (folder / ONNX_FILE).exists() else "onnxruntime is not installed",
        folder,
    )
    return "torch-int8"


def machine_backend(folder: Path) -> str:
    """The fastest path on this machine among those accurate enough (serving_path.choose), timed on the folder's
    calibration texts once per CPU; `default_backend` where nothing was recorded to choose by."""
    calibration = folder / CALIBRATION_FILE
    if torch.cuda.is_available() or not calibration.exists():
        return default_backend(folder)
    texts = json.loads(calibration.read_text())
    supported = serving_path.supported_paths(
        serving_path.Machine.here(),
        [p.name for p in folder.iterdir()],
        importlib.util.find_spec("onnxruntime") is not None,
    )
    chosen = serving_path.choose(
        folder, serving_path.Machine.here(), supported, lambda paths: time_paths(folder, paths, texts)
    )
    return chosen or default_backend(folder)


def time_paths(folder: Path, paths: list[str], texts: list[str], rounds: int = TIMING_ROUNDS) -> dict[str, float]:
    """Seconds each path takes for the transformer on `texts`, the fastest of `rounds` rounds that alternate the paths
    (so a busy neighbour slows them alike), after one warm-up pass each."""
    loaded = {path: load_model(str(folder), backend=path, combine=False) for path in paths}
    ids = {path: encode_head_tail(m.tokenizer, texts, m.max_length, m.head_tokens) for path, m in loaded.items()}
    best = {path: float("inf") for path in paths}
    for round_number in range(rounds + 1):
        for path, model in loaded.items():
            started = time.perf_counter()
            encoded_logits(ids[path], model)
            if round_number:  # round 0 warms up
                best[path] = min(best[path], time.perf_counter() - started)
    for model in loaded.values():
        if model.pool:
            model.pool.shutdown()
    logger.info("paths timed on %d calibration texts: %s", len(texts), {p: round(s, 3) for p, s in best.items()})
    return best


def model_fn(model_dir: str, context: Any = None) -> LoadedModel:
    """The SageMaker hook. The Hugging Face inference toolkit counts this function's parameters and refuses more than
    two (`model_dir`, `context`): a third made every invocation answer 400 (tests/unit/sagemaker/)."""
    return load_model(model_dir)


def read_serving_config(folder: Path) -> dict[str, Any]:
    """The folder's serving config as train.py wrote it; {} for a folder without one (the defaults apply)."""
    path = folder / SERVING_CONFIG_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def text_encoding(serving: dict[str, Any]) -> dict[str, int]:
    """How the server cuts and groups texts (LoadedModel's max_length, head_tokens, micro_batch, token_budget) by a
    serving config: what an export calibrates with, without loading the weights."""
    return {
        "max_length": int(serving.get("max_length", DEFAULT_MAX_LENGTH)),
        "head_tokens": int(serving.get("head_tokens", DEFAULT_HEAD_TOKENS)),
        "micro_batch": int(serving.get("micro_batch", DEFAULT_MICRO_BATCH)),
        "token_budget": int(serving.get("token_budget", DEFAULT_TOKEN_BUDGET)),
    }


def load_model(model_dir: str, backend: str | None = None, combine: bool = True) -> LoadedModel:
    """Load the fine-tuned model folder written by training/train.py.

    `backend` (one of BACKENDS) defaults to $INFERENCE_BACKEND, then "backend" in the folder's serving config, then
    the fastest accurate path on this machine (`machine_backend`). Micro-batches run on `torch.get_num_threads()`
    cores side by side with ONNX Runtime. On CUDA the torch weights run in half precision (serving_path.gpu_plan).
    A folder with a combination in its serving config answers with the combination unless `combine` is False (the
    transformer alone, for comparing the two)."""
    folder = Path(model_dir)
    serving = read_serving_config(folder)
    backend = backend or os.environ.get(BACKEND_ENV) or serving.get("backend") or machine_backend(folder)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = AutoConfig.from_pretrained(folder)
    encoding = text_encoding(serving)
    pool = None
    if backend in serving_path.ONNX_FILES:
        onnx_file = folder / serving_path.ONNX_FILES[backend]
        if not onnx_file.exists():
            raise FileNotFoundError(
                f"No {onnx_file.name} in {folder}: make it with `python -m training.onnx_export --model-dir {folder} "
                "--calibration-dir TRAIN_ROWS` (or `--quantization dynamic` without train rows)."
            )
        classify = onnx_classifier(onnx_file)
        workers = torch.get_num_threads()
        pool = ThreadPoolExecutor(workers, thread_name_prefix="onnx") if workers > 1 else None
    else:
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        model.eval()
        if backend == serving_path.TORCH_INT8:
            model = quantize_int8(model)
        elif backend == serving_path.TORCH_BF16:
            model.to(torch.bfloat16)
        elif torch.cuda.is_available():  # the SageMaker endpoint's GPU: half precision, length-bucketed batches
            plan = serving_path.gpu_plan(torch.cuda.is_bf16_supported(), encoding["max_length"])
            model.to("cuda", dtype=getattr(torch, plan.dtype))
            encoding.update(micro_batch=plan.micro_batch, token_budget=plan.token_budget)
        classify = torch_classifier(model)
    combined = CombinedModel.load(folder, serving) if combine else None
    logger.info("model %s served by %s%s", folder, backend, " + the linear model" if combined else "")
    return LoadedModel(
        classify=classify,
        tokenizer=tokenizer,
        name=serving.get("model_name", folder.name),
        id2label={int(k): v for k, v in config.id2label.items()},
        backend=backend,
        **encoding,
        pool=pool,
        combined=combined,
    )


def encoded_logits(ids: list[list[int]], loaded: LoadedModel) -> np.ndarray:
    """The transformer's logits for token ids (encode_head_tail's), in micro-batches padded to their own longest."""
    chunks = micro_batches([len(i) for i in ids], loaded.micro_batch, loaded.token_budget)
    batches = [pad_batch(loaded.tokenizer, [ids[i] for i in chunk], return_tensors="np") for chunk in chunks]
    logits = np.zeros((len(ids), len(loaded.id2label)))
    for chunk, batch_logits in zip(chunks, loaded.classify_all(batches), strict=True):
        logits[chunk] = batch_logits.astype(np.float64)
    return logits


def transformer_logits(texts: list[str], loaded: LoadedModel) -> tuple[np.ndarray, list[int]]:
    """The transformer's logits per text (caller order) and each text's token count after head + tail truncation."""
    ids = encode_head_tail(loaded.tokenizer, texts, loaded.max_length, loaded.head_tokens)
    return encoded_logits(ids, loaded), [len(i) for i in ids]


def probabilities(texts: list[str], loaded: LoadedModel) -> tuple[np.ndarray, list[str]]:
    """Per text, the probability of each label and what scored it: the transformer's softmax ("transformer"), or the
    combination's logistic ("transformer+linear"), or that of the linear part alone where the linear model decides
    ("linear")."""
    ids = encode_head_tail(loaded.tokenizer, texts, loaded.max_length, loaded.head_tokens)
    combined = loaded.combined
    if combined is None:
        return softmax(encoded_logits(ids, loaded)), ["transformer"] * len(texts)
    lengths = [len(i) for i in ids]
    linear = combined.linear_scores(texts)
    decides = combined.combination.linear_decides(linear, lengths)
    transformer = np.full(len(texts), np.nan)
    needed = np.flatnonzero(~decides)
    if len(needed):
        logits = encoded_logits([ids[i] for i in needed], loaded)
        transformer[needed] = logits[:, 1] - logits[:, 0]
    positive = combined.combination.positive_probability(transformer, linear, lengths)
    scored_by = ["linear" if skipped else "transformer+linear" for skipped in decides]
    return np.stack([1.0 - positive, positive], axis=1), scored_by


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


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=-1, keepdims=True)
    return probabilities


def predict_fn(texts: list[str], loaded: LoadedModel) -> dict[str, Any]:
    """Label every text, saying what scored it; micro-batches of similar length keep padding (wasted compute) small."""
    started = time.perf_counter()
    predictions = []
    rows, scored_by = probabilities(texts, loaded)
    for row, scorer in zip(rows, scored_by, strict=True):
        label_id = int(np.argmax(row))
        predictions.append(
            {
                "label": loaded.id2label[label_id],
                "label_id": label_id,
                "prob": round(float(row[label_id]), 4),
                "scored_by": scorer,
            }
        )
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return {"predictions": predictions, "latency_ms": latency_ms, "model": loaded.name}


def output_fn(prediction: dict[str, Any], accept: str = JSON_CONTENT_TYPE) -> str:
    """Serialise as JSON, the only format we answer in."""
    if accept and accept not in ("*/*", JSON_CONTENT_TYPE) and not accept.startswith(JSON_CONTENT_TYPE):
        raise PayloadError("unsupported_accept", f"The model answers in {JSON_CONTENT_TYPE}, not {accept}.")
    return json.dumps(prediction)
