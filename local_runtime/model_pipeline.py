"""The local model pipeline: the same steps the Step Functions pipeline runs on AWS, on one machine, offline.

seed raw reviews into S3 (a moto server on loopback) -> the Glue job's script (awswrangler against that server) ->
train.py in SageMaker's conventions (SM_MODEL_DIR, SM_CHANNEL_*) -> evaluation on the test split -> an int8 ONNX copy
for CPU serving, scored on the same split -> the model folder the local model server loads. A model already in the
folder is reused, so only the first run pays.

    python -m local_runtime.model_pipeline --profile quick|full|tiny [--out DIR] [--force] [--progress-file F]

`tiny` (for other components' tests: about a minute) curates in-process instead of through S3 and trains on short
sentences; `quick` and `full` go through the whole pipeline.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from training import model_metrics

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = REPO_ROOT / "var" / "model"
PROFILE_RANK = {"tiny": 0, "quick": 1, "full": 2}
RAW_BUCKET, CURATED_BUCKET = "local-reviews-raw", "local-reviews-curated"
GLUE_DATABASE, GLUE_TABLE = "sentiment", "reviews_curated"
LOCAL_CREDENTIALS = {  # moto accepts any credentials; these keep a developer's real ones out of the local run
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
SPLITS = ("train", "validation", "test")
CPU_MODEL_FILE = "model.int8.onnx"  # training.inference.ONNX_FILE, not imported here: that would import torch
Progress = Callable[[str, float, str], None]
"""(stage, fraction of the pipeline done 0..1, a sentence for people): what the local runtime's GET /pipeline shows."""


def no_progress(stage: str, fraction: float, message: str) -> None:
    return None


def progress_file_writer(path: Path) -> Progress:
    """Writes each report as one JSON object, atomically (the runtime reads it while the pipeline writes)."""

    def report(stage: str, fraction: float, message: str) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"stage": stage, "progress": round(fraction, 3), "message": message}))
        tmp.replace(path)

    return report


def gpu_model_ready(model_dir: Path, profile: str | None = None) -> bool:
    """A model folder the local model server can serve (of at least `profile`, if given)."""
    cached = cached_profile(Path(model_dir))
    good = cached is not None if profile is None else _good_enough(cached, profile)
    return good and (Path(model_dir) / CPU_MODEL_FILE).exists()


def cached_profile(model_dir: Path) -> str | None:
    """The profile of a complete model folder, or None if there is no usable model in it."""
    serving = model_dir / "serving_config.json"
    parts = (serving, model_dir / "model.safetensors", model_dir / model_metrics.METRICS_FILE)
    if not all(part.exists() for part in parts):
        return None
    return json.loads(serving.read_text()).get("profile")


def ensure_model(profile: str = "quick", model_dir: Path = DEFAULT_MODEL_DIR, force: bool = False) -> Path:
    """A ready model folder: the cached one if it is at least as good a profile (tiny < quick < full), else a new one.

    The pipeline runs in a child process, so its moto server, torch threads and memory never touch the caller."""
    model_dir = Path(model_dir)
    if profile not in PROFILE_RANK:
        raise ValueError(f"Unknown profile {profile!r}; use one of {sorted(PROFILE_RANK)}")
    if not force and _good_enough(cached_profile(model_dir), profile) and (model_dir / CPU_MODEL_FILE).exists():
        return model_dir
    command = [sys.executable, "-m", "local_runtime.model_pipeline", "--profile", profile, "--out", str(model_dir)]
    if force:
        command.append("--force")
    completed = subprocess.run(command, cwd=REPO_ROOT, env=_child_env())
    if completed.returncode != 0 or cached_profile(model_dir) is None:
        raise RuntimeError(f"The model pipeline failed (exit {completed.returncode}); its output is above.")
    return model_dir


def build_model(
    profile: str,
    model_dir: Path,
    work_dir: Path | None = None,
    progress: Progress = no_progress,
    threads: int = 0,
) -> Path:
    """Run every stage in this process and publish the model folder atomically (a crash leaves no half model).
    `threads`: torch threads for the fine-tune; 0 lets train.py pick the cores free when it starts."""
    from tqdm.auto import tqdm

    work_dir = work_dir or _work_dir(model_dir)
    building = model_dir.parent / f".{model_dir.name}-building"
    shutil.rmtree(building, ignore_errors=True)
    stages = ["curate in-process", "train + evaluate", "export int8 ONNX + score it", "publish"]
    if profile != "tiny":
        stages[0] = "seed raw data + Glue ETL on S3 (moto)"
    # Rough shares of the wall time, so the page's bar moves about evenly; training is most of it.
    done_after = {"curate": 0.1, "instant": 0.15, "train": 0.85, "export": 0.98}
    started = time.perf_counter()
    with tqdm(total=len(stages), desc=f"model pipeline [{profile}]", unit="stage", position=0) as bar:
        bar.set_postfix_str(stages[0])
        progress("curate", 0.0, f"Curating the reviews ({stages[0]}).")
        channels = curate_in_process(work_dir) if profile == "tiny" else curate_through_s3(work_dir)
        progress("instant", done_after["curate"], "Training the instant CPU model (seconds).")
        train_instant_model(channels, instant_model_dir(model_dir))  # published now: the instant tier needs no GPU
        bar.update(1)
        bar.set_postfix_str(stages[1])
        progress(
            "train",
            done_after["instant"],
            f"Fine-tuning the transformer ({profile} profile); the instant model answers meanwhile.",
        )
        train(profile, channels, building, instant_model_dir(model_dir), threads)
        bar.update(1)
        bar.set_postfix_str(stages[2])
        progress("export", done_after["train"], "Exporting and scoring the CPU copy of the transformer.")
        export_for_cpu(building, channels)
        bar.update(1)
        bar.set_postfix_str(stages[3])
        progress("publish", done_after["export"], "Publishing the transformer.")
        if model_dir.exists():
            shutil.rmtree(model_dir)
        building.rename(model_dir)
        bar.update(1)
        progress("ready", 1.0, "The GPU model is ready: Start works.")
    print_report(model_dir, pipeline_seconds=time.perf_counter() - started)
    return model_dir


def print_report(model_dir: Path, pipeline_seconds: float | None = None) -> None:
    """Record the pipeline's wall time in metrics.json and print the models side by side (training/evaluate.py)."""
    from training.evaluate import format_table, results_table

    with model_metrics.updating(model_dir) as metrics:
        if pipeline_seconds is not None:
            metrics["pipeline_seconds"] = round(pipeline_seconds, 1)
        metrics["table"] = results_table(metrics)
    profile = metrics.get("profile")
    print(
        f"\nmodel ready in {model_dir} ({profile}, {metrics.get('pipeline_seconds', '?')} s); test accuracy, "
        f"n = {metrics['test']['model'].get('imdb', {}).get('n', '?')} IMDb / "
        f"{metrics['test']['model'].get('rotten_tomatoes', {}).get('n', '?')} RT / "
        f"{metrics['test']['model'].get('behavioural', {}).get('n', '?')} behavioural:\n"
        f"{format_table(metrics['table'])}",
        flush=True,
    )


def curate_in_process(work_dir: Path) -> dict[str, Path]:
    """The Glue job's transforms without S3: the same curated channels, seconds instead of a server."""
    from glue_jobs.curate_reviews import curate
    from glue_jobs.seed_raw_reviews import load_movie_reviews

    curated, _ = curate(load_movie_reviews())
    channels = _channel_dirs(work_dir)
    for split, rows in curated.groupby("split"):
        rows.drop(columns="split").to_parquet(channels[split] / "part-0.parquet", index=False)
    return channels


def curate_through_s3(work_dir: Path) -> dict[str, Path]:
    """Seed the raw bucket, run the Glue job's script against a moto S3/Glue server, download its Parquet."""
    import boto3
    from moto.server import ThreadedMotoServer

    from glue_jobs.seed_raw_reviews import seed

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per S3 request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for bucket in (RAW_BUCKET, CURATED_BUCKET):
            s3.create_bucket(Bucket=bucket)
        seed(f"s3://{RAW_BUCKET}/reviews/", s3)
        job = [
            sys.executable,
            str(REPO_ROOT / "glue_jobs" / "curate_reviews.py"),
            "--raw_path",
            f"s3://{RAW_BUCKET}/reviews/",
            "--curated_path",
            f"s3://{CURATED_BUCKET}/reviews/",
            "--database",
            GLUE_DATABASE,
            "--table",
            GLUE_TABLE,
        ]
        subprocess.run(
            job, check=True, cwd=REPO_ROOT, env={**_child_env(), **LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
        )
        channels = _channel_dirs(work_dir)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=CURATED_BUCKET, Prefix="reviews/"):
            for item in page.get("Contents", []):
                split = next((s for s in SPLITS if f"/split={s}/" in item["Key"]), None)
                if split and item["Key"].endswith(".parquet"):
                    s3.download_file(CURATED_BUCKET, item["Key"], str(channels[split] / Path(item["Key"]).name))
        return channels
    finally:
        server.stop()


def train(
    profile: str, channels: dict[str, Path], model_dir: Path, instant_dir: Path | None = None, threads: int = 0
) -> None:
    """training/train.py as SageMaker would run it: hyperparameters as flags, data and output as SM_* variables. The
    instant model just trained is a channel too: a profile that combines it with the transformer copies it."""
    env = {
        **_child_env(),
        "SM_MODEL_DIR": str(model_dir),
        **{f"SM_CHANNEL_{split.upper()}": str(folder) for split, folder in channels.items()},
        **({"SM_CHANNEL_INSTANT": str(instant_dir)} if instant_dir is not None else {}),
    }
    threads_flag = ["--threads", str(threads)] if threads else []
    command = [sys.executable, "-m", "training.train", "--profile", profile, *threads_flag]
    subprocess.run(command, check=True, cwd=REPO_ROOT, env=env)


def instant_model_dir(model_dir: Path) -> Path:
    """The instant tier's model lives beside the transformer's folder, so it can be served before that one exists."""
    return Path(model_dir).parent / "instant_model"


def train_instant_model(channels: dict[str, Path], out: Path) -> None:
    """training/instant_train.py on the curated channels: seconds, plain arrays, scored on the test split."""
    command = [sys.executable, "-m", "training.instant_train", "--train-dir", str(channels["train"]), "--out", str(out)]
    if channels.get("test") is not None and channels["test"].exists():
        command += ["--test-dir", str(channels["test"])]
    subprocess.run(command, check=True, cwd=REPO_ROOT, env=_child_env())


def export_for_cpu(model_dir: Path, channels: dict[str, Path]) -> None:
    """The int8 ONNX copy a CPU serves (training/onnx_export.py), smoothed on the train rows, scored on the test split
    when there is one. A cached model whose train rows are gone gets plain dynamic int8, and says so."""
    command = [sys.executable, "-m", "training.onnx_export", "--model-dir", str(model_dir)]
    train_dir, test_dir = channels.get("train"), channels.get("test")
    if train_dir is not None and train_dir.exists() and any(train_dir.iterdir()):
        command += ["--calibration-dir", str(train_dir)]
    else:
        print("no train rows to calibrate the int8 smoothing on: exporting plain dynamic int8", flush=True)
        command += ["--quantization", "dynamic"]
    if test_dir is not None and test_dir.exists():
        command += ["--test-dir", str(test_dir)]
    subprocess.run(command, check=True, cwd=REPO_ROOT, env=_child_env())


def _work_dir(model_dir: Path) -> Path:
    return model_dir.parent / f".{model_dir.name}-pipeline"


def _channel_dirs(work_dir: Path) -> dict[str, Path]:
    channels = {split: work_dir / "curated" / f"split={split}" for split in SPLITS}
    for folder in channels.values():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    return channels


def _good_enough(cached: str | None, wanted: str) -> bool:
    return cached is not None and PROFILE_RANK.get(cached, -1) >= PROFILE_RANK[wanted]


def _child_env() -> dict[str, str]:
    """The caller's environment, offline; never any AWS endpoint of the caller's."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_ENDPOINT_URL")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


@contextmanager
def _exclusive(model_dir: Path) -> Iterator[None]:
    """One builder per model folder: a second `make model` waits for the first instead of racing it."""
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(model_dir.parent / f".{model_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILE_RANK, key=PROFILE_RANK.get), default="quick")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR, help="the model folder (default var/model)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a good enough model is cached")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads for the fine-tune (default: the cores free when it starts, judged from the load average, "
        "which a build that just ran can make look busy)",
    )
    parser.add_argument(
        "--progress-file",
        type=Path,
        default=None,
        help="write {stage, progress, message} JSON here at each stage (the local runtime reads it)",
    )
    args = parser.parse_args(argv)
    if args.threads < 0:
        parser.error(f"--threads must be 0 (the free cores) or more, not {args.threads}")
    progress = progress_file_writer(args.progress_file) if args.progress_file else no_progress
    model_dir = args.out.resolve()
    with _exclusive(model_dir):
        cached = cached_profile(model_dir)
        if not args.force and _good_enough(cached, args.profile):
            print(f"reusing the {cached} model in {model_dir} (--force to rebuild)")
            channels = {split: _work_dir(model_dir) / "curated" / f"split={split}" for split in SPLITS}
            if not (model_dir / CPU_MODEL_FILE).exists():  # a model made before the ONNX export existed
                export_for_cpu(model_dir, channels)
            if not instant_model_dir(model_dir).exists() and channels["train"].exists():  # made before the tier existed
                train_instant_model(channels, instant_model_dir(model_dir))
            progress("ready", 1.0, "The GPU model is ready: Start works.")
            if "test" in model_metrics.read(model_dir):
                print_report(model_dir)
            return
        build_model(args.profile, model_dir, progress=progress, threads=args.threads)


if __name__ == "__main__":
    main()
