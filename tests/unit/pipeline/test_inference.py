"""The inference handler (SageMaker HF toolkit contract) on a tiny model built in the test."""

from __future__ import annotations

import json

import pytest
import torch

from tests.unit.pipeline.conftest import build_tiny_model
from training import inference

MIXED = [
    "good",
    "the movie was awful and boring and a complete waste of time " * 3,
    "a wonderful film",
    "bad " * 40,
    "the plot of this film was dull but the acting was brilliant",
]


def test_batch_answers_match_one_at_a_time_answers_in_the_caller_order(tiny_model):
    batch = inference.predict_fn(MIXED, tiny_model)["predictions"]
    one_by_one = [inference.predict_fn([text], tiny_model)["predictions"][0] for text in MIXED]

    assert [p["label_id"] for p in batch] == [p["label_id"] for p in one_by_one]
    assert [p["prob"] for p in batch] == pytest.approx([p["prob"] for p in one_by_one], abs=1e-3)


def test_prediction_shape_labels_and_probabilities(tiny_model):
    answer = inference.predict_fn(MIXED, tiny_model)

    assert answer["model"] == "tiny-test-bert"
    assert answer["latency_ms"] > 0
    assert len(answer["predictions"]) == len(MIXED)
    for prediction in answer["predictions"]:
        assert set(prediction) == {"label", "label_id", "prob", "scored_by"}
        assert prediction["scored_by"] == "transformer"  # a folder without the linear model
        assert prediction["label"] == {0: "NEGATIVE", 1: "POSITIVE"}[prediction["label_id"]]
        assert 0.5 <= prediction["prob"] <= 1.0


def test_long_texts_keep_their_beginning_and_their_end(tiny_model):
    tokenizer = tiny_model.tokenizer
    text = "love " + "the " * 100 + "hate"
    [ids] = inference.encode_head_tail(tokenizer, [text], max_length=16, head_tokens=4)

    assert len(ids) == 16
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    assert tokenizer.convert_ids_to_tokens(ids[1:3]) == ["love", "the"]
    assert tokenizer.convert_ids_to_tokens(ids[-2]) == "hate"


def test_micro_batches_are_padded_only_to_their_own_longest_text(tiny_model, monkeypatch):
    shapes = []
    original = inference.pad_batch

    def recording_pad_batch(tokenizer, ids, **kwargs):
        shapes.append(len(ids[0]))
        return original(tokenizer, ids, **kwargs)

    monkeypatch.setattr(inference, "pad_batch", recording_pad_batch)
    short, long = ["good"] * 4, ["the movie was bad " * 5] * 4
    with torch.inference_mode():
        inference.predict_fn(long + short, tiny_model)

    assert sorted(shapes) == [3, 22]  # [CLS] good [SEP], and 20 words + 2 specials: never 8 rows padded to 22


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        ('{"text": "fine"}', "text/plain", "unsupported_content_type"),
        ("{not json", "application/json", "invalid_json"),
        ('["a list"]', "application/json", "wrong_type"),
        ("{}", "application/json", "missing_text"),
        ('{"text": "a", "texts": ["b"]}', "application/json", "missing_text"),
        ('{"texts": []}', "application/json", "empty_batch"),
        ('{"text": "   "}', "application/json", "empty_text"),
        ('{"texts": ["ok", 3]}', "application/json", "wrong_type"),
        ('{"text": null}', "application/json", "wrong_type"),
        (json.dumps({"texts": ["ok"] * (inference.MAX_TEXTS + 1)}), "application/json", "too_many_texts"),
        (json.dumps({"text": "a" * (inference.MAX_TEXT_CHARS + 1)}), "application/json", "text_too_long"),
    ],
)
def test_bad_payloads_are_refused_with_a_code_and_a_sentence(body, content_type, code):
    with pytest.raises(inference.PayloadError) as refused:
        inference.input_fn(body, content_type)

    assert refused.value.code == code
    assert refused.value.message.endswith(".")


def test_good_payloads_become_a_list_of_texts():
    assert inference.input_fn('{"text": "great"}', "application/json; charset=utf-8") == ["great"]
    assert inference.input_fn(b'{"texts": ["a", "b"]}', "application/json") == ["a", "b"]
    assert inference.input_fn('{"inputs": "toolkit style"}', "application/json") == ["toolkit style"]


def test_output_is_json_and_other_accept_types_are_refused():
    prediction = {"predictions": [{"label": "POSITIVE", "label_id": 1, "prob": 0.9}], "latency_ms": 1.0}

    assert json.loads(inference.output_fn(prediction, "application/json")) == prediction
    with pytest.raises(inference.PayloadError):
        inference.output_fn(prediction, "text/csv")


def test_micro_batches_hold_many_short_texts_but_few_long_ones_and_cover_every_text_once():
    lengths = [300, 10, 10, 250, 10, 10, 10, 200]
    batches = inference.micro_batches(lengths, max_rows=4, token_budget=512)

    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert batches[0] == [1, 2, 4, 5]  # the short ones first, capped by rows
    for batch in batches:
        assert len(batch) * max(lengths[i] for i in batch) <= 512 or len(batch) == 1
    assert batches[1:] == [[6, 7], [3], [0]]  # 2 x 200 fits the budget; 2 x 250 padded would not


@pytest.mark.parametrize("backend", ["torch-int8", "onnx-int8"])
def test_int8_backends_answer_like_the_float_model(tiny_model_dir, backend):
    as_float = inference.predict_fn(MIXED, inference.load_model(str(tiny_model_dir), backend="torch"))
    loaded = inference.load_model(str(tiny_model_dir), backend=backend)
    as_int8 = inference.predict_fn(MIXED, loaded)

    assert loaded.backend == backend and as_int8["model"] == "tiny-test-bert"
    float_probs = [p["prob"] for p in as_float["predictions"]]
    assert [p["prob"] for p in as_int8["predictions"]] == pytest.approx(float_probs, abs=0.02)


def test_a_cpu_serves_the_onnx_export_when_the_folder_has_one(tiny_model):
    assert tiny_model.backend == ("torch" if torch.cuda.is_available() else "onnx-int8")


def test_without_an_export_a_cpu_falls_back_to_torch_int8_and_says_how_to_make_one(tmp_path, caplog):
    if torch.cuda.is_available():
        pytest.skip("a GPU serves the fp32 weights")
    folder = build_tiny_model(tmp_path / "model")
    with caplog.at_level("WARNING"):
        loaded = inference.load_model(str(folder))

    assert loaded.backend == "torch-int8"
    assert "python -m training.onnx_export" in caplog.text


def test_asking_for_onnx_without_the_export_is_a_clear_error(tmp_path):
    folder = build_tiny_model(tmp_path / "model")
    with pytest.raises(FileNotFoundError, match="python -m training.onnx_export"):
        inference.load_model(str(folder), backend="onnx-int8")


def test_an_unknown_backend_is_refused(tiny_model_dir):
    with pytest.raises(ValueError, match="onnx-int8"):
        inference.load_model(str(tiny_model_dir), backend="fp4")
