"""What a run works on: the command line derived from its declarations, samconfig.toml's profile, template defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.settings import ROOT, DeploySettings, Options, parameter_overrides, samconfig_profile
from deploy.stack import Output


def test_every_output_the_tool_reads_is_an_output_of_the_stack(template) -> None:
    assert {output.value for output in Output} <= set(template["Outputs"])


def test_the_command_line_defaults_to_samconfigs_default_profile_and_waits_for_the_pipeline() -> None:
    options = Options.parse(["deploy"])

    assert (options.command, options.config_env, options.follow, options.retrain) == ("deploy", "default", True, False)
    assert options.frontend == ROOT / "frontend"
    assert Options.parse(["destroy", "--no-follow", "--retrain", "--config-env", "dev"]) == Options(
        "destroy", config_env="dev", follow=False, retrain=True
    )
    with pytest.raises(SystemExit):
        Options.parse(["remove"])


def test_the_stack_name_region_and_parameters_come_from_the_profile_over_the_template_defaults(template) -> None:
    settings = DeploySettings.load(Options.parse(["deploy"]))

    assert (settings.stack_name, settings.region) == ("ondemand-sentiment-dev", "us-east-1")
    assert settings.parameters["InstanceType"] == "ml.g4dn.xlarge"
    assert settings.parameters["ReservedConcurrency"] == template["Parameters"]["ReservedConcurrency"]["Default"]
    assert DeploySettings.load(Options.parse(["deploy", "--stack-name", "other", "--region", "eu-west-1"])).region == (
        "eu-west-1"
    )


def test_a_profile_is_merged_deploy_over_global_and_overrides_are_read_as_sam_writes_them(tmp_path: Path) -> None:
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[p.global.parameters]\nstack_name = "a"\nregion = "us-east-2"\n'
        '[p.deploy.parameters]\nregion = "eu-west-1"\nparameter_overrides = "X=\\"1\\" Y=\\"two words\\""\n'
    )

    profile = samconfig_profile(config, "p")

    assert (profile["stack_name"], profile["region"]) == ("a", "eu-west-1")
    assert parameter_overrides(profile["parameter_overrides"]) == {"X": "1", "Y": "two words"}
    with pytest.raises(SystemExit, match="no \\[q\\] profile"):
        samconfig_profile(config, "q")
