"""The commands, each its steps in order. `Tools` is what a run takes from outside (AWS, the SAM CLI, HTTP, the
review data, the way it waits); `python -m deploy` builds the real ones, the tests hand in theirs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import pandas as pd
import requests

from deploy.api_logging import ensure_cloudwatch_role
from deploy.ceiling import reopen_api
from deploy.estimate import estimate_text, pipeline_stages
from deploy.first_model import FirstModel
from deploy.leftovers import Footprint, Leftovers
from deploy.page import PageHosting, page_files
from deploy.preflight import ASL, Preflight, PreflightError
from deploy.progress import Progress
from deploy.sam import SamRunner
from deploy.settings import DeploySettings
from deploy.smoke import DocumentedApi, SmokeTest
from deploy.stack import MissingOutputsError, Output, Stack
from deploy.teardown import Teardown
from deploy.waiting import IN_REAL_TIME, Waiting
from glue_jobs.seed_raw_reviews import load_movie_reviews
from local_runtime.cfn_template import load_template

# Kept on purpose, costing nothing: said at the end of make destroy, so nobody hunts for them.
KEPT = (
    "API Gateway's CloudWatch role and the account setting naming it (other APIs in the account use them)",
    "SAM's aws-sam-cli-managed-default stack and bucket (shared by every SAM stack in the region; sam delete removed "
    "this stack's files from it)",
    "the records of finished training jobs (SageMaker cannot delete them) and the account-wide log groups "
    "/aws/sagemaker/TrainingJobs and /aws-glue/python-jobs/* (storage only)",
)

# A stack CloudFormation cannot update: a first creation that rolled back must be deleted first.
UNDEPLOYABLE = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED"}


@dataclass(frozen=True)
class Tools:
    session: Any
    sam: SamRunner
    http: requests.Session
    reviews: Callable[[], pd.DataFrame] = load_movie_reviews
    waiting: Waiting = IN_REAL_TIME


def deploy(settings: DeploySettings, tools: Tools, out: TextIO = sys.stdout) -> int:
    progress = Progress(8, out)
    say = progress.say
    options = settings.options
    say(
        f"make deploy: stack {settings.stack_name} in {settings.region} (samconfig.toml [{options.config_env}])",
        indent=False,
    )
    stages = pipeline_stages(settings.root / ASL, load_template(settings.root / "statemachine" / "pipeline.yaml"))
    with progress.step("Preflight: tools, credentials, stack name, quotas"):
        checked = Preflight(settings, tools.session, tools.sam, say).run()
        status = Stack(tools.session.client("cloudformation"), settings.stack_name).status()
        say(f"stack {settings.stack_name}: {status or 'not yet created'}")
        if status in UNDEPLOYABLE or (status or "").endswith("_IN_PROGRESS"):
            raise PreflightError(f"the stack is {status}: wait for it to settle, or make destroy and deploy again")
    with progress.step("API Gateway's CloudWatch role (an account setting the API's access logs need)"):
        ensure_cloudwatch_role(tools.session, checked.partition, say, tools.waiting)
    with progress.step("sam build"):
        tools.sam.build()
    with progress.step("sam deploy (no questions: samconfig.toml's profile)"):
        tools.sam.deploy()
        outputs = Stack(tools.session.client("cloudformation"), settings.stack_name).outputs()
    with progress.step("The web page: files, config.js from the stack's outputs, CloudFront invalidation"):
        hosting = PageHosting(tools.session.client("s3"), tools.session.client("cloudfront"), say, tools.waiting)
        hosting.publish(
            outputs[Output.PAGE_BUCKET],
            outputs[Output.PAGE_DISTRIBUTION],
            page_files(options.frontend, outputs[Output.API_URL]),
        )
    with progress.step("The first model: the instant model now, the training pipeline started"):
        model = FirstModel(
            tools.session,
            outputs,
            progress,
            reviews=tools.reviews,
            retrain=options.retrain,
            waiting=tools.waiting,
        )
        execution = model.prepare(can_train=checked.can_train, estimate=estimate_text(stages))
    with progress.step("Smoke test: the live API and the page"):
        smoke = SmokeTest(DocumentedApi(tools.http), say, tools.waiting)
        smoke.run(
            outputs[Output.API_URL],
            outputs[Output.WEB_PAGE_URL],
            instant_tier=settings.parameters["InstantTier"] != "off",
        )
        say(f"The page is up: {outputs[Output.WEB_PAGE_URL]}")
    pipeline = "not started"
    with progress.step("The training pipeline"):
        if execution and options.follow:
            limit = sum(stage.limit_minutes for stage in stages) * 60
            pipeline = model.follow(execution, timeout=limit)
        elif execution:
            say(f"not followed (--no-follow): {execution}")
            pipeline = "RUNNING"
        else:
            say("nothing to follow")
    say(f"\nThe page: {outputs[Output.WEB_PAGE_URL]}", indent=False)
    say(f"The API:  {outputs[Output.API_URL]}", indent=False)
    if pipeline in {"FAILED", "TIMED_OUT", "ABORTED"}:
        say(f"The training pipeline {pipeline.lower()}: the page answers from the instant model only.", indent=False)
        return 1
    return 0


def destroy(settings: DeploySettings, tools: Tools, out: TextIO = sys.stdout) -> int:
    progress = Progress(7, out)
    say = progress.say
    say(f"make destroy: stack {settings.stack_name} in {settings.region}", indent=False)
    stack = Stack(tools.session.client("cloudformation"), settings.stack_name)
    with progress.step("Preflight: tools, credentials, the stack"):
        Preflight(settings, tools.session, tools.sam, say).run(quotas=False)
        status = stack.status()
        say(f"stack {stack.name}: {status or 'none'}")
        if status is None:
            say(f"There is no stack {stack.name} in {settings.region}: nothing to destroy.", indent=False)
            return 0
        try:
            footprint = Footprint.of(stack)
        except MissingOutputsError as exc:  # a first deploy that rolled back made nothing outside the stack
            say(f"{exc} ({status}): it is deleted, and nothing else can be found by its names")
            tools.sam.delete()
            return 0 if stack.status() is None else 1
    leftovers = Leftovers(tools.session, footprint)
    teardown = Teardown(tools.session, footprint.outputs, leftovers, say, tools.waiting)
    with progress.step("Stop the endpoint (POST /stop with the admin key)"):
        teardown.stop_endpoint(DocumentedApi(tools.http))
    with progress.step("Stop the training pipeline"):
        teardown.stop_pipeline()
    with progress.step("Delete what the functions and the pipeline created"):
        teardown.delete_created()
    with progress.step("Empty the buckets"):
        teardown.empty_buckets()
    with progress.step("Delete the stack (sam delete)"):
        tools.sam.delete()
        teardown.delete_buckets()
    with progress.step("Anything of the stack left?"):
        left = leftovers.found()
        for kind, names in left.items():
            say(f"LEFT {kind}: {', '.join(names)}")
        if not left:
            say("nothing: no endpoint, config, model, schedule, log group, bucket, distribution or stack of it")
    say("Kept on purpose, costing nothing:\n" + "\n".join(f"- {kept}" for kept in KEPT), indent=False)
    if left:
        say("make destroy did not remove everything above marked LEFT: they may still bill.", indent=False)
        return 1
    return 0


def reopen(settings: DeploySettings, tools: Tools, out: TextIO = sys.stdout) -> int:
    """Reopen an API the monthly ceiling closed: CeilingFunction restores the template's throttles and removes the
    page's service-closed.json. It counts the month's requests afresh from now; AWS Budgets does not notify again this
    month, so the ceiling on the bill is only the request check until the 1st."""
    print(f"make reopen: stack {settings.stack_name} in {settings.region}", file=out, flush=True)
    outputs = Stack(tools.session.client("cloudformation"), settings.stack_name).outputs()
    answer = reopen_api(tools.session.client("lambda"), outputs[Output.CEILING_FUNCTION])
    print(f"The API is open again; the page: {outputs[Output.WEB_PAGE_URL]} ({answer})", file=out, flush=True)
    return 0
