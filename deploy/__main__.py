"""python -m deploy deploy|destroy|reopen [--config-env default] [--stack-name N] [--region R] [--sam PATH]
[--no-follow]"""

from __future__ import annotations

import sys

import boto3
import requests
from botocore.exceptions import BotoCoreError, ClientError

from deploy.ceiling import CeilingError
from deploy.commands import Tools, deploy, destroy, reopen
from deploy.page import PageError
from deploy.preflight import PreflightError
from deploy.progress import INDENT
from deploy.sam import SamCli, SamError
from deploy.settings import DeploySettings, Options
from deploy.smoke import SmokeTestError
from deploy.stack import MissingOutputsError
from deploy.teardown import TeardownError

STOPPING_ERRORS = (
    PreflightError,
    SamError,
    PageError,
    SmokeTestError,
    TeardownError,
    MissingOutputsError,
    CeilingError,
    ClientError,
    BotoCoreError,
)


def main(argv: list[str] | None = None) -> int:
    options = Options.parse(argv)
    settings = DeploySettings.load(options)
    sam = SamCli(
        options.sam,
        settings.stack_name,
        settings.region,
        options.config_env,
        settings.root,
        say=lambda line: print(INDENT + line, flush=True),
        runtime=settings.template["Globals"]["Function"]["Runtime"],
    )
    tools = Tools(boto3.Session(region_name=settings.region), sam, requests.Session())
    command = {"deploy": deploy, "destroy": destroy, "reopen": reopen}[options.command]
    try:
        return command(settings, tools)
    except STOPPING_ERRORS as exc:
        print(f"\nmake {options.command} stopped:\n{exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
