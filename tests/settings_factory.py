"""`make_settings(**overrides)`: the Settings tests build in code (no environment, nothing cached)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ondemand.settings import Settings, declared

TEST_STATE_TABLE = "test-ondemand-state"


def make_settings(**overrides: Any) -> Settings:
    """The product's declared defaults plus test names for the stack's resources (and its instance type);
    `overrides` replace any field."""
    settings = Settings(
        table_name=TEST_STATE_TABLE,
        region="us-east-1",
        endpoint_name_prefix="ondemand-sentiment",
        instance_type=declared("instance_type").deployed,
        approved_model_parameter="/ondemand-sentiment/approved-model",
        schedule_group_name="ondemand-test-schedules",
        scheduler_role_arn="arn:aws:iam::123456789012:role/ondemand-scheduler",
        teardown_function_arn="arn:aws:lambda:us-east-1:123456789012:function:ondemand-teardown",
    )
    return dataclasses.replace(settings, **overrides)
