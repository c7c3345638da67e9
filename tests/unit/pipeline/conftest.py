"""A tiny BERT (2 layers, 32 wide) and its word-level tokenizer, built in the test: no download, loads in ms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

POSITIVE_WORDS = ["good", "great", "love", "wonderful", "masterpiece", "fun", "brilliant"]
NEGATIVE_WORDS = ["bad", "awful", "boring", "terrible", "waste", "hate", "dull"]
NEUTRAL_WORDS = ["the", "a", "movie", "film", "was", "is", "and", "it", "of", "this", "plot", "acting", "every"]
WORDS = [*POSITIVE_WORDS, *NEGATIVE_WORDS, *NEUTRAL_WORDS, "loved", "minute", "time", "complete"]


def build_tiny_model(folder: Path, seed: int = 0, max_length: int = 32, head_tokens: int = 8) -> Path:
    """A randomly initialised 2-label BERT folder in the layout train.py writes."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    torch.manual_seed(seed)
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS])}
    tokenizer = BertTokenizer(vocab=vocab)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=2,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    model = BertForSequenceClassification(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    serving = {"model_name": "tiny-test-bert", "max_length": max_length, "head_tokens": head_tokens, "micro_batch": 4}
    (folder / "serving_config.json").write_text(json.dumps(serving))
    return folder


# What the tiny model's int8 smoothing is calibrated on (the pipeline uses train rows).
CALIBRATION_TEXTS = [
    "a wonderful, moving film",
    "dull and far too long",
    "I expected to hate it. I didn't.",
    "the acting was brilliant but the plot made no sense at all " * 4,
]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with its int8 ONNX export, as the local pipeline leaves a model folder."""
    from training.onnx_export import export_int8

    folder = build_tiny_model(tmp_path_factory.mktemp("tiny-bert") / "model")
    export_int8(folder, calibration_texts=CALIBRATION_TEXTS)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path):
    from training import inference

    return inference.load_model(str(tiny_model_dir))
