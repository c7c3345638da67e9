"""The featurizer is the contract between training and serving: the same text must land in the same buckets on every
machine, process and Python version, or a served model reads its weights at the wrong places."""

from __future__ import annotations

import zlib

import pytest
from ondemand.instant_model import feature_buckets, tokenize

REVIEW = "This movie wasn't good at all!! 7/10 <br /><br />Don\u2019t watch it :("


def test_tokens_keep_negations_ratings_exclamations_and_emoticons() -> None:
    assert tokenize(REVIEW) == [
        "this",
        "movie",
        "wasn't",
        "good",
        "at",
        "all",
        "!",
        "!",
        "7/10",
        "don't",
        "watch",
        "it",
        ":(",
    ]


def test_a_fixed_text_lands_in_fixed_buckets() -> None:
    # Recorded once; a change here means every trained instant model must be retrained (bump FEATURIZER).
    assert feature_buckets(REVIEW, 1 << 20) == [
        950823,
        979567,
        601151,
        282258,
        523580,
        553437,
        786387,
        862663,
        73903,
        739878,
        948020,
        353404,
        466762,
        921992,
        795140,
        670065,
        212130,
        59363,
        246073,
        700143,
        432240,
        423655,
        1031740,
        845193,
    ]
    assert feature_buckets("Great film", 1 << 16) == [53855, 48674, 29775]


def test_buckets_are_the_documented_crc32_of_unigrams_and_bigrams() -> None:
    buckets = feature_buckets("not good", 1 << 20)
    assert buckets == [zlib.crc32(feature) % (1 << 20) for feature in (b"not", b"good", b"not good")]


def test_repeated_words_count_once() -> None:
    assert feature_buckets("bad bad bad", 1 << 20) == feature_buckets("bad bad", 1 << 20)
    assert len(feature_buckets("bad bad bad", 1 << 20)) == 2  # "bad" and "bad bad"


@pytest.mark.parametrize("bucket_count", [0, 1000, -8])
def test_bucket_count_must_be_a_power_of_two(bucket_count: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        feature_buckets("good", bucket_count)
