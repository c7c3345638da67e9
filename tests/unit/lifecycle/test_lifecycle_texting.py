"""The daily text caps as the owner relies on them: the per-number cap is its own, both hold for the whole UTC day
(not an hour) and reset at midnight, and a text refused for its number does not spend the day's cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ondemand.domain import EndpointStatus
from ondemand.ports import Adapters

from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A, PHONE_B, PHONE_C
from tests.unit.lifecycle.lifecycle_rate_table import with_rate_table

MORNING = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def adapters(adapters, aws, clock) -> Adapters:
    clock.current = MORNING
    return with_rate_table(adapters, clock)


def caps(per_number: int, per_day: int):
    return pytest.mark.parametrize(
        "settings", [make_settings(sms_per_number_per_day=per_number, sms_per_day=per_day, cooldown_minutes=0)]
    )


def ready_run(machine, endpoints, *phones: str) -> None:
    """Everyone in `phones` asks to be texted, the model comes up (the "ready" texts go out), it is stopped."""
    name = machine.start(phones[0]).state.endpoint_name
    for phone in phones[1:]:
        machine.start(phone)
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    machine.stop()


@caps(per_number=1, per_day=10)
def test_the_per_number_cap_is_its_own_below_the_days(machine, endpoints, notifier) -> None:
    ready_run(machine, endpoints, PHONE_A, PHONE_B)
    ready_run(machine, endpoints, PHONE_A, PHONE_B)
    assert notifier.phones() == [PHONE_A, PHONE_B]


@caps(per_number=2, per_day=100)
def test_the_caps_hold_for_the_whole_utc_day_and_reset_at_midnight(machine, endpoints, notifier, clock) -> None:
    for hour in (9, 11, 13, 23):
        clock.current = MORNING.replace(hour=hour, minute=30)
        ready_run(machine, endpoints, PHONE_A)
    assert notifier.phones() == [PHONE_A, PHONE_A]  # 09:30 and 11:30
    clock.current = MORNING.replace(hour=0, minute=0) + timedelta(days=1)
    ready_run(machine, endpoints, PHONE_A)
    assert notifier.phones() == [PHONE_A] * 3


@caps(per_number=1, per_day=3)
def test_a_text_refused_for_its_number_does_not_spend_the_days_cap(machine, endpoints, notifier) -> None:
    ready_run(machine, endpoints, PHONE_A)
    ready_run(machine, endpoints, PHONE_A)  # refused: A had its text today
    ready_run(machine, endpoints, PHONE_B, PHONE_C)
    assert notifier.phones() == [PHONE_A, PHONE_B, PHONE_C]
