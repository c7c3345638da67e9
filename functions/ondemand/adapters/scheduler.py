"""The Scheduler port on EventBridge Scheduler: one-time `at()` schedules that delete themselves after firing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ondemand.domain import SchedulerError


class EventBridgeScheduler:
    """`role_arn` and `target_arn` are None in a function that only deletes schedules (the teardown function)."""

    def __init__(self, client: Any, *, group_name: str, role_arn: str | None, target_arn: str | None) -> None:
        self.client = client
        self.group_name = group_name
        self.role_arn = role_arn
        self.target_arn = target_arn

    def request(self, name: str, at: datetime, payload: dict[str, Any]) -> dict[str, Any]:
        """The CreateSchedule/UpdateSchedule arguments (the same for both, so a retry replaces, never doubles)."""
        if self.role_arn is None or self.target_arn is None:
            raise SchedulerError("This function has no SCHEDULER_ROLE_ARN and TEARDOWN_FUNCTION_ARN to schedule with.")
        return {
            "Name": name,
            "GroupName": self.group_name,
            "ScheduleExpression": f"at({at.astimezone(UTC):%Y-%m-%dT%H:%M:%S})",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "State": "ENABLED",
            "Target": {
                "Arn": self.target_arn,
                "RoleArn": self.role_arn,
                "Input": json.dumps(payload),
                "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
            },
        }

    def schedule(self, name: str, at: datetime, payload: dict[str, Any]) -> None:
        request = self.request(name, at, payload)
        try:
            try:
                self.client.create_schedule(**request)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConflictException":
                    raise
                self.client.update_schedule(**request)
        except (ClientError, BotoCoreError) as exc:
            raise SchedulerError(f"could not schedule {name}: {exc}") from exc

    def cancel(self, name: str) -> None:
        try:
            self.client.delete_schedule(Name=name, GroupName=self.group_name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise SchedulerError(f"could not delete schedule {name}: {exc}") from exc
        except BotoCoreError as exc:
            raise SchedulerError(f"could not delete schedule {name}: {exc}") from exc
