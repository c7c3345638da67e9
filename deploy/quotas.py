"""The quotas the stack needs, derived from what it runs, and the account's values from Service Quotas.

- SageMaker: one instance of `InstanceType` for the endpoint, and of each training instance type the pipeline's ASL
  names for its training jobs (they run one after the other). Service Quotas names them "<type> for endpoint usage"
  and "<type> for training job usage"; a new account often has 0.
- Lambda, only with ReservedConcurrency=on: "You can reserve up to the Unreserved account concurrency value minus 100
  for functions that don't have reserved concurrency" (docs.aws.amazon.com/lambda/latest/dg/configuration-
  concurrency.html), so "Concurrent executions" (L-B99A9384) must be at least 100 plus what the functions reserve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

UNRESERVED_CONCURRENCY = 100
LAMBDA_CONCURRENCY = "Concurrent executions"


@dataclass(frozen=True)
class QuotaNeed:
    service_code: str
    name: str
    """As Service Quotas names the quota."""
    needed: int
    why: str
    blocks_stack: bool
    """True when `sam deploy` itself fails without it; otherwise only part of the product waits for it."""


@dataclass(frozen=True)
class QuotaCheck:
    need: QuotaNeed
    value: float | None
    code: str | None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None and self.value >= self.need.needed

    def request_command(self, region: str) -> str:
        return (
            f"aws service-quotas request-service-quota-increase --service-code {self.need.service_code} "
            f"--quota-code {self.code or '<QuotaCode of ' + repr(self.need.name) + '>'} "
            f"--desired-value {self.need.needed} --region {region}"
        )


def reserved_concurrency(template: dict[str, Any]) -> int:
    """What the functions reserve with ReservedConcurrency=on (each `!If [ReserveConcurrency, N, NoValue]`)."""
    total = 0
    for resource in template["Resources"].values():
        reserved = resource.get("Properties", {}).get("ReservedConcurrentExecutions")
        if resource["Type"] == "AWS::Serverless::Function" and reserved is not None:
            condition, when_on, _ = reserved["Fn::If"]
            assert condition == "ReserveConcurrency", condition
            total += int(when_on)
    return total


def concurrency_quota_needed(template: dict[str, Any]) -> int:
    return UNRESERVED_CONCURRENCY + reserved_concurrency(template)


def training_instances(asl_path: Path) -> dict[str, int]:
    """Instance type -> count of every training job in the pipeline's ASL."""
    found: dict[str, int] = {}
    for state in json.loads(asl_path.read_text())["States"].values():
        config = state.get("Parameters", {}).get("ResourceConfig")
        if config:
            kind = config["InstanceType"]
            found[kind] = max(found.get(kind, 0), int(config["InstanceCount"]))
    return found


def quota_needs(template: dict[str, Any], parameters: dict[str, str], asl_path: Path) -> list[QuotaNeed]:
    instance = parameters["InstanceType"]
    needs = [QuotaNeed("sagemaker", f"{instance} for endpoint usage", 1, "the GPU endpoint /start creates", False)]
    needs += [
        QuotaNeed("sagemaker", f"{kind} for training job usage", count, "the training pipeline's jobs", False)
        for kind, count in training_instances(asl_path).items()
    ]
    if parameters["ReservedConcurrency"] == "on":
        needed = concurrency_quota_needed(template)
        why = f"ReservedConcurrency=on reserves {reserved_concurrency(template)}; Lambda keeps 100 unreserved"
        needs.append(QuotaNeed("lambda", LAMBDA_CONCURRENCY, needed, why, True))
    return needs


class ServiceQuotas:
    """The account's value of a quota, found by its name: the applied value where Service Quotas has one, else the
    AWS default (ListServiceQuotas: "If the applied quota value is not available for a quota, the quota is not
    retrieved")."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def check(self, need: QuotaNeed) -> QuotaCheck:
        problems = []
        for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
            try:
                for page in self._client.get_paginator(operation).paginate(ServiceCode=need.service_code):
                    for quota in page["Quotas"]:
                        if quota["QuotaName"] == need.name:
                            return QuotaCheck(need, float(quota["Value"]), quota["QuotaCode"])
            except (ClientError, BotoCoreError) as exc:
                problems.append(f"{operation}: {exc}")
        return QuotaCheck(need, None, None, "; ".join(problems) or "no quota of that name in this region")
