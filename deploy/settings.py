"""What one run works on, read once: the command line (each option declared once, with its default and help; the
parser is derived from the declarations), samconfig.toml's profile (stack name, region, parameter overrides) and
template.yaml's parameter defaults under those overrides."""

from __future__ import annotations

import argparse
import shlex
import tomllib
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from local_runtime.cfn_template import load_template

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Options:
    """The command line. `python -m deploy -h` is built from these fields."""

    command: str = field(
        metadata={
            "help": "deploy: stack, page, first model, smoke test; destroy: remove it all; reopen: reopen an API the "
            "monthly ceiling closed"
        }
    )
    config_env: str = field(default="default", metadata={"help": "the samconfig.toml profile to deploy"})
    stack_name: str | None = field(default=None, metadata={"help": "the stack (default: the profile's stack_name)"})
    region: str | None = field(default=None, metadata={"help": "the region (default: the profile's region)"})
    sam: str = field(default="sam", metadata={"help": "the SAM CLI to run (make passes .venv-sam/bin/sam)"})
    follow: bool = field(
        default=True,
        metadata={"help": "wait for the training pipeline to finish, printing its states (--no-follow: do not)"},
    )
    retrain: bool = field(
        default=False, metadata={"help": "start the training pipeline even if a model is already approved"}
    )
    frontend: Path = field(default=ROOT / "frontend", metadata={"help": "the page's folder"})

    @classmethod
    def parse(cls, argv: Sequence[str] | None = None) -> Options:
        parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
        for declared in fields(cls):
            help_text = declared.metadata["help"]
            if declared.default is MISSING:
                parser.add_argument(declared.name, choices=("deploy", "destroy", "reopen"), help=help_text)
            elif declared.type == "bool":
                parser.add_argument(
                    f"--{declared.name.replace('_', '-')}",
                    action=argparse.BooleanOptionalAction,
                    default=declared.default,
                    help=help_text,
                )
            else:
                kind = Path if declared.type == "Path" else str
                parser.add_argument(
                    f"--{declared.name.replace('_', '-')}", type=kind, default=declared.default, help=help_text
                )
        return cls(**vars(parser.parse_args(argv)))


@dataclass(frozen=True)
class DeploySettings:
    """The options with what samconfig.toml and template.yaml say about the stack they name."""

    options: Options
    stack_name: str
    region: str
    parameters: dict[str, str]
    """Every template parameter's value for this deploy: the template's default unless the profile overrides it."""
    template: dict[str, Any]
    root: Path = ROOT

    @classmethod
    def load(cls, options: Options, root: Path = ROOT) -> DeploySettings:
        profile = samconfig_profile(root / "samconfig.toml", options.config_env)
        template = load_template(root / "template.yaml")
        stack_name = options.stack_name or profile.get("stack_name")
        region = options.region or profile.get("region")
        if not stack_name or not region:
            raise SystemExit(
                f"samconfig.toml's [{options.config_env}] profile names no stack_name or region: pass --stack-name "
                "and --region"
            )
        defaults = {name: str(declared.get("Default", "")) for name, declared in template["Parameters"].items()}
        overrides = parameter_overrides(profile.get("parameter_overrides", ""))
        return cls(options, stack_name, region, {**defaults, **overrides}, template, root)


def samconfig_profile(path: Path, config_env: str) -> dict[str, Any]:
    """The profile's global, build and deploy parameters merged (the deploy section wins, as the SAM CLI reads them)."""
    config = tomllib.loads(path.read_text())
    if config_env not in config:
        raise SystemExit(
            f"{path.name} has no [{config_env}] profile (it has {sorted(k for k in config if k != 'version')})"
        )
    sections = config[config_env]
    merged: dict[str, Any] = {}
    for command in ("global", "build", "deploy"):
        merged.update(sections.get(command, {}).get("parameters", {}))
    return merged


def parameter_overrides(text: str) -> dict[str, str]:
    """samconfig's `parameter_overrides = 'A="x" B="y"'` as {"A": "x", "B": "y"}."""
    pairs = (word.split("=", 1) for word in shlex.split(text))
    return {name: value for name, value in pairs}
