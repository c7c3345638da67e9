"""training/train.py run as the Hugging Face training image runs it (tests/unit/sagemaker/training_job.py): the image's
`train` command from the training toolkit, the state machine's hyperparameters as the strings SageMaker passes, the
/opt/ml tree, and the image's libraries (.venv-sagemaker: transformers 4.36.0 as in the image; Python 3.11 and CPU
torch 2.13.0 instead of its 3.10 and 2.1.0).

That the code asks for CUDA when the instance has a GPU is checked where the device seam is tested, with the main
venv's torch: tests/unit/pipeline/test_train_and_evaluate.py (test_with_a_gpu_present_the_model_and_every_batch_...)."""

from __future__ import annotations

import json
import re

import pytest

from tests.unit.sagemaker.training_job import REHEARSAL_SIZES, archive_names
from training import launcher, recipe

pytestmark = pytest.mark.slow


def test_the_job_succeeds_with_the_state_machines_hyperparameters(training_run):
    assert training_run.returncode == 0, training_run.log[-4000:]
    assert (training_run.base_dir / "output" / "success").exists()
    assert not (training_run.base_dir / "output" / "failure").exists()
    # The toolkit pip-installs the archive's requirements.txt; offline (PIP_NO_INDEX) it passes only if the image's
    # libraries already satisfy every pin.
    assert "Installing dependencies from requirements.txt" in training_run.log
    sent = training_run.request["HyperParameters"]
    assert all(isinstance(value, str) for value in sent.values())  # SageMaker's API takes strings only
    # Everything but the offline base model and the rehearsal's smaller generated-row counts is the recipe's, as the
    # state machine sends it.
    recipe_values = recipe.state_request(
        recipe.TRAINING_STATE,
        dict.fromkeys(
            ("SageMakerRoleArn", "TrainingSourceUri", "CuratedDataPath", "ModelArtifactsPath", "Region"), "x"
        ),
        {"TrainingJobName": "x"},
    )["HyperParameters"]
    assert {
        k: v for k, v in sent.items() if k not in ("base-model", "sagemaker_submit_directory", *REHEARSAL_SIZES)
    } == {
        k: v
        for k, v in recipe_values.items()
        if k not in ("base-model", "sagemaker_submit_directory", *REHEARSAL_SIZES)
    }
    metrics = json.loads((training_run.model_dir / "metrics.json").read_text())
    assert metrics["profile"] == "full"
    assert metrics["hyperparameters"]["max_length"] == 512 and metrics["hyperparameters"]["epochs"] == 2
    assert metrics["train_rows_by_source"] == {"imdb": 160, "rotten_tomatoes": 160, "capability": 28}
    assert "combination" in metrics  # the linear model trained in the job and combined with the transformer


def test_the_test_accuracy_reaches_the_pipelines_choice_through_its_metric_definition(training_run):
    """SageMaker matches the metric definitions against the job's log; the Choice state reads the value."""
    definitions = launcher.training_job_request("x", "r", "s", "c/", "o", "eu-west-1")["AlgorithmSpecification"][
        "MetricDefinitions"
    ]
    regex = next(d["Regex"] for d in definitions if d["Name"] == "test_accuracy")
    found = re.findall(regex, training_run.log)
    metrics = json.loads((training_run.model_dir / "metrics.json").read_text())
    assert found, f"no line of the job's log matches {regex!r}"
    assert float(found[-1]) == pytest.approx(metrics["test_accuracy"])
    assert 0.0 <= float(found[-1]) <= 1.0


def test_the_model_artefact_is_laid_out_for_the_hugging_face_inference_image(training_run, tmp_path):
    """SageMaker tars model/ as it is; the inference image extracts it to /opt/ml/model and, with SAGEMAKER_PROGRAM
    inference.py, imports code/inference.py from there. Weights and tokenizer must sit at the root, beside it."""
    names = set(archive_names(training_run.model_tar_gz(tmp_path / "model.tar.gz").read_bytes()))
    program = launcher.model_request("m", "r", "s3://m", "eu-west-1")["PrimaryContainer"]["Environment"][
        "SAGEMAKER_PROGRAM"
    ]

    assert f"code/{program}" in names
    weights_and_tokenizer = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
    assert weights_and_tokenizer | {"serving_config.json"} <= names
    assert not any(name.startswith(("model/", "opt/", "./")) for name in names), sorted(names)
    config = json.loads((training_run.model_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}
