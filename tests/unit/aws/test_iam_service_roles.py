"""The roles the stack hands to AWS services allow what those services do with them, as documented: the state
machine's role for each Task's integration, the SageMaker role for the training jobs and the model, the Glue job's
role. Every row names its source; the requests are computed from the deployed ASL and job arguments."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.aws.iam_coverage import (
    SYNC_RULE,
    Documented,
    Stack,
    check_documented,
    glue_role_requests,
    integration_requests,
    state_machine_definition,
    task_runs,
    training_role_requests,
)

# Where `sam deploy` (samconfig.toml: resolve_s3) uploads the Glue job's ScriptLocation.
SCRIPT_UPLOAD = "s3://aws-sam-cli-managed-default-samclisourcebucket-1a2b3c4d5e6f/ondemand-sentiment-dev/0123abcd"


@pytest.fixture(scope="module")
def pipeline(template: dict[str, Any]) -> Stack:
    return Stack(template).nested("TrainingPipeline")


def requests_by_state(pipeline: Stack, rows) -> dict[str, list[Documented]]:
    runs = task_runs(state_machine_definition(pipeline, "TrainingPipeline"))
    return {run.state: rows(pipeline, run) for run in runs}


def test_every_task_of_the_state_machine_has_what_its_integration_documents(pipeline: Stack) -> None:
    by_state = requests_by_state(pipeline, integration_requests)
    assert list(by_state) == [
        "Curate raw reviews",
        "Train the instant model",
        "Publish the instant model",
        "Fine-tune the model",
        "Create the SageMaker model",
        "Record the approved model",
    ]
    actions = {d.request.action for rows in by_state.values() for d in rows}
    assert {"glue:GetJobRun", "sagemaker:AddTags", "sagemaker:ListTags", "iam:PassRole", "events:PutRule"} <= actions
    assert all(d.source.startswith("https://") for rows in by_state.values() for d in rows)
    assert any(SYNC_RULE in d.request.resource for d in by_state["Fine-tune the model"])
    refused = check_documented(pipeline, "TrainingPipeline", [d for rows in by_state.values() for d in rows])
    assert not refused, "the state machine's role does not allow:\n" + "\n".join(refused)


def test_the_sagemaker_role_reads_the_data_and_code_writes_the_model_pulls_the_images_and_logs(pipeline: Stack) -> None:
    by_state = requests_by_state(pipeline, training_role_requests)
    rows = [d for state in by_state.values() for d in state]
    assert {d.request.action for d in by_state["Fine-tune the model"]} >= {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "ecr:BatchGetImage",
        "logs:PutLogEvents",
        "cloudwatch:PutMetricData",
    }
    assert any("huggingface-pytorch-inference" in d.request.resource for d in by_state["Create the SageMaker model"])
    refused = check_documented(pipeline, "TrainingRole", rows)
    assert not refused, "the SageMaker role does not allow:\n" + "\n".join(refused)


def test_the_glue_role_reads_raw_writes_curated_replaces_the_table_and_logs(pipeline: Stack) -> None:
    rows = glue_role_requests(pipeline, "CurateReviewsJob", SCRIPT_UPLOAD)
    raw, curated = pipeline.ref("RawBucket"), pipeline.ref("CuratedBucket")
    assert any(d.request.action == "s3:GetObject" and f":::{raw}/reviews/" in d.request.resource for d in rows)
    assert any(d.request.action == "s3:PutObject" and f":::{curated}/reviews/" in d.request.resource for d in rows)
    refused = check_documented(pipeline, "CurateJobRole", rows)
    assert not refused, "the Glue job's role does not allow:\n" + "\n".join(refused)
