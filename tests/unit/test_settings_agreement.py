"""Each setting is declared once (functions/ondemand/settings.py); every other place that states it agrees with the
declaration: template.yaml's values and parameters, the local runtime's flags and `make demo`, and the README's
configuration table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ondemand.settings import DECLARED, TABLE_HEADER, Setting, declared, markdown_table, shown, table_row

from local_runtime.__main__ import flag_variable, parse_args, setting_flags
from local_runtime.runtime import RuntimeConfig, local_settings

ROOT = Path(__file__).resolve().parents[2]
BY_VARIABLE = {setting.env: setting for setting in DECLARED}
REGENERATE = "README.md's ## Configuration needs the table `.venv/bin/python -m ondemand.settings` prints"


# ----- template.yaml -----


def template_environment(template: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(where, variable, value) of every variable the template sets: Globals, then each function's own."""
    found = [
        ("Globals", name, value) for name, value in template["Globals"]["Function"]["Environment"]["Variables"].items()
    ]
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            variables = resource["Properties"].get("Environment", {}).get("Variables", {})
            found += [(logical_id, name, value) for name, value in variables.items()]
    return found


def deployed(setting: Setting) -> Any:
    return setting.default if setting.deployed is None else setting.deployed


def read(setting: Setting, raw: object) -> Any:
    """`raw` as the Lambda reader reads it from the environment ("" or no value: the default)."""
    return setting.read({} if raw is None else {setting.env: str(raw)})


def test_every_value_the_template_sets_is_the_declared_one(template: dict[str, Any]) -> None:
    """A literal in the environment, or the default of the parameter it references, is what the declaration says the
    stack deploys; anything else the template passes is one of its resources, declared as set by the stack."""
    parameters = template["Parameters"]
    referenced: dict[str, str] = {}
    problems = []
    for where, name, value in template_environment(template):
        if name.startswith("POWERTOOLS_"):
            continue  # Powertools' own configuration, not the lifecycle's
        setting = BY_VARIABLE.get(name)
        if setting is None:
            problems.append(f"{where} sets {name}, which no Settings field declares")
        elif isinstance(value, dict) and value.keys() == {"Ref"} and value["Ref"] in parameters:
            referenced[name] = value["Ref"]
            default = parameters[value["Ref"]].get("Default")
            if setting.parameter != value["Ref"]:
                problems.append(f"{where}: {name} takes {value['Ref']}, declared to take {setting.parameter}")
            elif read(setting, default) != deployed(setting):
                problems.append(
                    f"{value['Ref']} defaults to {default!r}; {name} is declared {shown(deployed(setting))}"
                )
        elif isinstance(value, dict):
            if setting.set_by != "stack":
                problems.append(
                    f"{where}: {name} comes from the stack's resources ({value}): declare it set_by='stack'"
                )
        elif read(setting, value) != deployed(setting):
            problems.append(f"{where}: {name} is {value!r} in the template, declared {shown(deployed(setting))}")
    unreferenced = {setting.env for setting in DECLARED if setting.parameter} - referenced.keys()
    problems += [f"no function takes {variable} from its parameter" for variable in unreferenced]
    assert not problems, "\n".join(problems)


def test_no_parameter_allows_a_value_the_functions_refuse(template: dict[str, Any]) -> None:
    """The template may bound a parameter more tightly than the reader (KeepAliveMinutes starts at 5 on AWS; the local
    runtime demos 30 seconds), never more loosely: a value the stack accepts must not fail the cold start."""
    for setting in (setting for setting in DECLARED if setting.parameter):
        parameter = template["Parameters"][setting.parameter]
        assert (parameter["Type"] == "Number") == (setting.kind in (int, float)), setting.parameter
        if setting.choices is not None:
            assert set(parameter.get("AllowedValues", ())) == set(setting.choices), setting.parameter
        if setting.min is not None or setting.above is not None:
            assert "MinValue" in parameter, f"{setting.parameter} needs a MinValue ({setting.bounds})"
        if setting.max is not None:
            assert "MaxValue" in parameter, f"{setting.parameter} needs a MaxValue ({setting.bounds})"
        for end in ("MinValue", "MaxValue"):
            if end in parameter:
                setting.check(float(parameter[end]), f"{setting.parameter}'s {end}")


# ----- the README -----


def section(markdown: str, heading: str) -> str | None:
    """The text under `## heading`, up to the next heading of the same or a higher level."""
    match = re.search(rf"^##[ \t]+{re.escape(heading)}[ \t]*$(.*?)(?=^#{{1,2}}[ \t]|\Z)", markdown, re.M | re.S)
    return match.group(1) if match else None


def cells(line: str) -> list[str]:
    """The cells of one table row; `\\|` is a pipe inside a cell."""
    inner = re.sub(r"^\s*\|", "", re.sub(r"(?<!\\)\|\s*$", "", line))
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def tables(text: str) -> list[list[list[str]]]:
    """Every markdown table in `text`, as rows of cells (the header first, the --- row dropped)."""
    found: list[list[list[str]]] = []
    previous_was_row = False
    for line in text.splitlines():
        is_row = line.lstrip().startswith("|")
        if is_row and not previous_was_row:
            found.append([])
        if is_row and not re.fullmatch(r"[\s|:-]+", line):
            found[-1].append(cells(line))
        previous_was_row = is_row
    return found


def plain(cell: str) -> str:
    """A cell as compared: backticks and runs of spaces do not count."""
    return " ".join(cell.replace("`", "").split())


def configuration_table_problems(readme: str) -> list[str]:
    """What is wrong with the settings table under `## Configuration` ([] when it is the declared one). Other columns
    and tables may sit beside it, cells may differ in backticks and spaces, rows may come in any order; every setting
    the owner chooses must be there, once, with the declared default, bounds, parameter, flag and help."""
    configuration = section(readme, "Configuration")
    if configuration is None:
        return ["README.md has no ## Configuration section"]
    header = [plain(name).lower() for name in TABLE_HEADER]
    table = next((t for t in tables(configuration) if set(header) <= {plain(c).lower() for c in t[0]}), None)
    if table is None:
        return [f"no table with the columns {' | '.join(TABLE_HEADER)} under ## Configuration"]
    columns = [[plain(c).lower() for c in table[0]].index(name) for name in header]
    documented: dict[str, list[str]] = {}
    problems = []
    for row in table[1:]:
        if len(row) != len(table[0]):
            problems.append(f"a row with {len(row)} cells, not {len(table[0])}: {row}")
            continue
        cells_shown = [plain(row[column]) for column in columns]
        if cells_shown[0] in documented:
            problems.append(f"{cells_shown[0]} appears twice")
        documented[cells_shown[0]] = cells_shown
    expected = {
        setting.env: [plain(cell) for cell in table_row(setting)] for setting in DECLARED if setting.user_facing
    }
    problems += [f"{variable} is missing" for variable in expected.keys() - documented.keys()]
    problems += [f"{variable} is not a setting the owner chooses" for variable in documented.keys() - expected.keys()]
    for variable in expected.keys() & documented.keys():
        for name, said, declared_cell in zip(header, documented[variable], expected[variable], strict=True):
            if said != declared_cell:
                problems.append(f"{variable}: {name} is {said!r} in the README, {declared_cell!r} declared")
    return sorted(problems)


def test_the_readme_configuration_table_is_the_declared_one() -> None:
    problems = configuration_table_problems((ROOT / "README.md").read_text())
    assert not problems, REGENERATE + ":\n" + "\n".join(problems)


def test_the_table_check_is_strict_about_settings_and_loose_about_layout() -> None:
    generated = markdown_table()
    readme = f"# Title\n\n## Configuration\n\nIntro.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n{generated}\n\n## Next\n"
    assert configuration_table_problems(readme) == []
    rows = generated.splitlines()
    reordered = "\n".join([rows[0], rows[1], *reversed(rows[2:])]).replace(" | ", " |   ").replace("`", "")
    assert configuration_table_problems(readme.replace(generated, reordered)) == []
    assert configuration_table_problems(readme.replace("| `30` |", "| `20` |")) == [
        "KEEP_ALIVE_MINUTES: default is '20' in the README, '30' declared"
    ]
    without_idle = "\n".join(row for row in rows if "IDLE_MINUTES" not in row)
    assert configuration_table_problems(readme.replace(generated, without_idle)) == ["IDLE_MINUTES is missing"]
    wiring = "| `STATE_TABLE_NAME` | required |  |  |  | the table |"
    assert configuration_table_problems(readme.replace(generated, f"{generated}\n{wiring}")) == [
        "STATE_TABLE_NAME is not a setting the owner chooses"
    ]
    assert configuration_table_problems(readme.replace("## Configuration", "## Settings")) == [
        "README.md has no ## Configuration section"
    ]


def test_the_table_parser_reads_the_generated_table() -> None:
    [table] = tables(f"text\n\n{markdown_table()}\n\nmore text")
    assert table[0] == list(TABLE_HEADER)
    assert [plain(row[0]) for row in table[1:]] == [s.env for s in DECLARED if s.user_facing]
    assert cells(r"| `A` | x \| y | |") == ["`A`", "x | y", ""]
    assert (
        section("# T\n## Configuration\nbody\n### sub\nstill\n## Next\nnot", "Configuration")
        == "\nbody\n### sub\nstill\n"
    )


# ----- the local runtime -----


@pytest.fixture
def flag_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No variable a flag reads is set (a developer's shell may have KEEP_ALIVE)."""
    for setting in DECLARED:
        if setting.flag:
            monkeypatch.delenv(flag_variable(setting.flag), raising=False)
    for name in ("PORT", "PROVISIONING_DELAY", "PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_demo_flags_default_to_the_declarations(flag_environment: pytest.MonkeyPatch) -> None:
    assert setting_flags(parse_args([])) == {setting.name: setting.default for setting in DECLARED if setting.flag}


def test_the_demo_keeps_its_flag_spellings_and_durations(flag_environment: pytest.MonkeyPatch) -> None:
    argv = "--keep-alive 30s --notice 2m --idle 90 --gpu-per-day 1h --instant-tier While-Starting"
    argv += " --start-limit-per-phone 2 --start-limit-per-client 7 --sms-country-codes +1,+44"
    argv += " --code-limit-per-client 4"
    flags = setting_flags(parse_args([*argv.split(), "--textbelt-url", "http://127.0.0.1:9/text"]))
    assert flags == {
        "keep_alive_minutes": 0.5,
        "notice_minutes": 2,
        "idle_minutes": 1.5,
        "gpu_minutes_per_day": 60,
        "instant_tier": "while-starting",
        "start_limit_per_phone": 2,
        "start_limit_per_client": 7,
        "code_limit_per_client": 4,
        "sms_country_codes": ("+1", "+44"),
        "textbelt_url": "http://127.0.0.1:9/text",
    }


def test_a_flags_variable_stands_in_for_it(flag_environment: pytest.MonkeyPatch) -> None:
    flag_environment.setenv("KEEP_ALIVE", "2m")
    flag_environment.setenv("START_LIMIT_PER_CLIENT", "100000")  # as the fuzz and load tests lift the limit
    flags = setting_flags(parse_args([]))
    assert (flags["keep_alive_minutes"], flags["start_limit_per_client"]) == (2, 100000)
    assert parse_args(["--keep-alive", "1m"]).keep_alive_minutes == 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--keep-alive", "0"], "more than 0"),
        (["--notice", "soon"], "not a duration"),
        (["--gpu-per-day", "25h"], "from 0 to 1440"),
        (["--start-limit-per-client", "0"], "1 or more"),
        (["--start-limit-per-phone", "two"], "must be a whole number"),
        (["--instant-tier", "sometimes"], "one of off, while-starting, always"),
        (["--sms-country-codes", "44"], "not a country calling code"),
    ],
)
def test_the_flags_refuse_what_the_lambda_refuses(
    flag_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
    error = capsys.readouterr().err
    assert argv[0] in error and says in error


def test_each_flag_says_its_declared_help_and_default(
    flag_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    flag_environment.setenv("COLUMNS", "1000")  # no wrapping: the help reads back whole
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    shown_help = " ".join(capsys.readouterr().out.split())
    for setting in DECLARED:
        if setting.flag:
            assert f"{setting.flag} " in shown_help and " ".join(setting.help.split()) in shown_help, setting.flag
    assert "(env KEEP_ALIVE, default 30m)" in shown_help and "(env GPU_PER_DAY, default 4h)" in shown_help


def test_the_demo_runs_the_declared_defaults_but_where_it_says_why(
    tmp_path: Path, flag_environment: pytest.MonkeyPatch
) -> None:
    """local_settings' docstring gives the reasons: a local start is seconds, and a teardown has no cooldown."""
    demo = local_settings(RuntimeConfig(model_dir=tmp_path), "http://127.0.0.1:1")
    differs = {s.name for s in DECLARED if s.user_facing and not s.required and getattr(demo, s.name) != s.default}
    assert differs == {"typical_provisioning_seconds", "cooldown_minutes"}
    flags = setting_flags(parse_args(["--keep-alive", "30s", "--start-limit-per-client", "4"]))
    demo = local_settings(RuntimeConfig(model_dir=tmp_path, settings=flags), "http://127.0.0.1:1")
    assert (demo.keep_alive_minutes, demo.start_limit_per_client) == (0.5, 4)
    assert demo.notice_minutes == declared("notice_minutes").default


def test_make_demo_restates_no_default(flag_environment: pytest.MonkeyPatch) -> None:
    """The variables `make demo` documents are the flags' own (make passes its command line's variables to the
    recipe's environment); the Makefile assigns none of them, so no default lives there."""
    makefile = (ROOT / "Makefile").read_text()
    example = re.search(r"^# make demo (.*)$", makefile, re.M)
    assert example is not None
    variables = dict(re.findall(r"\b([A-Z_]+)=(\S+)", example.group(1)))
    assert {"KEEP_ALIVE", "NOTICE", "INSTANT_TIER"} <= variables.keys()
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe is not None
    for name, value in variables.items():
        if name == "ARGS":
            continue
        assert not re.search(rf"^\s*(export\s+)?{name}\s*[:?+!]?=", makefile, re.M), f"the Makefile sets {name}"
        flag = "--" + name.lower().replace("_", "-")
        assert flag not in recipe.group(1), f"make demo passes {flag} itself"
        flag_environment.setenv(name, value)
        from_variable = parse_args([])
        flag_environment.delenv(name)
        assert from_variable == parse_args([flag, value]), f"{name}={value} is not {flag} {value}"
