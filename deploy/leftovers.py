"""What of one stack exists outside or beyond it, found by the stack's own names: its outputs (the endpoint prefix, the
buckets, the schedule group, the distribution) and its functions' physical names, read while the stack exists.

- endpoints and endpoint configs: the functions name them `<EndpointNamePrefix>-...`;
- models: the pipeline names them `sentiment-...` (not by stack), so a model is this stack's when its artefact is in
  this stack's artefacts bucket;
- training jobs still running, the same way (their output path);
- schedules in the stack's group; log groups the functions (`/aws/lambda/<function>`) and the endpoints
  (`/aws/sagemaker/Endpoints/<prefix>-...`) wrote, which outlive the stack;
- the buckets, the distribution and the stack itself, after deletion.
`make destroy` deletes what `found()` lists, then lists again and fails if anything is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from deploy.stack import BUCKETS, Output, Outputs, Stack

PIPELINE_NAME_PREFIX = "sentiment-"  # statemachine/training_pipeline.asl.json: jobs and models
ENDPOINT_LOG_GROUPS = "/aws/sagemaker/Endpoints/"


@dataclass(frozen=True)
class Footprint:
    stack_name: str
    outputs: Outputs
    function_names: tuple[str, ...]

    @classmethod
    def of(cls, stack: Stack) -> Footprint:
        return cls(stack.name, stack.outputs(), tuple(stack.physical_ids("AWS::Lambda::Function")))

    @property
    def endpoint_prefix(self) -> str:
        return f"{self.outputs[Output.ENDPOINT_PREFIX]}-"

    @property
    def artifacts(self) -> str:
        return f"s3://{self.outputs[Output.ARTIFACTS_BUCKET]}/"


def _missing(exc: ClientError) -> bool:
    code = exc.response["Error"]["Code"]
    return code in {"ResourceNotFoundException", "NoSuchBucket", "404", "NoSuchDistribution", "ValidationException"}


class Leftovers:
    def __init__(self, session: Any, footprint: Footprint) -> None:
        self._session = session
        self._footprint = footprint
        self._sagemaker = session.client("sagemaker")

    def found(self) -> dict[str, list[str]]:
        """Kind -> names of everything of the stack that exists (empty kinds left out)."""
        kinds = {
            "stack": self.stack,
            "SageMaker endpoints": self.endpoints,
            "SageMaker endpoint configs": self.endpoint_configs,
            "SageMaker models": self.models,
            "training jobs in progress": self.training_jobs,
            "schedules": self.schedules,
            "log groups": self.log_groups,
            "buckets": self.buckets,
            "CloudFront distribution": self.distribution,
        }
        return {kind: names for kind, find in kinds.items() if (names := find())}

    def stack(self) -> list[str]:
        stack = Stack(self._session.client("cloudformation"), self._footprint.stack_name)
        status = stack.status()
        return [f"{stack.name} ({status})"] if status else []

    def endpoints(self) -> list[str]:
        return self._prefixed("list_endpoints", "Endpoints", "EndpointName")

    def endpoint_configs(self) -> list[str]:
        return self._prefixed("list_endpoint_configs", "EndpointConfigs", "EndpointConfigName")

    def models(self) -> list[str]:
        ours = []
        for name in self._listed("list_models", "Models", "ModelName", PIPELINE_NAME_PREFIX):
            try:
                model = self._sagemaker.describe_model(ModelName=name)
            except ClientError as exc:
                if _missing(exc):
                    continue
                raise
            if model.get("PrimaryContainer", {}).get("ModelDataUrl", "").startswith(self._footprint.artifacts):
                ours.append(name)
        return ours

    def training_jobs(self) -> list[str]:
        pages = self._sagemaker.get_paginator("list_training_jobs").paginate(
            NameContains=PIPELINE_NAME_PREFIX, StatusEquals="InProgress"
        )
        names = [job["TrainingJobName"] for page in pages for job in page["TrainingJobSummaries"]]
        return [
            name
            for name in names
            if self._sagemaker.describe_training_job(TrainingJobName=name)["OutputDataConfig"][
                "S3OutputPath"
            ].startswith(self._footprint.artifacts)
        ]

    def schedules(self) -> list[str]:
        scheduler = self._session.client("scheduler")
        group = self._footprint.outputs[Output.SCHEDULE_GROUP]
        try:
            pages = scheduler.get_paginator("list_schedules").paginate(GroupName=group)
            return [schedule["Name"] for page in pages for schedule in page["Schedules"]]
        except ClientError as exc:
            if _missing(exc):
                return []
            raise

    def log_groups(self) -> list[str]:
        logs = self._session.client("logs")

        def named(prefix: str) -> list[str]:
            pages = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix)
            return [str(group["logGroupName"]) for page in pages for group in page["logGroups"]]

        functions = sorted(f"/aws/lambda/{name}" for name in self._footprint.function_names)
        found = [name for function in functions for name in named(function) if name == function]
        return found + named(ENDPOINT_LOG_GROUPS + self._footprint.endpoint_prefix)

    def buckets(self) -> list[str]:
        s3 = self._session.client("s3")
        present = []
        for output in BUCKETS:
            try:
                s3.head_bucket(Bucket=self._footprint.outputs[output])
            except ClientError as exc:
                if _missing(exc):
                    continue
                raise
            present.append(self._footprint.outputs[output])
        return present

    def distribution(self) -> list[str]:
        distribution = self._footprint.outputs[Output.PAGE_DISTRIBUTION]
        try:
            self._session.client("cloudfront").get_distribution(Id=distribution)
        except ClientError as exc:
            if _missing(exc):
                return []
            raise
        return [distribution]

    def _prefixed(self, operation: str, key: str, name_key: str) -> list[str]:
        prefix = self._footprint.endpoint_prefix
        return [name for name in self._listed(operation, key, name_key, prefix) if name.startswith(prefix)]

    def _listed(self, operation: str, key: str, name_key: str, contains: str) -> list[str]:
        pages = self._sagemaker.get_paginator(operation).paginate(NameContains=contains)
        return [str(item[name_key]) for page in pages for item in page[key]]
