"""The CUDA path: half precision and length-bucketed batches (training/serving_path.gpu_plan)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from training import serving_path


def test_a_card_with_bf16_runs_bf16_and_one_without_runs_fp16():
    assert serving_path.gpu_plan(bf16_supported=True, max_length=256).dtype == "bfloat16"
    assert serving_path.gpu_plan(bf16_supported=False, max_length=256).dtype == "float16"  # a T4


def test_gpu_batches_are_bucketed_by_length_so_little_is_padding():
    from training import inference

    plan = serving_path.gpu_plan(bf16_supported=False, max_length=256)
    assert plan.micro_batch > inference.DEFAULT_MICRO_BATCH and plan.token_budget > inference.DEFAULT_TOKEN_BUDGET
    lengths = [int(n) for n in np.random.default_rng(0).integers(8, 257, size=500)]  # one-liners to full reviews
    batches = inference.micro_batches(lengths, plan.micro_batch, plan.token_budget)
    padded = sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)
    in_arrival_order = sum(len(lengths[i : i + 64]) * max(lengths[i : i + 64]) for i in range(0, len(lengths), 64))
    assert padded < 1.15 * sum(lengths) < in_arrival_order
    assert len(batches[0]) > 4 * inference.DEFAULT_MICRO_BATCH  # the short texts share a pass the GPU can fill


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_server_runs_half_precision_and_answers_like_fp32_on_the_cpu(tiny_model_dir: Path, monkeypatch):
    from training import inference

    texts = ["a wonderful film", "dull and far too long", "the plot was bad but the acting was great"]
    loaded = inference.load_model(str(tiny_model_dir))
    plan = serving_path.gpu_plan(torch.cuda.is_bf16_supported(), loaded.max_length)
    assert loaded.backend == serving_path.FP32 and loaded.micro_batch == plan.micro_batch
    on_gpu = inference.predict_fn(texts, loaded)["predictions"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    on_cpu = inference.predict_fn(texts, inference.load_model(str(tiny_model_dir), backend=serving_path.FP32))
    for gpu, cpu in zip(on_gpu, on_cpu["predictions"], strict=True):
        assert abs(gpu["prob"] - cpu["prob"]) < 0.02
