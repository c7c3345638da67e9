"""Phone numbers are kept nowhere longer than the run: no table keeps point-in-time backups (the state item's
`subscribers` would be restorable for 35 days after the STOPPED write deleted them), every function logs into a log
group of the stack that expires its lines, every log group either template makes expires its lines, and a queue that
can carry numbers keeps a message at most a day."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.unit.aws.iam_coverage import load_template

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ("template.yaml", "statemachine/pipeline.yaml")
ONE_DAY = 86400
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
# Queues that carry no phone number, and why; a function that may put one there must not use them (checked below).
NUMBERLESS_QUEUES = {
    "FailedInvocationsQueue": "failed asynchronous events of the functions below: SageMaker state changes, the "
    "schedules' {endpoint_name, expires_at} or {kind: notice, ...}, reconciler ticks, the ceiling's budget notices",
}
NUMBERLESS_DLQ_USERS = {"EndpointEventsFunction", "TeardownFunction", "ReconcilerFunction", "CeilingFunction"}


def resources() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (name, logical_id, resource)
        for name in TEMPLATES
        for logical_id, resource in load_template(ROOT / name)["Resources"].items()
    ]


def test_no_table_keeps_point_in_time_backups() -> None:
    backed_up = [
        f"{name}: {logical_id}"
        for name, logical_id, resource in resources()
        if resource["Type"] == "AWS::DynamoDB::Table"
        and resource["Properties"].get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
    ]
    assert not backed_up, f"tables with point-in-time recovery (35 days of every number): {backed_up}"


def test_every_log_group_expires_its_lines() -> None:
    kept_forever = [
        f"{name}: {logical_id}"
        for name, logical_id, resource in resources()
        if resource["Type"] == "AWS::Logs::LogGroup" and "RetentionInDays" not in resource.get("Properties", {})
    ]
    assert not kept_forever, f"log groups without RetentionInDays: {kept_forever}"


def test_every_function_logs_into_a_log_group_of_the_stack_that_expires() -> None:
    problems = []
    for name in TEMPLATES:
        template_resources = load_template(ROOT / name)["Resources"]
        for logical_id, resource in template_resources.items():
            if resource["Type"] not in FUNCTION_TYPES:
                continue
            group = resource["Properties"].get("LoggingConfig", {}).get("LogGroup")
            target = group.get("Ref") if isinstance(group, dict) else None
            if target not in template_resources or template_resources[target]["Type"] != "AWS::Logs::LogGroup":
                problems.append(f"{name}: {logical_id} logs into {group!r}, not a log group of the stack")
            elif "RetentionInDays" not in template_resources[target]["Properties"]:
                problems.append(f"{name}: {logical_id}'s log group {target} keeps its lines forever")
    assert not problems, "\n".join(problems)


def test_state_machines_log_only_into_groups_that_expire() -> None:
    for name in TEMPLATES:
        template_resources = load_template(ROOT / name)["Resources"]
        for logical_id, resource in template_resources.items():
            if resource["Type"] not in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
                continue
            for destination in resource["Properties"].get("Logging", {}).get("Destinations", []):
                arn = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]
                target = arn["Fn::GetAtt"][0] if isinstance(arn, dict) and "Fn::GetAtt" in arn else None
                assert target in template_resources, f"{name}: {logical_id} logs into a group the stack does not own"


def test_a_queue_that_can_carry_numbers_keeps_a_message_at_most_a_day() -> None:
    problems = []
    for name, logical_id, resource in resources():
        if resource["Type"] != "AWS::SQS::Queue" or logical_id in NUMBERLESS_QUEUES:
            continue
        retention = int(resource.get("Properties", {}).get("MessageRetentionPeriod", 345600))  # SQS's default: 4 days
        if retention > ONE_DAY:
            problems.append(f"{name}: {logical_id} keeps messages {retention} s")
    assert not problems, "\n".join(problems)


def test_only_functions_whose_events_carry_no_number_dead_letter_into_the_long_lived_queue() -> None:
    template = load_template(ROOT / "template.yaml")
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in FUNCTION_TYPES:
            continue
        target = resource["Properties"].get("DeadLetterQueue", {}).get("TargetArn", {})
        queue = target.get("Fn::GetAtt", [None])[0] if isinstance(target, dict) else None
        if queue in NUMBERLESS_QUEUES:
            assert logical_id in NUMBERLESS_DLQ_USERS, (
                f"{logical_id} dead-letters into {queue}, which keeps messages for days: its events may carry a phone "
                "number; give it a queue that keeps them at most a day"
            )
