"""`make reopen` asks the stack's CeilingFunction to reopen (so the throttles come from the template's one statement of
them), says so only when it did, and a `make deploy` while the API is closed keeps the page's service-closed.json."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from deploy.ceiling import CeilingError, reopen_api
from deploy.page import CLOSED_NOTICE, PageHosting
from deploy.settings import Options
from deploy.waiting import Waiting
from tests.unit.aws.iam_coverage import load_template

ROOT = Path(__file__).resolve().parents[3]


def payload(answer: Any) -> StreamingBody:
    body = json.dumps(answer).encode()
    return StreamingBody(io.BytesIO(body), len(body))


def stubbed_lambda(answer: Any, function_error: str | None = None) -> tuple[Any, Stubber]:
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    response: dict[str, Any] = {"StatusCode": 200, "Payload": payload(answer)}
    if function_error:
        response["FunctionError"] = function_error
    stubber.add_response(
        "invoke", response, {"FunctionName": "stack-CeilingFunction-ABC", "Payload": b'{"action": "reopen"}'}
    )
    stubber.activate()
    return client, stubber


def test_reopen_invokes_the_ceiling_function_with_the_reopen_action() -> None:
    client, stubber = stubbed_lambda({"outcome": "open"})
    assert reopen_api(client, "stack-CeilingFunction-ABC") == "open"
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"errorMessage": "KeyError: 'CEILING_CONFIG'", "errorType": "KeyError"}, "Unhandled"),
        ({"outcome": "refused", "why": "unknown action"}, None),
    ],
)
def test_a_reopen_the_function_did_not_make_is_an_error_not_a_success(answer: Any, error: str | None) -> None:
    client, _ = stubbed_lambda(answer, error)
    with pytest.raises(CeilingError, match="did not reopen the API"):
        reopen_api(client, "stack-CeilingFunction-ABC")


def test_make_reopen_is_a_command_and_the_stack_outputs_the_function() -> None:
    assert Options.parse(["reopen"]).command == "reopen"
    assert "CeilingFunctionName" in load_template(ROOT / "template.yaml")["Outputs"]
    makefile = (ROOT / "Makefile").read_text()
    assert "\nreopen:" in makefile and "-m deploy reopen" in makefile


def test_a_deploy_while_the_api_is_closed_keeps_the_closed_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3, cloudfront = (
            boto3.client("s3", region_name="us-east-1"),
            boto3.client("cloudfront", region_name="us-east-1"),
        )
        s3.create_bucket(Bucket="page")
        s3.put_object(Bucket="page", Key=CLOSED_NOTICE, Body=b'{"reason": "closed"}')
        s3.put_object(Bucket="page", Key="js/old.js", Body=b"gone")
        distribution = cloudfront.create_distribution(
            DistributionConfig={
                "CallerReference": "x",
                "Comment": "",
                "Enabled": True,
                "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "page.s3.amazonaws.com"}]},
                "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https"},
            }
        )["Distribution"]["Id"]

        PageHosting(s3, cloudfront, lambda _: None, Waiting(sleep=lambda _: None)).publish(
            "page", distribution, {"index.html": b"<html></html>"}
        )

        keys = {item["Key"] for item in s3.list_objects_v2(Bucket="page")["Contents"]}
        assert keys == {"index.html", CLOSED_NOTICE}


def test_the_page_key_is_the_one_the_ceiling_writes() -> None:
    variables = load_template(ROOT / "template.yaml")["Resources"]["CeilingFunction"]["Properties"]["Environment"]
    assert f'"key": "{CLOSED_NOTICE}"' in variables["Variables"]["CEILING_CONFIG"]["Fn::Sub"]
