"""The launcher's SageMaker requests, asserted with botocore's Stubber: no AWS account, no network."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import boto3
import pytest
from botocore.stub import Stubber

from training import launcher

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
JOB_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:training-job/sentiment-1"
MODEL_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model/sentiment-1"
MODEL_DATA = "s3://artifacts/training/sentiment-1/output/model.tar.gz"


@pytest.fixture
def sagemaker():
    client = boto3.client("sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_launch_trains_on_a_gpu_waits_and_creates_the_model_from_its_artefact(sagemaker):
    client, stubber = sagemaker
    expected_job = launcher.training_job_request(
        "sentiment-1", ROLE, "s3://artifacts/code/sourcedir.tar.gz", "s3://curated/reviews", "s3://artifacts/training/",
        "eu-west-1",
    )
    stubber.add_response("create_training_job", {"TrainingJobArn": JOB_ARN}, expected_job)
    stubber.add_response(
        "describe_training_job", training_job_answer("InProgress"), {"TrainingJobName": "sentiment-1"}
    )
    stubber.add_response("describe_training_job", training_job_answer("Completed"), {"TrainingJobName": "sentiment-1"})
    stubber.add_response(
        "create_model", {"ModelArn": MODEL_ARN}, launcher.model_request("sentiment-1", ROLE, MODEL_DATA, "eu-west-1")
    )

    result = launcher.launch(
        client, "sentiment-1", ROLE, "s3://artifacts/code/sourcedir.tar.gz", "s3://curated/reviews",
        "s3://artifacts/training/", "eu-west-1", poll_seconds=0,
    )

    assert result == {"training_job": "sentiment-1", "model_data": MODEL_DATA, "metrics": {"test_accuracy": 0.93},
                      "model_arn": MODEL_ARN}
    assert expected_job["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"
    assert expected_job["AlgorithmSpecification"]["TrainingImage"].startswith("763104351884.dkr.ecr.eu-west-1.")
    assert [c["DataSource"]["S3DataSource"]["S3Uri"] for c in expected_job["InputDataConfig"]] == [
        "s3://curated/reviews/split=train/", "s3://curated/reviews/split=validation/", "s3://curated/reviews/split=test/"
    ]
    hyperparameters = {k: json.loads(v) for k, v in expected_job["HyperParameters"].items()}
    assert hyperparameters["sagemaker_program"] == "training/train.py"
    assert hyperparameters["base-model"] == "distilbert-base-uncased"


def test_a_failed_training_job_creates_no_model(sagemaker):
    client, stubber = sagemaker
    stubber.add_response("create_training_job", {"TrainingJobArn": JOB_ARN})
    stubber.add_response("describe_training_job", training_job_answer("Failed"))

    with pytest.raises(RuntimeError, match="Failed: out of memory"):
        launcher.launch(client, "sentiment-2", ROLE, "s3://a/c.tgz", "s3://c/r/", "s3://a/t/", "eu-west-1",
                        poll_seconds=0)


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


def training_job_answer(status: str) -> dict:
    return {
        "TrainingJobName": "sentiment-1",
        "TrainingJobArn": JOB_ARN,
        "TrainingJobStatus": status,
        "SecondaryStatus": "Completed" if status == "Completed" else "Training",
        "FailureReason": "out of memory" if status == "Failed" else "",
        "ModelArtifacts": {"S3ModelArtifacts": MODEL_DATA},
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 10800},
        "CreationTime": "2026-01-01T00:00:00Z",
        "FinalMetricDataList": [{"MetricName": "test_accuracy", "Value": 0.93, "Timestamp": "2026-01-01T01:00:00Z"}],
    }
