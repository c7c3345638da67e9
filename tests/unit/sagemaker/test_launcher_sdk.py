"""The launcher through the sagemaker SDK (sagemaker-core's TrainingJob and Model), offline: botocore's Stubber on the
client the SDK makes from our boto3 session checks that what the SDK sends is the state machine's request, field for
field, and answers as SageMaker would. Runs in .venv-sagemaker-sdk (`make test-sagemaker`)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

pytest.importorskip("sagemaker.core", reason="the SDK has a venv of its own: make test-sagemaker")

from sagemaker.core.resources import Base

from training import launcher

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
SOURCE = "s3://artifacts/code/sourcedir.tar.gz"
JOB_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:training-job/sentiment-1"
MODEL_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model/sentiment-1"
MODEL_DATA = "s3://artifacts/training/sentiment-1/output/model.tar.gz"


@pytest.fixture
def aws():
    """A boto3 session with fake keys and the Stubber on the SDK's own SageMaker client for that session."""
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    client = Base.get_sagemaker_client(session=session, region_name=REGION)
    with Stubber(client) as stubber:
        yield session, stubber
        stubber.assert_no_pending_responses()


def launch(session, job_name="sentiment-1"):
    return launcher.launch(
        session, job_name, ROLE, SOURCE, "s3://curated/reviews", "s3://artifacts/training/", REGION, poll_seconds=0
    )


def test_the_sdk_sends_the_state_machines_requests_waits_and_creates_the_model_from_the_artefact(aws):
    session, stubber = aws
    expected_job = launcher.training_job_request(
        "sentiment-1", ROLE, SOURCE, "s3://curated/reviews", "s3://artifacts/training/", REGION
    )
    stubber.add_response("create_training_job", {"TrainingJobArn": JOB_ARN}, expected_job)
    for status in ("InProgress", "InProgress", "Completed"):  # the SDK's get after create, then its wait's polls
        stubber.add_response("describe_training_job", training_job_answer(status), {"TrainingJobName": "sentiment-1"})
    expected_model = launcher.model_request("sentiment-1", ROLE, MODEL_DATA, REGION)
    stubber.add_response("create_model", {"ModelArn": MODEL_ARN}, expected_model)
    stubber.add_response("describe_model", model_answer(), {"ModelName": "sentiment-1"})

    result = launch(session)

    assert result == {
        "training_job": "sentiment-1",
        "model_data": MODEL_DATA,
        "metrics": {"test_accuracy": 0.93},
        "model_arn": MODEL_ARN,
    }
    assert expected_job["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"
    assert expected_job["AlgorithmSpecification"]["TrainingImage"].startswith("763104351884.dkr.ecr.eu-west-1.")
    hyperparameters = {name: json.loads(value) for name, value in expected_job["HyperParameters"].items()}
    assert hyperparameters["sagemaker_program"] == "training/train.py"
    assert hyperparameters["sagemaker_submit_directory"] == SOURCE
    assert expected_model["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"


def test_a_failed_training_job_creates_no_model(aws):
    session, stubber = aws
    stubber.add_response("create_training_job", {"TrainingJobArn": JOB_ARN})
    stubber.add_response("describe_training_job", training_job_answer("InProgress"))
    stubber.add_response("describe_training_job", training_job_answer("Failed"))

    with pytest.raises(RuntimeError, match="sentiment-1 Failed: out of memory"):
        launch(session)


def test_a_stopped_training_job_creates_no_model(aws):
    """The SDK's wait returns on Stopped as on Completed (only Failed raises): the launcher must look."""
    session, stubber = aws
    stubber.add_response("create_training_job", {"TrainingJobArn": JOB_ARN})
    stubber.add_response("describe_training_job", training_job_answer("InProgress"))
    stubber.add_response("describe_training_job", training_job_answer("Stopped"))

    with pytest.raises(RuntimeError, match="sentiment-1 Stopped"):
        launch(session)


def training_job_answer(status: str) -> dict:
    return {
        "TrainingJobName": "sentiment-1",
        "TrainingJobArn": JOB_ARN,
        "TrainingJobStatus": status,
        "SecondaryStatus": {"Completed": "Completed", "Failed": "Failed", "Stopped": "Stopped"}.get(status, "Training"),
        "FailureReason": "out of memory" if status == "Failed" else "",
        "ModelArtifacts": {"S3ModelArtifacts": MODEL_DATA},
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 10800},
        "CreationTime": "2026-01-01T00:00:00Z",
        "FinalMetricDataList": [{"MetricName": "test_accuracy", "Value": 0.93, "Timestamp": "2026-01-01T01:00:00Z"}],
    }


def model_answer() -> dict:
    return {
        "ModelName": "sentiment-1",
        "ModelArn": MODEL_ARN,
        "CreationTime": "2026-01-01T01:10:00Z",
        "PrimaryContainer": {"Image": "763104351884.dkr.ecr.eu-west-1.amazonaws.com/x:1", "ModelDataUrl": MODEL_DATA},
    }
