"""What the local runtime takes from `template.yaml`, so it cannot drift from the stack: the table's key schema,
the EventBridge rule pattern in front of each handler, and the reconciler's rate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (`!Ref`, `!GetAtt`, `!Sub`, ...) as `{"Fn::X": value}`."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> Any:
    key = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The SAM template as plain data."""
    template: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # safe: _CfnLoader is a SafeLoader
    return template


def table_definition(template: dict[str, Any], logical_id: str = "StateTable") -> dict[str, Any]:
    """KeySchema and AttributeDefinitions of one of the stack's DynamoDB tables, for `create_table`."""
    props = template["Resources"][logical_id]["Properties"]
    if template["Resources"][logical_id]["Type"] != "AWS::DynamoDB::Table":
        raise ValueError(f"{logical_id} is not an AWS::DynamoDB::Table")
    return {"KeySchema": props["KeySchema"], "AttributeDefinitions": props["AttributeDefinitions"]}


def _function_ids(template: dict[str, Any], handler: str) -> list[str]:
    default = template.get("Globals", {}).get("Function", {}).get("Handler")
    return [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and resource.get("Properties", {}).get("Handler", default) == handler
    ]


def _function_events(template: dict[str, Any], handler: str) -> list[dict[str, Any]]:
    events = []
    for logical_id in _function_ids(template, handler):
        events.extend(template["Resources"][logical_id]["Properties"].get("Events", {}).values())
    return events


def _targets(rule: dict[str, Any], function_ids: list[str]) -> bool:
    for target in rule.get("Properties", {}).get("Targets", []):
        arn = target.get("Arn", {})
        if isinstance(arn, dict) and arn.get("Fn::GetAtt", [None])[0] in function_ids:
            return True
    return False


# What the local stack has where the template names a value only a deployed stack knows (`!Sub ${X.Value}`).
LOCAL_VALUES = {"EndpointNamePrefix.Value": "ondemand-sentiment"}


def _substitute(value: Any, values: dict[str, str]) -> Any:
    """`{"Fn::Sub": "${Name}-"}` strings inside `value`, filled from `values`."""
    if isinstance(value, list):
        return [_substitute(item, values) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        unknown = set(re.findall(r"\$\{([^}]+)\}", value["Fn::Sub"])) - set(values)
        if unknown:
            raise ValueError(f"the local runtime has no value for {sorted(unknown)} in {value}")
        return re.sub(r"\$\{([^}]+)\}", lambda match: values[match.group(1)], value["Fn::Sub"])
    return {key: _substitute(item, values) for key, item in value.items()}


def rule_patterns(
    template: dict[str, Any], handler: str, values: dict[str, str] = LOCAL_VALUES
) -> list[dict[str, Any]]:
    """Every EventBridge pattern that routes events to `handler`: SAM `EventBridgeRule`/`CloudWatchEvent`
    events of its function, and `AWS::Events::Rule` resources that target it, with `!Sub` values filled in."""
    patterns = [
        _substitute(event["Properties"]["Pattern"], values)
        for event in _function_events(template, handler)
        if event.get("Type") in ("EventBridgeRule", "CloudWatchEvent")
    ]
    function_ids = _function_ids(template, handler)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Events::Rule" and _targets(resource, function_ids):
            pattern = resource["Properties"]["EventPattern"]
            patterns.append(json.loads(pattern) if isinstance(pattern, str) else pattern)
    return patterns


_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_rate(template: dict[str, Any], handler: str) -> float:
    """Seconds between runs of the `rate()` schedule that invokes `handler`."""
    for event in _function_events(template, handler):
        if event.get("Type") in ("Schedule", "ScheduleV2"):
            props = event["Properties"]
            match = _RATE.match(props.get("Schedule") or props.get("ScheduleExpression", ""))
            if match:
                return float(int(match.group(1)) * _RATE_UNITS[match.group(2).rstrip("s")])
    raise ValueError(f"no rate() schedule invokes {handler} in the template")
