"""The preflight: the stack name, the quotas the stack needs (from what it runs) and the request command for each one
missing, looked up as Service Quotas answers (botocore's Stubber checks each request against the service model)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from deploy.preflight import ASL, Preflight, PreflightError
from deploy.quotas import QuotaNeed, ServiceQuotas, quota_needs
from deploy.settings import DeploySettings, Options

ENDPOINT = "ml.g4dn.xlarge for endpoint usage"


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stubbed clients still sign their requests: fixed credentials, so nothing looks for real ones."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


class FakeSam:
    def version(self) -> str:
        return "1.170.0"

    def build(self) -> None: ...

    def deploy(self) -> None: ...

    def delete(self) -> None: ...


class Session:
    """boto3 clients with Stubber answers: STS's identity and Service Quotas' applied and default values."""

    def __init__(self, defaults: list[dict[str, Any]]) -> None:
        self.clients: dict[str, Any] = {}
        sts = boto3.client("sts", region_name="us-east-1")
        stub = Stubber(sts)
        stub.add_response(
            "get_caller_identity",
            {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/owner", "UserId": "AIDAEXAMPLE"},
        )
        stub.activate()
        self.clients["sts"] = sts
        quotas = boto3.client("service-quotas", region_name="us-east-1")
        stub = Stubber(quotas)
        for need in defaults:
            stub.add_response("list_service_quotas", {"Quotas": []}, {"ServiceCode": need["ServiceCode"]})
            stub.add_response(
                "list_aws_default_service_quotas", {"Quotas": [need]}, {"ServiceCode": need["ServiceCode"]}
            )
        stub.activate()
        self.clients["service-quotas"] = quotas

    def client(self, name: str) -> Any:
        return self.clients[name]


def quota(service: str, name: str, code: str, value: float) -> dict[str, Any]:
    return {"ServiceCode": service, "QuotaName": name, "QuotaCode": code, "Value": value}


def settings(**parameters: str) -> DeploySettings:
    loaded = DeploySettings.load(Options.parse(["deploy"]))
    return replace(loaded, parameters={**loaded.parameters, **parameters})


def test_the_stack_needs_an_endpoint_and_a_training_instance_and_with_reserved_concurrency_115_executions() -> None:
    loaded = settings(ReservedConcurrency="on")

    needs = quota_needs(loaded.template, loaded.parameters, loaded.root / ASL)

    assert [(need.service_code, need.name, need.needed, need.blocks_stack) for need in needs] == [
        ("sagemaker", ENDPOINT, 1, False),
        ("sagemaker", "ml.g4dn.xlarge for training job usage", 1, False),
        ("lambda", "Concurrent executions", 115, True),
    ]
    assert len(quota_needs(loaded.template, settings().parameters, loaded.root / ASL)) == 2


def test_a_missing_quota_prints_the_exact_request_command_and_a_blocking_one_stops_the_run() -> None:
    said: list[str] = []
    session = Session(
        [
            quota("sagemaker", ENDPOINT, "L-1194D53C", 0),
            quota("sagemaker", "ml.g4dn.xlarge for training job usage", "L-3F53BA1F", 1),
            quota("lambda", "Concurrent executions", "L-B99A9384", 10),
        ]
    )

    with pytest.raises(PreflightError, match="'Concurrent executions' is below 115"):
        Preflight(settings(ReservedConcurrency="on"), session, FakeSam(), said.append).run()

    text = "\n".join(said)
    assert (
        "aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code L-1194D53C "
        "--desired-value 1 --region us-east-1"
    ) in text
    assert "--service-code lambda --quota-code L-B99A9384 --desired-value 115" in text
    assert "quota 'ml.g4dn.xlarge for training job usage': 1 (needs 1) ok" in text


def test_the_training_quota_decides_whether_the_pipeline_may_start() -> None:
    session = Session(
        [
            quota("sagemaker", ENDPOINT, "L-1194D53C", 1),
            quota("sagemaker", "ml.g4dn.xlarge for training job usage", "L-3F53BA1F", 0),
        ]
    )

    result = Preflight(settings(), session, FakeSam(), lambda _: None).run()

    assert result.account == "123456789012" and not result.can_train


@pytest.mark.parametrize("name", ["1stack", "my_stack", "a" * 129, ""])
def test_a_stack_name_cloudformation_refuses_stops_the_run(name: str) -> None:
    with pytest.raises(PreflightError, match="not one CloudFormation accepts"):
        Preflight(replace(settings(), stack_name=name), Session([]), FakeSam(), lambda _: None).run(quotas=False)


def test_a_quota_service_quotas_cannot_tell_is_reported_with_its_reason() -> None:
    client = boto3.client("service-quotas", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("list_service_quotas", "NoSuchResourceException", "no applied values")
    stub.add_client_error("list_aws_default_service_quotas", "AccessDeniedException", "not allowed")
    stub.activate()

    check = ServiceQuotas(client).check(QuotaNeed("sagemaker", ENDPOINT, 1, "", False))

    assert check.value is None and not check.ok and "AccessDeniedException" in check.problem
    assert "--quota-code <QuotaCode of 'ml.g4dn.xlarge for endpoint usage'>" in check.request_command("us-east-1")
