"""docs/deploy.md names only stack outputs, parameters and commands that exist, so its steps cannot drift from the
stack: a renamed output would otherwise surface as an empty `$(out X)` in the middle of a teardown."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "deploy.md").read_text()


def test_every_output_the_doc_reads_is_an_output_of_the_stack(template) -> None:
    read = set(re.findall(r"\$\(out (\w+)\)", DOC)) | set(re.findall(r"for bucket in ([\w ]+); do", DOC)[0].split())
    assert {"ApiUrl", "TrainingStateMachineArn", "RawBucketName", "CuratedBucketName", "ArtifactsBucketName"} <= read
    assert read <= set(template["Outputs"]), sorted(read - set(template["Outputs"]))


def test_every_parameter_the_doc_sets_is_a_parameter_of_the_stack_or_its_pipeline(template) -> None:
    from cfnlint.decode import cfn_yaml

    pipeline = cfn_yaml.load(str(ROOT / "statemachine" / "pipeline.yaml"))
    # Backticked CamelCase words are parameters, outputs, or (listed here) other names the doc explains.
    other_names = {"MaxRuntimeInSeconds", "NoEcho", "ApiGatewayLogsRole"}
    named = set(re.findall(r"`([A-Z][A-Za-z]+)(?:=[^`]*)?`", DOC)) - set(template["Outputs"]) - other_names
    parameters = set(template["Parameters"]) | set(pipeline["Parameters"])
    assert {"ReservedConcurrency", "SmsProvider", "TextbeltKey", "KeepAliveMinutes"} <= named
    assert named <= parameters, sorted(named - parameters)


def test_the_commands_the_doc_runs_exist_in_the_repo() -> None:
    assert "python -m training.launcher upload-source --bucket" in DOC
    assert "upload-source" in (ROOT / "training" / "launcher.py").read_text()
    assert (ROOT / "glue_jobs" / "seed_raw_reviews.py").exists() and "--raw-path" in DOC
    assert (ROOT / "frontend" / "index.html").exists()
