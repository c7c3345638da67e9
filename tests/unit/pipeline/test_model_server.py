"""The model server's request handling (the SageMaker container contract), without opening a socket."""

from __future__ import annotations

import json

import torch

from training.model_server import InferenceApp


def test_ping_is_503_until_the_model_is_loaded_then_200(tiny_model_dir):
    app = InferenceApp(str(tiny_model_dir))
    status, body = app.ping()
    assert (status, body["error"]) == (503, "loading")
    assert app.invoke(b'{"text": "good"}', "application/json")[0] == 503

    app.load()

    backend = "torch" if torch.cuda.is_available() else "onnx-int8"  # the folder has the export a CPU serves
    assert app.ping() == (200, {"status": "ready", "model": "tiny-test-bert", "backend": backend})


def test_invocations_answer_predictions_and_bad_payloads_get_400_with_the_error_shape(tiny_model_dir):
    app = InferenceApp(str(tiny_model_dir))
    app.load()

    status, body = app.invoke(json.dumps({"texts": ["good", "awful"]}).encode(), "application/json")
    assert status == 200
    assert [p["label"] in ("POSITIVE", "NEGATIVE") for p in body["predictions"]] == [True, True]
    assert body["model"] == "tiny-test-bert" and body["latency_ms"] > 0

    status, body = app.invoke(b'{"texts": []}', "application/json")
    assert (status, set(body)) == (400, {"error", "message"})


def test_a_folder_without_a_model_reports_why_in_ping(tmp_path):
    app = InferenceApp(str(tmp_path))
    app.load()

    status, body = app.ping()
    assert status == 503 and body["error"] == "model_load_failed"
