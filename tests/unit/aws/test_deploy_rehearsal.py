"""Deploy rehearsal: `sam build` the stack as `sam deploy` would ship it, then import every handler of template.yaml
from the built artifact in a clean Python 3.13 (the functions' runtime) that has only boto3 and botocore beside it, as
Lambda's runtime does. A module the package needs but functions/requirements.txt does not name fails here, although
the project venv (which has everything) would import it fine.

The clean venv (var/lambda-python3.13) and SAM's dependency cache (var/sam-cache, .aws-sam/deps) are kept between
runs: the first run downloads the packages (about a minute), later ones rebuild only the source (seconds)."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RUNTIME_VENV = ROOT / "var" / "lambda-python3.13"
SAM = ROOT / ".venv-sam" / "bin" / "sam"

# Run in the clean interpreter: the handler's folder first on sys.path (Lambda's /var/task), then the runtime's
# packages; -I keeps PYTHONPATH and user site-packages (where the project's packages could hide a gap) out.
IMPORT_HANDLERS = """
import importlib, json, sys
code_dir, handlers = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, code_dir)
for handler in handlers:
    module, _, name = handler.rpartition(".")
    if not callable(getattr(importlib.import_module(module), name)):
        raise SystemExit(f"{handler} is not callable")
import boto3, botocore
print(json.dumps({"boto3": boto3.__file__, "botocore": botocore.__file__}))
"""


def python_313() -> str:
    """The runtime's Python: pyenv's 3.13, or python3.13 on PATH (pyenv's shim of that name runs nothing)."""
    installed = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13.*/bin/python3.13")))
    found = installed[-1] if installed else shutil.which("python3.13")
    if not found:
        raise RuntimeError("The deploy rehearsal needs Python 3.13 (python3.13 on PATH or pyenv's 3.13)")
    return found


def pinned(package: str) -> str:
    """The version functions/requirements.txt pins for `package` (boto3 and botocore are pinned together)."""
    text = (ROOT / "functions" / "requirements.txt").read_text()
    match = re.search(rf"^{package}==(\S+)$", text, flags=re.MULTILINE)
    assert match, f"functions/requirements.txt must pin {package}"
    return match.group(1)


def runtime_python() -> Path:
    """A clean Python 3.13 venv with only boto3/botocore, built once and kept under var/."""
    version = pinned("boto3")
    python = RUNTIME_VENV / "bin" / "python"
    marker = RUNTIME_VENV / f".boto3-{version}"
    if not marker.exists():
        shutil.rmtree(RUNTIME_VENV, ignore_errors=True)
        subprocess.run([python_313(), "-m", "venv", str(RUNTIME_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"boto3=={version}", f"botocore=={pinned('botocore')}"],
            check=True,
        )
        marker.touch()
    return python


def sam_build(build_dir: Path) -> dict:
    """`sam build` (no container) into build_dir; the built template, as JSON-able data."""
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "PATH": f"{Path(python_313()).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        [
            str(SAM),
            "build",
            "--cached",
            "--cache-dir",
            str(ROOT / "var" / "sam-cache"),
            "--build-dir",
            str(build_dir),
            "--template",
            str(ROOT / "template.yaml"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    from cfnlint.decode import cfn_yaml

    return cfn_yaml.load(str(build_dir / "template.yaml"))


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_every_handler_imports_from_the_built_artifact_on_the_lambda_runtime(tmp_path: Path) -> None:
    python = runtime_python()
    built = sam_build(tmp_path / "build")
    functions = {
        logical_id: resource["Properties"]
        for logical_id, resource in built["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert set(functions) == {"ApiFunction", "EndpointEventsFunction", "TeardownFunction", "ReconcilerFunction"}
    runtime = built["Globals"]["Function"]["Runtime"]
    assert runtime == "python3.13", runtime

    for logical_id, properties in functions.items():
        code_dir = tmp_path / "build" / properties["CodeUri"]
        result = subprocess.run(
            [str(python), "-I", "-c", IMPORT_HANDLERS, str(code_dir), json.dumps([properties["Handler"]])],
            env={"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{logical_id} ({properties['Handler']}):\n{result.stderr[-3000:]}"
        # The package ships boto3 with the botocore that pynamodb and the X-Ray SDK pull in: both come from it.
        loaded = json.loads(result.stdout.strip().splitlines()[-1])
        assert all(path.startswith(str(code_dir)) for path in loaded.values()), loaded
