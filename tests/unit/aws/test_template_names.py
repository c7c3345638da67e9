"""Every name the stack and its nested pipeline give a resource, computed as CloudFormation computes it for the longest
stack name it allows, held against the service's own limit: botocore's service model (the shape's max and pattern),
or where botocore has none, the resource's CloudFormation schema (cfn-lint's copy of the registry). A name property
this test does not know fails it, so a new named resource cannot slip past. Every Glue name is lower case: Glue folds
database names ("For hive compatibility, this is folded to lowercase when it is stored", AWS::Glue::Database's schema)
while IAM matches ARNs case-sensitively."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from deploy.preflight import STACK_NAME, STACK_NAME_LIMIT
from tests.unit.aws.iam_coverage import Stack, role_statements

# CreateStack allows letters, digits and hyphens, a letter first, at most 128 (deploy/preflight.py names the source).
LONGEST_STACK_NAME = "A" + "b-C" * 42 + "d"
SHORTEST_STACK_NAME = "s"
# Resource type -> where its name is in Properties, and the botocore operation and member that take it.
NAMED: dict[str, tuple[tuple[str, ...], str, str, tuple[str, ...]]] = {
    "AWS::Scheduler::ScheduleGroup": (("Name",), "scheduler", "CreateScheduleGroup", ("Name",)),
    "AWS::Budgets::Budget": (("Budget", "BudgetName"), "budgets", "CreateBudget", ("Budget", "BudgetName")),
    "AWS::Glue::Database": (("DatabaseInput", "Name"), "glue", "CreateDatabase", ("DatabaseInput", "Name")),
    "AWS::Glue::Job": (("Name",), "glue", "CreateJob", ("Name",)),
    "AWS::SSM::Parameter": (("Name",), "ssm", "PutParameter", ("Name",)),
    "AWS::CloudFront::OriginAccessControl": (
        ("OriginAccessControlConfig", "Name"),
        "cloudfront",
        "CreateOriginAccessControl",
        ("OriginAccessControlConfig", "Name"),
    ),
    "AWS::CloudFront::ResponseHeadersPolicy": (
        ("ResponseHeadersPolicyConfig", "Name"),
        "cloudfront",
        "CreateResponseHeadersPolicy",
        ("ResponseHeadersPolicyConfig", "Name"),
    ),
}
# SSM: botocore's max (2048) counts 1037 characters SSM reserves; "The maximum length for a parameter name that you
# specify is 1011 characters", the ARN before the name included (AWS::SSM::Parameter's schema).
SSM_NAME_LIMIT_WITH_ARN = 1011


def deployments(stack_name: str) -> list[Stack]:
    parent = Stack(load_parent(), name=stack_name)
    return [parent, parent.nested("TrainingPipeline")]


def load_parent() -> dict[str, Any]:
    from tests.conftest import load_template

    return load_template()


def named_resources(stack: Stack) -> list[tuple[str, str, str]]:
    """(logical id, type, name) of every resource the template names; fails on a name property NAMED lacks."""
    found = []
    for logical_id, resource in stack.template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] not in NAMED:
            unknown = [key for key in properties if key.endswith("Name") and key != "StageName"]
            assert not unknown, f"{logical_id} ({resource['Type']}) sets {unknown}: add its limit to NAMED"
            continue
        path = NAMED[resource["Type"]][0]
        value: Any = properties
        for key in path:
            value = value[key]
        found.append((logical_id, resource["Type"], str(stack.resolve(value))))
    return found


def limit(resource_type: str) -> tuple[int | None, str | None]:
    """(max length, pattern) from botocore's model, else the max the CloudFormation schema states."""
    _, service, operation, member = NAMED[resource_type]
    shape = botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape
    for key in member:
        shape = shape.members[key]
    maximum, pattern = shape.metadata.get("max"), shape.metadata.get("pattern")
    if maximum is None:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
        declared = (
            schema["properties"]
            if len(NAMED[resource_type][0]) == 1
            else schema["definitions"][NAMED[resource_type][0][0]]["properties"]
        )
        name = declared[NAMED[resource_type][0][-1]]
        stated = re.search(r"up to (\d+) characters", name.get("description", ""))
        maximum = name.get("maxLength") or (int(stated.group(1)) if stated else None)
    return maximum, pattern


def test_the_longest_stack_name_is_one_cloudformation_accepts() -> None:
    assert len(LONGEST_STACK_NAME) == STACK_NAME_LIMIT == 128
    assert STACK_NAME.fullmatch(LONGEST_STACK_NAME) and not STACK_NAME.fullmatch(LONGEST_STACK_NAME + "e")


def service_pattern(pattern: str) -> re.Pattern[str]:
    """botocore's patterns are Java's: an inline (?i) may stand mid-pattern (Python takes it only as a flag), and a
    code point above U+FFFF is written as its UTF-16 surrogate pair (\\uD800\\uDC00), which Python wants as one."""

    def code_point(pair: re.Match[str]) -> str:
        high, low = int(pair.group(1), 16), int(pair.group(2), 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    text = re.sub(r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", code_point, pattern, flags=re.IGNORECASE)
    return re.compile(text.replace("(?i)", ""), re.IGNORECASE if "(?i)" in pattern else 0)


def name_problems(stacks: list[Stack], shortest: list[Stack]) -> tuple[list[str], set[str]]:
    """What is wrong with the names `stacks` give (`shortest`: the same templates for a one-letter stack name), and the
    resource types checked."""
    short_names = {
        (index, logical_id): name
        for index, stack in enumerate(shortest)
        for logical_id, _, name in named_resources(stack)
    }
    problems, checked = [], set()
    for index, stack in enumerate(stacks):
        for logical_id, resource_type, name in named_resources(stack):
            maximum, pattern = limit(resource_type)
            if resource_type == "AWS::SSM::Parameter":
                arn = f"arn:{stack.partition}:ssm:{stack.region}:{stack.account}:parameter"
                if len(arn + name) > SSM_NAME_LIMIT_WITH_ARN:
                    problems.append(f"{logical_id}: {name!r} is longer than SSM allows with its ARN")
            if maximum is None and len(name) != len(short_names[index, logical_id]):
                problems.append(f"{logical_id}: {name!r} grows with the stack name and has no stated limit")
            if maximum is not None and len(name) > maximum:
                problems.append(f"{logical_id}: {name!r} is {len(name)} characters, the limit {maximum}")
            if pattern and not service_pattern(pattern).fullmatch(name):
                problems.append(f"{logical_id}: {name!r} does not match {pattern}")
            checked.add(resource_type)
    return problems, checked


@pytest.mark.parametrize("stack_name", [SHORTEST_STACK_NAME, "ondemand-sentiment-dev", LONGEST_STACK_NAME])
def test_every_name_fits_its_service_for_any_stack_name(stack_name: str) -> None:
    problems, checked = name_problems(deployments(stack_name), deployments(SHORTEST_STACK_NAME))

    assert problems == []
    assert checked == set(NAMED), set(NAMED) - checked


def test_the_schedule_group_and_budget_names_no_longer_carry_the_stack_name() -> None:
    """`${AWS::StackName}-teardown` broke stacks over 55 characters (Scheduler's limit is 64), `-monthly` over 92."""
    (group, budget) = (
        next(name for _, kind, name in named_resources(deployments(LONGEST_STACK_NAME)[0]) if kind == wanted)
        for wanted in ("AWS::Scheduler::ScheduleGroup", "AWS::Budgets::Budget")
    )
    assert LONGEST_STACK_NAME not in group and len(group) <= 64
    assert LONGEST_STACK_NAME not in budget and len(budget) <= 100


def test_every_glue_name_is_lower_case_and_the_role_names_the_database_as_glue_stores_it() -> None:
    pipeline = deployments(LONGEST_STACK_NAME)[1]
    glue = {kind: name for _, kind, name in named_resources(pipeline) if kind.startswith("AWS::Glue::")}
    assert set(glue) == {"AWS::Glue::Database", "AWS::Glue::Job"}
    database = glue["AWS::Glue::Database"]
    assert re.fullmatch(r"[a-z0-9_]+", database), database  # Athena: lower case, underscores only
    assert glue["AWS::Glue::Job"] == glue["AWS::Glue::Job"].lower()
    table = pipeline.template["Resources"]["CurateReviewsJob"]["Properties"]["DefaultArguments"]["--table"]
    assert table == table.lower()
    arns = [
        arn
        for statement in role_statements(pipeline, "CurateJobRole")
        for arn in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    ]
    assert any(arn.endswith(f":database/{database}") for arn in arns), arns
    assert any(f":table/{database}/" in arn for arn in arns), arns


@pytest.mark.parametrize(
    ("logical_id", "path", "old_name"),
    [
        ("TeardownScheduleGroup", ("Name",), "${AWS::StackName}-teardown"),
        ("CostBudget", ("Budget", "BudgetName"), "${AWS::StackName}-monthly"),
    ],
)
def test_the_check_catches_the_names_the_template_had(logical_id: str, path: tuple[str, ...], old_name: str) -> None:
    template = load_parent()
    properties = template["Resources"][logical_id]["Properties"]
    for key in path[:-1]:
        properties = properties[key]
    properties[path[-1]] = {"Fn::Sub": old_name}

    problems, _ = name_problems([Stack(template, name=LONGEST_STACK_NAME)], [Stack(template, name=SHORTEST_STACK_NAME)])

    assert [problem.split(":")[0] for problem in problems] == [logical_id], problems
