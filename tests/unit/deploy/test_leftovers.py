"""What of a stack is left, found by the stack's own names only: another stack's endpoints and models in the same
account are never listed (so never deleted)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from deploy.leftovers import Footprint, Leftovers
from deploy.stack import Output

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
OURS, THEIRS = "ondemand-sentiment-1a2b3c4d", "ondemand-sentiment-9f8e7d6c"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def footprint() -> Footprint:
    outputs = {output: f"ours-{output.name.lower().replace('_', '-')}" for output in Output}
    outputs[Output.ENDPOINT_PREFIX] = OURS
    return Footprint("ours", outputs, ("ours-ApiFunction-ABC",))


def endpoint(sagemaker: Any, prefix: str, artifacts: str) -> None:
    model = f"sentiment-{prefix[-8:]}-0-0"
    sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "image", "ModelDataUrl": f"s3://{artifacts}/training/job/output/model.tar.gz"},
    )
    variant = {"VariantName": "v", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.g4dn.xlarge"}
    sagemaker.create_endpoint_config(EndpointConfigName=f"{prefix}-cfg-1", ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName=f"{prefix}-20260101t000000-1", EndpointConfigName=f"{prefix}-cfg-1")


def test_only_this_stacks_endpoints_configs_models_and_log_groups_are_found(aws: Any) -> None:
    sagemaker, logs = aws.client("sagemaker"), aws.client("logs")
    endpoint(sagemaker, OURS, footprint().outputs[Output.ARTIFACTS_BUCKET])
    endpoint(sagemaker, THEIRS, "theirs-artifacts")
    for group in ("/aws/lambda/ours-ApiFunction-ABC", "/aws/lambda/ours-ApiFunction-ABCD", "/aws/lambda/theirs"):
        logs.create_log_group(logGroupName=group)
    logs.create_log_group(logGroupName=f"/aws/sagemaker/Endpoints/{OURS}-20260101t000000-1")
    logs.create_log_group(logGroupName=f"/aws/sagemaker/Endpoints/{THEIRS}-20260101t000000-1")

    found = Leftovers(aws, footprint()).found()

    assert found == {
        "SageMaker endpoints": [f"{OURS}-20260101t000000-1"],
        "SageMaker endpoint configs": [f"{OURS}-cfg-1"],
        "SageMaker models": [f"sentiment-{OURS[-8:]}-0-0"],
        "log groups": ["/aws/lambda/ours-ApiFunction-ABC", f"/aws/sagemaker/Endpoints/{OURS}-20260101t000000-1"],
    }


def test_a_bucket_a_distribution_or_the_stack_still_there_is_found(aws: Any) -> None:
    prints = footprint()
    aws.client("s3").create_bucket(Bucket=prints.outputs[Output.RAW_BUCKET])

    assert Leftovers(aws, prints).found() == {"buckets": [prints.outputs[Output.RAW_BUCKET]]}
