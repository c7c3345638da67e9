"""Lambda code stays light: importing any handler pulls in neither torch, transformers nor the local runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions")}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


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
