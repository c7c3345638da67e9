"""What a real account would reject or misbill in template.yaml, checked on the parsed template (issue 11)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

# SageMaker's CreateEndpoint: EndpointName matches this pattern and has at most 63 characters.
SAGEMAKER_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 29
ROOT = Path(__file__).resolve().parents[3]

# SAM's own translator (from the SAM CLI's venv) turns template.yaml into the CloudFormation it deploys; code locations
# are replaced by S3 ones as `sam deploy` does. Prints the API deployments' properties.
TRANSLATE = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
template = yaml_parse(open(sys.argv[1]).read())
template["Globals"]["Function"]["CodeUri"] = "s3://bucket/functions.zip"
template["Resources"]["TrainingPipeline"]["Properties"]["Location"] = "https://s3.amazonaws.com/bucket/pipeline.yaml"
resources = transform(template, {}, lambda: {})["Resources"]
print(json.dumps([r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Deployment"]))
"""


def _evaluate(value: Any, stack_id: str) -> Any:
    """The few intrinsic functions the prefix is built from, as CloudFormation evaluates them."""
    if isinstance(value, str | int):
        return value
    if isinstance(value, list):
        return [_evaluate(item, stack_id) for item in value]
    ((function, argument),) = value.items()
    if function == "Ref":
        assert argument == "AWS::StackId", argument
        return stack_id
    if function == "Fn::Join":
        separator, items = argument
        return separator.join(_evaluate(items, stack_id))
    if function == "Fn::Split":
        separator, source = argument
        return _evaluate(source, stack_id).split(separator)
    if function == "Fn::Select":
        index, items = argument
        return _evaluate(items, stack_id)[int(index)]
    raise AssertionError(f"unexpected intrinsic {function}")


def stack_prefix(template: dict[str, Any], stack_name: str, stack_uuid: str) -> str:
    stack_id = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{stack_name}/{stack_uuid}"
    return _evaluate(template["Resources"]["EndpointNamePrefix"]["Properties"]["Value"], stack_id)


def test_functions_run_on_python_3_13_supported_to_2029(template) -> None:
    assert template["Globals"]["Function"]["Runtime"] == "python3.13"
    overrides = {
        logical_id: resource["Properties"]["Runtime"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function" and "Runtime" in resource["Properties"]
    }
    assert overrides == {}


def test_the_default_deploys_on_a_new_account_whose_concurrency_quota_is_10(template) -> None:
    assert template["Parameters"]["ReservedConcurrency"]["Default"] == "off"
    assert template["Conditions"]["ReserveConcurrency"] == {"Fn::Equals": [{"Ref": "ReservedConcurrency"}, "on"]}


def test_the_api_has_an_openapi_version_so_sam_makes_no_extra_stage_named_stage(template) -> None:
    assert template["Globals"]["Api"]["OpenApiVersion"].startswith("3.")
    assert template["Resources"]["Api"]["Properties"]["StageName"] == "Prod"


def test_sams_translation_of_the_api_makes_only_the_prod_stage() -> None:
    """Without OpenApiVersion, SAM's deployment also carries StageName "Stage": a second, unthrottled stage."""
    result = subprocess.run(
        [str(ROOT / ".venv-sam" / "bin" / "python"), "-c", TRANSLATE, str(ROOT / "template.yaml")],
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    deployments = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(deployments) == 1 and "StageName" not in deployments[0], deployments


def test_the_api_function_gives_up_before_api_gateway_does(template) -> None:
    api = template["Resources"]["ApiFunction"]["Properties"]
    timeout = api.get("Timeout", template["Globals"]["Function"]["Timeout"])
    assert timeout < API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS


@pytest.mark.parametrize("stack_name", ["s", "ondemand-sentiment-dev", "x" * 128])
def test_endpoint_names_fit_sagemaker_for_any_stack_name(template, stack_name: str) -> None:
    prefix = stack_prefix(template, stack_name, "51af3dc0-da77-11e4-872e-1234567db123")
    # The longest name the lifecycle makes (ondemand.lifecycle: <prefix>-<UTC time>-<start version>).
    name = f"{prefix}-{datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC):%Y%m%dt%H%M%S}-{10**9}"
    assert SAGEMAKER_ENDPOINT_NAME.match(name) and len(name) <= 63, name


def test_two_stacks_in_one_account_get_prefixes_neither_of_which_matches_the_others_endpoints(template) -> None:
    first = stack_prefix(template, "ondemand-sentiment-dev", "51af3dc0-da77-11e4-872e-1234567db123")
    second = stack_prefix(template, "ondemand-sentiment-dev", "9c2b7e11-0b1d-11f0-8a3e-0affd2b5c6a1")
    assert first != second
    assert not f"{first}-x".startswith(f"{second}-") and not f"{second}-x".startswith(f"{first}-")


def test_the_events_rule_the_settings_and_every_endpoint_arn_use_the_stacks_prefix(template) -> None:
    derived = {"Fn::GetAtt": ["EndpointNamePrefix", "Value"]}
    assert template["Globals"]["Function"]["Environment"]["Variables"]["ENDPOINT_NAME_PREFIX"] == derived
    rule = template["Resources"]["EndpointEventsFunction"]["Properties"]["Events"]["EndpointStateChange"]
    assert rule["Properties"]["Pattern"]["detail"]["EndpointName"] == [
        {"prefix": {"Fn::Sub": "${EndpointNamePrefix.Value}-"}}
    ]
    arns = [text for text in _strings(template["Resources"]) if ":sagemaker:" in text]
    assert arns, "no SageMaker ARN found"
    for arn in arns:
        assert re.search(r":(endpoint|endpoint-config)/\$\{EndpointNamePrefix\.Value\}-\*$", arn), arn


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


# ----- what stopped or would stop a first deploy (issue 22) -----

# SAM CLI's own check behind `sam deploy --guided`'s "<function> has no authentication. Is this okay? [y/N]"
# (samcli/commands/deploy/guided_context.py, prompt_authorization), run on template.yaml in the SAM CLI's venv.
AUTH_PER_RESOURCE = """
import json, sys
from samcli.commands.deploy.auth_utils import auth_per_resource
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
stacks, _ = SamLocalStackProvider.get_stacks(sys.argv[1])
print(json.dumps(auth_per_resource(stacks)))
"""


def test_the_guided_deploys_authentication_question_is_answered_in_the_doc_and_make_deploy_never_asks_it() -> None:
    from deploy.sam import SamCli

    result = subprocess.run(
        [str(ROOT / ".venv-sam" / "bin" / "python"), "-c", AUTH_PER_RESOURCE, str(ROOT / "template.yaml")],
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    unauthenticated = {
        name for name, authenticated in json.loads(result.stdout.strip().splitlines()[-1]) if not authenticated
    }
    assert unauthenticated == {"ApiFunction"}  # the public API, by design
    doc = " ".join((ROOT / "docs" / "deploy.md").read_text().split())
    for name in unauthenticated:
        assert f'"{name} has no authentication. Is this okay? [y/N]"' in doc and "answer `y`" in doc
    sam = SamCli("sam", "stack", "us-east-1", "default", ROOT, say=print)
    commands = [sam.build_command(), sam.deploy_command(), sam.delete_command()]
    assert not any("--guided" in command for command in commands)
    assert {"--no-confirm-changeset", "--no-fail-on-empty-changeset"} <= set(sam.deploy_command())
    assert "--no-prompts" in sam.delete_command()


def _refs(value: Any) -> set[str]:
    """The logical ids a value refers to (Ref, GetAtt, ${...} in Sub)."""
    if isinstance(value, dict):
        found = set()
        for key, item in value.items():
            if key == "Ref":
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else item.split(".")[0])
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)}
            found |= _refs(item)
        return found
    if isinstance(value, list):
        return {name for item in value for name in _refs(item)}
    return set()


def test_no_account_setting_points_at_a_role_the_same_stack_creates(template) -> None:
    """API Gateway's account setting names a role IAM may not have propagated yet when the same stack has just made it:
    "The role ARN does not have required permissions set to API Gateway" rolls the first deploy back (aws/aws-cdk#2194).
    make deploy sets it before the stack (deploy/api_logging.py); the stage's access logs need it set."""
    resources = template["Resources"]
    roles = {logical_id for logical_id, resource in resources.items() if resource["Type"] == "AWS::IAM::Role"}
    accounts = [resource for resource in resources.values() if resource["Type"] == "AWS::ApiGateway::Account"]
    assert all(not (_refs(account["Properties"]) & roles) for account in accounts)
    assert resources["Api"]["Properties"]["AccessLogSetting"], "the access logs are why the account setting is needed"


def test_reserved_concurrency_needs_a_quota_of_100_plus_what_the_functions_reserve(template) -> None:
    """Lambda: "You can reserve up to the Unreserved account concurrency value minus 100 for functions that don't have
    reserved concurrency" (docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html). The preflight asks for
    this quota, and the template's, docs/deploy.md's and the README's words say the same numbers."""
    from deploy.quotas import UNRESERVED_CONCURRENCY, concurrency_quota_needed, reserved_concurrency

    reserved = reserved_concurrency(template)
    needed = concurrency_quota_needed(template)
    assert (UNRESERVED_CONCURRENCY, reserved, needed) == (100, 15, 115)
    description = " ".join(template["Parameters"]["ReservedConcurrency"]["Description"].split())
    doc = " ".join((ROOT / "docs" / "deploy.md").read_text().split())
    readme = next(line for line in (ROOT / "README.md").read_text().splitlines() if "`ReservedConcurrency`" in line)
    for text in (description, doc, readme):
        assert f"reserves {reserved}" in text or f"reserve {reserved}" in text or f"{reserved} reserved" in text, text
        assert f"at least {needed}" in text and "100 unreserved" in text, text
        assert "above 25" not in text and "keeps 10 unreserved" not in text
