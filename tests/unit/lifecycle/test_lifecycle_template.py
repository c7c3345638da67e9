"""template.yaml agrees with the code: handlers exist, settings are declared, the rule matches only our endpoints."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

from ondemand.domain import EndpointStatus

ROOT = Path(__file__).resolve().parents[3]


def functions(template) -> dict:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def test_every_handler_string_names_a_callable(template) -> None:
    handlers = {f["Properties"]["Handler"] for f in functions(template).values()}
    assert handlers == {f"ondemand.handlers.{m}.handler" for m in ("api", "endpoint_events", "teardown", "reconciler")}
    for handler in handlers:
        module, _, name = handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))
    assert template["Globals"]["Function"]["CodeUri"] == "functions/"


def test_every_setting_the_code_reads_is_declared_for_every_function_that_needs_it(template) -> None:
    source = (ROOT / "functions" / "ondemand" / "settings.py").read_text()
    read = set(re.findall(r'_(?:str|int|float)\("([A-Z_]+)"', source)) - {"AWS_REGION", "AWS_DEFAULT_REGION"}
    global_env = set(template["Globals"]["Function"]["Environment"]["Variables"])
    scheduling = {"SCHEDULE_GROUP_NAME", "SCHEDULER_ROLE_ARN", "TEARDOWN_FUNCTION_ARN"}
    assert read - scheduling <= global_env, sorted(read - scheduling - global_env)
    for logical_id, function in functions(template).items():
        if logical_id == "TeardownFunction":
            continue  # it never schedules, and cannot name its own ARN
        own = set(function["Properties"].get("Environment", {}).get("Variables", {}))
        assert scheduling <= own, logical_id


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
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
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
    skips = [(logical_id, skip) for logical_id, resource in template["Resources"].items()
             for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])]
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
