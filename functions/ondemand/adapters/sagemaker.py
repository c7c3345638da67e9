"""The EndpointControl port on SageMaker: the endpoint API for the lifecycle, the runtime API for predictions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ondemand.domain import EndpointError, EndpointInfo, EndpointNotDeletableError, EndpointStatus

VARIANT_NAME = "AllTraffic"
NO_MODEL_YET = "none"  # what statemachine/pipeline.yaml puts in the parameter before the first approval
# DeleteEndpoint is refused while an endpoint is in one of these: the EndpointStatus reference says SystemUpdating
# "cannot be updated or deleted" (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_EndpointSummary.html),
# and a delete during Creating or Updating answers ValidationException "Cannot update in-progress endpoint <arn>".
NOT_DELETABLE_YET = frozenset(
    {EndpointStatus.CREATING, EndpointStatus.UPDATING, EndpointStatus.SYSTEM_UPDATING, EndpointStatus.ROLLING_BACK}
)


def _is_missing(exc: ClientError) -> bool:
    """SageMaker reports a missing endpoint or config as a ValidationException that says "Could not find"."""
    message = exc.response.get("Error", {}).get("Message", "")
    return exc.response.get("Error", {}).get("Code") == "ValidationException" and "Could not find" in message


ERROR_CODES = {
    "AccessDenied": "access_denied",
    "AccessDeniedException": "access_denied",
    "UnauthorizedOperation": "access_denied",
    "ResourceLimitExceeded": "quota_exceeded",
    "InsufficientCapacity": "no_capacity",
    "InsufficientCapacityError": "no_capacity",
    "CapacityError": "no_capacity",
}
"""AWS error codes -> the stable codes callers see (ondemand.domain.PUBLIC_MESSAGES); the message stays in the log."""


def _code(exc: ClientError | BotoCoreError, default: str) -> str:
    if isinstance(exc, ClientError):
        return ERROR_CODES.get(exc.response.get("Error", {}).get("Code", ""), default)
    return default


def _status(raw: str) -> EndpointStatus:
    """A status SageMaker adds in the future reads as Updating: alive, billing, and not ours to promote or fail."""
    try:
        return EndpointStatus(raw)
    except ValueError:
        return EndpointStatus.UPDATING


class SageMakerEndpoints:
    """Creates the endpoint (and its config, once per model and instance type), describes, lists, deletes, invokes."""

    def __init__(
        self,
        sagemaker: Any,
        runtime: Any,
        ssm: Any,
        *,
        prefix: str,
        instance_type: str,
        approved_model_parameter: str,
    ) -> None:
        self.sagemaker = sagemaker
        self.runtime = runtime
        self.ssm = ssm
        self.prefix = prefix
        self.instance_type = instance_type
        self.approved_model_parameter = approved_model_parameter

    def approved_model(self) -> str:
        """The model the training pipeline approved, read at each start so a new approval needs no redeploy."""
        try:
            model_name: str = self.ssm.get_parameter(Name=self.approved_model_parameter)["Parameter"]["Value"]
        except ClientError as exc:
            raise EndpointError(
                f"No approved model: SSM parameter {self.approved_model_parameter} could not be read "
                f"({exc.response['Error']['Code']}). Run the training pipeline first.",
                _code(exc, "no_approved_model"),
            ) from exc
        if model_name == NO_MODEL_YET:
            raise EndpointError(
                f"No approved model yet: SSM parameter {self.approved_model_parameter} says '{NO_MODEL_YET}'. "
                "Run the training pipeline first.",
                "no_approved_model",
            )
        return model_name

    def config_name(self, model_name: str) -> str:
        """Deterministic per model and instance type, so configs are reused, and inside the IAM name prefix."""
        digest = hashlib.sha256(f"{model_name}|{self.instance_type}".encode()).hexdigest()[:12]
        return f"{self.prefix}-cfg-{digest}"

    def create(self, name: str) -> None:
        model_name = self.approved_model()
        config_name = self.config_name(model_name)
        try:
            self._ensure_config(config_name, model_name)
            self.sagemaker.create_endpoint(
                EndpointName=name,
                EndpointConfigName=config_name,
                Tags=[{"Key": "project", "Value": self.prefix}, {"Key": "model", "Value": model_name[:256]}],
            )
        except (ClientError, BotoCoreError) as exc:
            raise EndpointError(f"CreateEndpoint {name} failed: {exc}", _code(exc, "create_failed")) from exc

    def _ensure_config(self, config_name: str, model_name: str) -> None:
        try:
            self.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
            return
        except ClientError as exc:
            if not _is_missing(exc):
                raise
        try:
            self.sagemaker.create_endpoint_config(
                EndpointConfigName=config_name,
                ProductionVariants=[
                    {
                        "VariantName": VARIANT_NAME,
                        "ModelName": model_name,
                        "InitialInstanceCount": 1,
                        "InstanceType": self.instance_type,
                        "InitialVariantWeight": 1.0,
                    }
                ],
            )
        except ClientError as exc:
            # Two starts racing to create the same config: the other one made it, which is all we need.
            if "already exist" not in exc.response.get("Error", {}).get("Message", ""):
                raise

    def describe(self, name: str) -> EndpointInfo | None:
        try:
            answer = self.sagemaker.describe_endpoint(EndpointName=name)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise EndpointError(f"DescribeEndpoint {name} failed: {exc}", _code(exc, "endpoint_failed")) from exc
        return EndpointInfo(name, _status(answer["EndpointStatus"]), answer.get("FailureReason"))

    def delete(self, name: str) -> None:
        """Raises EndpointNotDeletableError while SageMaker refuses to delete it yet (see NOT_DELETABLE_YET)."""
        try:
            self.sagemaker.delete_endpoint(EndpointName=name)
        except ClientError as exc:
            if _is_missing(exc):
                return  # already gone counts as deleted
            if exc.response.get("Error", {}).get("Code") == "ValidationException":
                self._raise_if_not_deletable_yet(name, exc)
            raise EndpointError(f"DeleteEndpoint {name} failed: {exc}", _code(exc, "endpoint_failed")) from exc
        except BotoCoreError as exc:
            raise EndpointError(f"DeleteEndpoint {name} failed: {exc}", _code(exc, "endpoint_failed")) from exc

    def _raise_if_not_deletable_yet(self, name: str, refusal: ClientError) -> None:
        """The refusal's wording is not a contract, the endpoint's status is: describe it to tell "not yet" apart
        from a real error. "in-progress" in the message also counts, for an endpoint that settled meanwhile."""
        info = self.describe(name)
        if info is not None and info.status in NOT_DELETABLE_YET:
            raise EndpointNotDeletableError(name, info.status.value) from refusal
        if "in-progress" in refusal.response.get("Error", {}).get("Message", ""):
            raise EndpointNotDeletableError(name, "being created or updated") from refusal

    def list(self, prefix: str) -> list[EndpointInfo]:
        found = []
        try:
            for page in self.sagemaker.get_paginator("list_endpoints").paginate(NameContains=prefix):
                for summary in page["Endpoints"]:
                    if summary["EndpointName"].startswith(prefix):
                        found.append(EndpointInfo(summary["EndpointName"], _status(summary["EndpointStatus"])))
        except (ClientError, BotoCoreError) as exc:
            raise EndpointError(f"ListEndpoints failed: {exc}", _code(exc, "endpoint_failed")) from exc
        # The list has no FailureReason; describe the failed ones so the reconciler can report why.
        return [self.describe(e.name) or e if e.status == EndpointStatus.FAILED else e for e in found]

    def invoke(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = self.runtime.invoke_endpoint(
                EndpointName=name,
                ContentType="application/json",
                Accept="application/json",
                Body=json.dumps(payload).encode(),
            )
            decoded = json.loads(answer["Body"].read())
        except (ClientError, BotoCoreError) as exc:
            raise EndpointError(f"InvokeEndpoint {name} failed: {exc}", _code(exc, "endpoint_error")) from exc
        except ValueError as exc:
            raise EndpointError(f"The endpoint {name} answered something that is not JSON", "endpoint_error") from exc
        if not isinstance(decoded, dict):  # the caller reads fields of it; a list would be an AttributeError (500)
            raise EndpointError(f"The endpoint {name} answered JSON that is not an object", "endpoint_error")
        return decoded
