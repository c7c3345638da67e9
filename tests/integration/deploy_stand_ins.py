"""What `make deploy` and `make destroy` run against in their end-to-end tests, on loopback:

- moto's server (`ThreadedMotoServer`, a free port): every AWS call the tool makes goes there (AWS_ENDPOINT_URL);
- `StandInSam`, the only step stood in for: its `deploy` makes in moto what the stack would make, named as
  CloudFormation would name it (template.yaml and pipeline.yaml resolved by `tests.unit.aws.iam_coverage.Stack`,
  every output of template.yaml given its value), and the training pipeline's real ASL, substituted, with the states
  moto cannot run adapted as tests/unit/pipeline/test_training_pipeline_asl.py adapts them; its `delete` refuses a
  non-empty bucket, as CloudFormation does, and removes the rest;
- `StandInApi`: API Gateway's stage in front of the stack's own API handler (ondemand.handlers.api, built on the
  AWS adapters from the environment template.yaml gives the function), with the handler's CORS;
- `StandInCdn`: CloudFront in front of the page's bucket, adding the headers of the template's response headers
  policy (its Content-Security-Policy pointing at the stand-in API instead of execute-api).
"""

from __future__ import annotations

import io
import json
import secrets
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import requests
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from deploy.sam import SamError
from tests.conftest import create_table_from_template
from tests.unit.aws.iam_coverage import ROOT, Stack, load_template
from tests.unit.pipeline.test_training_pipeline_asl import INSTANT_STATE, instant_artifact_uri, moto_runnable

REGION = "us-east-1"
STAGE = "/Prod"
EXECUTE_API_ORIGIN = "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
SAM_VERSION = "1.170.0"


class MotoServer:
    """moto's server in this process, on a free loopback port, executing Step Functions state machines."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        # Backends made afresh (this process may have used moto before) and state machines executed.
        requests.post(f"{self.url}/moto-api/reset", timeout=30).raise_for_status()
        config = {"stepfunctions": {"execute_state_machine": True}}
        requests.post(f"{self.url}/moto-api/config", json=config, timeout=10).raise_for_status()
        return self.url

    def stop(self) -> None:
        """moto's backends and config are the process's, not the server's: left behind, they reach the next test of
        this worker that starts a moto server (its /moto-api/data.json failed serializing this test's resources)."""
        try:
            config = {"stepfunctions": {"execute_state_machine": False}}
            requests.post(f"{self.url}/moto-api/config", json=config, timeout=10).raise_for_status()
            requests.post(f"{self.url}/moto-api/reset", timeout=30).raise_for_status()
        finally:
            self._server.stop()

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            # IAM knows AWS's managed policies (AmazonAPIGatewayPushToCloudWatchLogs); moto reads this when it makes
            # its IAM backend, after the reset above.
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
            # Where moto's Step Functions interpreter sends a task's service call (localhost:<this port>).
            "MOTO_PORT": self.url.rpartition(":")[2],
        }


def instant_model_archive(reviews: pd.DataFrame) -> bytes:
    """A model.tar.gz as the pipeline's instant training job writes it (instant_model/ with the two files)."""
    from training import instant_train

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "instant_model"
        instant_train.train_and_save(reviews.reset_index(drop=True), out)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(out, arcname="instant_model")
        return buffer.getvalue()


@dataclass
class StandInSam:
    """`sam build`, `sam deploy` and `sam delete` as their effect on moto: one stack's resources, made and removed."""

    stack_name: str
    api: StandInApi
    cdn: StandInCdn
    instant_archive: bytes
    test_accuracy: float = 0.91
    calls: list[str] = field(default_factory=list)
    stack: Stack | None = None
    fail_delete_of: set[str] = field(default_factory=set)
    """Logical ids whose deletion fails, as a DELETE_FAILED resource would (the test of what destroy reports)."""

    def version(self) -> str:
        return SAM_VERSION

    def build(self) -> None:
        self.calls.append("build")

    def deploy(self) -> None:
        self.calls.append("deploy")
        session = boto3.Session(region_name=REGION)
        # CloudFormation refuses a stage with access logs while the account names no CloudWatch role.
        assert session.client("apigateway").get_account().get("cloudwatchRoleArn"), "no API Gateway CloudWatch role"
        if self.stack is None:
            self.stack = self._create(session)
        self.api.environment = self._function_environment(self.stack, "ApiFunction")

    def delete(self) -> None:
        self.calls.append("delete")
        assert self.stack is not None
        session, stack = boto3.Session(region_name=REGION), self.stack
        s3 = session.client("s3")
        for bucket in self._buckets(stack):
            if s3.list_objects_v2(Bucket=bucket).get("KeyCount"):
                raise SamError(f"DELETE_FAILED: the bucket {bucket} is not empty (BucketNotEmpty)")
        pipeline = stack.nested("TrainingPipeline")
        deletions: dict[str, Callable[[], object]] = {
            "StateTable": lambda: session.client("dynamodb").delete_table(TableName=stack.physical_name("StateTable")),
            "RateLimitTable": lambda: session.client("dynamodb").delete_table(
                TableName=stack.physical_name("RateLimitTable")
            ),
            "TeardownScheduleGroup": lambda: session.client("scheduler").delete_schedule_group(
                Name=stack.ref("TeardownScheduleGroup")
            ),
            "PageDistribution": lambda: _delete_distribution(session, stack.ref("PageDistribution")),
            "TrainingPipeline": lambda: session.client("stepfunctions").delete_state_machine(
                stateMachineArn=pipeline.ref("TrainingPipeline")
            ),
            "CurateReviewsJob": lambda: session.client("glue").delete_job(JobName=pipeline.ref("CurateReviewsJob")),
            "ReviewsDatabase": lambda: session.client("glue").delete_database(Name=pipeline.ref("ReviewsDatabase")),
            "FunctionsStack": lambda: session.client("cloudformation").delete_stack(StackName=self.stack_name),
        }
        secrets_manager = session.client("secretsmanager")
        for logical_id in ("TextbeltKeySecret", "RateLimitPepperSecret", "AdminApiKeySecret"):
            secret = stack.ref(logical_id)
            deletions[logical_id] = lambda secret=secret: secrets_manager.delete_secret(
                SecretId=secret, ForceDeleteWithoutRecovery=True
            )
        parameters = {
            "EndpointNamePrefix": stack.physical_name("EndpointNamePrefix"),
            "ApprovedModelParameter": pipeline.physical_name("ApprovedModelParameter"),
            "InstantModelParameter": pipeline.physical_name("InstantModelParameter"),
        }
        for logical_id, name in parameters.items():
            deletions[logical_id] = lambda name=name: session.client("ssm").delete_parameter(Name=name)
        for bucket in self._buckets(stack):
            deletions[bucket] = lambda bucket=bucket: s3.delete_bucket(Bucket=bucket)
        for name, delete in deletions.items():
            if name not in self.fail_delete_of:
                delete()
        self.stack = None

    # ----- the stack's resources in moto -----

    def _create(self, session: Any) -> Stack:
        stack = Stack(load_template(ROOT / "template.yaml"), name=self.stack_name, stack_uuid=str(uuid.uuid4()))
        pipeline = stack.nested("TrainingPipeline")
        # Names moto gives (ARNs, ids) first, so every Ref and output resolves to them.
        for logical_id in ("TextbeltKeySecret", "RateLimitPepperSecret", "AdminApiKeySecret"):
            created = session.client("secretsmanager").create_secret(
                Name=stack.physical_name(logical_id), SecretString=secrets.token_urlsafe(30)
            )
            stack.physical[logical_id] = created["ARN"]
        stack.physical["PageDistribution"] = self._distribution(session, stack)
        stack.physical["TrainingPipeline"] = f"TrainingPipeline-{uuid.uuid4().hex[:12]}"  # names are cut to 80
        s3 = session.client("s3")
        for bucket in self._buckets(stack):
            s3.create_bucket(Bucket=bucket)
        for logical_id in ("StateTable", "RateLimitTable"):
            create_table_from_template(session.client("dynamodb"), logical_id, stack.physical_name(logical_id))
        ssm = session.client("ssm")
        prefix = stack.resolve(stack.resource("EndpointNamePrefix")["Properties"]["Value"])
        ssm.put_parameter(Name=stack.physical_name("EndpointNamePrefix"), Value=prefix, Type="String")
        for logical_id in ("ApprovedModelParameter", "InstantModelParameter"):
            ssm.put_parameter(Name=pipeline.physical_name(logical_id), Value="none", Type="String")
        session.client("scheduler").create_schedule_group(Name=stack.ref("TeardownScheduleGroup"))
        self._pipeline(session, pipeline)
        self._functions(session, stack)
        return stack

    def _buckets(self, stack: Stack) -> list[str]:
        pipeline = stack.nested("TrainingPipeline")
        return [stack.ref("PageBucket")] + [
            pipeline.ref(logical_id) for logical_id in ("RawBucket", "CuratedBucket", "ArtifactsBucket")
        ]

    def _distribution(self, session: Any, stack: Stack) -> str:
        config = stack.resource("PageDistribution")["Properties"]["DistributionConfig"]
        behavior = config["DefaultCacheBehavior"]
        created = session.client("cloudfront").create_distribution(
            DistributionConfig={
                "CallerReference": str(uuid.uuid4()),
                "Comment": config["Comment"],
                "Enabled": True,
                "DefaultRootObject": config["DefaultRootObject"],
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": config["Origins"][0]["Id"],
                            "DomainName": f"{stack.ref('PageBucket')}.s3.{REGION}.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": behavior["TargetOriginId"],
                    "ViewerProtocolPolicy": behavior["ViewerProtocolPolicy"],
                    "CachePolicyId": behavior["CachePolicyId"],
                },
            }
        )
        self.cdn.bucket = stack.ref("PageBucket")
        self.cdn.root_object = config["DefaultRootObject"]
        return str(created["Distribution"]["Id"])

    def _pipeline(self, session: Any, pipeline: Stack) -> None:
        properties = pipeline.resource("TrainingPipeline")["Properties"]
        substitutions = {
            name: str(pipeline.resolve(value)) for name, value in properties["DefinitionSubstitutions"].items()
        }
        text = (pipeline.directory / properties["DefinitionUri"]).read_text()
        for name, value in substitutions.items():
            text = text.replace("${" + name + "}", value)
        asl = json.loads(text)
        # What the instant training job would write, where it writes it (moto runs no training job).
        artifact = instant_artifact_uri(asl["States"][INSTANT_STATE]["Parameters"]["OutputDataConfig"]["S3OutputPath"])
        bucket, _, key = artifact.removeprefix("s3://").partition("/")
        session.client("s3").put_object(Bucket=bucket, Key=key, Body=self.instant_archive)
        job = pipeline.resource("CurateReviewsJob")["Properties"]
        session.client("glue").create_database(DatabaseInput={"Name": pipeline.ref("ReviewsDatabase")})
        session.client("glue").create_job(
            Name=pipeline.ref("CurateReviewsJob"),
            Role=pipeline.get_att("CurateJobRole", "Arn"),
            Command={"Name": job["Command"]["Name"], "ScriptLocation": "s3://sam-artifacts/curate_reviews.py"},
            DefaultArguments={name: str(pipeline.resolve(value)) for name, value in job["DefaultArguments"].items()},
        )
        session.client("stepfunctions").create_state_machine(
            name=pipeline.physical["TrainingPipeline"],
            definition=json.dumps(moto_runnable(asl, self.test_accuracy)),
            roleArn=f"arn:aws:iam::{pipeline.account}:role/{pipeline.name}-TrainingPipelineRole",
        )

    def _functions(self, session: Any, stack: Stack) -> None:
        """The functions, in a CloudFormation stack of this name (so `list_stack_resources` lists them), with every
        output of template.yaml; then the log groups their runs would have written."""
        functions = [
            logical_id
            for logical_id, resource in stack.template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"
        ]
        stand_in_urls = {"ApiUrl": self.api.url, "WebPageUrl": self.cdn.url + "/"}
        outputs = {
            name: stand_in_urls.get(name) or str(stack.resolve(output["Value"]))
            for name, output in stack.template["Outputs"].items()
        }
        trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        template = {
            "Resources": {
                "FunctionRole": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [trust]}},
                },
                **{
                    logical_id: {
                        "Type": "AWS::Lambda::Function",
                        "Properties": {
                            "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
                            "Runtime": stack.template["Globals"]["Function"]["Runtime"],
                            "Handler": stack.resource(logical_id)["Properties"]["Handler"],
                            "Code": {"ZipFile": "def handler(event, context):\n    return None\n"},
                        },
                    }
                    for logical_id in functions
                },
            },
            "Outputs": {name: {"Value": value} for name, value in outputs.items()},
        }
        cloudformation = session.client("cloudformation")
        cloudformation.create_stack(StackName=self.stack_name, TemplateBody=json.dumps(template))
        for resource in cloudformation.list_stack_resources(StackName=self.stack_name)["StackResourceSummaries"]:
            if resource["ResourceType"] == "AWS::Lambda::Function":
                session.client("logs").create_log_group(logGroupName=f"/aws/lambda/{resource['PhysicalResourceId']}")

    def _function_environment(self, stack: Stack, logical_id: str) -> dict[str, str]:
        """The function's environment as CloudFormation resolves it (Globals, then its own), as Lambda gives it."""
        variables = {
            **stack.template["Globals"]["Function"]["Environment"]["Variables"],
            **stack.resource(logical_id)["Properties"].get("Environment", {}).get("Variables", {}),
        }
        return {name: str(stack.resolve(value)) for name, value in variables.items()}


def _delete_distribution(session: Any, distribution_id: str) -> None:
    cloudfront = session.client("cloudfront")
    etag = cloudfront.get_distribution(Id=distribution_id)["ETag"]
    cloudfront.delete_distribution(Id=distribution_id, IfMatch=etag)


class _Server(ThreadingHTTPServer):
    """A loopback server on a free port whose every request (of `methods`) goes to `serve`, quietly."""

    daemon_threads = True

    def __init__(self, serve: Callable[[BaseHTTPRequestHandler], None], methods: tuple[str, ...]) -> None:
        handler = type(
            "Handler",
            (BaseHTTPRequestHandler,),
            # Functions, so each becomes a method of the handler: `serve` gets the request handler itself.
            {"log_message": lambda *_: None, **{f"do_{method}": lambda request: serve(request) for method in methods}},
        )
        super().__init__(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class StandInApi:
    """The stage URL (…/Prod) in front of the API function's handler, one event at a time (as one Lambda sandbox)."""

    def __init__(self, moto_url: str) -> None:
        self.environment: dict[str, str] | None = None
        self._moto_url = moto_url
        self._handler: Callable[..., dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._server = _Server(self._serve, ("GET", "POST", "OPTIONS"))
        self.url = self._server.origin + STAGE
        self.origin = self._server.origin

    def start(self) -> None:
        self._server.start()

    def close(self) -> None:
        self._server.close()

    def _function(self) -> Callable[..., dict[str, Any]]:
        """The handler, built once from the function's environment (Lambda's init), DynamoDB pointed at moto."""
        if self._handler is None:
            from ondemand.adapters.aws import build_aws_adapters
            from ondemand.bootstrap import bootstrap
            from ondemand.handlers.api import make_handler
            from ondemand.settings import Settings

            assert self.environment is not None, "the stack is not deployed"
            environ = {**self.environment, "DYNAMODB_ENDPOINT_URL": self._moto_url, "AWS_REGION": REGION}
            settings = Settings.from_environment(environ)
            self._handler = make_handler(bootstrap(settings, build_aws_adapters(settings)))
        return self._handler

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        from local_runtime.gateway import proxy_event
        from local_runtime.lambda_invoke import LambdaContext

        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name, []).append(value)
        path = request.path.removeprefix(STAGE) or "/"
        event = proxy_event(request.command, path, headers, body, request.client_address[0])
        with self._lock:
            response = self._function()(event, LambdaContext(function_name="ApiFunction"))
        payload = response.get("body") or ""
        data = payload.encode() if isinstance(payload, str) else payload
        request.send_response(response["statusCode"])
        for name, value in (response.get("headers") or {}).items():
            request.send_header(name, str(value))
        for name, values in (response.get("multiValueHeaders") or {}).items():
            for value in values:
                request.send_header(name, str(value))
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


class StandInCdn:
    """The distribution's domain: GET a key of the page's bucket (/ is the default root object) with the response
    headers policy's headers; 403 for a key that is not there (S3's answer to CloudFront without s3:ListBucket)."""

    def __init__(self, api_origin: str) -> None:
        self.bucket = ""
        self.root_object = "index.html"
        self.requests: list[str] = []
        policy = load_template(ROOT / "template.yaml")["Resources"]["PageResponseHeadersPolicy"]["Properties"]
        security = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
        assert EXECUTE_API_ORIGIN in csp, csp
        hsts = security["StrictTransportSecurity"]
        self.headers = {
            "Content-Security-Policy": csp.replace(EXECUTE_API_ORIGIN, api_origin),
            "Strict-Transport-Security": f"max-age={hsts['AccessControlMaxAgeSec']}"
            + ("; includeSubDomains" if hsts.get("IncludeSubdomains") else ""),
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": security["FrameOptions"]["FrameOption"],
            "Referrer-Policy": security["ReferrerPolicy"]["ReferrerPolicy"],
        }
        self._server = _Server(self._serve, ("GET",))
        self.url = self._server.origin

    def start(self) -> None:
        self._server.start()

    def close(self) -> None:
        self._server.close()

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        self.requests.append(request.path)
        key = request.path.split("?")[0].lstrip("/") or self.root_object
        try:
            found = boto3.client("s3", region_name=REGION).get_object(Bucket=self.bucket, Key=key)
        except Exception:  # whatever S3 says, CloudFront passes on a 403
            request.send_response(403)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        data = found["Body"].read()
        request.send_response(200)
        request.send_header("Content-Type", found["ContentType"])
        request.send_header("Content-Length", str(len(data)))
        for name, value in self.headers.items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)
