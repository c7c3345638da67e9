"""Secrets and stored data (issue 12 item 7): the Textbelt key lives in Secrets Manager and is read once per
container; the rate table's keys are HMACs with a pepper nobody outside the stack holds (the local runtime keeps its
pepper in a 0600 file); the rate table has no point-in-time backups."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from ondemand.adapters.aws import SecretsManagerSecret, build_aws_adapters, build_notifier
from ondemand.adapters.rate_limit import DynamoRateLimiter, MissingPepperError
from ondemand.domain import NotifierError
from ondemand.settings import ConfigurationError, Settings

from local_runtime.runtime import PEPPER_FILE, local_pepper
from tests.conftest import create_table_from_template
from tests.unit.aws.iam_coverage import CallRecorder, allow_statements

RATE_TABLE = "test-rate-limits"
PHONE = "+15555550100"
SETTINGS = Settings(
    table_name="test-state",
    region="us-east-1",
    endpoint_name_prefix="ondemand-sentiment-51af3dc0",
    instance_type="ml.g4dn.xlarge",
    approved_model_parameter="/stack/approved-model",
    schedule_group_name="teardown",
    scheduler_role_arn="arn:aws:iam::123456789012:role/scheduler",
    teardown_function_arn="arn:aws:lambda:us-east-1:123456789012:function:teardown",
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def recorder(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[CallRecorder]:
    with CallRecorder().installed(monkeypatch) as installed:
        yield installed


def secret(name: str, value: str) -> str:
    return boto3.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]


# ----- the Textbelt key -----


def test_the_textbelt_key_comes_from_secrets_manager_once_per_container(recorder: CallRecorder) -> None:
    arn = secret("textbelt-key", "real-textbelt-key")
    settings = dataclasses.replace(SETTINGS, sms_provider="textbelt", textbelt_key_secret=arn)
    notifier = build_notifier(settings, boto3.Session(region_name="us-east-1"))
    posted: list[dict[str, str]] = []
    notifier.post = lambda url, fields: (posted.append(fields), (200, b'{"success": true, "textId": "1"}'))[1]
    with recorder.section() as calls:
        assert notifier.send(PHONE, "ready").ok and notifier.send(PHONE, "stops at 12:30").ok
    assert [fields["key"] for fields in posted] == ["real-textbelt-key"] * 2
    assert calls.count("secretsmanager:GetSecretValue") == 1
    assert not any(call.startswith("ssm:") for call in calls)


def test_an_unreadable_textbelt_key_is_a_notifier_error_that_names_no_arn(aws: None) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nothing-AbCdEf"
    settings = dataclasses.replace(SETTINGS, sms_provider="textbelt", textbelt_key_secret=missing)
    notifier = build_notifier(settings, boto3.Session(region_name="us-east-1"))
    with pytest.raises(NotifierError, match="Textbelt key") as raised:
        notifier.send(PHONE, "ready")
    assert "123456789012" not in str(raised.value) and "arn:" not in str(raised.value)


def test_textbelt_without_a_key_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="TEXTBELT_KEY_SECRET"):
        Settings.from_environment(environment(SMS_PROVIDER="textbelt"))


def test_the_template_keeps_the_textbelt_key_in_secrets_manager_readable_by_the_texting_functions(template) -> None:
    resources = template["Resources"]
    assert resources["TextbeltKeySecret"]["Type"] == "AWS::SecretsManager::Secret"
    assert resources["TextbeltKeySecret"]["Properties"]["SecretString"] == {"Ref": "TextbeltKey"}
    assert template["Parameters"]["TextbeltKey"]["NoEcho"] is True
    # No SSM parameter holds it any more (an SSM String is plain text to anyone with ssm:GetParameter).
    ssm_values = [r["Properties"].get("Value") for r in resources.values() if r["Type"] == "AWS::SSM::Parameter"]
    assert {"Ref": "TextbeltKey"} not in ssm_values
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["TEXTBELT_KEY_SECRET"] == {"Ref": "TextbeltKeySecret"} and "TEXTBELT_KEY_PARAMETER" not in env
    readers = {
        f
        for f, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
        and any(
            s["Action"] == "secretsmanager:GetSecretValue" and {"Ref": "TextbeltKeySecret"} in _list(s["Resource"])
            for s in allow_statements(template, f)
        )
    }
    # the one that texts: every other function only queues its texts (TextQueue)
    assert readers == {"TextSenderFunction"}


# ----- the rate table's keys -----


@pytest.fixture
def rate_table(aws: None) -> None:
    create_table_from_template(boto3.client("dynamodb"), "RateLimitTable", RATE_TABLE)


def stored_keys() -> list[str]:
    return [item["pk"]["S"] for item in boto3.client("dynamodb").scan(TableName=RATE_TABLE)["Items"]]


def test_rate_keys_are_hmacs_no_hash_of_the_phone_number_can_match(rate_table: None) -> None:
    pepper = "k" * 64
    limiter = DynamoRateLimiter(RATE_TABLE, lambda: pepper, now=lambda: 7300.0)
    key = f"start#phone#{PHONE}"
    assert limiter.acquire(key, 3, 3600) is None
    [stored] = stored_keys()
    digest, window = stored.split("#")
    assert digest == hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest() and window == "2"
    # Whoever copies the table but not the pepper hashes every candidate number in vain.
    for candidate in (key, PHONE, PHONE.lstrip("+")):
        plain = hashlib.sha256(candidate.encode()).hexdigest()
        assert not plain.startswith(digest[:16]) and not digest.startswith(plain[:16])


def test_another_pepper_gives_other_keys_for_the_same_number(rate_table: None) -> None:
    for pepper in ("first-pepper", "second-pepper"):
        DynamoRateLimiter(RATE_TABLE, lambda pepper=pepper: pepper).acquire(f"start#phone#{PHONE}", 3, 3600)
    assert len(set(stored_keys())) == 2


def test_no_pepper_means_no_counting_not_unsalted_keys(rate_table: None) -> None:
    for missing in (None, ""):
        with pytest.raises(MissingPepperError):
            DynamoRateLimiter(RATE_TABLE, lambda missing=missing: missing).acquire(f"start#phone#{PHONE}", 3, 3600)
    assert stored_keys() == []


def test_the_pepper_is_read_from_secrets_manager_once_per_container(rate_table: None, recorder: CallRecorder) -> None:
    arn = secret("pepper", "p" * 64)
    settings = dataclasses.replace(SETTINGS, rate_limit_table_name=RATE_TABLE, rate_limit_pepper_secret=arn)
    limiter = build_aws_adapters(settings).rate_limiter
    assert limiter is not None
    with recorder.section() as calls:
        for _ in range(3):
            limiter.acquire("start#client#203.0.113.0", 10, 3600)
    assert calls.count("secretsmanager:GetSecretValue") == 1
    expected = hmac.new(b"p" * 64, b"start#client#203.0.113.0", hashlib.sha256).hexdigest()
    assert stored_keys()[0].split("#")[0] == expected


def test_a_rate_table_without_a_pepper_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="RATE_LIMIT_PEPPER_SECRET"):
        Settings.from_environment(environment(RATE_LIMIT_TABLE_NAME="rates"))
    assert Settings.from_environment(environment(RATE_LIMIT_TABLE_NAME="rates", RATE_LIMIT_PEPPER_SECRET="p"))


def test_a_secret_read_failure_names_the_code_not_the_message(aws: None) -> None:
    read = SecretsManagerSecret(boto3.client("secretsmanager"), "nothing", "admin API key")
    with pytest.raises(RuntimeError, match=r"admin API key from Secrets Manager \(ResourceNotFoundException\)"):
        read()
    assert SecretsManagerSecret(boto3.client("secretsmanager"), None, "admin API key")() is None


def test_the_template_generates_the_pepper_and_only_the_counting_functions_read_it(template) -> None:
    resources = template["Resources"]
    generated = resources["RateLimitPepperSecret"]["Properties"]["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["RATE_LIMIT_PEPPER_SECRET"] == {"Ref": "RateLimitPepperSecret"}
    readers = {
        f
        for f, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
        and any({"Ref": "RateLimitPepperSecret"} in _list(s["Resource"]) for s in allow_statements(template, f))
    }
    assert "ApiFunction" in readers
    # Read through RateCounterPolicy only, which also grants the counting: no function reads it for anything else.
    assert not any(
        {"Ref": "RateLimitPepperSecret"} in _list(s["Resource"])
        for f in readers
        for p in resources[f]["Properties"]["Policies"]
        if "Statement" in p
        for s in _list(p["Statement"])
    )


def test_the_rate_table_keeps_no_point_in_time_backups(template) -> None:
    table = template["Resources"]["RateLimitTable"]["Properties"]
    assert not table.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False)
    assert table["TimeToLiveSpecification"]["Enabled"] is True


# ----- the local runtime's pepper -----


def test_the_local_pepper_is_a_private_file_made_once(tmp_path: Path) -> None:
    first = local_pepper(tmp_path)
    path = tmp_path / PEPPER_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 64 and local_pepper(tmp_path) == first  # the same keys across restarts
    assert local_pepper(tmp_path / ".." / tmp_path.name) == first
    other = tmp_path / "other"
    other.mkdir()
    assert local_pepper(other) != first


def test_a_local_pepper_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / PEPPER_FILE
    path.write_text("leaked")
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="readable by other users"):
        local_pepper(tmp_path)


def environment(**extra: str) -> dict[str, str]:
    base = {
        "STATE_TABLE_NAME": "s",
        "ENDPOINT_NAME_PREFIX": "p",
        "INSTANCE_TYPE": "ml.g4dn.xlarge",
        "APPROVED_MODEL_PARAMETER": "/m",
        "SCHEDULE_GROUP_NAME": "g",
        "SCHEDULER_ROLE_ARN": "r",
        "TEARDOWN_FUNCTION_ARN": "t",
        "AWS_REGION": "us-east-1",
    }
    return {**base, **extra}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_stored_items_hold_no_phone_number(rate_table: None) -> None:
    DynamoRateLimiter(RATE_TABLE, lambda: "pepper").acquire(f"start#phone#{PHONE}", 3, 3600)
    dump = json.dumps(boto3.client("dynamodb").scan(TableName=RATE_TABLE)["Items"])
    assert PHONE not in dump and PHONE.lstrip("+") not in dump
