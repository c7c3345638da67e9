"""Run the training job on a SageMaker GPU instance and create the SageMaker model from its artefact, with the
`sagemaker` SDK: the 3.x SDK's resource layer (sagemaker-core: `TrainingJob.create` / `.wait`, `Model.create`).

The requests are the training pipeline's own (training/recipe.py reads them from the state machine's definition), in
the form the HF toolkit reads (`sagemaker_program` and `sagemaker_submit_directory`, values JSON-encoded); the SDK sends
them field for field (tests/unit/sagemaker/test_launcher_sdk.py, botocore's Stubber on the SDK's own client). The model
artefact is SM_MODEL_DIR as model.tar.gz, which train.py fills with `code/inference.py`, so the HF inference container
serves it with our handler.

The SDK pins protobuf<7 and rich<15, older than the project's venv, so it has a venv of its own (`make
.venv-sagemaker-sdk/.installed`); `upload-source` needs only boto3 and runs in either.

    python -m training.launcher upload-source --bucket B            # code/sourcedir.tar.gz for training jobs
    .venv-sagemaker-sdk/bin/python -m training.launcher train --bucket B --curated s3://C/reviews/ --role ARN \
        [--wait] [--create-model]
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import boto3

from training import recipe

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE_KEY = "code/sourcedir.tar.gz"
# The DLC has torch and transformers; these are what train.py needs beyond them, pinned to releases with wheels for the
# image's Python (3.10: the `py310` in the training image's tag, statemachine/training_pipeline.asl.json).
EXTRA_REQUIREMENTS = "pyarrow==17.0.0\nscikit-learn==1.5.2\nsafetensors==0.4.5\ntqdm==4.67.1\n"


def source_archive() -> bytes:
    """training/ as a package plus a requirements.txt for the extra libraries (not ours: it pins a CPU torch)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        # The code, and the behavioural set the evaluation scores every model on.
        for path in sorted((REPO_ROOT / "training").glob("*.py")) + [
            REPO_ROOT / "training" / "behavioural_reviews.csv"
        ]:
            archive.add(path, arcname=f"training/{path.name}")
        # training/instant_train.py featurizes with the serving module itself (the pipeline's instant-model job).
        for name in ("__init__.py", "instant_model.py"):
            archive.add(REPO_ROOT / "functions" / "ondemand" / name, arcname=f"ondemand/{name}")
        data = EXTRA_REQUIREMENTS.encode()
        info = tarfile.TarInfo("requirements.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def upload_source(s3: Any, bucket: str, key: str = SOURCE_KEY) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=source_archive())
    return f"s3://{bucket}/{key}"


def training_job_request(
    job_name: str,
    role_arn: str,
    source_uri: str,
    curated_path: str,
    output_path: str,
    region: str,
    instance_type: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The pipeline's CreateTrainingJob request (training/recipe.py), for this job name; optionally another instance
    type or hyperparameters on top of the recipe's (values JSON-encoded, as the HF toolkit reads them)."""
    request = recipe.state_request(
        recipe.TRAINING_STATE,
        {
            "SageMakerRoleArn": role_arn,
            "TrainingSourceUri": source_uri,
            "CuratedDataPath": curated_path.rstrip("/") + "/",
            "ModelArtifactsPath": output_path,
            "Region": region,
        },
        {"TrainingJobName": job_name},
    )
    if instance_type:
        request["ResourceConfig"]["InstanceType"] = instance_type
    request["HyperParameters"].update({name: json.dumps(value) for name, value in (hyperparameters or {}).items()})
    return request


def model_request(model_name: str, role_arn: str, model_data_url: str, region: str) -> dict[str, Any]:
    """The pipeline's CreateModel request for this model name and artefact."""
    return recipe.state_request(
        recipe.MODEL_STATE,
        {"SageMakerRoleArn": role_arn, "Region": region},
        {"ModelName": model_name, "ModelDataUrl": model_data_url},
    )


def _sdk() -> Any:
    """The SDK's resources module; imported here so the request builders above work without the SDK installed."""
    try:
        from sagemaker.core import resources
    except ImportError as exc:
        raise SystemExit(
            "The launcher needs the sagemaker SDK (sagemaker-core), which has a venv of its own: "
            "`make .venv-sagemaker-sdk/.installed`, then `.venv-sagemaker-sdk/bin/python -m training.launcher ...`."
        ) from exc
    return resources


def sdk_arguments(request: dict[str, Any], shape: str) -> dict[str, Any]:
    """An API request (PascalCase, as the state machine sends it) as the SDK's keyword arguments, converted by the SDK's
    own codec from the service model, so map keys (hyperparameter names, environment variables) stay as they are."""
    from sagemaker.core.utils.code_injection.codec import transform

    arguments: dict[str, Any] = transform(request, shape)
    return arguments


def launch(
    session: Any,
    job_name: str,
    role_arn: str,
    source_uri: str,
    curated_path: str,
    output_path: str,
    region: str,
    wait: bool = True,
    create_model: bool = True,
    poll_seconds: int = 60,
) -> dict[str, Any]:
    """Start the training job; with `wait`, wait for it and create the model from its model.tar.gz.

    `session` is a boto3 session: the SDK makes its clients from it (the tests stub them)."""
    resources = _sdk()
    from sagemaker.core.utils.exceptions import FailedStatusError

    request = training_job_request(job_name, role_arn, source_uri, curated_path, output_path, region)
    job = resources.TrainingJob.create(
        **sdk_arguments(request, "CreateTrainingJobRequest"), session=session, region=region
    )
    result: dict[str, Any] = {"training_job": job_name}
    if not wait:
        return result
    try:
        job.wait(poll=poll_seconds)
    except FailedStatusError as exc:
        raise RuntimeError(f"Training job {job_name} Failed: {job.failure_reason}") from exc
    # The SDK's wait returns on Stopped too (only Failed raises): a stopped job has no model to create.
    if job.training_job_status != "Completed":
        raise RuntimeError(f"Training job {job_name} {job.training_job_status}: no model was created")
    result["model_data"] = job.model_artifacts.s3_model_artifacts
    metrics = job.final_metric_data_list if isinstance(job.final_metric_data_list, list) else []
    result["metrics"] = {metric.metric_name: metric.value for metric in metrics}
    if create_model:
        model = resources.Model.create(
            **sdk_arguments(model_request(job_name, role_arn, result["model_data"], region), "CreateModelInput"),
            session=session,
            region=region,
        )
        result["model_arn"] = model.model_arn
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    upload = commands.add_parser("upload-source", help="upload the training code archive")
    upload.add_argument("--bucket", required=True, help="the artefacts bucket")
    run = commands.add_parser("train", help="run a training job (and create the model)")
    run.add_argument("--bucket", required=True, help="the artefacts bucket (code and model output)")
    run.add_argument("--curated", required=True, help="s3:// prefix of the Glue job's output")
    run.add_argument("--role", required=True, help="SageMaker execution role ARN")
    run.add_argument("--job-name", default=f"sentiment-{time.strftime('%Y%m%d-%H%M%S')}")
    run.add_argument("--wait", action="store_true")
    run.add_argument("--create-model", action="store_true")
    args = parser.parse_args(argv)
    session = boto3.session.Session()
    if args.command == "upload-source":
        print(upload_source(session.client("s3"), args.bucket))
        return
    result = launch(
        session,
        args.job_name,
        args.role,
        f"s3://{args.bucket}/{SOURCE_KEY}",
        args.curated,
        f"s3://{args.bucket}/training/",
        session.region_name,
        wait=args.wait,
        create_model=args.create_model,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
