"""Export a model folder to ONNX with int8 weights: what a CPU model server runs (`onnx-int8` in inference.py).

ONNX Runtime with dynamic int8 MatMuls serves more texts per second than torch's own int8 and several times the fp32
pipeline (training/README.md). The default, `smoothed`, first moves the activations' outlier channels into the
weights (SmoothQuant-style, calibrated on train rows): the same graph and speed as plain `dynamic`, with about half its
margin error against fp32. `--quantization blockwise` writes 8-bit MatMulNBits instead: less error still and no
dependence on batch-mates, at a lower throughput (README, "The int8 gap"). With `--test-dir` the exported model is also
scored on the test split and the scores go into the folder's metrics.json as `served_test`, next to the fp32 scores
training wrote: the number a user of the local endpoint gets.

    python -m training.onnx_export --model-dir var/model --calibration-dir CURATED/split=train \
        [--test-dir CURATED/split=test] [--quantization smoothed|dynamic|blockwise]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training import inference, path_accuracy

# MatMulNBits: 8-bit weights in blocks of BLOCK_SIZE inputs per output column; accuracy_level 4 = int8 compute.
BLOCK_SIZE = 32
ACCURACY_LEVEL = 4
# Smoothing strength: the share of each activation channel's range moved into the weights. Chosen on the validation
# split, as the lowest margin error against fp32 of the values tried (training/README.md, "The int8 gap").
SMOOTHING_ALPHA = 0.9
CALIBRATION_ROWS_PER_SOURCE = 128
CALIBRATION_SEED = 3


def export_fp32(model_dir: Path, target: Path, calibration_texts: list[str] | None = None) -> Path:
    """Trace the model folder's fp32 weights to an ONNX graph at `target` (TorchScript exporter, dynamic batch and
    token axes); with `calibration_texts`, smoothed for int8 first (`smooth_for_int8`)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    # Eager attention exports as plain MatMul + Softmax, which ONNX Runtime fuses when it loads the graph.
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager").eval()
    if calibration_texts is not None:
        encoding = inference.text_encoding(inference.read_serving_config(Path(model_dir)))
        smooth_for_int8(model, AutoTokenizer.from_pretrained(model_dir), encoding, calibration_texts)
    example = torch.ones((2, 8), dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation warnings about shapes that are fixed for BERT anyway
        # The TorchScript exporter: torch 2.13's dynamo exporter writes a graph whose shapes the quantizer rejects.
        torch.onnx.export(
            model,
            (example, example),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "logits": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    return target


def smooth_for_int8(
    model: Any, tokenizer: Any, encoding: dict[str, int], texts: list[str], alpha: float = SMOOTHING_ALPHA
) -> Any:
    """SmoothQuant-style scaling (Xiao et al., 2022) of a BERT-family encoder, in place; the fp32 answers do not change.

    Dynamic int8 quantizes each MatMul's input with one scale for the whole tensor, so a few outlier channels set the
    step for all the others. Each input channel j is divided by s_j = max|X_j|^alpha / max|W_j|^(1 - alpha) (max|X_j|
    over `texts`, encoded as the server encodes them: `tokenizer` and `inference.text_encoding`) and the weight's row j
    multiplied by it. For the attention
    output the division folds into the value projection; the query/key/value, FFN input and FFN output MatMuls get an
    explicit elementwise multiply before them (their inputs are the residual stream and GELU's output, which feed
    other ops too), one for the three projections that share an input."""
    import torch

    layers = getattr(getattr(getattr(model, "base_model", None), "encoder", None), "layer", None)
    if layers is None or not hasattr(layers[0], "intermediate"):
        raise ValueError(
            f"smoothing knows BERT-family encoders, not {type(model).__name__}: use --quantization dynamic"
        )

    class Smoothed(torch.nn.Module):
        """`linear(x / s)` with the weight's input rows times s: the same output, a flatter input."""

        inv_s: torch.Tensor

        def __init__(self, linear: torch.nn.Linear, s: torch.Tensor) -> None:
            super().__init__()
            self.linear = linear
            self.register_buffer("inv_s", 1.0 / s)
            with torch.no_grad():
                linear.weight.mul_(s[None, :])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            smoothed: torch.Tensor = self.linear(x * self.inv_s)
            return smoothed

    inputs = {}
    for i, layer in enumerate(layers):
        inputs.update(
            {
                (i, "qkv"): layer.attention.self.query,
                (i, "attention_out"): layer.attention.output.dense,
                (i, "ffn_in"): layer.intermediate.dense,
                (i, "ffn_out"): layer.output.dense,
            }
        )
    absmax: dict[tuple[int, str], torch.Tensor] = {}

    def recorder(key: tuple[int, str]) -> Any:
        def record(module: Any, args: tuple[torch.Tensor, ...], output: Any) -> None:
            seen = args[0].detach().abs().reshape(-1, args[0].shape[-1]).amax(0)
            absmax[key] = torch.maximum(absmax[key], seen) if key in absmax else seen

        return record

    hooks = [module.register_forward_hook(recorder(key)) for key, module in inputs.items()]
    with torch.no_grad():
        batch = encoding["micro_batch"]
        for start in range(0, len(texts), batch):
            ids = inference.encode_head_tail(
                tokenizer, texts[start : start + batch], encoding["max_length"], encoding["head_tokens"]
            )
            model(**inference.pad_batch(tokenizer, ids))
    for hook in hooks:
        hook.remove()

    def scale(key: tuple[int, str], linears: list[torch.nn.Linear]) -> torch.Tensor:
        weight_max = torch.stack([linear.weight.detach().abs().amax(0) for linear in linears]).amax(0)
        s = absmax[key].clamp(min=1e-5) ** alpha / weight_max.clamp(min=1e-5) ** (1 - alpha)
        return s.clamp(min=1e-3, max=1e3)

    with torch.no_grad():
        for i, layer in enumerate(layers):
            attention = layer.attention
            query, key, value = attention.self.query, attention.self.key, attention.self.value
            s = scale((i, "attention_out"), [attention.output.dense])
            value.weight.div_(s[:, None])
            value.bias.div_(s)
            attention.output.dense.weight.mul_(s[None, :])
            s = scale((i, "qkv"), [query, key, value])
            for projection in (query, key, value):
                projection.weight.mul_(s[None, :])
            # One multiply for the three projections: the self-attention's input, not the residual beside it.
            attention.self.register_forward_pre_hook(_scaled_hidden_states(1.0 / s), with_kwargs=True)
            layer.intermediate.dense = Smoothed(
                layer.intermediate.dense, scale((i, "ffn_in"), [layer.intermediate.dense])
            )
            layer.output.dense = Smoothed(layer.output.dense, scale((i, "ffn_out"), [layer.output.dense]))
    return model


def _scaled_hidden_states(inv_s: Any) -> Any:
    """A forward pre-hook that divides a self-attention's input (`hidden_states`, first argument) by the scales."""

    def pre_hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if args:
            return (args[0] * inv_s, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": kwargs["hidden_states"] * inv_s}

    return pre_hook


def calibration_sample(train_dir: Path) -> list[str]:
    """Train rows to calibrate the smoothing on: the same number from each source (reviews and one-line reviews have
    different activation ranges), a fixed seed."""
    from training.channels import read_channel

    train = read_channel(str(train_dir))
    per_source = train.groupby("source", group_keys=False)
    rows = per_source.sample(n=CALIBRATION_ROWS_PER_SOURCE, random_state=CALIBRATION_SEED, replace=False)
    return rows["text"].tolist()


def blockwise_int8(weight: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """A MatMul weight [K, N] as MatMulNBits stores 8-bit weights: per output column, blocks of `block_size` inputs,
    each block int8 with its own scale (symmetric: absmax / 127), stored as uint8 around the default zero point 128.
    Returns (B [N, blocks, block_size] uint8, scales [N * blocks] float32); K is zero-padded to whole blocks."""
    k, n = weight.shape
    blocks = -(-k // block_size)
    padded = np.zeros((blocks * block_size, n), dtype=np.float32)
    padded[:k] = weight
    per_block = padded.T.reshape(n, blocks, block_size)
    scales = np.abs(per_block).max(axis=2) / 127.0
    scales[scales == 0] = 1.0
    quantized = np.clip(np.round(per_block / scales[:, :, None]), -127, 127).astype(np.int16) + 128
    return quantized.astype(np.uint8), scales.reshape(-1).astype(np.float32)


def quantize_dynamic_int8(fp32: Path, target: Path) -> Path:
    """ONNX Runtime's `quantize_dynamic`: int8 weights per output channel for every MatMul with a constant weight
    (and the embedding lookups), activations quantized per tensor on every pass. The fast one; a text's answer moves
    a little with its batch-mates (the activation range is the whole padded batch's)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel scales: more labels agree with fp32 than per tensor, at the same speed (training/README.md).
    quantize_dynamic(fp32, target, weight_type=QuantType.QInt8, per_channel=True)
    return target


def quantize_blockwise_int8(fp32: Path, target: Path, block_size: int = BLOCK_SIZE) -> Path:
    """Every MatMul with a constant weight (the encoder's 6 per layer) becomes ONNX Runtime's MatMulNBits with 8-bit
    weights in blocks of `block_size` and int8 compute (accuracy_level 4). Its activations are quantized per row and
    block, so a text's answer does not depend on its batch-mates, and the margin error is far smaller than
    `quantize_dynamic`'s, but it serves fewer texts per second (training/README.md, "The int8 gap").
    Embeddings, the pooler and the classifier stay fp32 (lookups and one 384x384 product per text)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(fp32))
    weights = {init.name: init for init in model.graph.initializer}
    nodes, replaced = [], set()
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.input[1] not in weights:
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(weights[node.input[1]])
        packed, scales = blockwise_int8(weight, block_size)
        prefix = f"{node.input[1]}_int8_block{block_size}"
        model.graph.initializer.extend(
            [numpy_helper.from_array(packed, f"{prefix}_B"), numpy_helper.from_array(scales, f"{prefix}_scales")]
        )
        nodes.append(
            helper.make_node(
                "MatMulNBits",
                [node.input[0], f"{prefix}_B", f"{prefix}_scales"],
                list(node.output),
                name=f"{node.name}_int8",
                domain="com.microsoft",
                K=weight.shape[0],
                N=weight.shape[1],
                bits=8,
                block_size=block_size,
                accuracy_level=ACCURACY_LEVEL,
            )
        )
        replaced.add(node.input[1])
    if not replaced:
        raise ValueError(f"{fp32} has no MatMul with a constant weight to quantize")
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    kept = [init for init in model.graph.initializer if init.name not in replaced]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    if not any(opset.domain == "com.microsoft" for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(target))
    return target


@dataclass(frozen=True)
class Quantizer:
    """One way to make the int8 graph: how the fp32 graph is quantized, and whether it is smoothed first
    (`smooth_for_int8`, which needs calibration texts)."""

    quantize: Callable[[Path, Path], Path]
    smoothed: bool
    help: str


QUANTIZERS = {
    "smoothed": Quantizer(
        quantize_dynamic_int8,
        smoothed=True,
        help="dynamic int8 after SmoothQuant-style scaling, needs --calibration-dir",
    ),
    "dynamic": Quantizer(quantize_dynamic_int8, smoothed=False, help="the same without the scaling"),
    "blockwise": Quantizer(
        quantize_blockwise_int8,
        smoothed=False,
        help="8-bit MatMulNBits, closer to fp32 and independent of batch-mates, slower",
    ),
}
DEFAULT_QUANTIZATION = "smoothed"


def export_int8(
    model_dir: Path, quantization: str = DEFAULT_QUANTIZATION, calibration_texts: list[str] | None = None
) -> Path:
    """Trace the model to ONNX, quantize its MatMul weights to int8 (`QUANTIZERS`: "smoothed", the default, calibrated
    on `calibration_texts`; "dynamic", the same without smoothing; "blockwise", the closest to fp32 and the slowest),
    write ONNX_FILE atomically."""
    if quantization not in QUANTIZERS:
        raise ValueError(f"quantization must be one of {', '.join(QUANTIZERS)}, not {quantization!r}")
    quantizer = QUANTIZERS[quantization]
    if quantizer.smoothed and not calibration_texts:
        raise ValueError(f"{quantization} int8 needs calibration texts (train rows: --calibration-dir)")
    target = Path(model_dir) / inference.ONNX_FILE
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = export_fp32(model_dir, Path(scratch) / "model.onnx", calibration_texts if quantizer.smoothed else None)
        partial = Path(scratch) / inference.ONNX_FILE
        quantizer.quantize(fp32, partial)
        partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="a folder written by training/train.py")
    parser.add_argument("--test-dir", type=Path, default=None, help="score the export on this test channel")
    parser.add_argument("--calibration-dir", type=Path, default=None, help="train rows to calibrate the smoothing on")
    parser.add_argument(
        "--quantization",
        choices=sorted(QUANTIZERS),
        default=DEFAULT_QUANTIZATION,
        help="; ".join(f"{name}: {quantizer.help}" for name, quantizer in QUANTIZERS.items())
        + f" (default: {DEFAULT_QUANTIZATION}; training/README.md, The int8 gap)",
    )
    args = parser.parse_args(argv)
    smoothed = QUANTIZERS[args.quantization].smoothed
    if smoothed and args.calibration_dir is None:
        parser.error(f"--quantization {args.quantization} needs --calibration-dir with train rows")
    started = time.perf_counter()
    texts = calibration_sample(args.calibration_dir) if smoothed else None
    target = export_int8(args.model_dir, args.quantization, texts)
    export_seconds = time.perf_counter() - started
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) in {export_seconds:.1f} s", flush=True)
    if args.test_dir:
        timing_texts = path_accuracy.timing_sample(args.calibration_dir) if args.calibration_dir else None
        result = path_accuracy.score_paths(args.model_dir, args.test_dir, timing_texts, export_seconds=export_seconds)
        print(path_accuracy.describe(result), flush=True)


if __name__ == "__main__":
    main()
