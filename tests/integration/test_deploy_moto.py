"""`make deploy` twice, then `make destroy`, end to end against moto's server, with `sam` the only step stood in for
(tests/integration/deploy_stand_ins.py): the preflight's quota commands, API Gateway's CloudWatch role through IAM's
propagation error, the page's files and generated config.js in the bucket and the invalidations, the instant model
published and answering, the training pipeline's real ASL started and followed to an approved model, the smoke test's
calls through real HTTP, the page through the CloudFront stand-in; then a start, and the destroy that stops the
endpoint, sweeps what the functions and the pipeline left, empties the buckets, deletes the stack and finds nothing
left. The outputs the tool reads are template.yaml's own (the stand-in gives every one of them a value)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
import requests
from moto.apigateway.exceptions import BadRequestException
from moto.apigateway.models import APIGatewayBackend
from moto.servicequotas.models import ServiceQuotasBackend
from moto.servicequotas.responses import ServiceQuotasResponse

from deploy.commands import Tools, deploy, destroy
from deploy.page import page_files
from deploy.settings import DeploySettings, Options
from deploy.stack import Output
from deploy.waiting import Waiting
from glue_jobs.seed_raw_reviews import load_movie_reviews
from tests.integration.deploy_stand_ins import (
    REGION,
    MotoServer,
    StandInApi,
    StandInCdn,
    StandInSam,
    instant_model_archive,
)
from tests.unit.aws.iam_coverage import ROOT, load_template

STACK = "ondemand-sentiment-dev"  # samconfig.toml's default profile
ENDPOINT_QUOTA_CODE = "L-1194D53C"  # any code: moto's Service Quotas knows no SageMaker quota, this test gives it some
TRAINING_QUOTA_CODE = "L-3F53BA1F"


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    """600 real reviews, both labels: enough for an instant model in a second."""
    every = load_movie_reviews()
    return every.groupby("label", group_keys=False).sample(n=300, random_state=3).reset_index(drop=True)


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon here
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def account_quotas(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new account as Service Quotas shows it: no GPU for endpoints, one for training jobs (moto's server knows
    only VPC quotas; it runs in this process, so its backend is given these)."""
    quotas = {
        "sagemaker": [
            {"QuotaName": "ml.g4dn.xlarge for endpoint usage", "QuotaCode": ENDPOINT_QUOTA_CODE, "Value": 0.0},
            {"QuotaName": "ml.g4dn.xlarge for training job usage", "QuotaCode": TRAINING_QUOTA_CODE, "Value": 1.0},
        ],
        "lambda": [{"QuotaName": "Concurrent executions", "QuotaCode": "L-B99A9384", "Value": 10.0}],
    }
    monkeypatch.setattr(
        ServiceQuotasBackend, "list_aws_default_service_quotas", lambda backend, service_code: quotas[service_code]
    )
    # Nothing applied beyond the defaults: ListServiceQuotas leaves out every quota that has no applied value.
    monkeypatch.setattr(
        ServiceQuotasResponse, "list_service_quotas", lambda response: json.dumps({"Quotas": []}), raising=False
    )


@pytest.fixture
def iam_propagation(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """API Gateway refuses a role IAM has not propagated yet, twice, as on a real first deploy (aws/aws-cdk#2194)."""
    refused: list[int] = []
    update_account = APIGatewayBackend.update_account

    def update(backend: APIGatewayBackend, patch_operations: list[dict[str, Any]]) -> Any:
        if len(refused) < 2:
            refused.append(1)
            raise BadRequestException("The role ARN does not have required permissions set to API Gateway")
        return update_account(backend, patch_operations)

    monkeypatch.setattr(APIGatewayBackend, "update_account", update)
    return refused


@pytest.fixture
def stand_ins(moto: MotoServer, reviews: pd.DataFrame) -> Iterator[StandInSam]:
    api = StandInApi(moto.url)
    cdn = StandInCdn(api.origin)
    api.start()
    cdn.start()
    try:
        yield StandInSam(STACK, api, cdn, instant_model_archive(reviews))
    finally:
        api.close()
        cdn.close()


def run(command: str, sam: StandInSam, reviews: pd.DataFrame, frontend: Path, *extra: str) -> tuple[int, str]:
    options = Options.parse([command, "--frontend", str(frontend), *extra])
    tools = Tools(
        boto3.Session(region_name=REGION),
        sam,
        requests.Session(),
        reviews=lambda: reviews,
        waiting=Waiting(sleep=lambda _: time.sleep(0.05)),  # AWS's minutes are moto's moments
    )
    out = io.StringIO()
    code = (deploy if command == "deploy" else destroy)(DeploySettings.load(options), tools, out)
    return code, out.getvalue()


def outputs() -> dict[str, str]:
    stack = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


def page_objects(bucket: str) -> dict[str, bytes]:
    s3 = boto3.client("s3")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def api_base_of(config_js: bytes) -> str:
    """What the page reads from config.js: node evaluates it as the browser would, with a `window` object."""
    script = "const window = {}; eval(require('fs').readFileSync(0, 'utf8')); console.log(window.API_BASE);"
    return (
        subprocess.run(["node", "-e", script], input=config_js, capture_output=True, check=True).stdout.decode().strip()
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_make_deploy_twice_then_make_destroy_leaves_nothing(
    stand_ins: StandInSam,
    reviews: pd.DataFrame,
    account_quotas: None,
    iam_propagation: list[int],
    tmp_path: Path,
) -> None:
    sam = stand_ins
    frontend = tmp_path / "frontend"
    shutil.copytree(ROOT / "frontend", frontend, ignore=shutil.ignore_patterns("dashboard", "__pycache__"))

    code, printed = run("deploy", sam, reviews, frontend)

    assert code == 0, printed
    # Every output the tool reads is one template.yaml declares, and the stand-in gave every declared one a value.
    declared = set(load_template(ROOT / "template.yaml")["Outputs"])
    assert set(outputs()) == declared and {name.value for name in Output} <= declared
    stack = outputs()
    for step in range(1, 9):
        assert f"[{step}/8] " in printed, printed
    assert sam.calls == ["build", "deploy"]
    # Preflight: the missing endpoint quota with the exact request command, the training quota present.
    assert (
        "aws service-quotas request-service-quota-increase --service-code sagemaker "
        f"--quota-code {ENDPOINT_QUOTA_CODE} --desired-value 1 --region us-east-1"
    ) in printed
    assert "quota 'ml.g4dn.xlarge for training job usage': 1 (needs 1) ok" in printed
    # API Gateway's role: refused twice while IAM propagates, then set, before the stack.
    assert len(iam_propagation) == 2 and printed.count("IAM has not propagated") == 2
    assert boto3.client("apigateway").get_account()["cloudwatchRoleArn"].endswith("/apigateway-push-to-cloudwatch-logs")
    # The page: exactly the page's files, config.js naming the API for the browser, one invalidation of everything.
    objects = page_objects(stack["PageBucketName"])
    assert objects == page_files(frontend, stack["ApiUrl"])
    assert {"index.html", "style.css", "js/main.js", "config.js"} <= set(objects)
    assert api_base_of(objects["config.js"]) == stack["ApiUrl"]
    head = boto3.client("s3").head_object(Bucket=stack["PageBucketName"], Key="js/main.js")
    assert head["ContentType"] == "text/javascript; charset=utf-8"
    cloudfront = boto3.client("cloudfront")
    invalidations = cloudfront.list_invalidations(DistributionId=stack["PageDistributionId"])["InvalidationList"]
    assert invalidations["Quantity"] == 1
    # The first model: the instant model published where the API reads it, the pipeline started and followed.
    assert "Publish the instant model" in printed and "Record the approved model" in printed
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=stack["TrainingStateMachineArn"])
    assert [execution["status"] for execution in executions["executions"]] == ["SUCCEEDED"]
    approved = boto3.client("ssm").get_parameter(Name=stack["ApprovedModelParameterName"])["Parameter"]["Value"]
    assert (
        boto3.client("sagemaker")
        .describe_model(ModelName=approved)["PrimaryContainer"]["ModelDataUrl"]
        .startswith(f"s3://{stack['ArtifactsBucketName']}/training/")
    )
    assert "the training pipeline succeeded" in printed
    assert "$2.21" in printed  # the fine-tune's worst case (3 h of ml.g4dn.xlarge), said before the start
    # The smoke test went through real HTTP to the API and to the page.
    assert "GET /status: STOPPED, per api/openapi.yaml" in printed
    assert "instant tier, per api/openapi.yaml" in printed
    assert "config.js names the API; security headers present" in printed
    assert {"/", "/config.js"} <= set(sam.cdn.requests)
    assert printed.rstrip().splitlines()[-2] == f"The page: {stack['WebPageUrl']}"

    # Again, with a page file changed and one gone: the stack updated, the bucket mirrors the folder, the pipeline
    # is not run again (a model is approved).
    (frontend / "style.css").write_text("body { color: black; }\n")
    (frontend / "js" / "opened-from-disk.js").unlink()
    (frontend / "index.html").write_text(
        (frontend / "index.html").read_text().replace('<script src="js/opened-from-disk.js" defer></script>\n', "")
    )

    code, printed = run("deploy", sam, reviews, frontend)

    assert code == 0, printed
    assert sam.calls == ["build", "deploy", "build", "deploy"]
    assert page_objects(stack["PageBucketName"]) == page_files(frontend, stack["ApiUrl"])
    assert "removed 1 stale" in printed
    assert (
        cloudfront.list_invalidations(DistributionId=stack["PageDistributionId"])["InvalidationList"]["Quantity"] == 2
    )
    assert f"approved GPU model: {approved}; the pipeline is not run again" in printed
    assert (
        len(
            boto3.client("stepfunctions").list_executions(stateMachineArn=stack["TrainingStateMachineArn"])[
                "executions"
            ]
        )
        == 1
    )

    # Someone starts the model; the endpoint writes logs, and a schedule of an earlier endpoint was left behind (its
    # teardown's cancel failed): what the functions leave outside the stack.
    started = requests.post(f"{stack['ApiUrl']}/start", json={}, timeout=30)
    assert started.status_code == 202, started.text
    endpoint = started.json()["endpoint_name"]
    assert endpoint.startswith(stack["EndpointNamePrefix"] + "-")
    boto3.client("logs").create_log_group(logGroupName=f"/aws/sagemaker/Endpoints/{endpoint}")
    boto3.client("scheduler").create_schedule(
        Name=f"teardown-{stack['EndpointNamePrefix']}-20260101t000000-7",
        GroupName=stack["TeardownScheduleGroupName"],
        ScheduleExpression="at(2099-01-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:lambda:us-east-1:123456789012:function:teardown",
            "RoleArn": "arn:aws:iam::123456789012:role/s",
        },
    )

    code, printed = run("destroy", sam, reviews, frontend)

    assert code == 0, printed
    assert sam.calls[-1] == "delete"
    assert "POST /stop: STOPPED" in printed, printed
    sagemaker = boto3.client("sagemaker")
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_endpoint_configs(NameContains=stack["EndpointNamePrefix"])["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []
    assert "deleted 1 schedule: teardown-" in printed and "deleted 1 model: " in printed, printed
    groups = [group["logGroupName"] for group in boto3.client("logs").describe_log_groups()["logGroups"]]
    assert groups == [], groups
    buckets = {bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"]}
    stack_buckets = {
        stack[name] for name in ("PageBucketName", "RawBucketName", "CuratedBucketName", "ArtifactsBucketName")
    }
    assert not buckets & stack_buckets
    assert cloudfront.list_distributions()["DistributionList"].get("Items", []) == []
    assert "nothing: no endpoint, config, model, schedule, log group, bucket, distribution or stack of it" in printed


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_make_destroy_fails_and_names_what_is_left(
    stand_ins: StandInSam, reviews: pd.DataFrame, account_quotas: None, tmp_path: Path
) -> None:
    """A distribution whose deletion fails (DELETE_FAILED) is listed, and make destroy exits 1."""
    sam = stand_ins
    code, printed = run("deploy", sam, reviews, ROOT / "frontend", "--no-follow")
    assert code == 0, printed
    distribution = outputs()["PageDistributionId"]
    sam.fail_delete_of.add("PageDistribution")

    code, printed = run("destroy", sam, reviews, ROOT / "frontend")

    assert code == 1
    assert f"LEFT CloudFront distribution: {distribution}" in printed
    assert "they may still bill" in printed
    left = boto3.client("cloudfront").list_distributions()["DistributionList"]["Items"]
    assert [item["Id"] for item in left] == [distribution]
