"""GET /status and the dashboard reading the table (ONDEMAND_STATE_TABLE) shape the same item into the same JSON,
configured by the same variables: a developer sees on the dashboard what a user's page sees."""

from __future__ import annotations

from typing import Any

import pytest
from ondemand.domain import EndpointStatus
from ondemand_dashboard.config import DashboardConfig
from ondemand_dashboard.state_store import StateStoreReader

from tests.lifecycle_driver import LifecycleDriver
from tests.settings_factory import make_settings
from tests.unit.lifecycle.conftest import TABLE
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A
from tests.unit.lifecycle.test_lifecycle_api import invoke

# Not the defaults, so a value the dashboard failed to read would show.
STATUS_ENVIRONMENT = {
    "TYPICAL_PROVISIONING_SECONDS": "300",
    "NOTICE_MINUTES": "7",
    "INSTANT_TIER": "while-starting",
    "GPU_MINUTES_PER_DAY": "90",
}


@pytest.mark.parametrize(
    "settings",
    [
        make_settings(
            typical_provisioning_seconds=300, notice_minutes=7, instant_tier="while-starting", gpu_minutes_per_day=90
        )
    ],
)
def test_the_dashboards_table_mode_answers_what_get_status_answers(
    handlers, machine: LifecycleDriver, endpoints, clock, event, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in STATUS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    reader = StateStoreReader(TABLE, None, "us-east-1", DashboardConfig.from_env(), now=clock)

    def both() -> tuple[dict[str, Any], dict[str, Any]]:
        return invoke(handlers.api, event("apigw_status"))[1], reader.status()

    name = machine.start(PHONE_A).state.endpoint_name
    clock.advance(seconds=40)
    api_body, table_body = both()
    assert table_body == api_body
    assert (api_body["eta_seconds"], api_body["instant_tier"]) == (260, "while-starting")

    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    clock.advance(minutes=3)
    api_body, table_body = both()
    assert table_body == api_body
    assert api_body["notice_at"] is not None
    assert api_body["budget"]["gpu_minutes_per_day"] == 90
    assert api_body["budget"]["gpu_minutes_used_today"] > 3

    machine.stop()
    api_body, table_body = both()
    assert table_body == api_body
    assert api_body["cooldown_until"] is not None
