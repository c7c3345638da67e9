"""The training pipeline's ASL, executed by moto's Step Functions interpreter through both sides of the accuracy gate.

moto runs the Choice, the Pass states, the SageMaker `createModel` request and the `aws-sdk:ssm:putParameter` task
as written. Two states are adapted, because moto 5.2 cannot execute them:
- `sagemaker:createTrainingJob.sync`: moto lists SageMaker's optimised integrations as unsupported. It becomes a Pass
  state returning what the real integration returns (DescribeTrainingJob, with the metric train.py prints).
- `glue:startJobRun.sync`: moto's interpreter crashes on `.sync` for services without a task-token callback
  (`'NoneType' object has no attribute 'interrupt_all'`, fixed upstream in the LocalStack parser moto vendors). It
  runs as the request-response `glue:startJobRun`, which still starts a real run of moto's Glue job.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

REPO = Path(__file__).resolve().parents[3]
ASL_PATH = REPO / "statemachine" / "training_pipeline.asl.json"
TEMPLATE_PATH = REPO / "statemachine" / "pipeline.yaml"
TRAINING_STATE = "Fine-tune the model"
CURATION_STATE = "Curate raw reviews"
PARAMETER = "/ondemand-sentiment/approved-model"
ROLE_ARN = "arn:aws:iam::123456789012:role/pipeline"


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, !GetAtt) as plain values."""


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def substitutions(threshold: str) -> dict[str, str]:
    return {
        "MinTestAccuracy": threshold,
        "CurateJobName": "curate-reviews",
        "SageMakerRoleArn": ROLE_ARN,
        "TrainingImageUri": "123.dkr.ecr.us-east-1.amazonaws.com/hf-training:gpu",
        "TrainingSourceUri": "s3://artifacts/code/sourcedir.tar.gz",
        "CuratedDataPath": "s3://curated/reviews/",
        "ModelArtifactsPath": "s3://artifacts/training/",
        "TrainingInstanceType": "ml.g4dn.xlarge",
        "InferenceImageUri": "123.dkr.ecr.us-east-1.amazonaws.com/hf-inference:gpu",
        "ApprovedModelParameterName": PARAMETER,
    }


def definition(test_accuracy: float, threshold: str = "0.85") -> dict:
    """The ASL as DefinitionSubstitutions fill it, with the training task replaced by its recorded answer."""
    text = ASL_PATH.read_text()
    for name, value in substitutions(threshold).items():
        text = text.replace("${" + name + "}", value)
    asl = json.loads(text)
    curation = asl["States"][CURATION_STATE]
    assert curation["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    curation["Resource"] = "arn:aws:states:::glue:startJobRun"
    curation["ResultSelector"] = {"JobRunId.$": "$.JobRunId"}
    training = asl["States"][TRAINING_STATE]
    assert training["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    assert set(training["ResultSelector"]) == {"TrainingJobName.$", "ModelArtifacts.$", "FinalMetricDataList.$"}
    asl["States"][TRAINING_STATE] = {  # the task's answer after its ResultSelector (a Pass state has none)
        "Type": "Pass",
        "Parameters": {
            "TrainingJobName.$": "$.config.training_job_name",
            "ModelArtifacts": "s3://artifacts/training/sentiment-run1/output/model.tar.gz",
            "FinalMetricDataList": [
                {"MetricName": "train_loss", "Value": 0.2},
                {"MetricName": "test_accuracy", "Value": test_accuracy},
            ],
        },
        "ResultPath": training["ResultPath"],
        "Next": training["Next"],
    }
    return asl


def run_pipeline(asl: dict) -> tuple[dict, list[dict]]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(name="training-pipeline", definition=json.dumps(asl), roleArn=ROLE_ARN)
    execution_arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="run1")["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.2)
    history = sfn.get_execution_history(executionArn=execution_arn)["events"]
    return described, history


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        boto3.client("glue").create_job(
            Name="curate-reviews", Role=ROLE_ARN, Command={"Name": "pythonshell", "ScriptLocation": "s3://c/s.py"}
        )
        boto3.client("ssm").put_parameter(Name=PARAMETER, Value="none", Type="String")
        yield


def entered_states(history: list[dict]) -> list[str]:
    return [event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event]


def test_an_accurate_model_is_created_and_recorded_as_approved(aws):
    described, history = run_pipeline(definition(test_accuracy=0.91))

    assert described["status"] == "SUCCEEDED", history[-1]
    output = json.loads(described["output"])
    runs = boto3.client("glue").get_job_runs(JobName="curate-reviews")["JobRuns"]
    assert [run["Id"] for run in runs] == [output["curation"]["JobRunId"]]
    model_name = "sentiment-run1"
    model = boto3.client("sagemaker").describe_model(ModelName=model_name)
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("model.tar.gz")
    assert model["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert boto3.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"] == model_name
    assert entered_states(history)[-2:] == ["Record the approved model", "Model approved"]


def test_a_model_below_the_threshold_is_rejected_and_the_approved_model_is_kept(aws):
    described, history = run_pipeline(definition(test_accuracy=0.62))

    assert described["status"] == "FAILED"
    failed = next(e for e in history if e["type"] == "ExecutionFailed")["executionFailedEventDetails"]
    assert failed["error"] == "ModelBelowThreshold"
    assert "Create the SageMaker model" not in entered_states(history)
    assert boto3.client("sagemaker").list_models()["Models"] == []
    assert boto3.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"] == "none"


def test_the_threshold_comes_from_the_stack_parameter(aws):
    described, _ = run_pipeline(definition(test_accuracy=0.91, threshold="0.95"))

    assert described["status"] == "FAILED"


def test_every_task_retries_and_every_placeholder_is_substituted_by_the_template():
    asl = json.loads(ASL_PATH.read_text())
    tasks = {name: state for name, state in asl["States"].items() if state["Type"] == "Task"}
    assert len(tasks) == 4
    assert all(state.get("Retry") for state in tasks.values()), [n for n, s in tasks.items() if not s.get("Retry")]

    template = yaml.load(TEMPLATE_PATH.read_text(), Loader=CfnLoader)
    machine = template["Resources"]["TrainingPipeline"]["Properties"]
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_PATH.read_text()))
    assert placeholders == set(machine["DefinitionSubstitutions"]) == set(substitutions("0.85"))
    assert (TEMPLATE_PATH.parent / machine["DefinitionUri"]).resolve() == ASL_PATH
    assert {"ApprovedModelParameterName", "StateMachineArn"} <= set(template["Outputs"])
