"""API Gateway's CloudWatch role, set before the stack: kept when the account names one, else made and set, the call
repeated while IAM has not propagated the new role (moto's API Gateway refuses it as API Gateway does)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.apigateway.exceptions import BadRequestException
from moto.apigateway.models import APIGatewayBackend

from deploy.api_logging import ROLE_NAME, ensure_cloudwatch_role
from deploy.waiting import Waiting

NOT_PROPAGATED = "The role ARN does not have required permissions set to API Gateway"
AT_ONCE = Waiting(sleep=lambda _: None)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # AmazonAPIGatewayPushToCloudWatchLogs
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def refuse(monkeypatch: pytest.MonkeyPatch, times: int, message: str = NOT_PROPAGATED) -> list[int]:
    refused: list[int] = []
    update = APIGatewayBackend.update_account

    def refusing(backend: APIGatewayBackend, patch_operations: list[dict[str, Any]]) -> Any:
        if len(refused) < times:
            refused.append(1)
            raise BadRequestException(message)
        return update(backend, patch_operations)

    monkeypatch.setattr(APIGatewayBackend, "update_account", refusing)
    return refused


def test_a_new_role_is_set_once_iam_has_propagated_it(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    refused, waits = refuse(monkeypatch, 3), []

    arn = ensure_cloudwatch_role(aws, "aws", lambda _: None, Waiting(sleep=waits.append))

    assert arn.endswith(f":role/{ROLE_NAME}") and len(refused) == 3 and waits == [5.0, 5.0, 5.0]
    assert aws.client("apigateway").get_account()["cloudwatchRoleArn"] == arn
    attached = aws.client("iam").list_attached_role_policies(RoleName=ROLE_NAME)["AttachedPolicies"]
    assert [policy["PolicyName"] for policy in attached] == ["AmazonAPIGatewayPushToCloudWatchLogs"]


def test_an_account_that_names_a_role_keeps_it(aws: Any) -> None:
    iam = aws.client("iam")
    theirs = iam.create_role(RoleName="theirs", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": theirs}]
    )

    assert ensure_cloudwatch_role(aws, "aws", lambda _: None) == theirs
    assert [role["RoleName"] for role in iam.list_roles()["Roles"]] == ["theirs"]


def test_another_refusal_or_one_that_outlasts_the_wait_is_raised(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    refuse(monkeypatch, 1, "Invalid ARN")
    with pytest.raises(ClientError, match="Invalid ARN"):
        ensure_cloudwatch_role(aws, "aws", lambda _: None, AT_ONCE)

    refuse(monkeypatch, 99)  # longer than the 5 minutes the propagation gets
    with pytest.raises(ClientError, match="does not have required permissions"):
        ensure_cloudwatch_role(aws, "aws", lambda _: None, AT_ONCE)
