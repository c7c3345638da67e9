"""Settings.from_environment: a stack missing a variable fails its cold start with a message naming every one; every
declared variable is read with its type, default and bounds."""

from __future__ import annotations

import dataclasses

import pytest
from ondemand.settings import DECLARED, ConfigurationError, Setting, Settings, required_variables, shown

COMPLETE = {
    "AWS_REGION": "eu-west-1",
    "STATE_TABLE_NAME": "stack-state",
    "ENDPOINT_NAME_PREFIX": "ondemand-sentiment",
    "INSTANCE_TYPE": "ml.g4dn.xlarge",
    "APPROVED_MODEL_PARAMETER": "/stack/approved-model",
    "SCHEDULE_GROUP_NAME": "stack-teardowns",
    "SCHEDULER_ROLE_ARN": "arn:aws:iam::111122223333:role/stack-scheduler",
    "TEARDOWN_FUNCTION_ARN": "arn:aws:lambda:eu-west-1:111122223333:function:stack-teardown",
}


def test_a_complete_environment_reads_into_typed_settings() -> None:
    settings = Settings.from_environment(
        {
            **COMPLETE,
            "KEEP_ALIVE_MINUTES": "0.5",
            "MAX_TEXT_CHARS": "100",
            "DYNAMODB_ENDPOINT_URL": "",
            "SMS_PROVIDER": "SNS",
            "RATE_LIMIT_TABLE_NAME": "stack-rates",
            "RATE_LIMIT_PEPPER_SECRET": "stack-rate-pepper",
            "GPU_MINUTES_PER_DAY": "90",
            "SMS_COUNTRY_CODES": "+1, +44",
        }
    )
    assert settings.table_name == "stack-state" and settings.region == "eu-west-1"
    assert settings.keep_alive_minutes == 0.5 and settings.max_text_chars == 100
    assert settings.dynamodb_endpoint_url is None  # the template's "" means unset
    assert settings.sms_provider == "sns"
    assert settings.scheduler_role_arn == COMPLETE["SCHEDULER_ROLE_ARN"]
    assert settings.gpu_minutes_per_day == 90 and settings.sms_country_codes == ("+1", "+44")


def test_texting_needs_the_rate_table_for_its_daily_caps() -> None:
    with pytest.raises(ConfigurationError, match="RATE_LIMIT_TABLE_NAME"):
        Settings.from_environment({**COMPLETE, "SMS_PROVIDER": "sns"})


def test_a_country_code_list_that_is_not_calling_codes_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="SMS_COUNTRY_CODES: '44' is not a country calling code"):
        Settings.from_environment({**COMPLETE, "SMS_COUNTRY_CODES": "+1,44"})


def test_an_empty_environment_names_every_required_variable_in_one_error() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environment({})
    message = str(raised.value)
    for name in required_variables():
        assert name in message
    assert "AWS_REGION" in message


def test_a_blank_required_variable_counts_as_missing_and_nothing_else_is_blamed() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environment({**COMPLETE, "STATE_TABLE_NAME": "  ", "SCHEDULER_ROLE_ARN": ""})
    assert str(raised.value) == "missing environment variables: STATE_TABLE_NAME, SCHEDULER_ROLE_ARN"


def test_bad_values_name_their_variable() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environment(
            {**COMPLETE, "MAX_TEXT_CHARS": "lots", "KEEP_ALIVE_MINUTES": "half an hour", "SMS_PROVIDER": "pigeon"}
        )
    message = str(raised.value)
    assert "MAX_TEXT_CHARS must be a whole number, not 'lots'" in message
    assert "KEEP_ALIVE_MINUTES must be a number, not 'half an hour'" in message
    assert "SMS_PROVIDER must be one of textbelt, sns, none, not 'pigeon'" in message


def test_textbelt_needs_its_key_secret() -> None:
    with pytest.raises(ConfigurationError, match="TEXTBELT_KEY_SECRET"):
        Settings.from_environment({**COMPLETE, "SMS_PROVIDER": "textbelt"})


def test_a_function_that_creates_no_schedules_needs_no_schedule_target() -> None:
    without_target = {k: v for k, v in COMPLETE.items() if k not in ("SCHEDULER_ROLE_ARN", "TEARDOWN_FUNCTION_ARN")}
    settings = Settings.from_environment(without_target, creates_schedules=False)
    assert settings.scheduler_role_arn is None and settings.teardown_function_arn is None
    with pytest.raises(ConfigurationError, match="SCHEDULER_ROLE_ARN, TEARDOWN_FUNCTION_ARN"):
        Settings.from_environment(without_target)


def sample(setting: Setting) -> object:
    """A value other than the default that the declaration allows."""
    if setting.choices:
        return next(choice for choice in reversed(setting.choices) if choice != setting.default)
    if setting.kind is int:
        return setting.default + 1
    if setting.kind is float:
        return setting.default + 0.5
    if setting.kind is tuple:
        return ("+44",)
    return "https://example.test/x"


def test_every_setting_the_owner_chooses_is_read_from_its_variable_with_its_type() -> None:
    chosen = [setting for setting in DECLARED if setting.user_facing and not setting.required]
    values = {setting.name: sample(setting) for setting in chosen}
    environment = {**COMPLETE, **{setting.env: shown(values[setting.name]) for setting in chosen}}
    environment |= {"TEXTBELT_KEY_SECRET": "key", "RATE_LIMIT_TABLE_NAME": "rates", "RATE_LIMIT_PEPPER_SECRET": "p"}
    settings = Settings.from_environment(environment)
    assert {name: getattr(settings, name) for name in values} == values


def test_unset_means_the_declared_default() -> None:
    settings = Settings.from_environment(COMPLETE)
    for setting in DECLARED:
        if not setting.required:
            assert getattr(settings, setting.name) == setting.default, setting.env
    assert settings.start_limit_per_client == 10  # what the stack deploys (template.yaml, api/openapi.yaml)


def test_values_out_of_bounds_are_refused_with_the_bounds() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environment(
            {
                **COMPLETE,
                "KEEP_ALIVE_MINUTES": "0",
                "GPU_MINUTES_PER_DAY": "1441",
                "START_LIMIT_PER_CLIENT": "0",
                "IDLE_MINUTES": "inf",
                "HARD_CAP_MINUTES": "nan",
            }
        )
    message = str(raised.value)
    assert "KEEP_ALIVE_MINUTES must be more than 0, not 0" in message
    assert "GPU_MINUTES_PER_DAY must be from 0 to 1440, not 1441" in message
    assert "START_LIMIT_PER_CLIENT must be 1 or more, not 0" in message
    assert "IDLE_MINUTES must be a number, not 'inf'" in message
    assert "HARD_CAP_MINUTES must be a number, not 'nan'" in message


def test_each_variable_parameter_and_flag_is_declared_once() -> None:
    for attribute in ("env", "parameter", "flag"):
        names = [getattr(setting, attribute) for setting in DECLARED if getattr(setting, attribute)]
        assert len(names) == len(set(names)), attribute
    assert {setting.name for setting in DECLARED} == {field.name for field in dataclasses.fields(Settings)}
    assert required_variables(creates_schedules=False) == (
        "STATE_TABLE_NAME",
        "ENDPOINT_NAME_PREFIX",
        "INSTANCE_TYPE",
        "APPROVED_MODEL_PARAMETER",
        "SCHEDULE_GROUP_NAME",
    )
