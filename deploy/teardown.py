"""`make destroy`'s deleting, step by step: the endpoint stopped (the API's POST /stop with the admin key, so the state
item and schedules agree; SageMaker directly for any endpoint still there), the pipeline's running executions stopped
(Step Functions stops their training jobs), what the functions and the pipeline created deleted, the buckets emptied
(S3 refuses to delete a bucket with objects, and so would the stack), the stack deleted, any bucket left deleted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from botocore.exceptions import ClientError

from deploy.leftovers import Leftovers
from deploy.progress import duration_text
from deploy.smoke import DocumentedApi, SmokeTestError
from deploy.stack import BUCKETS, Output, Outputs
from deploy.waiting import IN_REAL_TIME, Waiting

SETTLING = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}  # DeleteEndpoint refuses these
ENDPOINT_POLL_SECONDS, ENDPOINT_WAIT_SECONDS = 15.0, 1800.0  # a Creating endpoint settles within its ~7 minutes


class TeardownError(RuntimeError):
    pass


class Teardown:
    def __init__(
        self,
        session: Any,
        outputs: Outputs,
        leftovers: Leftovers,
        say: Callable[[str], None],
        waiting: Waiting = IN_REAL_TIME,
    ) -> None:
        self._session = session
        self._sagemaker = session.client("sagemaker")
        self._outputs = outputs
        self._leftovers = leftovers
        self._say = say
        self._waiting = waiting

    def stop_endpoint(self, api: DocumentedApi) -> None:
        try:
            secrets = self._session.client("secretsmanager")
            key = secrets.get_secret_value(SecretId=self._outputs[Output.ADMIN_KEY_SECRET])["SecretString"]
            answer = api.call("post", self._outputs[Output.API_URL], "/stop", headers={"x-api-key": key})
            said = answer.get("state") or answer.get("error")  # a documented refusal (409: nothing to stop) is fine
            self._say(f"POST /stop: {said}" + (f" ({answer['message']})" if "message" in answer else ""))
        except (ClientError, requests.RequestException, SmokeTestError) as exc:
            self._say(f"POST /stop did not answer as documented ({exc}); deleting through SageMaker")
        for _ in self._waiting.looks(every=ENDPOINT_POLL_SECONDS, within=ENDPOINT_WAIT_SECONDS):
            endpoints = self._leftovers.endpoints()
            if not endpoints:
                self._say("no endpoint of this stack is left")
                return
            for name in endpoints:
                try:
                    status = self._sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]
                except ClientError:  # gone between the listing and now
                    continue
                if status not in SETTLING:
                    self._sagemaker.delete_endpoint(EndpointName=name)
                self._say(f"endpoint {name}: {status}" + ("" if status in SETTLING else ", deleting"))
        waited = duration_text(ENDPOINT_WAIT_SECONDS)
        raise TeardownError(f"endpoints still there after {waited}: {', '.join(self._leftovers.endpoints())}")

    def stop_pipeline(self) -> None:
        sfn = self._session.client("stepfunctions")
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self._outputs[Output.STATE_MACHINE], statusFilter="RUNNING"
        )
        running = [execution["executionArn"] for page in pages for execution in page["executions"]]
        for arn in running:
            sfn.stop_execution(executionArn=arn, error="Destroyed", cause="make destroy")
            self._say(f"stopped {arn}")
        if not running:
            self._say("no execution running")

    def delete_created(self) -> None:
        """Endpoint configs, models, schedules and log groups the functions and the pipeline made."""
        deletes: dict[str, tuple[Callable[[], list[str]], Callable[[str], object]]] = {
            "endpoint config": (
                self._leftovers.endpoint_configs,
                lambda name: self._sagemaker.delete_endpoint_config(EndpointConfigName=name),
            ),
            "model": (self._leftovers.models, lambda name: self._sagemaker.delete_model(ModelName=name)),
            "schedule": (
                self._leftovers.schedules,
                lambda name: self._session.client("scheduler").delete_schedule(
                    Name=name, GroupName=self._outputs[Output.SCHEDULE_GROUP]
                ),
            ),
            "log group": (
                self._leftovers.log_groups,
                lambda name: self._session.client("logs").delete_log_group(logGroupName=name),
            ),
        }
        for kind, (find, delete) in deletes.items():
            names = find()
            for name in names:
                delete(name)
            self._say(
                f"deleted {len(names)} {kind}{'' if len(names) == 1 else 's'}"
                + (f": {', '.join(names)}" if names else "")
            )

    def empty_buckets(self) -> None:
        s3 = self._session.client("s3")
        for output in BUCKETS:
            bucket = self._outputs[output]
            try:
                count = self._empty(s3, bucket)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchBucket":
                    raise
                count = 0
            self._say(f"s3://{bucket}: {count} objects deleted")

    def delete_buckets(self) -> None:
        """Any bucket the stack's deletion left (a retained or failed one): emptied and deleted."""
        s3 = self._session.client("s3")
        for bucket in self._leftovers.buckets():
            self._empty(s3, bucket)
            s3.delete_bucket(Bucket=bucket)
            self._say(f"deleted the bucket {bucket}")

    @staticmethod
    def _empty(s3: Any, bucket: str) -> int:
        """Every object version and delete marker (a versioned bucket keeps them after a plain delete)."""
        count = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if doomed:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
                count += len(doomed)
        return count
