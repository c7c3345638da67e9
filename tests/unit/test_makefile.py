"""The Makefile keeps its promises: `make clean` removes every virtual environment the project builds, and every
command `make help` advertises is a rule."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.integration.test_deploy_rehearsal import RUNTIME_VENV

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (ROOT / "Makefile").read_text()
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*[:?]?=\s*(.*?)\s*$", re.MULTILINE)
RULE = re.compile(r"^([^\s#=:][^=:]*?)\s*:(?!=)", re.MULTILINE)


def variables() -> dict[str, str]:
    return {name: value for name, value in ASSIGNMENT.findall(MAKEFILE)}


def expand(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda match: values.get(match.group(1), match.group(0)), text)


def recipe(target: str) -> str:
    """The rule's recipe lines (tab-indented, backslash continuations joined)."""
    lines = MAKEFILE.replace("\\\n", " ").splitlines()
    start = next(number for number, line in enumerate(lines) if re.match(rf"^{re.escape(target)}\s*:(?!=)", line))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        body.append(line.strip())
    return "\n".join(body)


def rule_targets() -> set[str]:
    return {target for found in RULE.findall(MAKEFILE) for target in found.split()}


def test_clean_removes_every_virtual_environment() -> None:
    values = variables()
    venvs = {values[name] for name in values if values[name].startswith(".venv")}
    # Every `-m venv X` the Makefile runs makes one of those folders, so the list above is all of them.
    created = {expand(folder, values) for folder in re.findall(r"-m venv (\S+)", MAKEFILE)}
    assert created and created <= venvs, f"a venv made outside the *_VENV variables: {created - venvs}"
    # The deploy rehearsal's clean Lambda runtime is a venv too, made by its test.
    venvs.add(str(RUNTIME_VENV.relative_to(ROOT)))
    removed = set(expand(recipe("clean"), values).split())
    assert venvs - removed == set(), "make clean leaves these behind"


def test_every_command_make_help_advertises_is_a_rule() -> None:
    shown = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    advertised = set(re.findall(r"^make (\S+)", shown.stdout, re.MULTILINE))
    assert {"demo", "test"} <= advertised, shown.stdout
    assert advertised - rule_targets() == set(), "advertised by make help without a rule"
