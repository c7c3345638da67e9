"""The daily text caps as the owner relies on them: the per-number cap is its own, both hold for the whole UTC day
(not an hour) and reset at midnight, and a text refused for its number does not spend the day's cap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from ondemand.bootstrap import Service
from ondemand.domain import EndpointStatus

from tests.unit.lifecycle.lifecycle_fakes import PHONE_A, PHONE_B, PHONE_C
from tests.unit.lifecycle.lifecycle_rate_table import clocked_limits

MORNING = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def limited(aws, adapters, settings, clock) -> Callable[..., Service]:
    clock.current = MORNING
    return clocked_limits(adapters, settings, clock)


def ready_run(service: Service, endpoints, *phones: str) -> None:
    """Everyone in `phones` asks to be texted, the model comes up (the "ready" texts go out), it is stopped."""
    lifecycle = service.lifecycle
    name = lifecycle.start(phones[0]).state.endpoint_name
    for phone in phones[1:]:
        lifecycle.start(phone)
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    lifecycle.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    lifecycle.stop()


def test_the_per_number_cap_is_its_own_below_the_days(limited, endpoints, notifier) -> None:
    service = limited(sms_per_number_per_day=1, sms_per_day=10, cooldown_minutes=0)
    ready_run(service, endpoints, PHONE_A, PHONE_B)
    ready_run(service, endpoints, PHONE_A, PHONE_B)
    assert notifier.phones() == [PHONE_A, PHONE_B]


def test_the_caps_hold_for_the_whole_utc_day_and_reset_at_midnight(limited, endpoints, notifier, clock) -> None:
    service = limited(sms_per_number_per_day=2, sms_per_day=100, cooldown_minutes=0)
    for hour in (9, 11, 13, 23):
        clock.current = MORNING.replace(hour=hour, minute=30)
        ready_run(service, endpoints, PHONE_A)
    assert notifier.phones() == [PHONE_A, PHONE_A]  # 09:30 and 11:30
    clock.current = MORNING.replace(hour=0, minute=0) + timedelta(days=1)
    ready_run(service, endpoints, PHONE_A)
    assert notifier.phones() == [PHONE_A] * 3


def test_a_text_refused_for_its_number_does_not_spend_the_days_cap(limited, endpoints, notifier) -> None:
    service = limited(sms_per_number_per_day=1, sms_per_day=3, cooldown_minutes=0)
    ready_run(service, endpoints, PHONE_A)
    ready_run(service, endpoints, PHONE_A)  # refused: A had its text today
    ready_run(service, endpoints, PHONE_B, PHONE_C)
    assert notifier.phones() == [PHONE_A, PHONE_B, PHONE_C]
