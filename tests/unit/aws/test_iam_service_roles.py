"""The roles the stack hands to AWS services allow what those services do with them, as documented: the state
machine's role for each Task's integration, the SageMaker role for the training jobs and the model, the Glue job's
role. Every row names its source; the requests are computed from the deployed ASL and job arguments."""

from __future__ import annotations

from typing import Any

import pytest
from iam_coverage import (
    SYNC_RULE,
    Documented,
    Stack,
    check_documented,
    integration_requests,
    state_machine_definition,
    task_runs,
)


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
