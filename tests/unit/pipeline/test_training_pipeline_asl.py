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

import hashlib
import json
import re
import time
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

from training import launcher

REPO = Path(__file__).resolve().parents[3]
ASL_PATH = REPO / "statemachine" / "training_pipeline.asl.json"
TEMPLATE_PATH = REPO / "statemachine" / "pipeline.yaml"
TRAINING_STATE = "Fine-tune the model"
CURATION_STATE = "Curate raw reviews"
PARAMETER = "/ondemand-sentiment/approved-model"
INSTANT_PARAMETER = "/ondemand-sentiment/instant-model"
INSTANT_STATE = "Train the instant model"
INSTANT_JOB_NAME = "sentiment-instant-0"
ROLE_ARN = "arn:aws:iam::123456789012:role/pipeline"
REGION = "us-east-1"
SOURCE_URI, CURATED_PATH, ARTIFACTS_PATH = (
    "s3://artifacts/code/sourcedir.tar.gz",
    "s3://curated/reviews/",
    "s3://artifacts/training/",
)
EXECUTION_ARN = f"arn:aws:states:{REGION}:123456789012:execution:training-pipeline:run1"
# What the state machine names the first attempt's training job: the execution id hashed, then the retry count.
FIRST_JOB_NAME = f"sentiment-{hashlib.md5(EXECUTION_ARN.encode()).hexdigest()}-0"


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, !GetAtt) as plain values."""


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def substitutions(threshold: str) -> dict[str, str]:
    return {
        "MinTestAccuracy": threshold,
        "CurateJobName": "curate-reviews",
        "SageMakerRoleArn": ROLE_ARN,
        "TrainingSourceUri": SOURCE_URI,
        "CuratedDataPath": CURATED_PATH,
        "ModelArtifactsPath": ARTIFACTS_PATH,
        "ApprovedModelParameterName": PARAMETER,
        "InstantArtifactsPath": "s3://artifacts/instant/",
        "InstantModelParameterName": INSTANT_PARAMETER,
        "Region": REGION,
    }


def definition(test_accuracy: float, threshold: str = "0.85") -> dict:
    """The ASL as DefinitionSubstitutions fill it, with the training task replaced by its recorded answer."""
    text = ASL_PATH.read_text()
    for name, value in substitutions(threshold).items():
        text = text.replace("${" + name + "}", value)
    return moto_runnable(json.loads(text), test_accuracy)


def moto_runnable(asl: dict, test_accuracy: float) -> dict:
    """The substituted ASL with the states moto 5.2 cannot execute adapted (the module's docstring says how); each
    training job's recorded answer names its artefact under the job's own S3OutputPath, where SageMaker writes it.
    The deploy tool's end-to-end test (tests/integration/test_deploy_moto.py) runs the stack's pipeline this way too."""
    curation = asl["States"][CURATION_STATE]
    assert curation["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    curation["Resource"] = "arn:aws:states:::glue:startJobRun"
    curation["ResultSelector"] = {"JobRunId.$": "$.JobRunId"}
    instant = asl["States"][INSTANT_STATE]  # a training job too (.sync): its answer, recorded
    assert instant["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    asl["States"][INSTANT_STATE] = {
        "Type": "Pass",
        "Parameters": {
            "TrainingJobName": INSTANT_JOB_NAME,
            "ModelArtifacts": instant_artifact_uri(instant["Parameters"]["OutputDataConfig"]["S3OutputPath"]),
        },
        "ResultPath": instant["ResultPath"],
        "Next": instant["Next"],
    }
    training = asl["States"][TRAINING_STATE]
    assert training["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    assert set(training["ResultSelector"]) == {"TrainingJobName.$", "ModelArtifacts.$", "FinalMetricDataList.$"}
    # The task's request, evaluated by the interpreter as the real task would evaluate it, kept in $.training_request;
    # then the task's answer after its ResultSelector (a Pass state has none).
    # A Pass state has no retries, so no `$$.State.RetryCount` in its context: the first attempt's count stands in.
    assert "$$.State.RetryCount" in training["Parameters"]["TrainingJobName.$"]
    request = json.loads(json.dumps(training["Parameters"]).replace("$$.State.RetryCount", "'0'"))
    output_path = training["Parameters"]["OutputDataConfig"]["S3OutputPath"]
    asl["States"][TRAINING_STATE] = {
        "Type": "Pass",
        "Parameters": request,
        "ResultPath": "$.training_request",
        "Next": "Recorded training answer",
    }
    asl["States"]["Recorded training answer"] = {
        "Type": "Pass",
        "Parameters": {
            "TrainingJobName.$": "$.training_request.TrainingJobName",
            "ModelArtifacts.$": f"States.Format('{output_path}{{}}/output/model.tar.gz', "
            "$.training_request.TrainingJobName)",
            "FinalMetricDataList": [
                {"MetricName": "train_loss", "Value": 0.2},
                {"MetricName": "test_accuracy", "Value": test_accuracy},
            ],
        },
        "ResultPath": training["ResultPath"],
        "Next": training["Next"],
    }
    return asl


def instant_artifact_uri(output_path: str) -> str:
    """Where SageMaker puts the instant training job's model.tar.gz: <S3OutputPath><job name>/output/model.tar.gz."""
    return f"{output_path}{INSTANT_JOB_NAME}/output/model.tar.gz"


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
        boto3.client("ssm").put_parameter(Name=INSTANT_PARAMETER, Value="none", Type="String")
        yield


def entered_states(history: list[dict]) -> list[str]:
    return [event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event]


def test_an_accurate_model_is_created_and_recorded_as_approved(aws):
    described, history = run_pipeline(definition(test_accuracy=0.91))

    assert described["status"] == "SUCCEEDED", history[-1]
    output = json.loads(described["output"])
    runs = boto3.client("glue").get_job_runs(JobName="curate-reviews")["JobRuns"]
    assert [run["Id"] for run in runs] == [output["curation"]["JobRunId"]]
    model_name = f"{FIRST_JOB_NAME}-0"
    assert len(model_name) <= 63  # SageMaker's limit for job and model names
    model = boto3.client("sagemaker").describe_model(ModelName=model_name)
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("model.tar.gz")
    assert model["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert boto3.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"] == model_name
    assert entered_states(history)[-2:] == ["Record the approved model", "Model approved"]


def test_the_launcher_sends_the_requests_the_state_machine_sends(aws):
    """One recipe: on every field, image URIs included, the launcher's requests are the state machine's."""
    described, _ = run_pipeline(definition(test_accuracy=0.91))

    state_machine_request = json.loads(described["output"])["training_request"]
    assert state_machine_request["TrainingJobName"] == FIRST_JOB_NAME
    assert state_machine_request == launcher.training_job_request(
        FIRST_JOB_NAME, ROLE_ARN, SOURCE_URI, CURATED_PATH, ARTIFACTS_PATH, REGION
    )
    model_name = f"{FIRST_JOB_NAME}-0"
    created = boto3.client("sagemaker").describe_model(ModelName=model_name)
    expected = launcher.model_request(model_name, ROLE_ARN, created["PrimaryContainer"]["ModelDataUrl"], REGION)
    assert {key: created[key] for key in expected} == expected
    assert created["PrimaryContainer"]["Image"].startswith(f"763104351884.dkr.ecr.{REGION}.amazonaws.com/")


def test_a_retried_model_creation_uses_a_new_name_and_the_created_model_is_recorded(aws, monkeypatch):
    """The first CreateModel creates the model but its answer is lost; the retry must not reuse the name (SageMaker
    would answer "Cannot create already existing model")."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import SageMakerModelBackend

    names = []
    create_model = SageMakerModelBackend.create_model

    def create_then_fail_once(backend, model_name, *args, **kwargs):
        if model_name in names:
            raise ValidationError(message=f"Cannot create already existing model {model_name}")
        names.append(model_name)
        created = create_model(backend, model_name, *args, **kwargs)
        if len(names) == 1:
            raise ValidationError(message="the connection dropped after the model was created")
        return created

    monkeypatch.setattr(SageMakerModelBackend, "create_model", create_then_fail_once)
    asl = definition(test_accuracy=0.91)
    creation = asl["States"]["Create the SageMaker model"]
    # moto forwards the optimised `sagemaker:createModel` but reports any error from it as States.Runtime, which no
    # Retry matches; the AWS SDK integration makes the same call and reports the error as a task failure.
    assert creation["Resource"] == "arn:aws:states:::sagemaker:createModel"
    creation["Resource"] = "arn:aws:states:::aws-sdk:sagemaker:createModel"
    for retry in creation["Retry"]:
        retry["IntervalSeconds"] = 1

    described, history = run_pipeline(asl)

    assert described["status"] == "SUCCEEDED", [str(e) for e in history if "Failed" in e["type"]]
    assert names == [f"{FIRST_JOB_NAME}-0", f"{FIRST_JOB_NAME}-1"]
    assert boto3.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"] == names[1]


def test_a_failed_glue_run_is_not_run_again_and_every_retried_creation_is_named_by_attempt():
    """A failed ETL run (States.TaskFailed) is a failure to report, not to repeat; every retried creation names its
    resource by attempt, so no retry can collide with what an earlier attempt created."""
    states = json.loads(ASL_PATH.read_text())["States"]
    glue_retried = {error for retry in states[CURATION_STATE]["Retry"] for error in retry["ErrorEquals"]}

    assert not glue_retried & {"States.TaskFailed", "States.ALL"}
    assert "$$.State.RetryCount" in states[TRAINING_STATE]["Parameters"]["TrainingJobName.$"]
    assert "$$.State.RetryCount" in states["Create the SageMaker model"]["Parameters"]["ModelName.$"]


def test_a_model_below_the_threshold_is_rejected_and_the_approved_model_is_kept(aws):
    described, history = run_pipeline(definition(test_accuracy=0.62))

    assert described["status"] == "FAILED"
    failed = next(e for e in history if e["type"] == "ExecutionFailed")["executionFailedEventDetails"]
    assert failed["error"] == "ModelBelowThreshold"
    assert "Create the SageMaker model" not in entered_states(history)
    assert boto3.client("sagemaker").list_models()["Models"] == []
    assert boto3.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"] == "none"
    # The instant model was published before the fine-tune: /predict answers from it whatever the gate decides.
    published = boto3.client("ssm").get_parameter(Name=INSTANT_PARAMETER)["Parameter"]["Value"]
    assert published == "s3://artifacts/instant/sentiment-instant-0/output/model.tar.gz"


def test_the_threshold_comes_from_the_stack_parameter(aws):
    described, _ = run_pipeline(definition(test_accuracy=0.91, threshold="0.95"))

    assert described["status"] == "FAILED"


def test_every_task_retries_and_every_placeholder_is_substituted_by_the_template():
    asl = json.loads(ASL_PATH.read_text())
    tasks = {name: state for name, state in asl["States"].items() if state["Type"] == "Task"}
    assert len(tasks) == 6
    assert all(state.get("Retry") for state in tasks.values()), [n for n, s in tasks.items() if not s.get("Retry")]

    template = yaml.load(TEMPLATE_PATH.read_text(), Loader=CfnLoader)
    machine = template["Resources"]["TrainingPipeline"]["Properties"]
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_PATH.read_text()))
    assert placeholders == set(machine["DefinitionSubstitutions"]) == set(substitutions("0.85"))
    assert (TEMPLATE_PATH.parent / machine["DefinitionUri"]).resolve() == ASL_PATH
    assert {"ApprovedModelParameterName", "StateMachineArn"} <= set(template["Outputs"])


def cfn_lint_definition(asl: dict) -> list[str]:
    """cfn-lint's findings on `asl` as the Definition of a plain AWS::StepFunctions::StateMachine. `make lint` runs
    cfn-lint on statemachine/pipeline.yaml, but SAM's DefinitionUri points at a file cfn-lint never opens, so its
    states-language checks (E3601) see the definition only here."""
    from cfnlint.api import lint

    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "TrainingPipeline": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": ROLE_ARN,
                    "Definition": asl,
                    "DefinitionSubstitutions": substitutions("0.85"),
                },
            }
        },
    }
    return [f"{match.rule.id} {match.message}" for match in lint(json.dumps(template))]


def test_cfn_lint_finds_nothing_in_the_state_machine_definition():
    assert cfn_lint_definition(json.loads(ASL_PATH.read_text())) == []


def test_cfn_lint_of_the_definition_catches_a_misspelt_state():
    asl = json.loads(ASL_PATH.read_text())
    asl["States"][CURATION_STATE]["Type"] = "Taks"
    assert any(finding.startswith("E3601 'Taks'") for finding in cfn_lint_definition(asl))
