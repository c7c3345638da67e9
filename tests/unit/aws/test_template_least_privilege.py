"""What a leaked function role could do, read from template.yaml's policies: endpoint configs of the configured
instance type only, DynamoDB item by item only, and no template parameter without bounds (issue 12 item 9)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.aws.iam_coverage import allow_statements, allows

# The item-level actions the lifecycle and the rate limiter use; Scan, Query, DeleteItem, BatchWriteItem, and any
# table-level action would let a leaked role read every phone number at once or wipe the state.
ITEM_LEVEL_DYNAMODB = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"}
EXPENSIVE_INSTANCE = "ml.p5.48xlarge"  # about 98 USD an hour on demand


def functions(template: dict[str, Any]) -> list[str]:
    return [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]


def defaults(template: dict[str, Any]) -> dict[str, Any]:
    return {name: parameter.get("Default") for name, parameter in template["Parameters"].items()}


def test_only_the_configured_instance_type_can_be_put_in_an_endpoint_config(template) -> None:
    parameters = defaults(template)
    configured = parameters["InstanceType"]
    creators = [
        f
        for f in functions(template)
        if allows(template, f, "sagemaker:CreateEndpointConfig", {"sagemaker:InstanceTypes": [configured]}, parameters)
    ]
    assert "ApiFunction" in creators  # /start creates the config
    for function_id in functions(template):
        for instance_types in ([EXPENSIVE_INSTANCE], [configured, EXPENSIVE_INSTANCE], ["ml.g4dn.12xlarge"]):
            request = {"sagemaker:InstanceTypes": instance_types}
            assert not allows(template, function_id, "sagemaker:CreateEndpointConfig", request, parameters), (
                function_id,
                instance_types,
            )
        # A serverless config names no instance type: ForAllValues alone would let it through.
        assert not allows(template, function_id, "sagemaker:CreateEndpointConfig", {}, parameters), function_id


def test_the_instance_type_condition_follows_the_parameter(template) -> None:
    parameters = {**defaults(template), "InstanceType": "ml.g5.xlarge"}
    assert allows(
        template,
        "ApiFunction",
        "sagemaker:CreateEndpointConfig",
        {"sagemaker:InstanceTypes": ["ml.g5.xlarge"]},
        parameters,
    )
    assert not allows(
        template,
        "ApiFunction",
        "sagemaker:CreateEndpointConfig",
        {"sagemaker:InstanceTypes": ["ml.g4dn.xlarge"]},
        parameters,
    )


@pytest.mark.parametrize(
    "function_id", ["ApiFunction", "EndpointEventsFunction", "TeardownFunction", "ReconcilerFunction"]
)
def test_dynamodb_is_granted_item_by_item_on_named_tables_only(template, function_id: str) -> None:
    dynamodb = [
        s
        for s in allow_statements(template, function_id)
        if any(
            str(a).lower().startswith("dynamodb:")
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        )
    ]
    assert dynamodb, f"{function_id} has no DynamoDB grant at all"
    for statement in dynamodb:
        actions = set(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        assert actions <= ITEM_LEVEL_DYNAMODB, (function_id, sorted(actions - ITEM_LEVEL_DYNAMODB))
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        # Each resource is one of the stack's tables itself (no "*", no index, no other table).
        assert all(
            r in ({"Fn::GetAtt": ["StateTable", "Arn"]}, {"Fn::GetAtt": ["RateLimitTable", "Arn"]}) for r in resources
        ), (function_id, resources)


def test_whoever_counts_on_the_rate_table_holds_the_pepper_and_nothing_else_does(template) -> None:
    """The /start limits count in ApiFunction (the daily text caps may count elsewhere): a function that can update
    the counters can key them, and the pepper is read by no function that does not count."""

    def grants(function_id: str, resource: dict[str, Any]) -> bool:
        return any(
            resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
            for s in allow_statements(template, function_id)
        )

    counters = {f for f in functions(template) if grants(f, {"Fn::GetAtt": ["RateLimitTable", "Arn"]})}
    peppered = {f for f in functions(template) if grants(f, {"Ref": "RateLimitPepperSecret"})}
    assert "ApiFunction" in counters
    assert counters == peppered


def test_every_numeric_parameter_has_bounds_around_its_default(template) -> None:
    numeric = {name: p for name, p in template["Parameters"].items() if p["Type"] == "Number"}
    assert {"KeepAliveMinutes", "HardCapMinutes", "StartingTimeoutMinutes"} <= set(numeric)
    for name, parameter in numeric.items():
        assert "MinValue" in parameter and "MaxValue" in parameter, f"{name} is unbounded"
        assert parameter["MinValue"] <= parameter["Default"] <= parameter["MaxValue"], name


def test_the_instance_type_parameter_accepts_sagemaker_names_only(template) -> None:
    import re

    pattern = re.compile(template["Parameters"]["InstanceType"]["AllowedPattern"])
    assert pattern.fullmatch("ml.g4dn.xlarge") and pattern.fullmatch("ml.p4d.24xlarge")
    assert not pattern.fullmatch("*") and not pattern.fullmatch("ml.g4dn.xlarge,ml.p5.48xlarge")
