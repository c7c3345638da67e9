"""Everything checked before anything is created: the tools and their versions, the credentials and region, the
stack name, and the quotas the stack needs, with the exact request command for each one missing. Every problem is
reported at once; the run stops only for those the deploy cannot get past."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploy.quotas import QuotaCheck, ServiceQuotas, quota_needs
from deploy.sam import MIN_SAM_VERSION, SamRunner, runtime_interpreter, version_tuple
from deploy.settings import DeploySettings

# CreateStack: "A stack name can contain only alphanumeric characters (case-sensitive) and hyphens. It must start with
# an alphabetical character and can't be longer than 128 characters."
# (docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html)
STACK_NAME_LIMIT = 128
STACK_NAME = re.compile(rf"[A-Za-z][A-Za-z0-9-]{{0,{STACK_NAME_LIMIT - 1}}}")
ASL = "statemachine/training_pipeline.asl.json"


class PreflightError(RuntimeError):
    """What stops the run, every reason listed."""


@dataclass(frozen=True)
class PreflightResult:
    account: str
    partition: str
    quotas: list[QuotaCheck]

    @property
    def can_train(self) -> bool:
        return all(check.ok for check in self.quotas if "training job" in check.need.name)


class Preflight:
    def __init__(self, settings: DeploySettings, session: Any, sam: SamRunner, say: Callable[[str], None]) -> None:
        self._settings = settings
        self._session = session
        self._sam = sam
        self._say = say

    def run(self, *, quotas: bool = True) -> PreflightResult:
        problems = self._tools() + self._stack_name()
        account, partition = self._credentials(problems)
        checks = self._quotas(problems) if quotas and account else []
        if problems:
            raise PreflightError("\n".join(problems))
        return PreflightResult(account, partition, checks)

    def _tools(self) -> list[str]:
        problems = []
        try:
            version = self._sam.version()
        except (OSError, subprocess.CalledProcessError) as exc:
            problems.append(f"the SAM CLI does not run ({exc}): make venv installs it in .venv-sam")
        else:
            minimum = ".".join(map(str, MIN_SAM_VERSION))
            good = version_tuple(version) >= MIN_SAM_VERSION
            self._say(f"SAM CLI {version} ({'ok' if good else 'too old'}: {minimum} or later builds python3.13)")
            if not good:
                problems.append(f"SAM CLI {version} is older than {minimum}: make clean venv installs a current one")
        runtime = self._settings.template["Globals"]["Function"]["Runtime"]
        interpreter = runtime_interpreter(runtime)
        if interpreter is None:
            problems.append(f"`sam build` needs {runtime} (the functions' runtime) on PATH or in pyenv; none found")
        else:
            self._say(f"{runtime} for sam build: {interpreter}")
        return problems

    def _stack_name(self) -> list[str]:
        name = self._settings.stack_name
        if STACK_NAME.fullmatch(name):
            self._say(f"stack {name}: {len(name)} of {STACK_NAME_LIMIT} characters")
            return []
        return [
            f"the stack name {name!r} is not one CloudFormation accepts: letters, digits and hyphens, starting with a "
            f"letter, at most {STACK_NAME_LIMIT} characters"
        ]

    def _credentials(self, problems: list[str]) -> tuple[str, str]:
        try:
            identity = self._session.client("sts").get_caller_identity()
        except (ClientError, BotoCoreError) as exc:
            problems.append(f"no working AWS credentials ({exc}): aws configure, or set AWS_PROFILE")
            return "", "aws"
        self._say(f"account {identity['Account']} as {identity['Arn']}, region {self._settings.region}")
        return identity["Account"], identity["Arn"].split(":")[1]

    def _quotas(self, problems: list[str]) -> list[QuotaCheck]:
        settings = self._settings
        lookup = ServiceQuotas(self._session.client("service-quotas"))
        checks = [
            lookup.check(need) for need in quota_needs(settings.template, settings.parameters, settings.root / ASL)
        ]
        for check in checks:
            need = check.need
            if check.ok:
                self._say(f"quota {need.name!r}: {check.value:g} (needs {need.needed}) ok")
                continue
            found = "unknown" if check.value is None else f"{check.value:g}"
            self._say(
                f"quota {need.name!r}: {found}, needs {need.needed} for {need.why}"
                + (f" ({check.problem})" if check.problem else "")
                + f"\n  request it: {check.request_command(settings.region)}"
            )
            if need.blocks_stack:
                problems.append(
                    f"quota {need.name!r} is below {need.needed}: request it (above), or deploy with "
                    "ReservedConcurrency=off"
                )
            elif "endpoint" in need.name:
                self._say("  until it is raised the page answers from the instant model and Start fails")
            else:
                self._say("  until it is raised make deploy does not start the training pipeline")
        return checks
