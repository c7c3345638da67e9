"""The combined model: the transformer and the linear model (the instant tier's, copied into the model folder) weighed
per length band. This module owns it: its bands, their fit on held-out rows, their place in the serving config, the
combined answer, and which texts the linear model decides alone.

The answer is the logistic of `transformer * margin + linear * score + bias`, where the margin is the transformer's
logit POSITIVE - logit NEGATIVE and the score the linear model's log-odds, with the weights fitted by a logistic
regression on held-out rows separately for short and long inputs (one-sentence reviews and full reviews trust the two
models differently). A band's *linear part* is `linear * score + bias`; where it alone is beyond the band's
`linear_decides_beyond` (the hardest push against it that the transformer's term gave on the band's held-out rows), no
push seen could turn the answer, so the server does not run the transformer for that text.

Training fits and saves it (train.py), the server applies it (inference.py), evaluation scores it and its parts
(evaluate.py). It ships beside inference.py as `code/combination.py` in model.tar.gz, so it imports nothing from this
repository but the linear model's own module (`code/instant_model.py` there) and serves with numpy alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

try:  # in the repository (functions/ on the path)
    from ondemand import instant_model
except ImportError:  # in model.tar.gz: code/instant_model.py sits beside this file
    import instant_model  # type: ignore[import-not-found,no-redef]

LINEAR_MODEL_DIR = "instant"  # the linear model in a combined model folder: the instant tier's artifact, copied in
SERVING_CONFIG_KEY = "combination"
LONGEST = 1_000_000  # a length band's max_tokens that every input fits
MIN_BAND_ROWS_PER_LABEL = 40
# A new row's transformer pushes harder than the hardest of n held-out rows with probability at most 1 / (n + 1)
# (exchangeable rows): from 200 rows, at most 0.5%. Fewer rows and the band never lets the linear model decide alone.
MIN_ROWS_FOR_LINEAR_BOUND = 200


@dataclass(frozen=True)
class Band:
    """How the inputs of at most `max_tokens` tokens weigh the two models."""

    max_tokens: int
    transformer: float  # the weight of the transformer's margin
    linear: float  # the weight of the linear model's score
    bias: float
    linear_decides_beyond: float | None = None  # None: too few held-out rows to bound it, the transformer always runs

    @classmethod
    def from_config(cls, entry: Mapping[str, float]) -> Band:
        """A band as the serving config holds it; a config written before the rename calls the linear weight
        "instant"."""
        beyond = entry.get("linear_decides_beyond")
        return cls(
            max_tokens=int(entry["max_tokens"]),
            transformer=float(entry["transformer"]),
            linear=float(entry["linear"] if "linear" in entry else entry["instant"]),
            bias=float(entry["bias"]),
            linear_decides_beyond=None if beyond is None else float(beyond),
        )

    def to_config(self) -> dict[str, float]:
        """The band as the serving config holds it (metrics.json records the same)."""
        entry = {
            "max_tokens": self.max_tokens,
            "transformer": self.transformer,
            "linear": self.linear,
            "bias": self.bias,
        }
        if self.linear_decides_beyond is not None:
            entry["linear_decides_beyond"] = self.linear_decides_beyond
        return entry


@dataclass(frozen=True)
class Combination:
    """The bands, shortest first; the last one takes every longer input."""

    bands: tuple[Band, ...]

    @classmethod
    def fit(
        cls,
        transformer_margins: np.ndarray,
        linear_scores: np.ndarray,
        lengths: Sequence[int],
        labels: np.ndarray,
        short_tokens: int,
        seed: int,
    ) -> tuple[Combination, dict[str, dict[str, float]]]:
        """How much to trust each model, fitted on held-out rows the transformer never chose a checkpoint on: a
        logistic regression on (transformer margin, linear score) per length band, inputs of at most `short_tokens`
        tokens and longer ones. A band with too few rows of either label takes the other band's weights.

        A band with at least MIN_ROWS_FOR_LINEAR_BOUND rows also gets `linear_decides_beyond` (`hardest_push`). The
        report says per band its rows, its accuracy and what share of its rows the linear model decided alone."""
        from sklearn.linear_model import LogisticRegression

        features = np.column_stack([transformer_margins, linear_scores])
        short = np.array(lengths) <= short_tokens
        bands: list[Band] = []
        report: dict[str, dict[str, float]] = {}
        for name, mask, max_tokens in (("short", short, short_tokens), ("long", ~short, LONGEST)):
            if min(np.bincount(labels[mask], minlength=2)) < MIN_BAND_ROWS_PER_LABEL:
                continue
            fitted = LogisticRegression(C=1.0, random_state=seed).fit(features[mask], labels[mask])
            (a, b), c = fitted.coef_[0], fitted.intercept_[0]
            band = Band(max_tokens, transformer=round(float(a), 4), linear=round(float(b), 4), bias=round(float(c), 4))
            accuracy = fitted.score(features[mask], labels[mask])
            report[name] = {"rows": int(mask.sum()), "accuracy": round(float(accuracy), 4)}
            if mask.sum() >= MIN_ROWS_FOR_LINEAR_BOUND:
                linear_parts = b * features[mask, 1] + c
                beyond = hardest_push(a * features[mask, 0], linear_parts)
                band = replace(band, linear_decides_beyond=beyond)
                share = np.mean(np.abs(linear_parts) > beyond)
                report[name]["linear_decides_share"] = round(float(share), 4)
            bands.append(band)
        if not bands:
            raise ValueError(
                f"Too few held-out rows to fit the combination: {len(labels)} (need "
                f"{MIN_BAND_ROWS_PER_LABEL} of each label in a length band); raise --combination-rows."
            )
        bands[-1] = replace(bands[-1], max_tokens=LONGEST)  # the last band takes every longer input
        return cls(tuple(bands)), report

    @classmethod
    def from_serving_config(cls, serving: Mapping[str, Any]) -> Combination | None:
        """The serving config's combination; None for a folder that serves the transformer alone."""
        entries = serving.get(SERVING_CONFIG_KEY)
        return cls(tuple(Band.from_config(entry) for entry in entries)) if entries else None

    def save(self, serving_file: Path) -> None:
        """Write the bands into a serving config file, keeping its other settings."""
        serving = json.loads(serving_file.read_text())
        serving[SERVING_CONFIG_KEY] = self.to_config()
        serving_file.write_text(json.dumps(serving, indent=2))

    def to_config(self) -> list[dict[str, float]]:
        return [band.to_config() for band in self.bands]

    def on_every_text(self) -> Combination:
        """The same weights with the transformer run on every text: no band lets the linear model decide alone."""
        return Combination(tuple(replace(band, linear_decides_beyond=None) for band in self.bands))

    def terms(self, linear_scores: np.ndarray, lengths: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per text, by the first band whose `max_tokens` holds its token count (the last band takes the rest): the
        transformer's weight, the linear part and whether that part alone decides the answer."""
        count = len(lengths)
        weights, linear_parts, decides = np.empty(count), np.empty(count), np.zeros(count, dtype=bool)
        for i, length in enumerate(lengths):
            band = next((b for b in self.bands if length <= b.max_tokens), self.bands[-1])
            weights[i] = band.transformer
            linear_parts[i] = band.linear * linear_scores[i] + band.bias
            beyond = math.inf if band.linear_decides_beyond is None else band.linear_decides_beyond
            decides[i] = abs(linear_parts[i]) > beyond
        return weights, linear_parts, decides

    def linear_decides(self, linear_scores: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
        """Which texts the linear model decides alone: the server does not run the transformer for them."""
        return self.terms(linear_scores, lengths)[2]

    def margins(self, transformer: np.ndarray, linear_scores: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
        """Log-odds of POSITIVE: per text, its band's weighted sum of the transformer's margin and the linear model's
        score; the linear part alone where it decides (the transformer's margin, which the server does not compute
        there, is ignored: NaN is fine)."""
        weights, linear_parts, decides = self.terms(linear_scores, lengths)
        transformer_terms = weights * np.nan_to_num(transformer)
        return np.where(decides, linear_parts, transformer_terms + linear_parts)

    def positive_probability(
        self, transformer: np.ndarray, linear_scores: np.ndarray, lengths: Sequence[int]
    ) -> np.ndarray:
        """The combined probability of POSITIVE per text: the logistic of `margins`."""
        margins = self.margins(transformer, linear_scores, lengths)
        positive: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(margins, -50, 50)))
        return positive


def hardest_push(transformer_terms: np.ndarray, linear_parts: np.ndarray) -> float:
    """The most the transformer's term pushed against the sign of the linear part on any row (0 if it never did),
    rounded up: where the linear part alone is beyond it, no push seen could have turned the answer."""
    pushes = -np.sign(linear_parts) * transformer_terms
    return math.ceil(float(pushes.max(initial=0.0)) * 1e4) / 1e4


@dataclass(frozen=True)
class CombinedModel:
    """What a combined folder serves beside the transformer: the linear model and the combination weighing the two."""

    linear: instant_model.InstantModel
    combination: Combination

    @classmethod
    def load(cls, folder: Path, serving: Mapping[str, Any]) -> CombinedModel | None:
        """The folder's linear model and its serving config's combination; None if the config combines nothing."""
        combination = Combination.from_serving_config(serving)
        return None if combination is None else cls(load_linear_model(folder), combination)

    def linear_scores(self, texts: list[str]) -> np.ndarray:
        return linear_scores(self.linear, texts)


def load_linear_model(folder: Path) -> instant_model.InstantModel:
    """The linear model a combined folder needs; its absence is an error, not a silent transformer-only answer."""
    linear_dir = Path(folder) / LINEAR_MODEL_DIR
    if not linear_dir.is_dir():
        raise FileNotFoundError(f"The serving config combines the linear model, but {linear_dir} does not exist.")
    return instant_model.InstantModel.load(linear_dir)


def linear_scores(model: instant_model.InstantModel, texts: list[str]) -> np.ndarray:
    """The linear model's log-odds of POSITIVE for each text: its bias plus the weights of the text's buckets."""
    feature_buckets = instant_model.feature_buckets
    weights, count = model.weights, len(model.weights)
    scores: np.ndarray = np.array(
        [model.bias + sum([weights[i] for i in feature_buckets(text, count)]) for text in texts]
    )
    return scores
