"""Lambda code stays light: importing any handler pulls in neither torch, transformers nor the local runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ondemand.settings import required_variables

ROOT = Path(__file__).resolve().parents[3]
HANDLERS = ["api", "endpoint_events", "teardown", "reconciler"]


@pytest.mark.parametrize("handler", HANDLERS)
def test_importing_a_handler_imports_no_ml_library(handler: str) -> None:
    probe = (
        "import json, sys\n"
        f"import ondemand.handlers.{handler} as module\n"
        "assert callable(module.handler)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'local_runtime'))\n"
        "print(json.dumps(heavy))\n"
    )
    done = run_python(probe, bare_environment())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def bare_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any AWS or stack setting: what a test or the local runtime may have."""
    settings_names = set(required_variables()) | {"SMS_PROVIDER", "DYNAMODB_ENDPOINT_URL"}
    kept = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in settings_names}
    return {**kept, "PYTHONPATH": str(ROOT / "functions"), **extra}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("handler", HANDLERS)
def test_on_lambda_a_missing_setting_fails_the_import_naming_it(handler: str) -> None:
    """Lambda's init phase, not the first request, reports the misconfiguration."""
    done = run_python(f"import ondemand.handlers.{handler}", bare_environment(AWS_LAMBDA_FUNCTION_NAME=handler))
    assert done.returncode != 0
    assert "ConfigurationError: missing environment variables: STATE_TABLE_NAME" in done.stderr
    assert "AWS_REGION" in done.stderr


def test_functions_never_mentions_the_heavy_packages() -> None:
    """A cheaper guard that also catches imports hidden in functions nobody called yet."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "functions").rglob("*.py")
        for line in path.read_text().splitlines()
        if line.strip().startswith(("import ", "from "))
        and any(name in line.split("#")[0] for name in (" torch", " transformers", " local_runtime"))
    ]
    assert offenders == []
