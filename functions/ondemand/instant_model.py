"""The instant tier's model: a linear classifier over hashed word and word-pair features, served with the standard
library alone, so a Lambda answers in milliseconds while the GPU endpoint is still starting.

The artifact is two plain files written by training/instant_train.py: `instant_model.json` (metadata: featurizer,
hashing scheme, bucket count, bias, labels, version, training data, metrics, the weights' checksum) and
`instant_model.f32` (one little-endian float32 weight per hash bucket). No pickle: loading runs no code from the
artifact. Training and serving call the same `feature_buckets`, so they cannot disagree on what a text's features are.
"""

from __future__ import annotations

import array
import hashlib
import html
import json
import math
import re
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METADATA_FILE = "instant_model.json"
WEIGHTS_FILE = "instant_model.f32"
ARTIFACT_FORMAT = "instant-linear/1"
# Bump when anything below changes what a text's buckets are; an artifact made by another featurizer is refused.
FEATURIZER = "words-uni-bi/1"
HASHING = "crc32-utf8"  # zlib.crc32 of the UTF-8 feature string: stable across processes and Python versions
DEFAULT_BUCKET_BITS = 20
# Checked at load time against the buckets recorded at training time: a changed regex, hash or Python is caught
# before the model answers anything, not by a slow drift in accuracy.
CANARY_TEXT = "I didn't like it at all... NOT good! Wasn't it <br /> the WORST film? 10/10 :)"

_TAG = re.compile(r"<[^>]{0,200}>")
# Words keep their inner apostrophes (don't, wasn't: the negation is the signal), numbers keep a rating's slash
# (7/10), and !, ? and a few emoticons survive as tokens; other punctuation only separates words. Words first: the
# common case tried first makes this regex twice as fast as the other order, and it is half of serving's time.
_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|\d+(?:/\d+)?|[!?]|[:;]-?[()dp]")


class InstantModelError(ValueError):
    """The artifact is missing, corrupted, or made by an incompatible featurizer; the message says which."""


def tokenize(text: str) -> list[str]:
    """Lowercased tokens; HTML tags (the <br /> in IMDb reviews) and curly apostrophes normalised first."""
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _TAG.sub(" ", text)
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


def feature_buckets(text: str, bucket_count: int) -> list[int]:
    """The distinct hash buckets of a text's unigrams and bigrams, in first-seen order (binary features)."""
    if bucket_count <= 0 or bucket_count & (bucket_count - 1):
        raise ValueError(f"bucket_count must be a power of two, not {bucket_count}")
    mask, crc32 = bucket_count - 1, zlib.crc32
    tokens = tokenize(text)
    # A space never occurs inside a token, so a bigram's string cannot equal a unigram's.
    bigrams = [f"{first} {second}" for first, second in zip(tokens, tokens[1:], strict=False)]
    return list(dict.fromkeys([crc32(feature.encode()) & mask for feature in tokens + bigrams]))


def featurizer_description(bucket_count: int) -> dict[str, Any]:
    """What the metadata records about the featurizer; `InstantModel.load` compares it with this module's."""
    return {
        "name": FEATURIZER,
        "hashing": HASHING,
        "bucket_count": bucket_count,
        "canary_text": CANARY_TEXT,
        "canary_buckets": feature_buckets(CANARY_TEXT, bucket_count),
    }


@dataclass(frozen=True)
class InstantModel:
    """Logistic regression over binary bucket features: P(label 1) = sigmoid(bias + sum of the present buckets)."""

    weights: array.array
    bias: float
    labels: tuple[str, str]
    name: str
    metadata: dict[str, Any]

    @classmethod
    def load(cls, folder: str | Path) -> InstantModel:
        """Read and check the artifact in `folder`; raise InstantModelError saying what is wrong instead of serving
        a model whose answers would be wrong."""
        folder = Path(folder)
        metadata_path, weights_path = folder / METADATA_FILE, folder / WEIGHTS_FILE
        for path in (metadata_path, weights_path):
            if not path.is_file():
                raise InstantModelError(f"No {path.name} in {folder}: run `python -m training.instant_train`.")
        try:
            metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
            fmt, featurizer, stored = metadata["format"], metadata["featurizer"], metadata["weights"]
            bucket_count = int(featurizer["bucket_count"])
            bias, labels = float(metadata["bias"]), tuple(metadata["labels"])
            name = f"{metadata['model_name']}@{metadata['version']}"
        except (ValueError, KeyError, TypeError) as err:
            raise InstantModelError(f"{metadata_path} is not valid instant-model metadata: {err!r}") from None
        if bucket_count <= 0 or bucket_count & (bucket_count - 1):
            raise InstantModelError(f"{metadata_path}: bucket_count must be a power of two, not {bucket_count}.")
        if fmt != ARTIFACT_FORMAT:
            raise InstantModelError(f"{metadata_path} has format {fmt!r}; this code reads {ARTIFACT_FORMAT!r}.")
        if (featurizer.get("name"), featurizer.get("hashing")) != (FEATURIZER, HASHING):
            raise InstantModelError(
                f"The model was trained with featurizer {featurizer.get('name')!r}/{featurizer.get('hashing')!r}; "
                f"this code featurizes with {FEATURIZER!r}/{HASHING!r}. Retrain it."
            )
        canary = featurizer.get("canary_text", CANARY_TEXT)
        if featurizer.get("canary_buckets") != feature_buckets(canary, bucket_count):
            raise InstantModelError(
                "This Python featurizes the canary text into other buckets than training did (a changed tokenizer, "
                "hash or Python version); the weights would be read at the wrong places. Retrain the model."
            )
        if len(labels) != 2 or not math.isfinite(bias):
            raise InstantModelError(f"{metadata_path}: expected two labels and a finite bias, got {labels} and {bias}.")

        raw = weights_path.read_bytes()
        if len(raw) != 4 * bucket_count:
            raise InstantModelError(
                f"{weights_path} holds {len(raw)} bytes; {bucket_count} float32 weights need {4 * bucket_count}."
            )
        if hashlib.sha256(raw).hexdigest() != stored.get("sha256"):
            raise InstantModelError(f"{weights_path} does not match the checksum in {metadata_path}: corrupted.")
        weights = array.array("f")
        weights.frombytes(raw)
        if sys.byteorder == "big":  # the file is little-endian whatever machine wrote it
            weights.byteswap()
        return cls(weights=weights, bias=bias, labels=labels, name=name, metadata=metadata)

    @property
    def bucket_count(self) -> int:
        return len(self.weights)

    def positive_probability(self, text: str) -> float:
        weights = self.weights
        score = self.bias + sum([weights[i] for i in feature_buckets(text, len(weights))])
        # Both branches of the logistic function, so a very confident score never overflows exp().
        if score >= 0:
            return 1.0 / (1.0 + math.exp(-score))
        odds = math.exp(score)
        return odds / (1.0 + odds)

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """One {"label", "label_id", "prob"} per text, as the GPU model answers: prob is the chosen label's."""
        if isinstance(texts, str) or not isinstance(texts, list):
            raise TypeError(f"predict takes a list of strings, not a {type(texts).__name__}")
        predictions = []
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"Text {index} is a {type(text).__name__}, not a string.")
            positive = self.positive_probability(text)
            label_id = 1 if positive >= 0.5 else 0
            prob = positive if label_id == 1 else 1.0 - positive
            predictions.append({"label": self.labels[label_id], "label_id": label_id, "prob": round(prob, 4)})
        return predictions

    def answer(self, texts: list[str]) -> dict[str, Any]:
        """The body the model server returns for the GPU tier: predictions, latency and the model that made them."""
        started = time.perf_counter()
        predictions = self.predict(texts)
        return {
            "predictions": predictions,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "model": self.name,
        }
