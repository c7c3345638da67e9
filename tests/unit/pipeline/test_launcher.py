"""The launcher's training code archive, run the training toolkit's way. Its SageMaker calls go through the sagemaker
SDK, which has a venv of its own: tests/unit/sagemaker/test_launcher_sdk.py."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

from training import launcher

ROLE = "arn:aws:iam::123456789012:role/sagemaker"


def test_the_source_archive_holds_the_training_package_and_no_cpu_torch_pin():
    with tarfile.open(fileobj=io.BytesIO(launcher.source_archive())) as archive:
        names = archive.getnames()
        requirements = archive.extractfile("requirements.txt").read().decode()

    assert {"training/train.py", "training/inference.py", "training/evaluate.py"} <= set(names)
    assert {"ondemand/__init__.py", "ondemand/instant_model.py"} <= set(names)  # the instant-model job featurizes
    assert "torch" not in requirements and "pyarrow" in requirements
    assert all("==" in line for line in requirements.splitlines()), requirements


def test_the_training_job_can_run_the_entry_point_from_the_extracted_archive(tmp_path):
    """SageMaker's training toolkit extracts the archive into its code dir, puts that dir on the PYTHONPATH it gives
    the child and runs `python training/train.py <hyperparameters>` there (sagemaker_training.entry_point.run,
    environment.write_env_vars, process.ProcessRunner._create_command): the package imports need nothing else."""
    with tarfile.open(fileobj=io.BytesIO(launcher.source_archive())) as archive:
        archive.extractall(tmp_path, filter="data")
    request = launcher.training_job_request("job", ROLE, "s3://a/c.tgz", "s3://c/r/", "s3://a/t/", "eu-west-1")
    program = json.loads(request["HyperParameters"]["sagemaker_program"])
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "HF_HUB_OFFLINE": "1"}

    ran = subprocess.run(
        [sys.executable, program, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )

    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "--base-model" in ran.stdout


def test_the_training_rehearsal_installs_the_extras_the_launcher_ships():
    """tests/unit/sagemaker rehearses the job with the training image's libraries plus these extras: the same pins."""
    dlc = (launcher.REPO_ROOT / "tests" / "unit" / "sagemaker" / "requirements-dlc.txt").read_text().splitlines()
    for pin in launcher.EXTRA_REQUIREMENTS.split():
        assert pin in dlc, f"{pin} is in launcher.EXTRA_REQUIREMENTS but not in requirements-dlc.txt"
