"""Deploy rehearsal: `sam build` the stack as `sam deploy` would ship it, then import every handler of template.yaml
from the built artifact in a clean Python 3.13 (the functions' runtime) that has only boto3 and botocore beside it, as
Lambda's runtime does. A module the package needs but functions/requirements.txt does not name fails here, although
the project venv (which has everything) would import it fine. Then the API, events and reconciler functions run
Lambda's init and serve a start, its InService event and a sweep from that artifact, against a moto server.

The clean venv (var/lambda-python3.13) and SAM's dependency cache (var/sam-cache, .aws-sam/deps) are kept between
runs: the first run downloads the packages (about a minute), later ones rebuild only the source (seconds)."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import queue_model_answers

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_VENV = ROOT / "var" / "lambda-python3.13"
SAM = ROOT / ".venv-sam" / "bin" / "sam"

# Run in the clean interpreter from the handler's folder: `-c` puts the working directory first on the import path
# (Lambda's /var/task), then the runtime's packages; -E and -s keep PYTHONPATH and user site-packages (where the
# project's packages could hide a gap) out. (Not -I: it also drops the working directory.)
CLEAN = ("-E", "-s", "-c")
IMPORT_HANDLERS = """
import importlib, json, sys
handlers = json.loads(sys.argv[1])
for handler in handlers:
    module, _, name = handler.rpartition(".")
    if not callable(getattr(importlib.import_module(module), name)):
        raise SystemExit(f"{handler} is not callable")
import boto3, botocore
print(json.dumps({"boto3": boto3.__file__, "botocore": botocore.__file__}))
"""


def python_313() -> str:
    """The runtime's Python: pyenv's 3.13, or python3.13 on PATH (pyenv's shim of that name runs nothing)."""
    installed = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13.*/bin/python3.13")))
    found = installed[-1] if installed else shutil.which("python3.13")
    if not found:
        raise RuntimeError("The deploy rehearsal needs Python 3.13 (python3.13 on PATH or pyenv's 3.13)")
    return found


def pinned(package: str) -> str:
    """The version functions/requirements.txt pins for `package` (boto3 and botocore are pinned together)."""
    text = (ROOT / "functions" / "requirements.txt").read_text()
    match = re.search(rf"^{package}==(\S+)$", text, flags=re.MULTILINE)
    assert match, f"functions/requirements.txt must pin {package}"
    return match.group(1)


def runtime_python() -> Path:
    """A clean Python 3.13 venv with only boto3/botocore, built once and kept under var/."""
    version = pinned("boto3")
    python = RUNTIME_VENV / "bin" / "python"
    marker = RUNTIME_VENV / f".boto3-{version}"
    if not marker.exists():
        shutil.rmtree(RUNTIME_VENV, ignore_errors=True)
        subprocess.run([python_313(), "-m", "venv", str(RUNTIME_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"boto3=={version}", f"botocore=={pinned('botocore')}"],
            check=True,
        )
        marker.touch()
    return python


def sam_build(build_dir: Path) -> dict:
    """`sam build` (no container) into build_dir; the built template, as JSON-able data."""
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "PATH": f"{Path(python_313()).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        [
            str(SAM),
            "build",
            "--cached",
            "--cache-dir",
            str(ROOT / "var" / "sam-cache"),
            "--build-dir",
            str(build_dir),
            "--template",
            str(ROOT / "template.yaml"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    from cfnlint.decode import cfn_yaml

    return cfn_yaml.load(str(build_dir / "template.yaml"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """(the runtime's python, the build folder, the built template): one `sam build` for the module's tests."""
    python = runtime_python()
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    return python, build_dir, sam_build(build_dir)


def functions_of(template: dict) -> dict[str, dict]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_every_handler_imports_from_the_built_artifact_on_the_lambda_runtime(built: tuple[Path, Path, dict]) -> None:
    python, build_dir, template = built
    functions = functions_of(template)
    assert set(functions) == {
        "ApiFunction",
        "EndpointEventsFunction",
        "TeardownFunction",
        "ReconcilerFunction",
        "TextSenderFunction",
        "CeilingFunction",
    }
    runtime = template["Globals"]["Function"]["Runtime"]
    assert runtime == "python3.13", runtime

    for logical_id, properties in functions.items():
        code_dir = build_dir / properties["CodeUri"]
        result = subprocess.run(
            [str(python), *CLEAN, IMPORT_HANDLERS, json.dumps([properties["Handler"]])],
            cwd=code_dir,
            env={"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{logical_id} ({properties['Handler']}):\n{result.stderr[-3000:]}"
        # The package ships boto3 with the botocore that pynamodb and the X-Ray SDK pull in: both come from it.
        loaded = json.loads(result.stdout.strip().splitlines()[-1])
        assert all(path.startswith(str(code_dir)) for path in loaded.values()), loaded


# Lambda's init and one invocation, in the clean interpreter: AWS_LAMBDA_FUNCTION_NAME makes the handler module build
# its service at import (as in Lambda's init phase), then the event goes to `handler` with a context of Lambda's shape.
INVOKE_HANDLER = """
import importlib, json, sys
handler_path, event = sys.argv[1], json.loads(sys.argv[2])


class Context:
    function_name = "rehearsal"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:rehearsal"
    aws_request_id = "rehearsal-request"

    def get_remaining_time_in_millis(self):
        return 25_000


module, _, name = handler_path.rpartition(".")
print(json.dumps(getattr(importlib.import_module(module), name)(event, Context())))
"""

ACCOUNT = "123456789012"
# What each intrinsic in the functions' environment stands for in this rehearsal: the names of the resources the test
# creates on the moto server. A new variable with an intrinsic not listed here fails the test until it is given one.
RESOURCE_VALUES = {
    "StateTable": "rehearsal-state",
    "RateLimitTable": "rehearsal-rates",
    "EndpointNamePrefix.Value": "rehearsal",
    "TrainingPipeline.Outputs.ApprovedModelParameterName": "/rehearsal/approved-model",
    "TrainingPipeline.Outputs.InstantModelParameterName": "/rehearsal/instant-model",
    "TextbeltKeySecret": "rehearsal/textbelt-key",
    "RateLimitPepperSecret": "rehearsal/rate-limit-pepper",
    "AdminApiKeySecret": "rehearsal/admin-api-key",
    "TeardownScheduleGroup": "rehearsal-teardown",
    "SchedulerRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/rehearsal-scheduler",
    "TeardownFunction.Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:rehearsal-teardown",
    "FailedInvocationsQueue.Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:rehearsal-failed",
    # The rehearsal's start names no phone, so nothing is queued: the functions only read the URL.
    "TextQueue": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/rehearsal-texts",
}


def resolve(value: object, parameters: dict) -> str:
    """One environment value of the built template, as CloudFormation would give it in this rehearsal's stack."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        return str(parameters[value["Ref"]]["Default"])
    if isinstance(value, dict) and set(value) == {"Ref"}:
        key = value["Ref"]
    elif isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        attribute = value["Fn::GetAtt"]
        key = ".".join(attribute) if isinstance(attribute, list) else attribute
    else:
        assert not isinstance(value, dict | list), f"no rehearsal value for {value}"
        return str(value)
    assert key in RESOURCE_VALUES, f"no rehearsal value for {value}: add it to RESOURCE_VALUES"
    return RESOURCE_VALUES[key]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_built_functions_serve_a_start_on_the_lambda_runtime(
    built: tuple[Path, Path, dict], state_table, event
) -> None:
    """Beyond imports: the built API, events and reconciler functions run Lambda's init and serve real requests on
    Python 3.13 against a moto server (DynamoDB with pynamodb's conditional writes, SageMaker, Scheduler, SSM,
    Secrets Manager): GET /status, POST /start, the InService event, a reconciler sweep."""
    import boto3

    from local_runtime.state_server import LoopbackMotoServer

    python, build_dir, template = built
    functions = functions_of(template)
    parameters = template["Parameters"]
    server = LoopbackMotoServer()
    url = server.start()
    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": url,
    }
    try:
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")

        def client(service: str):
            return session.client(service, endpoint_url=url)

        state_table(client("dynamodb"), RESOURCE_VALUES["StateTable"])
        rates = template["Resources"]["RateLimitTable"]["Properties"]
        client("dynamodb").create_table(
            TableName=RESOURCE_VALUES["RateLimitTable"],
            AttributeDefinitions=rates["AttributeDefinitions"],
            KeySchema=rates["KeySchema"],
            BillingMode=rates["BillingMode"],
        )
        client("sagemaker").create_model(
            ModelName="rehearsal-model",
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/rehearsal-sagemaker",
            PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/hf:latest"},
        )
        ssm = client("ssm")
        ssm.put_parameter(
            Name=RESOURCE_VALUES["TrainingPipeline.Outputs.ApprovedModelParameterName"],
            Value="rehearsal-model",
            Type="String",
        )
        for secret in ("TextbeltKeySecret", "RateLimitPepperSecret", "AdminApiKeySecret"):
            client("secretsmanager").create_secret(Name=RESOURCE_VALUES[secret], SecretString="rehearsal-secret")
        client("scheduler").create_schedule_group(Name=RESOURCE_VALUES["TeardownScheduleGroup"])

        def invoke(logical_id: str, request: dict) -> dict:
            properties = functions[logical_id]
            variables = {
                **template["Globals"]["Function"]["Environment"]["Variables"],
                **properties.get("Environment", {}).get("Variables", {}),
            }
            env = {name: resolve(value, parameters) for name, value in variables.items()}
            env.update(
                aws, PATH="/usr/bin:/bin", AWS_LAMBDA_FUNCTION_NAME=logical_id, POWERTOOLS_TRACE_DISABLED="true"
            )  # no X-Ray daemon here
            result = subprocess.run(
                [str(python), *CLEAN, INVOKE_HANDLER, properties["Handler"], json.dumps(request)],
                cwd=build_dir / properties["CodeUri"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, f"{logical_id}:\n{result.stderr[-3000:]}"
            return json.loads(result.stdout.strip().splitlines()[-1])

        status = invoke("ApiFunction", event("apigw_status"))
        assert status["statusCode"] == 200, status
        assert json.loads(status["body"])["state"] == "STOPPED"

        start = invoke("ApiFunction", event("apigw_start") | {"body": "{}"})
        assert start["statusCode"] == 202, start
        endpoint = json.loads(start["body"])["endpoint_name"]
        assert endpoint.startswith("rehearsal-")
        assert client("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"

        queue_model_answers("rehearsal-model", moto_url=url)  # the InService event's canary prediction
        in_service = event("endpoint_state_change_in_service")
        in_service["detail"]["EndpointName"] = endpoint
        events_answer = invoke("EndpointEventsFunction", in_service)
        sweep = invoke("ReconcilerFunction", event("reconciler_scheduled"))
        status = json.loads(invoke("ApiFunction", event("apigw_status"))["body"])
        assert status["state"] == "IN_SERVICE", (status, events_answer, sweep)
        assert events_answer["outcome"].startswith("promoted"), events_answer
        assert sweep == {"repairs": []}, sweep  # nothing for the reconciler to mend
        schedules = client("scheduler").list_schedules(GroupName=RESOURCE_VALUES["TeardownScheduleGroup"])
        assert sorted(s["Name"] for s in schedules["Schedules"]) == [f"notice-{endpoint}", f"teardown-{endpoint}"]
    finally:
        server.stop()
