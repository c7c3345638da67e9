"""The code each SageMaker image runs needs no newer Python than the image has.

The rehearsals (test_training_job.py, test_serving_container.py) run the images' toolkits on this machine's Python
3.11, since the images' torch 2.1.0 is not on this machine; a 3.11-only name (`datetime.UTC`) in a file they load
would pass there and fail on the image's Python 3.10. vermin reads each file and names the newest feature it uses.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from training import launcher, recipe

SUBSTITUTIONS = dict.fromkeys(
    ("SageMakerRoleArn", "TrainingSourceUri", "CuratedDataPath", "ModelArtifactsPath", "Region"), "x"
)


def image_python(image_uri: str) -> str:
    """'...-gpu-py310-cu121-...' -> '3.10' (the Deep Learning Containers name their Python in the tag)."""
    found = re.search(r"-py3(\d+)-", image_uri)
    assert found, f"no -py3NN- in the image tag {image_uri!r}"
    return f"3.{found.group(1)}"


def newer_than(python: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("vermin")),
            "-q",
            "--no-tips",
            "--violations",
            f"--target={python}-",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
    )


def test_the_training_jobs_source_archive_runs_on_the_training_images_python(tmp_path: Path):
    training = recipe.state_request(recipe.TRAINING_STATE, SUBSTITUTIONS, {"TrainingJobName": "x"})
    python = image_python(training["AlgorithmSpecification"]["TrainingImage"])
    with tarfile.open(fileobj=io.BytesIO(launcher.source_archive())) as archive:
        archive.extractall(tmp_path, filter="data")
    files = sorted(tmp_path.rglob("*.py"))
    assert any(path.name == "instant_train.py" for path in files)

    found = newer_than(python, files)

    assert found.returncode == 0, f"needs a Python newer than the image's {python}:\n{found.stdout}{found.stderr}"


def test_the_model_folders_code_runs_on_the_inference_images_python():
    model = recipe.state_request(recipe.MODEL_STATE, SUBSTITUTIONS, {"ModelName": "x", "ModelDataUrl": "x"})
    python = image_python(model["PrimaryContainer"]["Image"])
    from training import train

    # What train.py copies into the model folder's code/ (the inference toolkit imports it as the handler).
    found = newer_than(python, list(train.SERVING_CODE))

    assert found.returncode == 0, f"needs a Python newer than the image's {python}:\n{found.stdout}{found.stderr}"


@pytest.mark.parametrize(
    "python, planted", [("3.10", "from datetime import UTC\n"), ("3.9", "match 1:\n    case _:\n        pass\n")]
)
def test_a_newer_feature_is_caught(tmp_path: Path, python: str, planted: str):
    planted_file = tmp_path / "planted.py"
    planted_file.write_text(planted)
    assert newer_than(python, [planted_file]).returncode != 0
