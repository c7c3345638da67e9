"""The SAM CLI, the one step the tests stand in for: `SamRunner` is what the run needs from it, `SamCli` runs it.

`sam deploy` runs non-interactively from samconfig.toml's profile (`--no-confirm-changeset`, never `--guided`):
`--guided` asks "ApiFunction has no authentication. Is this okay? [y/N]" and stops the deploy on the default N
(samcli/commands/deploy/guided_context.py, `prompt_authorization`); the API is public by design (docs/deploy.md).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# The oldest SAM CLI that builds python3.13 functions: python3.13 support (aws/aws-sam-cli#7561) shipped in 1.129.0;
# 1.128.0 rejects the runtime (aws/aws-sam-cli#7673).
MIN_SAM_VERSION = (1, 129, 0)


class SamError(RuntimeError):
    """A SAM CLI command failed; its output was printed above."""


class SamRunner(Protocol):
    def version(self) -> str:
        """The SAM CLI's version, e.g. "1.170.0"."""
        ...

    def build(self) -> None: ...

    def deploy(self) -> None:
        """Create or update the stack from the built template, asking nothing."""
        ...

    def delete(self) -> None:
        """Delete the stack and what `sam deploy` uploaded for it, asking nothing."""
        ...


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def runtime_interpreter(runtime: str) -> Path | None:
    """The Python that `sam build` needs for the functions' runtime (python3.13): pyenv's, else one on PATH (pyenv's
    shim of that name on PATH runs nothing, so its real interpreter comes first)."""
    version = runtime.removeprefix("python")
    installed = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/{runtime}")))
    found = installed[-1] if installed else shutil.which(runtime)
    return Path(found) if found else None


@dataclass(frozen=True)
class SamCli:
    executable: str
    stack_name: str
    region: str
    config_env: str
    root: Path
    say: Callable[[str], None]
    runtime: str = "python3.13"

    def build_command(self) -> list[str]:
        return [self.executable, "build", "--config-env", self.config_env, "--template", "template.yaml"]

    def deploy_command(self) -> list[str]:
        return [
            self.executable,
            "deploy",
            "--config-env",
            self.config_env,
            "--stack-name",
            self.stack_name,
            "--region",
            self.region,
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",  # a second make deploy with nothing new goes on to the page
        ]

    def delete_command(self) -> list[str]:
        return [self.executable, "delete", "--stack-name", self.stack_name, "--region", self.region, "--no-prompts"]

    def version(self) -> str:
        result = subprocess.run([self.executable, "--version"], capture_output=True, text=True, check=True)
        return result.stdout.strip().rpartition(" ")[2]

    def build(self) -> None:
        self._run(self.build_command())

    def deploy(self) -> None:
        self._run(self.deploy_command())

    def delete(self) -> None:
        self._run(self.delete_command())

    def _run(self, command: list[str]) -> None:
        interpreter = runtime_interpreter(self.runtime)
        path = os.environ.get("PATH", "")
        env = {
            **os.environ,
            "SAM_CLI_TELEMETRY": "0",
            "PATH": f"{interpreter.parent}{os.pathsep}{path}" if interpreter else path,
        }
        with subprocess.Popen(
            command, cwd=self.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                self.say(line.rstrip())
        if process.returncode:
            raise SamError(f"`sam {command[1]}` failed (exit {process.returncode}); its output is above")
