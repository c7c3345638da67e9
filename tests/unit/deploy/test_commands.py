"""The two commands where the stack is not what a deploy left: a first creation that rolled back (no outputs) is
deleted by make destroy and refused by make deploy until then. The whole run: tests/integration/test_deploy_moto.py."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from deploy.commands import Tools, deploy, destroy
from deploy.preflight import PreflightError
from deploy.settings import DeploySettings, Options

STACK = "ondemand-sentiment-dev"
ROLLED_BACK = '{"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}'  # a stack with none of the template's outputs


class DeletingSam:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def version(self) -> str:
        return "1.170.0"

    def build(self) -> None:
        self.calls.append("build")

    def deploy(self) -> None:
        self.calls.append("deploy")

    def delete(self) -> None:
        self.calls.append("delete")
        boto3.client("cloudformation", region_name="us-east-1").delete_stack(StackName=STACK)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        session.client("cloudformation").create_stack(StackName=STACK, TemplateBody=ROLLED_BACK)
        yield session


def test_destroy_deletes_a_stack_without_outputs_and_looks_for_nothing_else(aws: Any) -> None:
    sam, out = DeletingSam(), io.StringIO()

    code = destroy(DeploySettings.load(Options.parse(["destroy"])), Tools(aws, sam, requests.Session()), out)

    assert code == 0 and sam.calls == ["delete"], out.getvalue()
    assert "has no output AdminApiKeySecretArn, ApiUrl" in out.getvalue()
    assert aws.client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"] == []


def test_deploy_refuses_a_stack_cloudformation_cannot_update(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from deploy import stack
    from deploy.quotas import QuotaCheck, ServiceQuotas

    monkeypatch.setattr(stack.Stack, "status", lambda self: "ROLLBACK_COMPLETE")
    monkeypatch.setattr(ServiceQuotas, "check", lambda self, need: QuotaCheck(need, need.needed, "L-0"))
    sam = DeletingSam()

    with pytest.raises(PreflightError, match="ROLLBACK_COMPLETE: wait for it to settle, or make destroy"):
        deploy(DeploySettings.load(Options.parse(["deploy"])), Tools(aws, sam, requests.Session()), io.StringIO())
    assert sam.calls == []
