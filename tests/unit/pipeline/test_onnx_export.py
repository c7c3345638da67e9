"""The int8 ONNX export (training/onnx_export.py): the default's smoothing, the blockwise option's 8-bit weights and
batch-mate independence."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.pipeline.conftest import CALIBRATION_TEXTS, build_tiny_model
from training import inference, onnx_export

TEXTS = [
    "good",
    "a wonderful film",
    "the movie was awful and boring and a complete waste of time " * 3,
    "the plot of this film was dull but the acting was brilliant",
]


def test_blockwise_int8_round_trips_within_half_a_step_per_block():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(70, 5)).astype(np.float32)  # 70 inputs: three blocks of 32, the last zero-padded
    weight[:, 2] = 0.0
    packed, scales = onnx_export.blockwise_int8(weight, 32)

    assert packed.shape == (5, 3, 32) and packed.dtype == np.uint8 and scales.shape == (15,)
    restored = ((packed.astype(np.float32) - 128) * scales.reshape(5, 3, 1)).reshape(5, 96).T[:70]
    step = np.repeat(scales.reshape(5, 3).T, 32, axis=0)[:70]
    assert np.all(np.abs(restored - weight) <= step / 2 + 1e-7)
    assert np.all(restored[:, 2] == 0.0)


@pytest.fixture(scope="module")
def blockwise_model_dir(tmp_path_factory: pytest.TempPathFactory):
    folder = build_tiny_model(tmp_path_factory.mktemp("tiny-blockwise") / "model")
    onnx_export.export_int8(folder, quantization="blockwise")
    return folder


def test_an_unknown_quantization_is_refused(tmp_path):
    with pytest.raises(ValueError, match="blockwise"):
        onnx_export.export_int8(tmp_path, quantization="int4")


def test_the_blockwise_export_quantizes_the_encoder_matmuls(blockwise_model_dir):
    import onnx

    graph = onnx.load(str(blockwise_model_dir / inference.ONNX_FILE)).graph
    ops = [node.op_type for node in graph.node]

    assert ops.count("MatMulNBits") == 2 * 6  # 2 layers x (query, key, value, attention output, FFN in, FFN out)
    assert "DynamicQuantizeLinear" not in ops and "MatMulInteger" not in ops


def test_with_the_blockwise_export_a_texts_logits_do_not_depend_on_its_batch_mates(blockwise_model_dir):
    """Per-tensor dynamic activation scales make a review's margin move with what it is batched with (the default
    export); blockwise per-row quantization does not."""
    loaded = inference.load_model(str(blockwise_model_dir), backend="onnx-int8")
    loaded.micro_batch, loaded.token_budget = 8, 10_000  # every text in one padded pass
    together, _ = inference.transformer_logits(TEXTS, loaded)
    alone = np.concatenate([inference.transformer_logits([text], loaded)[0] for text in TEXTS])

    assert together == pytest.approx(alone, abs=1e-5)


def test_smoothing_leaves_the_fp32_answers_as_they_were(tmp_path):
    """The scaling only moves range from activations into weights: the model answers the same before quantization."""
    import torch
    from transformers import AutoModelForSequenceClassification

    folder = build_tiny_model(tmp_path / "model")
    served = inference.load_model(str(folder), backend="torch", combine=False)
    batch = inference.pad_batch(served.tokenizer, inference.encode_head_tail(served.tokenizer, TEXTS, 32, 8))
    model = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        before = model(**batch).logits
        encoding = inference.text_encoding(inference.read_serving_config(folder))
        onnx_export.smooth_for_int8(model, served.tokenizer, encoding, CALIBRATION_TEXTS)
        after = model(**batch).logits

    assert after.numpy() == pytest.approx(before.numpy(), abs=1e-4)
    smoothed = [name for name, module in model.named_modules() if type(module).__name__ == "Smoothed"]
    assert len(smoothed) == 2 * 2  # per layer the FFN in and out; query/key/value share a pre-hook, the attention
    # output's scale folds into the value projection


def test_the_default_export_is_smoothed_dynamic_int8(tiny_model_dir):
    import onnx

    graph = onnx.load(str(tiny_model_dir / inference.ONNX_FILE)).graph
    producer = {output: node.op_type for node in graph.node for output in node.output}
    quantized_inputs = [producer.get(node.input[0]) for node in graph.node if node.op_type == "DynamicQuantizeLinear"]

    assert [node.op_type for node in graph.node].count("MatMulInteger") >= 2 * 6  # every encoder MatMul, int8
    # Plain dynamic int8 quantizes the LayerNorm outputs as they are (query/key/value and FFN in): smoothed, a scale
    # comes first, one per shared input.
    assert "LayerNormalization" not in quantized_inputs
    assert quantized_inputs.count("Mul") >= 2 * 3


def test_smoothed_int8_needs_train_rows_to_calibrate_on(tmp_path, capsys):
    folder = build_tiny_model(tmp_path / "model")
    with pytest.raises(ValueError, match="--calibration-dir"):
        onnx_export.export_int8(folder)
    with pytest.raises(SystemExit):
        onnx_export.main(["--model-dir", str(folder)])
    assert "--calibration-dir" in capsys.readouterr().err
    assert not (folder / inference.ONNX_FILE).exists()
