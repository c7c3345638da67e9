"""Who may start the model and what a start answers: the per-client limit counts every start that can create an
endpoint (from STOPPED and from FAILED), the per-phone window lasts its configured length, "subscribed" tells the
truth, and a new start carries nothing of the run or the failure before it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ondemand.domain import EndpointError, EndpointStatus, State
from ondemand.ports import Adapters

from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A
from tests.unit.lifecycle.lifecycle_rate_table import with_rate_table
from tests.unit.lifecycle.test_lifecycle_api import invoke
from tests.unit.lifecycle.test_lifecycle_budget import promote
from tests.unit.lifecycle.test_lifecycle_rate_limits import start

ON_THE_HOUR = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # rate windows are aligned to the epoch
CAPACITY = "ResourceLimitExceeded: no ml.g4dn.xlarge capacity"


ONE_START_PER_CLIENT = pytest.mark.parametrize(
    "settings", [make_settings(start_limit_per_client=1, cooldown_minutes=0)]
)


class TestStartLimits:
    """With the rate table (on the test's clock) under the `handlers` and `machine`."""

    @pytest.fixture
    def adapters(self, adapters, aws, clock) -> Adapters:
        return with_rate_table(adapters, clock)

    @ONE_START_PER_CLIENT
    def test_a_client_restarting_a_stopped_model_is_counted(self, handlers, machine, event) -> None:
        assert start(handlers.api, event)[0] == 202
        machine.stop()
        status, body, _ = start(handlers.api, event)
        assert (status, body["error"]) == (429, "rate_limited") and "address" in body["message"]
        assert start(handlers.api, event, source_ip="198.51.100.7")[0] == 202

    @ONE_START_PER_CLIENT
    def test_a_client_restarting_after_a_failed_start_is_counted(self, handlers, event, endpoints) -> None:
        endpoints.fail_create = CAPACITY
        assert start(handlers.api, event)[0] >= 500
        endpoints.fail_create = None
        status, body, _ = start(handlers.api, event)
        assert (status, body["error"]) == (429, "rate_limited")
        assert len(endpoints.created) == 1

    @pytest.mark.parametrize("settings", [make_settings(start_limit_per_phone=3, start_limit_window_seconds=3600)])
    def test_the_per_phone_window_lasts_the_configured_hour(self, handlers, event, clock) -> None:
        clock.current = ON_THE_HOUR
        assert [start(handlers.api, event, PHONE_A)[0] for _ in range(3)] == [202] * 3
        clock.advance(minutes=59)
        status, _, headers = start(handlers.api, event, PHONE_A)
        assert (status, headers["Retry-After"]) == (429, "60")
        clock.advance(minutes=1)
        assert start(handlers.api, event, PHONE_A)[0] == 202


def test_clicking_start_again_with_the_same_phone_still_says_it_will_be_texted(handlers, event) -> None:
    invoke(handlers.api, event("apigw_start"), {"phone": PHONE_A})
    status, body, _ = invoke(handlers.api, event("apigw_start"), {"phone": PHONE_A})
    assert (status, body["subscribed"], body["subscribers_count"]) == (202, True, 1)


def test_a_start_while_in_service_says_nobody_will_be_texted(handlers, machine, endpoints, event) -> None:
    promote(machine, endpoints)
    status, body, _ = invoke(handlers.api, event("apigw_start"), {"phone": PHONE_A})
    assert (status, body["subscribed"]) == (200, False)


def test_a_new_start_after_a_failure_shows_no_error_of_the_old_one(handlers, machine, endpoints, event, clock) -> None:
    endpoints.fail_create = CAPACITY
    with pytest.raises(EndpointError):
        machine.start()
    assert invoke(handlers.api, event("apigw_status"))[1]["last_error_code"] is not None
    endpoints.fail_create = None
    status, body, _ = invoke(handlers.api, event("apigw_start"))
    assert (status, body["error"]) == (429, "cooling_down") and body["message"].startswith("The last start failed;")
    clock.advance(minutes=machine.settings.cooldown_minutes)
    status, body, _ = invoke(handlers.api, event("apigw_start"))
    assert (status, body["last_error"], body["last_error_code"]) == (202, None, None)


def test_a_late_event_of_an_old_leftover_does_not_create_a_new_starts_endpoint_again(machine, endpoints, clock):
    """A start that waited for a leftover was stopped; the leftover settled; a new start deleted it and made its own.
    A duplicate of the leftover's event arriving now concerns nobody."""
    endpoints.refuse_delete_while_creating = True
    leftover = machine.start().state.endpoint_name
    machine.on_endpoint_status(leftover, EndpointStatus.FAILED, "Read timeout on endpoint URL")  # still Creating
    clock.advance(minutes=machine.settings.cooldown_minutes)
    machine.start()
    assert machine.stop().state.state == State.STOPPED
    endpoints.set_status(leftover, EndpointStatus.IN_SERVICE)
    clock.advance(minutes=machine.settings.cooldown_minutes)
    name = machine.start(PHONE_A).state.endpoint_name
    assert list(endpoints.endpoints) == [name]
    machine.on_endpoint_status(leftover, EndpointStatus.IN_SERVICE)
    assert endpoints.created.count(name) == 1
    assert machine.store.get().state == State.STARTING and machine.store.get().endpoint_name == name


def test_a_failed_start_whose_endpoint_is_gone_leaves_the_reconciler_nothing_to_do(machine, endpoints) -> None:
    name = machine.start().state.endpoint_name
    machine.on_endpoint_status(name, EndpointStatus.FAILED, "CapacityError: unable to provision")
    assert name not in endpoints.endpoints and machine.store.get().state == State.FAILED
    assert machine.reconcile() == []


def test_a_failed_starts_endpoint_that_would_not_delete_is_deleted_by_the_reconciler_and_nothing_to_stop(
    handlers, machine, endpoints, event, clock
) -> None:
    name = machine.start(PHONE_A).state.endpoint_name
    endpoints.fail_delete = "ThrottlingException: Rate exceeded"
    machine.on_endpoint_status(name, EndpointStatus.FAILED, "CapacityError: unable to provision")
    endpoints.fail_delete = None
    assert name in endpoints.endpoints and machine.store.get().state == State.FAILED
    status, body, _ = invoke(handlers.api, event("apigw_stop"), headers={"x-api-key": "s3cret-admin-key"})
    assert (status, body["message"]) == (409, "The model is FAILED; there is nothing to stop.")
    clock.advance(minutes=3)  # the endpoint bills on until it is deleted, and the day's ledger says so
    assert [repair.as_dict() for repair in machine.reconcile()] == [
        {"endpoint_name": name, "kind": "deleted_orphan", "detail": "a failed start's; run charged"}
    ]
    item = machine.store.get()
    assert item.state == State.FAILED and item.last_error_code == "no_capacity" and name not in endpoints.endpoints
    assert (item.run_started_at, item.waiting_for) == (None, None)
    assert sum(item.gpu_seconds_by_day.values()) == 180
