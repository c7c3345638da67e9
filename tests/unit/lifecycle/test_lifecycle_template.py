"""template.yaml agrees with the code: handlers exist, settings are declared, the rule matches only our endpoints."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

from ondemand.domain import EndpointStatus
from ondemand.settings import Settings, required_variables

ROOT = Path(__file__).resolve().parents[3]


def functions(template) -> dict:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def test_every_handler_string_names_a_callable(template) -> None:
    handlers = {f["Properties"]["Handler"] for f in functions(template).values()}
    lifecycle = ("api", "endpoint_events", "teardown", "reconciler", "texts")
    assert {f"ondemand.handlers.{m}.handler" for m in lifecycle} <= handlers
    for handler in handlers:
        module, _, name = handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))
    assert template["Globals"]["Function"]["CodeUri"] == "functions/"


class RecordingEnvironment(dict):
    """An environment that remembers every variable asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, name, default=None):
        self.asked.add(name)
        return super().get(name, default)


def test_every_setting_the_code_reads_is_declared_for_every_function_that_needs_it(template) -> None:
    """Each function's environment (Globals + its own) holds every variable Settings requires of it, and every
    variable Settings reads is declared somewhere: a missing one would fail that function's cold start."""
    global_env = set(template["Globals"]["Function"]["Environment"]["Variables"])
    read_anywhere: set[str] = set()
    for logical_id, function in functions(template).items():
        properties = function["Properties"]
        env = global_env | set(properties.get("Environment", {}).get("Variables", {}))
        module, _, name = properties["Handler"].rpartition(".")
        handler = getattr(importlib.import_module(module), name)
        if not getattr(handler, "reads_settings", True):
            continue  # CeilingFunction reads only its CEILING_CONFIG (tests/unit/aws/test_ceiling.py)
        creates_schedules = handler.creates_schedules
        missing = set(required_variables(creates_schedules=creates_schedules)) - env
        assert not missing, f"{logical_id} lacks {sorted(missing)}"
        environment = RecordingEnvironment(
            {v: "1" for v in env}
            | {"AWS_REGION": "us-east-1", "SMS_PROVIDER": "sns", "INSTANT_TIER": "always", "SMS_COUNTRY_CODES": "+1"}
        )
        Settings.from_environment(environment, creates_schedules=creates_schedules)  # what Lambda would read
        read_anywhere |= environment.asked
    declared = global_env | {
        v for f in functions(template).values() for v in f["Properties"].get("Environment", {}).get("Variables", {})
    }
    lambda_sets = {"AWS_REGION", "AWS_DEFAULT_REGION"}
    assert read_anywhere - lambda_sets <= declared, sorted(read_anywhere - lambda_sets - declared)
    assert {"STATE_TABLE_NAME", "TEARDOWN_FUNCTION_ARN", "MAX_TEXT_CHARS"} <= read_anywhere  # the recorder works


def test_the_rule_matches_only_this_stacks_endpoints(template) -> None:
    events = template["Resources"]["EndpointEventsFunction"]["Properties"]["Events"]
    pattern = events["EndpointStateChange"]["Properties"]["Pattern"]
    prefix = template["Globals"]["Function"]["Environment"]["Variables"]["ENDPOINT_NAME_PREFIX"]
    assert prefix == {"Fn::GetAtt": ["EndpointNamePrefix", "Value"]}  # per stack: tests/unit/aws
    assert pattern["source"] == ["aws.sagemaker"]
    assert pattern["detail-type"] == ["SageMaker Endpoint State Change"]
    assert pattern["detail"]["EndpointName"] == [{"prefix": {"Fn::Sub": "${EndpointNamePrefix.Value}-"}}]


def test_iam_for_endpoints_is_scoped_to_the_prefix(template) -> None:
    statements = template["Resources"]["EndpointControlPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    sagemaker = next(s for s in statements if "sagemaker:CreateEndpoint" in s["Action"])
    resources = [r["Fn::Sub"] for r in sagemaker["Resource"]]
    assert all(r.endswith("/${EndpointNamePrefix.Value}-*") for r in resources)


def test_defaults_the_issue_asks_for(template) -> None:
    parameters = template["Parameters"]
    assert parameters["InstanceType"]["Default"] == "ml.g4dn.xlarge"
    assert parameters["KeepAliveMinutes"]["Default"] == 30
    assert set(parameters["SmsProvider"]["AllowedValues"]) == {"textbelt", "sns", "none"}
    table = template["Resources"]["StateTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert "PointInTimeRecoverySpecification" not in table  # backups would keep the phone numbers 35 days
    reconciler = template["Resources"]["ReconcilerFunction"]["Properties"]["Events"]
    assert reconciler["Every5Minutes"]["Properties"]["Schedule"] == "rate(5 minutes)"


def test_the_fixtures_use_a_status_spelling_the_handler_understands(event) -> None:
    from ondemand.handlers.endpoint_events import parse_status

    for name in ("in_service", "failed", "creating"):
        detail = event(f"endpoint_state_change_{name}")["detail"]
        assert isinstance(parse_status(detail["EndpointStatus"]), EndpointStatus)


def test_every_start_reads_the_model_the_pipeline_approved(template) -> None:
    """The functions read the approved model name from the nested pipeline stack's output, and may read only it."""
    pipeline = template["Resources"]["TrainingPipeline"]
    assert pipeline["Type"] == "AWS::Serverless::Application"
    assert pipeline["Properties"]["Location"] == "statemachine/pipeline.yaml"
    output = "TrainingPipeline.Outputs.ApprovedModelParameterName"
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["APPROVED_MODEL_PARAMETER"] == {"Fn::GetAtt": output.split(".", 1)}
    statements = template["Resources"]["EndpointControlPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    ssm = next(s for s in statements if s["Action"] == "ssm:GetParameter")
    assert ssm["Resource"]["Fn::Sub"].endswith(f":parameter${{{output}}}")


def test_every_skipped_security_check_says_why(template) -> None:
    """make security (checkov) fails on any finding not skipped; a skip must carry its reason in the template."""
    skips = [
        (logical_id, skip)
        for logical_id, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for logical_id, skip in skips:
        assert skip["id"].startswith("CKV_"), logical_id
        assert len(skip.get("comment", "")) > 30, (logical_id, skip["id"])


def test_async_functions_dead_letter_and_every_function_has_a_concurrency_cap_a_new_account_can_turn_off(
    template,
) -> None:
    reserved = 0
    for logical_id, function in functions(template).items():
        properties = function["Properties"]
        if logical_id == "TextSenderFunction":
            # Invoked synchronously by its SQS event source: a failed text goes back to the queue (no DLQ), and the
            # event source's MaximumConcurrency caps it without reserving any of the account's concurrency.
            [source] = properties["Events"].values()
            assert source["Type"] == "SQS" and source["Properties"]["ScalingConfig"]["MaximumConcurrency"] == 2
            assert "ReservedConcurrentExecutions" not in properties and "DeadLetterQueue" not in properties
            continue
        if logical_id == "CeilingFunction":
            # A few thousand asynchronous runs a month (a throttled one is retried for hours); with ReservedConcurrency
            # on, the API's cap of 10 leaves the unreserved pool to it, and reserving one more would raise every
            # account's quota need by one.
            assert "ReservedConcurrentExecutions" not in properties
            assert properties["DeadLetterQueue"]["TargetArn"] == {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}
            continue
        condition, cap, otherwise = properties["ReservedConcurrentExecutions"]["Fn::If"]
        assert (condition, otherwise) == ("ReserveConcurrency", {"Ref": "AWS::NoValue"}), logical_id
        assert 1 <= cap <= 10, logical_id
        reserved += cap
        if logical_id != "ApiFunction":  # the API is synchronous: the caller gets the error
            assert properties["DeadLetterQueue"]["TargetArn"] == {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}
    # Lambda keeps 10 executions unreserved: with the caps on, the account needs this many more than 10.
    assert f"reserves {reserved} concurrent executions" in template["Parameters"]["ReservedConcurrency"]["Description"]
    assert template["Conditions"]["ReserveConcurrency"] == {"Fn::Equals": [{"Ref": "ReservedConcurrency"}, "on"]}


def test_every_pipeline_output_the_stack_uses_exists_in_the_nested_template(template) -> None:
    """A renamed output in statemachine/pipeline.yaml would otherwise surface only as a failed deploy."""
    from cfnlint.decode import cfn_yaml

    pipeline_outputs = cfn_yaml.load(str(Path(__file__).resolve().parents[3] / "statemachine" / "pipeline.yaml"))[
        "Outputs"
    ]
    # !GetAtt reads as ["TrainingPipeline", "Outputs.X"]; !Sub keeps "${TrainingPipeline.Outputs.X}".
    used = set(re.findall(r'TrainingPipeline(?:\.|", ")Outputs\.(\w+)', json.dumps(template)))
    assert {"ApprovedModelParameterName", "StateMachineArn", "RawBucketName"} <= used
    assert used <= set(pipeline_outputs)
