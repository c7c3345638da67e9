"""docs/deploy.md names only stack outputs, parameters and commands that exist, so its steps cannot drift from the
stack: a renamed output would otherwise surface as an empty `$(out X)` in the middle of a teardown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
    other_names = {"MaxRuntimeInSeconds", "NoEcho"}
    # The ceiling's section: resources, a template property, a metric and a CloudWatch API's operation and field.
    other_names |= {"Api", "CeilingTopic", "MethodSettings", "Count", "GetMetricStatistics", "Period"}
    named = set(re.findall(r"`([A-Z][A-Za-z]+)(?:=[^`]*)?`", DOC)) - set(template["Outputs"]) - other_names
    parameters = set(template["Parameters"]) | set(pipeline["Parameters"])
    assert {"ReservedConcurrency", "SmsProvider", "TextbeltKey", "KeepAliveMinutes"} <= named
    assert named <= parameters, sorted(named - parameters)


def test_the_commands_the_doc_runs_exist_in_the_repo() -> None:
    assert "python -m training.launcher upload-source --bucket" in DOC
    assert "upload-source" in (ROOT / "training" / "launcher.py").read_text()
    assert (ROOT / "glue_jobs" / "seed_raw_reviews.py").exists() and "--raw-path" in DOC
    assert (ROOT / "frontend" / "index.html").exists()


# ----- every `aws <service> <operation> --param ...` the doc runs, against botocore's service models -----

# The AWS CLI's service names that are not botocore's.
CLI_SERVICES = {"s3api": "s3"}
# The CLI's own high-level commands (not API operations), with the options the doc may use.
HIGH_LEVEL_COMMANDS = {
    ("s3", "rm"): {"recursive", "dryrun", "quiet", "include", "exclude", "only-show-errors"},
    ("s3", "ls"): {"recursive", "human-readable", "summarize"},
    ("s3", "cp"): {"recursive", "dryrun", "quiet", "include", "exclude", "only-show-errors"},
    ("s3", "sync"): {"delete", "dryrun", "quiet", "include", "exclude", "only-show-errors", "cache-control"},
}
# Options every command takes (`aws help global options`), and the CLI's pagination options.
GLOBAL_OPTIONS = {"region", "output", "query", "profile", "endpoint-url", "no-paginate", "no-cli-pager", "debug"}
PAGINATION_OPTIONS = {"max-items", "starting-token", "page-size"}
AWS_WORD = re.compile(r"(?<![\w./-])aws\s+(?=[a-z])")


def code_spans(doc: str) -> list[str]:
    """The doc's shell code: each fenced block's lines (continuations joined) and each inline `...` span."""
    fenced = re.findall(r"```\w*\n(.*?)```", doc, flags=re.DOTALL)
    prose = re.sub(r"```\w*\n.*?```", "", doc, flags=re.DOTALL)
    lines = [line for block in fenced for line in block.replace("\\\n", " ").splitlines()]
    return lines + [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]


def command_at(code: str, start: int) -> str:
    """The words of the aws command starting at `start`, up to where the shell ends it (`;`, `|`, `&`, a comment,
    or the `)` closing the `$(...)` it runs in); nested `$(...)` substitutions are left out."""
    kept: list[str] = []
    quotes = [""]  # the open quote of each substitution level, the command's own first
    i = start
    while i < len(code):
        char, quote, outer = code[i], quotes[-1], len(quotes) == 1
        if quote == "'":
            quotes[-1] = "" if char == "'" else quote
        elif code.startswith("$(", i):
            quotes.append("")
            i += 2
            continue
        elif quote == '"':
            quotes[-1] = "" if char == '"' else quote
        elif char in "\"'":
            quotes[-1] = char
        elif char == ")":
            if outer:
                break
            quotes.pop()
            i += 1
            continue
        elif outer and (char in ";|&" or (char == "#" and code[i - 1].isspace())):
            break
        if outer:
            kept.append(char)
        i += 1
    return " ".join("".join(kept).split())


def aws_commands(doc: str) -> list[str]:
    return [command_at(code, match.start()) for code in code_spans(doc) for match in AWS_WORD.finditer(code)]


def command_problems(command: str) -> list[str]:
    """What the AWS CLI would refuse in `command`: an unknown service, operation or option, a missing required one."""
    import botocore.session
    from botocore import xform_name

    words = command.split()
    service, operation = words[1], words[2]
    given = {word[2:].split("=")[0] for word in words[3:] if word.startswith("--")}
    if (service, operation) in HIGH_LEVEL_COMMANDS:
        unknown = given - HIGH_LEVEL_COMMANDS[service, operation] - GLOBAL_OPTIONS
        return [f"{command}: aws {service} {operation} has no --{name}" for name in sorted(unknown)]
    session = botocore.session.get_session()
    name = CLI_SERVICES.get(service, service)
    if name not in session.get_available_services():
        return [f"{command}: no AWS CLI service {service}"]
    model = session.get_service_model(name)
    operations = {xform_name(op, "-"): op for op in model.operation_names}
    if operation not in operations:
        return [f"{command}: {service} has no operation {operation}"]
    shape = model.operation_model(operations[operation]).input_shape
    members = {xform_name(member, "-"): member_shape for member, member_shape in getattr(shape, "members", {}).items()}
    booleans = {f"no-{option}" for option, member_shape in members.items() if member_shape.type_name == "boolean"}
    allowed = set(members) | booleans | GLOBAL_OPTIONS | PAGINATION_OPTIONS
    required = {xform_name(member, "-") for member in getattr(shape, "required_members", [])}
    return [f"{command}: {service} {operation} has no --{option}" for option in sorted(given - allowed)] + [
        f"{command}: {service} {operation} needs --{option}" for option in sorted(required - given)
    ]


def test_every_aws_command_in_the_doc_names_a_real_service_operation_and_options() -> None:
    commands = aws_commands(DOC)
    found = {tuple(command.split()[1:3]) for command in commands}
    # Commands from fenced blocks, continuation lines, `$(...)` and inline spans across a line break are all read.
    assert {
        ("cloudformation", "describe-stacks"),
        ("service-quotas", "request-service-quota-increase"),
        ("sns", "verify-sms-sandbox-phone-number"),
        ("stepfunctions", "start-execution"),
        ("secretsmanager", "put-secret-value"),
        ("secretsmanager", "get-secret-value"),
        ("s3", "rm"),
        ("sagemaker", "delete-model"),
    } <= found, sorted(found)
    assert [problem for command in commands for problem in command_problems(command)] == []


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("aws sagemaker list-endpoint --name-contains x", "sagemaker has no operation list-endpoint"),
        ("aws sns verify-sms-sandbox-phone-number --phone-numbr +1 --one-time-password 1", "needs --phone-number"),
        ("aws stepfunction start-execution --state-machine-arn x", "no AWS CLI service stepfunction"),
        ("aws s3 rm s3://b --recursiv", "aws s3 rm has no --recursiv"),
        ("aws s3api list-objects-v2 --bucket b --prefx p", "s3api list-objects-v2 has no --prefx"),
    ],
)
def test_the_command_check_reports_a_typo(command: str, problem: str) -> None:
    assert any(problem in found for found in command_problems(command))


def test_the_commands_inside_substitutions_and_after_them_are_read_apart() -> None:
    code = 'curl -H "k: $(aws secretsmanager get-secret-value --secret-id "$(out X)" --query S)" -d x; aws s3 ls'
    assert aws_commands(f"```bash\n{code}\n```") == [
        'aws secretsmanager get-secret-value --secret-id "" --query S',
        "aws s3 ls",
    ]


# ----- what a first deploy needs the doc to say -----


def test_the_doc_covers_quotas_sms_first_run_cost_and_teardown() -> None:
    for needed in (
        "ml.g4dn.xlarge for endpoint usage",
        "ml.g4dn.xlarge for training job usage",
        "SNS sandbox",
        "Textbelt",
        "First pipeline run",
        "What a first session costs",
        "sam delete",
        "aws s3 rm",
    ):
        assert needed in DOC, needed


def test_the_doc_points_the_page_at_the_api_the_way_the_page_reads_it() -> None:
    """On a public host the page ignores `?api=` (frontend/js/api.js honours it only on loopback or file:), so the
    doc must have the deployer set window.API_BASE in frontend/config.js."""
    config = (ROOT / "frontend" / "config.js").read_text()
    api = (ROOT / "frontend" / "js" / "api.js").read_text()
    assert "window.API_BASE = window.API_BASE" in config
    assert 'LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"])' in api
    assert "window.API_BASE" in DOC and "frontend/config.js" in DOC
    assert "?api=<" not in DOC, "?api= is ignored on a public host; the doc must not send deployers there"
