"""The instant tier: /predict answers from the GPU endpoint in service, else from the instant CPU model as INSTANT_TIER
allows; a failed GPU call is answered by the instant tier, marked degraded; the adapters load the published artifact
once (a folder locally, S3 via an SSM parameter on AWS)."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import tarfile
from pathlib import Path

import boto3
import pytest
from ondemand.adapters.instant import FolderInstantModel, S3InstantModel
from ondemand.bootstrap import bootstrap
from ondemand.domain import EndpointStatus, InstantModelError
from ondemand.handlers import api
from ondemand.instant_model import METADATA_FILE, WEIGHTS_FILE
from ondemand.settings import ConfigurationError, Settings

from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A

TEXTS = ["A wonderful, moving film with superb acting.", "Dull, boring and far too long. I hated it."]


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """Where the local runtime looks for the instant model; empty until a test publishes one into it."""
    return tmp_path / "instant_model"


@pytest.fixture
def tier() -> str:
    return "always"


@pytest.fixture
def settings(tier: str) -> Settings:
    return make_settings(instant_tier=tier)


@pytest.fixture
def adapters(store, endpoints, scheduler, notifier, published):
    from ondemand.ports import Adapters

    return Adapters(
        store, endpoints, scheduler, notifier, instant_model=FolderInstantModel(published), consent_key=lambda: b"key"
    )


def publish(artifact: Path, folder: Path) -> None:
    shutil.copytree(artifact, folder)


def predict(handlers, event, texts=TEXTS) -> tuple[int, dict]:
    request = event("apigw_predict")
    request["body"] = json.dumps({"texts": texts})
    response = handlers.api(request, None)
    return response["statusCode"], json.loads(response["body"])


def start_and_serve(machine, endpoints) -> str:
    name = machine.start(PHONE_A).state.endpoint_name
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    return name


def test_while_starting_the_instant_tier_answers_and_says_so(
    handlers, machine, event, instant_artifact, published
) -> None:
    publish(instant_artifact, published)
    machine.start()
    status, body = predict(handlers, event)
    assert status == 200, body
    assert body["tier"] == "instant" and "degraded" not in body
    assert body["model"].startswith("instant-nb-logreg-uni-bi@")
    assert [p["label"] for p in body["predictions"]] == ["POSITIVE", "NEGATIVE"]


def test_in_service_the_gpu_answers(handlers, machine, endpoints, event, instant_artifact, published) -> None:
    publish(instant_artifact, published)
    start_and_serve(machine, endpoints)
    canary_invocations = len(endpoints.invocations)  # the promotion's canary prediction
    status, body = predict(handlers, event)
    assert (status, body["tier"], body["model"]) == (200, "gpu", "fake-minilm")
    assert "degraded" not in body and len(endpoints.invocations) == canary_invocations + 1


def test_a_failed_gpu_call_is_answered_by_the_instant_tier_marked_degraded(
    handlers, machine, endpoints, event, instant_artifact, published
) -> None:
    publish(instant_artifact, published)
    start_and_serve(machine, endpoints)
    endpoints.fail_invoke = "InvokeEndpoint timed out"
    status, body = predict(handlers, event)
    assert status == 200, body
    assert body["tier"] == "instant" and body["degraded"] is True
    assert [p["label"] for p in body["predictions"]] == ["POSITIVE", "NEGATIVE"]


def test_a_model_published_after_start_up_answers_without_a_restart(
    handlers, machine, event, instant_artifact, published
) -> None:
    machine.start()
    status, body = predict(handlers, event)
    assert (status, body["error"]) == (503, "model_not_ready")
    publish(instant_artifact, published)
    status, body = predict(handlers, event)
    assert (status, body["tier"]) == (200, "instant")


def test_a_broken_artifact_is_a_503_that_names_no_path(handlers, machine, event, instant_artifact, published) -> None:
    publish(instant_artifact, published)
    (published / WEIGHTS_FILE).write_bytes(b"\0" * 64)
    machine.start()
    status, body = predict(handlers, event)
    assert (status, body["error"]) == (503, "model_not_ready")
    assert "instant model could not be loaded" in body["message"] and str(published) not in body["message"]


@pytest.mark.parametrize("tier", ["off"])
def test_with_the_tier_off_nothing_answers_while_starting_and_a_gpu_failure_is_a_502(
    handlers, machine, endpoints, event, instant_artifact, published, tier
) -> None:
    publish(instant_artifact, published)
    name = machine.start().state.endpoint_name
    assert predict(handlers, event)[0] == 503
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    endpoints.fail_invoke = "InvokeEndpoint timed out"
    status, body = predict(handlers, event)
    assert (status, body["error"]) == (502, "endpoint_error")


@pytest.mark.parametrize("tier", ["while-starting"])
def test_while_starting_means_starting_not_stopped(handlers, machine, event, instant_artifact, published, tier) -> None:
    publish(instant_artifact, published)
    status, body = predict(handlers, event)
    assert (status, body["state"]) == (503, "STOPPED")
    machine.start()
    status, body = predict(handlers, event)
    assert (status, body["tier"]) == (200, "instant")


def test_stopped_with_always_answers_from_the_instant_tier(handlers, event, instant_artifact, published) -> None:
    publish(instant_artifact, published)
    status, body = predict(handlers, event)
    assert (status, body["tier"]) == (200, "instant")


def test_status_says_when_the_instant_tier_may_answer(handlers, event) -> None:
    status = json.loads(handlers.api(event("apigw_status"), None)["body"])
    assert status["instant_tier"] == "always"


def test_the_setting_refuses_an_unknown_tier_and_a_negative_notice() -> None:
    environment = {
        "STATE_TABLE_NAME": "t",
        "ENDPOINT_NAME_PREFIX": "p",
        "INSTANCE_TYPE": "ml.g4dn.xlarge",
        "APPROVED_MODEL_PARAMETER": "/p/m",
        "SCHEDULE_GROUP_NAME": "g",
        "AWS_REGION": "us-east-1",
        "SCHEDULER_ROLE_ARN": "arn:r",
        "TEARDOWN_FUNCTION_ARN": "arn:f",
    }
    assert Settings.from_environment(environment).instant_tier == "always"
    assert Settings.from_environment({**environment, "INSTANT_TIER": "While-Starting"}).instant_tier == "while-starting"
    with pytest.raises(ConfigurationError, match="INSTANT_TIER must be one of off, while-starting, always"):
        Settings.from_environment({**environment, "INSTANT_TIER": "sometimes"})
    with pytest.raises(ConfigurationError, match="NOTICE_MINUTES must be 0"):
        Settings.from_environment({**environment, "NOTICE_MINUTES": "-1"})


# ----- the AWS adapter: the location in SSM, the artifact in S3 -----

PARAMETER = "/ondemand-sentiment/instant-model"
BUCKET = "artifacts"


def model_tar_gz(artifact: Path, *extra: tuple[str, bytes]) -> bytes:
    """What the pipeline's instant training job leaves in S3: SM_MODEL_DIR/instant_model/ as model.tar.gz."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in (METADATA_FILE, WEIGHTS_FILE):
            archive.add(artifact / name, arcname=f"instant_model/{name}")
        for name, data in extra:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def s3_and_ssm(aws):
    s3, ssm = boto3.client("s3"), boto3.client("ssm")
    s3.create_bucket(Bucket=BUCKET)
    ssm.put_parameter(Name=PARAMETER, Value="none", Type="String")
    return s3, ssm


def test_the_s3_adapter_answers_once_the_pipeline_publishes(s3_and_ssm, instant_artifact, tmp_path) -> None:
    s3, ssm = s3_and_ssm
    model = S3InstantModel(ssm, s3, PARAMETER, recheck_seconds=0)
    assert model.answer(TEXTS) is None  # "none": the pipeline has not run yet
    planted = tmp_path / "planted"
    key = "instant/sentiment-instant-abc-0/output/model.tar.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=model_tar_gz(instant_artifact, (f"../../{planted.name}", b"x")))
    ssm.put_parameter(Name=PARAMETER, Value=f"s3://{BUCKET}/{key}", Type="String", Overwrite=True)
    answer = model.answer(TEXTS)
    assert answer is not None and [p["label"] for p in answer["predictions"]] == ["POSITIVE", "NEGATIVE"]
    assert not planted.exists()  # member paths are never used
    s3.delete_object(Bucket=BUCKET, Key=key)
    assert model.answer(TEXTS) is not None  # loaded once per container: no second download


def test_the_s3_adapter_says_clearly_what_is_wrong(s3_and_ssm, instant_artifact) -> None:
    s3, ssm = s3_and_ssm
    ssm.put_parameter(Name=PARAMETER, Value=f"s3://{BUCKET}/instant/missing.tar.gz", Type="String", Overwrite=True)
    with pytest.raises(InstantModelError, match="could not be downloaded"):
        S3InstantModel(ssm, s3, PARAMETER).answer(TEXTS)
    s3.put_object(Bucket=BUCKET, Key="instant/bad.tar.gz", Body=b"not an archive")
    ssm.put_parameter(Name=PARAMETER, Value=f"s3://{BUCKET}/instant/bad.tar.gz", Type="String", Overwrite=True)
    with pytest.raises(InstantModelError, match="not a readable archive"):
        S3InstantModel(ssm, s3, PARAMETER).answer(TEXTS)


def test_the_aws_adapters_serve_the_instant_tier_through_bootstrap(
    s3_and_ssm, instant_artifact, store, endpoints, scheduler, notifier, event
) -> None:
    """build_aws_adapters wires the S3 adapter from INSTANT_MODEL_PARAMETER; the API answers from it."""
    from ondemand.adapters.aws import build_aws_adapters

    s3, ssm = s3_and_ssm
    for name in (METADATA_FILE, WEIGHTS_FILE):
        s3.put_object(Bucket=BUCKET, Key=f"instant/prefix/{name}", Body=(instant_artifact / name).read_bytes())
    ssm.put_parameter(Name=PARAMETER, Value=f"s3://{BUCKET}/instant/prefix/", Type="String", Overwrite=True)
    settings = make_settings(instant_model_parameter=PARAMETER)
    aws_adapters = build_aws_adapters(settings)
    assert isinstance(aws_adapters.instant_model, S3InstantModel)
    service = bootstrap(
        settings,
        dataclasses.replace(aws_adapters, store=store, endpoints=endpoints, scheduler=scheduler, notifier=notifier),
    )
    request = event("apigw_predict")
    request["body"] = json.dumps({"texts": TEXTS})
    body = json.loads(api.make_handler(service)(request, None)["body"])
    assert body["tier"] == "instant" and len(body["predictions"]) == 2
    assert build_aws_adapters(make_settings()).instant_model.answer(TEXTS) is None  # no parameter: no instant model
    assert build_aws_adapters(dataclasses.replace(settings, instant_tier="off")).instant_model.answer(TEXTS) is None
