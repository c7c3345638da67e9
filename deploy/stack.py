"""CloudFormation's view of the stack: whether it exists, its outputs, the physical ids of its resources.

`Output` names every output the tool reads; tests/unit/deploy checks each is an output of template.yaml.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError


class Output(StrEnum):
    API_URL = "ApiUrl"
    WEB_PAGE_URL = "WebPageUrl"
    PAGE_BUCKET = "PageBucketName"
    PAGE_DISTRIBUTION = "PageDistributionId"
    STATE_MACHINE = "TrainingStateMachineArn"
    RAW_BUCKET = "RawBucketName"
    CURATED_BUCKET = "CuratedBucketName"
    ARTIFACTS_BUCKET = "ArtifactsBucketName"
    ENDPOINT_PREFIX = "EndpointNamePrefix"
    ADMIN_KEY_SECRET = "AdminApiKeySecretArn"
    APPROVED_MODEL_PARAMETER = "ApprovedModelParameterName"
    INSTANT_MODEL_PARAMETER = "InstantModelParameterName"
    SCHEDULE_GROUP = "TeardownScheduleGroupName"
    CEILING_FUNCTION = "CeilingFunctionName"


BUCKETS = (Output.PAGE_BUCKET, Output.RAW_BUCKET, Output.CURATED_BUCKET, Output.ARTIFACTS_BUCKET)
Outputs = dict[Output, str]


class MissingOutputsError(RuntimeError):
    """The stack lacks outputs this tool reads: a stack of another template, or one whose creation rolled back."""


class Stack:
    def __init__(self, cloudformation: Any, name: str) -> None:
        self._cloudformation = cloudformation
        self.name = name

    def status(self) -> str | None:
        """The stack's status, or None if there is no such stack (any more)."""
        try:
            stacks = self._cloudformation.describe_stacks(StackName=self.name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        status: str = stacks[0]["StackStatus"]
        return None if status == "DELETE_COMPLETE" else status

    def outputs(self) -> Outputs:
        stack = self._cloudformation.describe_stacks(StackName=self.name)["Stacks"][0]
        found = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        missing = sorted(name.value for name in Output if name.value not in found)
        if missing:
            raise MissingOutputsError(f"The stack {self.name} has no output {', '.join(missing)}")
        return {name: found[name.value] for name in Output}

    def physical_ids(self, resource_type: str) -> list[str]:
        paginator = self._cloudformation.get_paginator("list_stack_resources")
        return [
            resource["PhysicalResourceId"]
            for page in paginator.paginate(StackName=self.name)
            for resource in page["StackResourceSummaries"]
            if resource["ResourceType"] == resource_type
        ]
