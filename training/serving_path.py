"""Which numeric path a model server runs on the machine it finds: the decisions, without loading a model.

A CPU may serve the transformer as int8 ONNX, fp32 or dynamic-int8 torch, bfloat16 torch (only with bf16 hardware:
AMX or AVX512-BF16; elsewhere torch emulates it, slowly) or fp32 ONNX if the folder has that export. The server
(inference.py) times the paths this machine supports on the model's calibration texts and serves the fastest whose
accuracy on the test splits is within `ACCURACY_TOLERANCE` of fp32 torch's (recorded in metrics.json by
`python -m training.path_accuracy`); the choice is cached in the model folder per CPU (model name and flags). A path
without a recorded accuracy is never chosen. On CUDA the transformer runs in half precision (`gpu_plan`).

Shipped beside inference.py as `code/serving_path.py` in model.tar.gz: stdlib only.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# The paths, by the name `--backend` / $INFERENCE_BACKEND take. FP32 is the reference every other path is held to.
FP32 = "torch"
TORCH_INT8 = "torch-int8"
TORCH_BF16 = "torch-bf16"
ONNX_INT8 = "onnx-int8"
ONNX_FP32 = "onnx-fp32"
PATHS = (FP32, TORCH_INT8, TORCH_BF16, ONNX_INT8, ONNX_FP32)
ONNX_FILES = {ONNX_INT8: "model.int8.onnx", ONNX_FP32: "model.fp32.onnx"}  # written by training/onnx_export.py
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
ACCURACY_TOLERANCE = 0.005  # 0.5 points below fp32 on any test split, at most
ACCURACY_SPLITS = ("imdb", "rotten_tomatoes")
METRICS_FILE = "metrics.json"  # training/model_metrics.py's file; read here as JSON (model_metrics is not shipped)
METRICS_KEY = "path_accuracy"
CHOICE_FILE = "serving_path.json"


@dataclass(frozen=True)
class Machine:
    """The CPU a choice holds for: its model name and feature flags."""

    cpu: str
    flags: frozenset[str]

    @classmethod
    def here(cls) -> Machine:
        """This machine, from /proc/cpuinfo (Linux); elsewhere what `platform` knows, with no flags."""
        cpu, flags = "", frozenset[str]()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not cpu:
                    cpu = value.strip()
                elif key.strip() in ("flags", "Features") and not flags:
                    flags = frozenset(value.split())
        except OSError:
            pass
        return cls(cpu or platform.processor() or platform.machine() or "unknown CPU", flags)

    @property
    def key(self) -> str:
        """Names the CPU in the choice cache: two machines with the same model and flags time alike."""
        digest = hashlib.sha256(" ".join(sorted(self.flags)).encode()).hexdigest()[:12]
        return f"{self.cpu} [{digest}]"

    @property
    def has_bf16(self) -> bool:
        return bool(self.flags & BF16_FLAGS)


def supported_paths(machine: Machine, folder_files: Iterable[str], onnxruntime_installed: bool) -> list[str]:
    """The CPU paths this machine can run on this folder: bf16 only with bf16 hardware, ONNX only with its export."""
    files = set(folder_files)
    paths = [FP32, TORCH_INT8]
    if machine.has_bf16:
        paths.append(TORCH_BF16)
    if onnxruntime_installed:
        paths += [path for path in (ONNX_INT8, ONNX_FP32) if ONNX_FILES[path] in files]
    return paths


def eligible_paths(
    paths: Iterable[str], accuracy: Mapping[str, Mapping[str, float]], tolerance: float = ACCURACY_TOLERANCE
) -> list[str]:
    """The paths whose accuracy on every test split is at most `tolerance` below fp32 torch's; fp32 itself always is.
    `accuracy` is per path, per split (`ACCURACY_SPLITS`); a path without a recorded accuracy is not eligible."""
    reference = accuracy.get(FP32, {})
    eligible = []
    for path in paths:
        scores = accuracy.get(path)
        if path == FP32 or (
            scores
            and reference
            and all(
                split in scores and scores[split] >= reference[split] - tolerance - 1e-12
                for split in ACCURACY_SPLITS
                if split in reference
            )
        ):
            eligible.append(path)
    return eligible


def fastest(seconds: Mapping[str, float]) -> str:
    """The path with the least time on the calibration texts (ties: the first timed)."""
    if not seconds:
        raise ValueError("no path was timed")
    return min(seconds, key=lambda path: (seconds[path], list(seconds).index(path)))


def recorded_accuracy(folder: Path) -> dict[str, dict[str, float]]:
    """Per path, its accuracy per test split as metrics.json records it; {} if none is recorded."""
    path = Path(folder) / METRICS_FILE
    try:
        recorded = json.loads(path.read_text()).get(METRICS_KEY, {})
    except (OSError, ValueError):
        return {}
    return {name: {split: float(value) for split, value in scores.items()} for name, scores in recorded.items()}


def cached_choice(folder: Path, machine: Machine) -> str | None:
    """The path chosen earlier on a CPU like this one, if the folder remembers one."""
    try:
        choices = json.loads((Path(folder) / CHOICE_FILE).read_text())
    except (OSError, ValueError):
        return None
    path = choices.get(machine.key, {}).get("path")
    return path if path in PATHS else None


def remember_choice(folder: Path, machine: Machine, path: str, seconds: Mapping[str, float]) -> bool:
    """Record the choice for this CPU beside the others; False where the folder is read-only (SageMaker's
    /opt/ml/model may be): the server then times again at its next start."""
    target = Path(folder) / CHOICE_FILE
    try:
        choices = json.loads(target.read_text()) if target.exists() else {}
    except ValueError:
        choices = {}
    choices[machine.key] = {"path": path, "seconds": {name: round(value, 4) for name, value in seconds.items()}}
    try:
        partial = target.with_name(f".{target.name}.partial")
        partial.write_text(json.dumps(choices, indent=2))
        partial.replace(target)
    except OSError:
        return False
    return True


def choose(
    folder: Path,
    machine: Machine,
    supported: Iterable[str],
    time_paths: Callable[[list[str]], Mapping[str, float]],
    accuracy: Mapping[str, Mapping[str, float]] | None = None,
) -> str | None:
    """The path to serve: this CPU's cached choice if it is still supported and eligible, else the fastest eligible
    path by `time_paths` (seconds per path on the calibration texts, timed side by side), remembered for the next
    start. None when no fp32 accuracy is recorded to hold the paths to (the caller keeps its default)."""
    accuracy = recorded_accuracy(folder) if accuracy is None else accuracy
    if FP32 not in accuracy:
        return None
    candidates = eligible_paths(supported, accuracy)
    cached = cached_choice(folder, machine)
    if cached in candidates:
        return cached
    if len(candidates) == 1:
        return candidates[0]
    seconds = dict(time_paths(candidates))
    choice = fastest({path: value for path, value in seconds.items() if math.isfinite(value)} or seconds)
    remember_choice(folder, machine, choice, seconds)
    return choice


@dataclass(frozen=True)
class GpuPlan:
    """How a CUDA device runs the transformer: half precision, and length-bucketed batches big enough to fill it."""

    dtype: str  # a torch dtype's name
    micro_batch: int
    token_budget: int


def gpu_plan(bf16_supported: bool, max_length: int, micro_batch: int = 128, token_budget: int = 8192) -> GpuPlan:
    """bfloat16 where the card has it (Ampere and newer: fp32's range, so no overflow in the logits), else fp16 (a
    T4's tensor cores). Texts sorted by length and cut into batches of up to `micro_batch` texts and `token_budget`
    padded tokens (at least one full-length text): many short texts or a few long ones per pass, each padded to its
    own longest."""
    return GpuPlan("bfloat16" if bf16_supported else "float16", micro_batch, max(token_budget, max_length))
