"""ensure_model reuses a cached model of the same or a better profile and builds otherwise, in a child process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from local_runtime import model_pipeline


def fake_model_folder(folder, profile):
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "metrics.json", model_pipeline.CPU_MODEL_FILE):
        (folder / name).write_text("{}")
    (folder / "serving_config.json").write_text(json.dumps({"profile": profile}))
    return folder


@pytest.fixture
def builds(monkeypatch):
    """Records the pipeline commands instead of training; the child 'writes' the requested profile."""
    commands = []

    def run(command, **kwargs):
        commands.append(command)
        profile, out = command[command.index("--profile") + 1], command[command.index("--out") + 1]
        fake_model_folder(model_pipeline.Path(out), profile)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(model_pipeline.subprocess, "run", run)
    return commands


def test_a_cached_model_of_the_same_or_a_better_profile_is_reused(tmp_path, builds):
    fake_model_folder(tmp_path / "model", "full")

    assert model_pipeline.ensure_model("quick", tmp_path / "model") == tmp_path / "model"
    assert model_pipeline.ensure_model("tiny", tmp_path / "model") == tmp_path / "model"
    assert builds == []


def test_a_missing_or_weaker_model_is_built_by_the_cli_in_a_child_process(tmp_path, builds):
    fake_model_folder(tmp_path / "model", "tiny")

    model_pipeline.ensure_model("quick", tmp_path / "model")
    model_pipeline.ensure_model("tiny", tmp_path / "other", force=True)

    assert builds == [
        [sys.executable, "-m", "local_runtime.model_pipeline", "--profile", "quick", "--out", str(tmp_path / "model")],
        [
            sys.executable,
            "-m",
            "local_runtime.model_pipeline",
            "--profile",
            "tiny",
            "--out",
            str(tmp_path / "other"),
            "--force",
        ],
    ]
    assert model_pipeline.cached_profile(tmp_path / "model") == "quick"


def test_a_cached_model_made_before_the_onnx_export_gets_only_the_export(tmp_path, monkeypatch, capsys):
    model_dir = fake_model_folder(tmp_path / "model", "quick")
    (model_dir / model_pipeline.CPU_MODEL_FILE).unlink()
    test_channel = tmp_path / ".model-pipeline" / "curated" / "split=test"
    test_channel.mkdir(parents=True)
    commands = []
    monkeypatch.setattr(model_pipeline.subprocess, "run", lambda command, **kwargs: commands.append(command))

    model_pipeline.main(["--profile", "quick", "--out", str(model_dir)])

    assert commands == [
        [
            sys.executable,
            "-m",
            "training.onnx_export",
            "--model-dir",
            str(model_dir),
            "--quantization",
            "dynamic",
            "--test-dir",
            str(test_channel),
        ]
    ]
    out = capsys.readouterr().out
    assert "reusing the quick model" in out and "plain dynamic int8" in out  # no train rows left to calibrate on

    (test_channel.parent / "split=train").mkdir()
    (test_channel.parent / "split=train" / "part-0.parquet").write_bytes(b"rows")
    commands.clear()
    model_pipeline.main(["--profile", "quick", "--out", str(model_dir)])
    assert commands[0][5:7] == ["--calibration-dir", str(test_channel.parent / "split=train")]


def test_the_pipeline_looks_for_the_file_the_inference_module_serves():
    from training import inference

    assert model_pipeline.CPU_MODEL_FILE == inference.ONNX_FILE


def test_a_half_written_folder_is_not_a_model_and_unknown_profiles_are_refused(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "serving_config.json").write_text('{"profile": "full"}')

    assert model_pipeline.cached_profile(tmp_path / "model") is None
    with pytest.raises(ValueError, match="huge"):
        model_pipeline.ensure_model("huge", tmp_path / "model")


def test_make_model_threads_reach_the_fine_tune_and_a_negative_count_is_refused(tmp_path, monkeypatch, capsys):
    """THREADS=N fixes the fine-tune's torch threads: the load average a build just left behind must not decide a
    training of an hour or more. Without it train.py picks the free cores itself."""
    commands = []
    monkeypatch.setattr(model_pipeline.subprocess, "run", lambda command, **kwargs: commands.append(command))
    channels = {"train": tmp_path / "train"}

    model_pipeline.train("full", channels, tmp_path / "model", threads=2)
    model_pipeline.train("full", channels, tmp_path / "model")

    assert commands[0][-4:] == ["--profile", "full", "--threads", "2"]
    assert "--threads" not in commands[1]
    with pytest.raises(SystemExit):
        model_pipeline.main(["--threads", "-1", "--out", str(tmp_path / "model")])
    assert "--threads must be 0 (the free cores) or more" in capsys.readouterr().err
