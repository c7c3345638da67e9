"""The server's choice of numeric path (training/serving_path.py), with fake timings and fake accuracies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import serving_path
from training.serving_path import FP32, ONNX_FP32, ONNX_INT8, TORCH_BF16, TORCH_INT8, Machine

AVX2 = Machine("AMD EPYC", frozenset({"avx2", "fma"}))
AMX = Machine("Intel Xeon", frozenset({"avx2", "fma", "avx512f", "amx_bf16", "amx_int8"}))
ALL_CLOSE = {  # every path within 0.5 points of fp32 on both splits
    FP32: {"imdb": 0.900, "rotten_tomatoes": 0.820},
    TORCH_INT8: {"imdb": 0.898, "rotten_tomatoes": 0.816},
    TORCH_BF16: {"imdb": 0.901, "rotten_tomatoes": 0.820},
    ONNX_INT8: {"imdb": 0.896, "rotten_tomatoes": 0.815},
}


def timings(seconds: dict[str, float], calls: list[list[str]] | None = None):
    def time_paths(paths: list[str]) -> dict[str, float]:
        if calls is not None:
            calls.append(list(paths))
        return {path: seconds[path] for path in paths}

    return time_paths


def test_bf16_is_supported_only_with_bf16_hardware_and_onnx_only_with_its_export():
    files = ["config.json", "model.int8.onnx"]
    assert serving_path.supported_paths(AVX2, files, onnxruntime_installed=True) == [FP32, TORCH_INT8, ONNX_INT8]
    assert serving_path.supported_paths(AMX, files, onnxruntime_installed=True) == [
        FP32,
        TORCH_INT8,
        TORCH_BF16,
        ONNX_INT8,
    ]
    assert serving_path.supported_paths(AVX2, files, onnxruntime_installed=False) == [FP32, TORCH_INT8]
    with_fp32_export = [*files, "model.fp32.onnx"]
    assert ONNX_FP32 in serving_path.supported_paths(AVX2, with_fp32_export, onnxruntime_installed=True)


def test_a_path_more_than_half_a_point_below_fp32_on_any_split_is_not_eligible():
    accuracy = {
        **ALL_CLOSE,
        ONNX_INT8: {"imdb": 0.899, "rotten_tomatoes": 0.814},  # 0.6 points below on Rotten Tomatoes
        TORCH_INT8: {"imdb": 0.895, "rotten_tomatoes": 0.825},  # exactly 0.5 below on IMDb: still eligible
    }
    assert serving_path.eligible_paths([FP32, TORCH_INT8, ONNX_INT8], accuracy) == [FP32, TORCH_INT8]


def test_a_path_without_a_recorded_accuracy_is_not_eligible():
    accuracy = {FP32: ALL_CLOSE[FP32], ONNX_INT8: ALL_CLOSE[ONNX_INT8]}
    assert serving_path.eligible_paths([FP32, TORCH_INT8, ONNX_INT8], accuracy) == [FP32, ONNX_INT8]


def test_the_fastest_eligible_path_wins(tmp_path: Path):
    seconds = {FP32: 3.0, TORCH_INT8: 1.5, ONNX_INT8: 1.0}
    chosen = serving_path.choose(tmp_path, AVX2, [FP32, TORCH_INT8, ONNX_INT8], timings(seconds), ALL_CLOSE)
    assert chosen == ONNX_INT8


def test_an_ineligible_path_never_wins_however_fast(tmp_path: Path):
    accuracy = {**ALL_CLOSE, ONNX_INT8: {"imdb": 0.880, "rotten_tomatoes": 0.820}}
    calls: list[list[str]] = []
    seconds = {FP32: 3.0, TORCH_INT8: 1.5, ONNX_INT8: 0.1}
    chosen = serving_path.choose(tmp_path, AVX2, [FP32, TORCH_INT8, ONNX_INT8], timings(seconds, calls), accuracy)
    assert chosen == TORCH_INT8
    assert calls == [[FP32, TORCH_INT8]]  # not even timed


def test_bf16_wins_on_a_cpu_with_bf16_hardware_when_it_is_fastest(tmp_path: Path):
    seconds = {FP32: 3.0, TORCH_INT8: 1.5, TORCH_BF16: 0.6, ONNX_INT8: 1.0}
    supported = serving_path.supported_paths(AMX, ["model.int8.onnx"], onnxruntime_installed=True)
    assert serving_path.choose(tmp_path, AMX, supported, timings(seconds), ALL_CLOSE) == TORCH_BF16


def test_without_a_recorded_fp32_accuracy_nothing_is_chosen(tmp_path: Path):
    calls: list[list[str]] = []
    assert serving_path.choose(tmp_path, AVX2, [FP32, ONNX_INT8], timings({}, calls), accuracy={}) is None
    assert calls == []


def test_the_choice_is_cached_per_cpu_and_a_new_cpu_times_again(tmp_path: Path):
    calls: list[list[str]] = []
    paths = [FP32, TORCH_INT8, ONNX_INT8]
    first = serving_path.choose(
        tmp_path, AVX2, paths, timings({FP32: 3, TORCH_INT8: 2, ONNX_INT8: 1}, calls), ALL_CLOSE
    )
    # The same CPU again: the cache answers, even where a new timing would say otherwise.
    again = serving_path.choose(
        tmp_path, AVX2, paths, timings({FP32: 1, TORCH_INT8: 2, ONNX_INT8: 3}, calls), ALL_CLOSE
    )
    assert first == again == ONNX_INT8
    assert len(calls) == 1
    # Same model name, other flags: another key, timed afresh.
    other = Machine(AVX2.cpu, AVX2.flags | {"avx512_vnni"})
    assert other.key != AVX2.key
    assert (
        serving_path.choose(tmp_path, other, paths, timings({FP32: 1, TORCH_INT8: 2, ONNX_INT8: 3}), ALL_CLOSE) == FP32
    )
    cached = json.loads((tmp_path / serving_path.CHOICE_FILE).read_text())
    assert {cached[AVX2.key]["path"], cached[other.key]["path"]} == {ONNX_INT8, FP32}


def test_a_cached_choice_that_is_no_longer_eligible_is_timed_again(tmp_path: Path):
    paths = [FP32, TORCH_INT8, ONNX_INT8]
    serving_path.remember_choice(tmp_path, AVX2, ONNX_INT8, {ONNX_INT8: 1.0})
    accuracy = {**ALL_CLOSE, ONNX_INT8: {"imdb": 0.850, "rotten_tomatoes": 0.80}}  # a new export, worse
    assert serving_path.choose(tmp_path, AVX2, paths, timings({FP32: 3, TORCH_INT8: 2}), accuracy) == TORCH_INT8


def test_accuracy_is_read_from_the_folders_metrics(tmp_path: Path):
    (tmp_path / "metrics.json").write_text(json.dumps({"profile": "quick", "path_accuracy": ALL_CLOSE}))
    assert serving_path.recorded_accuracy(tmp_path) == ALL_CLOSE
    assert serving_path.recorded_accuracy(tmp_path / "missing") == {}


def test_a_read_only_folder_still_chooses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(Path, "write_text", refuse)
    seconds = {FP32: 3.0, ONNX_INT8: 1.0}
    assert serving_path.choose(tmp_path, AVX2, [FP32, ONNX_INT8], timings(seconds), ALL_CLOSE) == ONNX_INT8


def test_the_server_times_the_eligible_paths_of_its_folder_and_serves_the_fastest(tiny_model_dir: Path, tmp_path):
    import shutil

    from training import inference

    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    accuracy = {FP32: ALL_CLOSE[FP32], ONNX_INT8: {"imdb": 0.5, "rotten_tomatoes": 0.5}, TORCH_INT8: ALL_CLOSE[FP32]}
    (folder / "metrics.json").write_text(json.dumps({"path_accuracy": accuracy}))
    (folder / inference.CALIBRATION_FILE).write_text(json.dumps(["a wonderful film", "dull and far too long"]))
    loaded = inference.load_model(str(folder))
    assert loaded.backend in (FP32, TORCH_INT8)  # onnx-int8 is the fastest here, but too far from fp32
    cached = json.loads((folder / serving_path.CHOICE_FILE).read_text())[Machine.here().key]
    assert cached["path"] == loaded.backend and set(cached["seconds"]) == {FP32, TORCH_INT8}


def test_bf16_torch_answers_like_fp32(tiny_model_dir: Path):
    from training import inference

    texts = ["a wonderful film", "dull and far too long", "the plot was bad but the acting was great"]
    fp32 = inference.predict_fn(texts, inference.load_model(str(tiny_model_dir), backend=FP32))
    bf16 = inference.predict_fn(texts, inference.load_model(str(tiny_model_dir), backend=TORCH_BF16))
    for a, b in zip(fp32["predictions"], bf16["predictions"], strict=True):
        assert abs(a["prob"] - b["prob"]) < 0.02
