"""API Gateway's CloudWatch role: an account-wide setting (per region) that the stage's access logs need ("CloudWatch
Logs role ARN must be set in account settings to enable logging"). It is set here, before the stack, because setting
it in the same stack as a role made moments earlier races IAM's propagation: "The role ARN does not have required
permissions set to API Gateway" rolls a first deploy back (aws/aws-cdk#2194). Here the call is retried until the role
has propagated. An account that already names a role keeps it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from deploy.waiting import IN_REAL_TIME, Waiting

ROLE_NAME = "apigateway-push-to-cloudwatch-logs"
PROPAGATION_ERROR = "does not have required permissions"
RETRY_SECONDS, PROPAGATION_SECONDS = 5.0, 300.0
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def ensure_cloudwatch_role(
    session: Any,
    partition: str,
    say: Callable[[str], None],
    waiting: Waiting = IN_REAL_TIME,
) -> str:
    """The account's API Gateway CloudWatch role ARN, setting one (this module's role) if it names none."""
    apigateway, iam = session.client("apigateway"), session.client("iam")
    current = apigateway.get_account().get("cloudwatchRoleArn")
    if current and _role_exists(iam, current.rpartition("/")[2]):
        say(f"already set: {current} (kept: other APIs in the account use it too)")
        return str(current)
    arn = _role(iam, partition, say)
    refused: ClientError | None = None
    for _ in waiting.looks(every=RETRY_SECONDS, within=PROPAGATION_SECONDS):
        try:
            apigateway.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])
        except ClientError as exc:
            if PROPAGATION_ERROR not in str(exc):
                raise
            refused = exc
            say(f"IAM has not propagated {ROLE_NAME} to API Gateway yet; again in {RETRY_SECONDS:g} s")
            continue
        say(f"set to {arn}")
        return arn
    assert refused is not None
    raise refused


def _role_exists(iam: Any, name: str) -> bool:
    try:
        iam.get_role(RoleName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchEntity":
            return False
        raise
    return True


def _role(iam: Any, partition: str, say: Callable[[str], None]) -> str:
    try:
        arn: str = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
        arn = iam.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description="Lets API Gateway write access and execution logs to CloudWatch Logs (account setting).",
        )["Role"]["Arn"]
        say(f"created the role {arn}")
    iam.attach_role_policy(
        RoleName=ROLE_NAME,
        PolicyArn=f"arn:{partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
    )
    return arn
