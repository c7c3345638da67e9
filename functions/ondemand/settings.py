"""One typed settings object, read once per Lambda container from the environment (`Settings.from_environment`).

Each setting is declared once, as a field of `Settings` whose metadata (`declare(...)`) carries its environment
variable, what it does, its bounds or choices, its unit, and where the stack and the local runtime expose it (the
template parameter, the flag), the way HF's run_glue.py declares its arguments. The rest comes from `DECLARED`: the
reader below, the local runtime's flags, and the README's configuration table (`python -m ondemand.settings` prints
it); tests check template.yaml and the README against them.

Names and ARNs of the stack's resources have no default: a variable missing on AWS fails the cold start with a message
naming it, instead of pointing at a made-up resource. The local runtime and the tests build `Settings` in code; nothing
here is cached.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ondemand.phones import parse_country_codes

SMS_PROVIDERS = ("textbelt", "sns", "none")
INSTANT_TIERS = ("off", "while-starting", "always")
SECONDS_PER_UNIT = {"minutes": 60.0, "seconds": 1.0}
TABLE_HEADER = ("variable", "default", "bounds", "stack parameter", "local flag", "what it does")
"""The columns of the README's configuration table (`markdown_table`)."""


class ConfigurationError(Exception):
    """The environment does not describe a working stack; the message names every variable at fault."""


@dataclass(frozen=True)
class Setting:
    """One setting: what `declare` says about a `Settings` field, plus the field's name, type and default."""

    env: str
    help: str
    unit: Literal["minutes", "seconds"] | None = None
    """A time: the local flag takes a duration (`30m`, `90s`) and converts it to this unit."""
    min: float | None = None
    max: float | None = None
    above: float | None = None
    """An exclusive lower bound: `above=0` means more than 0."""
    choices: tuple[str, ...] | None = None
    """Allowed values, matched case-insensitively and kept in lower case."""
    parse: Callable[[str], Any] | None = None
    """For a type other than str, int and float; a ValueError says what is wrong."""
    parameter: str | None = None
    """The template parameter whose value the stack passes in this variable."""
    flag: str | None = None
    """The local runtime's flag for it."""
    deployed: Any = None
    """What the template deploys when that differs from the default here (None: the same)."""
    set_by: Literal["stack", "lambda"] | None = None
    """Who sets it: the stack (a name or ARN of its resources; the local runtime sets its own), Lambda itself, or
    (None) the owner: only those are in the README's table."""
    schedule_target: bool = False
    """Required only of the functions that create teardown schedules."""
    fallback_env: str | None = None
    """Read when `env` is unset."""
    name: str = ""
    kind: type = str
    default: Any = None
    required: bool = False
    """No default (`default` is None): the variable must be set."""

    @property
    def user_facing(self) -> bool:
        return self.set_by is None

    def raw(self, environ: Mapping[str, str]) -> str | None:
        """The variable's text; None when unset or blank (the template sets optional values to "" to mean unset)."""
        for name in (self.env, self.fallback_env):
            raw = environ.get(name, "") if name else ""
            if raw.strip():
                return raw
        return None

    def read(self, environ: Mapping[str, str]) -> Any:
        """The value in `environ`, or the default when unset; a ValueError names the variable (for readers of one
        setting, such as the dashboard; `Settings.from_environment` reads them all)."""
        raw = self.raw(environ)
        return self.default if raw is None else self.value_of(raw, self.env)

    def value_of(self, raw: str, label: str) -> Any:
        """The typed value of `raw`; a ValueError names `label` and says what is wrong."""
        text = raw.strip()
        if self.parse is not None:
            try:
                value = self.parse(text)
            except ValueError as error:
                raise ValueError(f"{label}: {error}") from None
        elif self.kind is int:
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"{label} must be a whole number, not {raw!r}") from None
        elif self.kind is float:
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ValueError(f"{label} must be a number, not {raw!r}")
        else:
            value = text.lower() if self.choices else raw
        self.check(value, label)
        return value

    def check(self, value: Any, label: str) -> None:
        """Raise a ValueError naming `label` if `value` is not one of the choices or lies out of bounds."""
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{label} must be {self.bounds}, not {value!r}")
        if isinstance(value, int | float) and not (
            (self.min is None or value >= self.min)
            and (self.max is None or value <= self.max)
            and (self.above is None or value > self.above)
        ):
            raise ValueError(f"{label} must be {self.bounds}, not {value:g}")

    @property
    def bounds(self) -> str:
        """The bounds in words ("" when there are none)."""
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        if self.min is not None and self.max is not None:
            return f"from {self.min:g} to {self.max:g}"
        parts = [f"more than {self.above:g}"] if self.above is not None else []
        parts += [f"{self.min:g} or more"] if self.min is not None else []
        parts += [f"{self.max:g} or less"] if self.max is not None else []
        return " and ".join(parts)


def declare(env: str, help: str, **options: Any) -> dict[str, Setting]:
    """A `Settings` field's metadata: its environment variable, what it does, and any other `Setting` attribute (a
    misspelt one fails the import)."""
    return {"setting": Setting(env, help, **options)}


@dataclass(frozen=True)
class Settings:
    """What the lifecycle is told; each field declares its variable (`declare`), so `from_environment` is generic."""

    table_name: str = field(
        metadata=declare("STATE_TABLE_NAME", "DynamoDB table of the single state item", set_by="stack")
    )
    region: str = field(
        metadata=declare("AWS_REGION", "the AWS region", set_by="lambda", fallback_env="AWS_DEFAULT_REGION")
    )
    endpoint_name_prefix: str = field(
        metadata=declare(
            "ENDPOINT_NAME_PREFIX",
            "every endpoint this stack creates is named <prefix>-<UTC timestamp>-<version>",
            set_by="stack",
        )
    )
    instance_type: str = field(
        metadata=declare(
            "INSTANCE_TYPE",
            "SageMaker instance type of the endpoint",
            parameter="InstanceType",
            deployed="ml.g4dn.xlarge",
        )
    )
    approved_model_parameter: str = field(
        metadata=declare(
            "APPROVED_MODEL_PARAMETER", "SSM String parameter holding the approved SageMaker model name", set_by="stack"
        )
    )
    schedule_group_name: str = field(
        metadata=declare("SCHEDULE_GROUP_NAME", "EventBridge Scheduler group of the teardown schedules", set_by="stack")
    )
    scheduler_role_arn: str | None = field(
        metadata=declare(
            "SCHEDULER_ROLE_ARN",
            "the role EventBridge Scheduler assumes to invoke the teardown function",
            set_by="stack",
            schedule_target=True,
        )
    )
    teardown_function_arn: str | None = field(
        metadata=declare(
            "TEARDOWN_FUNCTION_ARN",
            "the teardown schedules' target (the teardown function cannot name its own ARN: a circular reference)",
            set_by="stack",
            schedule_target=True,
        )
    )
    dynamodb_endpoint_url: str | None = field(
        default=None,
        metadata=declare(
            "DYNAMODB_ENDPOINT_URL", "unset on AWS; the local runtime's DynamoDB-compatible server", set_by="stack"
        ),
    )
    keep_alive_minutes: float = field(
        default=30,
        metadata=declare(
            "KEEP_ALIVE_MINUTES",
            "how long an endpoint lives after InService or after the last /extend (fractions allowed)",
            unit="minutes",
            above=0,
            parameter="KeepAliveMinutes",
            flag="--keep-alive",
        ),
    )
    hard_cap_minutes: float = field(
        default=240,
        metadata=declare(
            "HARD_CAP_MINUTES",
            "/extend never pushes the end past InService + this",
            unit="minutes",
            above=0,
            parameter="HardCapMinutes",
        ),
    )
    starting_timeout_minutes: float = field(
        default=20,
        metadata=declare(
            "STARTING_TIMEOUT_MINUTES",
            "the reconciler fails a start still STARTING after this",
            unit="minutes",
            above=0,
            parameter="StartingTimeoutMinutes",
        ),
    )
    typical_provisioning_seconds: int = field(
        default=420,
        metadata=declare(
            "TYPICAL_PROVISIONING_SECONDS", "what eta_seconds counts down from while STARTING", unit="seconds", min=0
        ),
    )
    sms_provider: str = field(
        default="none",
        metadata=declare(
            "SMS_PROVIDER",
            "who sends the texts (SNS: a new account texts only the numbers verified in its SMS sandbox)",
            choices=SMS_PROVIDERS,
            parameter="SmsProvider",
            deployed="textbelt",
        ),
    )
    textbelt_key_secret: str | None = field(
        default=None,
        metadata=declare(
            "TEXTBELT_KEY_SECRET",
            "Secrets Manager secret with the Textbelt key (required for textbelt)",
            set_by="stack",
        ),
    )
    textbelt_url: str = field(
        default="https://textbelt.com/text",
        metadata=declare(
            "TEXTBELT_URL", "the Textbelt endpoint (a test may point it at a fake)", flag="--textbelt-url"
        ),
    )
    admin_api_key_secret: str | None = field(
        default=None,
        metadata=declare(
            "ADMIN_API_KEY_SECRET",
            "Secrets Manager secret with the x-api-key POST /stop requires (unset: /stop is off)",
            set_by="stack",
        ),
    )
    max_text_chars: int = field(
        default=2000,
        metadata=declare("MAX_TEXT_CHARS", "characters allowed in one text of /predict (more: 400)", min=1),
    )
    max_texts_per_call: int = field(
        default=32, metadata=declare("MAX_TEXTS_PER_CALL", "texts allowed in one /predict call (more: 400)", min=1)
    )
    max_body_bytes: int = field(
        default=65536, metadata=declare("MAX_BODY_BYTES", "larger request bodies are refused (413)", min=1)
    )
    max_subscribers: int = field(default=20, metadata=declare("MAX_SUBSCRIBERS", "phone numbers kept per start", min=1))
    history_limit: int = field(default=50, metadata=declare("HISTORY_LIMIT", "transitions kept on the item", min=1))
    rate_limit_table_name: str | None = field(
        default=None,
        metadata=declare(
            "RATE_LIMIT_TABLE_NAME",
            "DynamoDB table of the /start and text counters (TTL on expires_at); unset: no limits",
            set_by="stack",
        ),
    )
    rate_limit_pepper_secret: str | None = field(
        default=None,
        metadata=declare(
            "RATE_LIMIT_PEPPER_SECRET",
            "Secrets Manager secret with the HMAC pepper of the rate table's keys (required with the table)",
            set_by="stack",
        ),
    )
    text_queue_url: str | None = field(
        default=None,
        metadata=declare(
            "TEXT_QUEUE_URL",
            "SQS queue of the texts, which the text sender function sends one by one (unset: each text is sent at "
            "once by the function that queues it)",
            set_by="stack",
        ),
    )
    start_limit_per_phone: int = field(
        default=3,
        metadata=declare(
            "START_LIMIT_PER_PHONE",
            "/start calls naming one phone number allowed per window (429 rate_limited)",
            min=1,
            flag="--start-limit-per-phone",
        ),
    )
    start_limit_per_client: int = field(
        default=10,
        metadata=declare(
            "START_LIMIT_PER_CLIENT",
            "/start calls from one source IP allowed per window, counting those that carry a phone or find the model "
            "STOPPED or FAILED (the ones that can text someone or create an endpoint)",
            min=1,
            flag="--start-limit-per-client",
        ),
    )
    start_limit_window_seconds: int = field(
        default=3600,
        metadata=declare("START_LIMIT_WINDOW_SECONDS", "the length of a rate-limit window", unit="seconds", min=1),
    )
    code_limit_per_client: int = field(
        default=3,
        metadata=declare(
            "CODE_LIMIT_PER_CLIENT",
            "confirmation codes one source IP may ask POST /phone/code for per UTC day (429 rate_limited); "
            "each number gets at most one a day",
            min=1,
            flag="--code-limit-per-client",
        ),
    )
    sms_min_interval_seconds: float = field(
        default=1.0,
        metadata=declare(
            "SMS_MIN_INTERVAL_SECONDS",
            "pause between two texts (Textbelt asks for at most about one a second)",
            unit="seconds",
            min=0,
        ),
    )
    instant_tier: str = field(
        default="always",
        metadata=declare(
            "INSTANT_TIER",
            "when /predict may answer from the instant CPU model: never, while a GPU start is under way, or whenever "
            "the GPU endpoint is not in service; unless off, a failed GPU call is answered by it, marked degraded",
            choices=INSTANT_TIERS,
            parameter="InstantTier",
            flag="--instant-tier",
        ),
    )
    instant_model_parameter: str | None = field(
        default=None,
        metadata=declare(
            "INSTANT_MODEL_PARAMETER",
            'SSM String parameter with the S3 URI of the published instant model ("none" before the first run)',
            set_by="stack",
        ),
    )
    ceiling_config: str | None = field(
        default=None,
        metadata=declare(
            "CEILING_CONFIG",
            "CeilingFunction's JSON: the API stage it closes, the page's bucket and key, the budget and the throttles "
            "it restores (read by handlers/ceiling.py only)",
            set_by="stack",
        ),
    )
    notice_minutes: float = field(
        default=5,
        metadata=declare(
            "NOTICE_MINUTES",
            'the "stops soon" text goes out this long before the endpoint stops; 0 turns it off',
            unit="minutes",
            min=0,
            parameter="NoticeMinutes",
            flag="--notice",
        ),
    )
    page_url: str | None = field(
        default=None,
        metadata=declare(
            "PAGE_URL", 'the web page, linked from the "stops soon" text (unset: no link)', parameter="PageUrl"
        ),
    )
    gpu_minutes_per_day: float = field(
        default=240,
        metadata=declare(
            "GPU_MINUTES_PER_DAY",
            "the owner's daily GPU budget: endpoint minutes (creation to deletion) per UTC day, whoever asks; "
            "spent, /start is 429 budget_exhausted",
            unit="minutes",
            min=0,
            max=24 * 60,
            parameter="GpuMinutesPerDay",
            flag="--gpu-per-day",
        ),
    )
    min_run_minutes: float = field(
        default=15,
        metadata=declare(
            "MIN_RUN_MINUTES",
            "a start needs at least this much of the day's budget left (provisioning included)",
            unit="minutes",
            min=0,
        ),
    )
    cooldown_minutes: float = field(
        default=5,
        metadata=declare(
            "COOLDOWN_MINUTES",
            "after a teardown, /start is 429 cooling_down this long",
            unit="minutes",
            min=0,
            parameter="CooldownMinutes",
        ),
    )
    idle_minutes: float = field(
        default=15,
        metadata=declare(
            "IDLE_MINUTES",
            "/extend needs a successful /predict this recent; the reconciler tears down an endpoint unused this long",
            unit="minutes",
            above=0,
            parameter="IdleMinutes",
            flag="--idle",
        ),
    )
    sms_country_codes: tuple[str, ...] = field(
        default=("+1",),
        metadata=declare(
            "SMS_COUNTRY_CODES",
            "comma-separated calling codes /start accepts and the notifier texts; +1 is the US and Canada "
            "(Caribbean numbering-plan countries need their own code, e.g. +1876)",
            parse=parse_country_codes,
            parameter="SmsCountryCodes",
            flag="--sms-country-codes",
        ),
    )
    sms_per_day: int = field(
        default=10,
        metadata=declare("SMS_PER_DAY", "texts per UTC day, all numbers together", min=0, parameter="SmsPerDay"),
    )
    sms_per_number_per_day: int = field(
        default=5,
        metadata=declare(
            "SMS_PER_NUMBER_PER_DAY", "texts per UTC day to one number", min=0, parameter="SmsPerNumberPerDay"
        ),
    )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ, *, creates_schedules: bool = True) -> Settings:
        """Read every declared variable; raise one ConfigurationError naming each one missing or malformed."""
        missing: list[str] = []
        malformed: list[str] = []
        values: dict[str, Any] = {}
        for setting in DECLARED:
            raw = setting.raw(environ)
            if raw is None:
                if setting.required and (creates_schedules or not setting.schedule_target):
                    missing.append(setting.env + (f" (or {setting.fallback_env})" if setting.fallback_env else ""))
                values[setting.name] = setting.default
                continue
            try:
                values[setting.name] = setting.value_of(raw, setting.env)
            except ValueError as error:
                malformed.append(str(error))
                values[setting.name] = setting.default
        missing += _missing_companions(values)
        problems = (["missing environment variables: " + ", ".join(missing)] if missing else []) + malformed
        if problems:
            raise ConfigurationError("; ".join(problems))
        return cls(**values)


def _declared(settings_class: type) -> tuple[Setting, ...]:
    """Every field's `Setting`, with the field's name, type (its None stripped) and default."""
    hints = typing.get_type_hints(settings_class)
    found = []
    for each in dataclasses.fields(settings_class):
        kind = hints[each.name]
        if isinstance(kind, types.UnionType):
            kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
        kind = typing.get_origin(kind) or kind
        required = each.default is dataclasses.MISSING
        default = None if required else each.default
        found.append(
            dataclasses.replace(each.metadata["setting"], name=each.name, kind=kind, default=default, required=required)
        )
    return tuple(found)


DECLARED = _declared(Settings)
"""Every setting, in the order of the fields."""
_BY_NAME = {setting.name: setting for setting in DECLARED}


def declared(name: str) -> Setting:
    """The declaration of the `Settings` field `name`."""
    return _BY_NAME[name]


def _missing_companions(values: Mapping[str, Any]) -> list[str]:
    """Variables needed only because of another one's value, each with the reason."""
    provider, table = values["sms_provider"], values["rate_limit_table_name"]
    provider_is = f"{declared('sms_provider').env} is {provider}"
    needed = (
        ("textbelt_key_secret", provider == "textbelt", provider_is),
        ("rate_limit_pepper_secret", table is not None, f"{declared('rate_limit_table_name').env} is set"),
        ("rate_limit_table_name", provider != "none", f"{provider_is}: the daily text caps need it"),
    )
    return [f"{declared(name).env} ({why})" for name, wanted, why in needed if wanted and values[name] is None]


def required_variables(*, creates_schedules: bool = True) -> tuple[str, ...]:
    """The variables every function's template environment must hold (Lambda sets the region itself)."""
    return tuple(
        setting.env
        for setting in DECLARED
        if setting.required and setting.set_by != "lambda" and (creates_schedules or not setting.schedule_target)
    )


def shown(value: Any) -> str:
    """A default as the README and --help show it."""
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float | int):
        return f"{value:g}"
    return str(value)


def table_row(setting: Setting) -> tuple[str, ...]:
    """One row of the README's configuration table, in the order of `TABLE_HEADER`."""
    default = "required" if setting.required else "unset" if setting.default is None else f"`{shown(setting.default)}`"
    if setting.deployed is not None:
        default += f" (stack: `{shown(setting.deployed)}`)"
    return (
        f"`{setting.env}`",
        default,
        setting.bounds,
        f"`{setting.parameter}`" if setting.parameter else "",
        f"`{setting.flag}`" if setting.flag else "",
        setting.help.replace("|", "\\|"),
    )


def markdown_table(settings: Iterable[Setting] = DECLARED) -> str:
    """The README's configuration table: every setting the owner chooses."""
    rows = [TABLE_HEADER, tuple("---" for _ in TABLE_HEADER)]
    rows += [table_row(setting) for setting in settings if setting.user_facing]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


if __name__ == "__main__":
    print(markdown_table())
