"""Run the training job on a SageMaker GPU instance and create the SageMaker model from its artefact.

Built on boto3's `create_training_job` / `create_model` rather than the `sagemaker` SDK on purpose: the SDK 3.x on
PyPI has a new API, and 2.x would downgrade protobuf and packaging in the shared environment for what is two calls.
The requests are the training pipeline's own (training/recipe.py reads them from the state machine's definition), in
the form the SDK's HuggingFace estimator sends (the HF toolkit reads `sagemaker_program` and
`sagemaker_submit_directory`, values JSON-encoded). The model artefact is SM_MODEL_DIR as model.tar.gz, which
train.py fills with `code/inference.py`, so the HF inference container serves it with our handler.

    python -m training.launcher upload-source --bucket B            # code/sourcedir.tar.gz for training jobs
    python -m training.launcher train --bucket B --curated s3://C/reviews/ --role ARN [--wait] [--create-model]
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
        for path in sorted((REPO_ROOT / "training").glob("*.py")):
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


def wait_for_training(sagemaker: Any, job_name: str, poll_seconds: float = 60.0) -> dict[str, Any]:
    """DescribeTrainingJob until it ends; raises if it did not complete."""
    while True:
        described = sagemaker.describe_training_job(TrainingJobName=job_name)
        status = described["TrainingJobStatus"]
        if status == "Completed":
            return described
        if status in ("Failed", "Stopped"):
            raise RuntimeError(f"Training job {job_name} {status}: {described.get('FailureReason', '')}")
        time.sleep(poll_seconds)


def launch(
    sagemaker: Any,
    job_name: str,
    role_arn: str,
    source_uri: str,
    curated_path: str,
    output_path: str,
    region: str,
    wait: bool = True,
    create_model: bool = True,
    poll_seconds: float = 60.0,
) -> dict[str, Any]:
    """Start the training job; with `wait`, wait for it and create the model from its model.tar.gz."""
    sagemaker.create_training_job(
        **training_job_request(job_name, role_arn, source_uri, curated_path, output_path, region)
    )
    result: dict[str, Any] = {"training_job": job_name}
    if not wait:
        return result
    described = wait_for_training(sagemaker, job_name, poll_seconds)
    result["model_data"] = described["ModelArtifacts"]["S3ModelArtifacts"]
    result["metrics"] = {m["MetricName"]: m["Value"] for m in described.get("FinalMetricDataList", [])}
    if create_model:
        answer = sagemaker.create_model(**model_request(job_name, role_arn, result["model_data"], region))
        result["model_arn"] = answer["ModelArn"]
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
        session.client("sagemaker"), args.job_name, args.role, f"s3://{args.bucket}/{SOURCE_KEY}", args.curated,
        f"s3://{args.bucket}/training/", session.region_name, wait=args.wait, create_model=args.create_model,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
