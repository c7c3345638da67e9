"""SageMaker Endpoint State Change events through the endpoint_events handler: promote once, fail once, text once."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from ondemand.bootstrap import bootstrap
from ondemand.domain import EndpointStatus, State, public_message
from ondemand.handlers import endpoint_events
from ondemand.handlers.endpoint_events import parse_status
from ondemand.lifecycle.schedules import teardown_schedule_name

from tests.unit.lifecycle.lifecycle_fakes import PHONE_A, PHONE_B

FIXTURE_ENDPOINT = "ondemand-sentiment-20260101t120000"


@pytest.fixture
def starting(store, adapters, endpoints):
    """The item STARTING the fixtures' endpoint, two people waiting for a text."""
    endpoints.set_status(FIXTURE_ENDPOINT, EndpointStatus.CREATING)
    return store.transition(
        [State.STOPPED],
        State.STARTING,
        "start requested",
        endpoint_name=FIXTURE_ENDPOINT,
        subscribers=[PHONE_A, PHONE_B],
    )


def test_in_service_promotes_schedules_teardown_and_texts_each_subscriber(
    handlers, starting, event, store, scheduler, notifier
) -> None:
    result = handlers.endpoint_events(event("endpoint_state_change_in_service"), None)
    item = store.get()
    assert item.state == State.IN_SERVICE
    keep_alive = (item.expires_at - item.in_service_at).total_seconds()
    assert keep_alive == 30 * 60
    at, payload = scheduler.schedules[teardown_schedule_name(FIXTURE_ENDPOINT)]
    assert at == item.expires_at
    assert payload["endpoint_name"] == FIXTURE_ENDPOINT
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_B]
    assert "ready" in notifier.sent[0][1]
    assert result["outcome"].startswith("promoted")


def test_duplicate_in_service_events_change_nothing_and_text_nobody_twice(
    handlers, starting, event, store, scheduler, notifier
) -> None:
    handlers.endpoint_events(event("endpoint_state_change_in_service"), None)
    after_first = store.get()
    for _ in range(3):
        result = handlers.endpoint_events(event("endpoint_state_change_in_service"), None)
        assert result["outcome"].startswith("ignored")
    assert store.get().version == after_first.version
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_B]
    assert sorted(scheduler.calls) == sorted(f"{kind}-{after_first.endpoint_name}" for kind in ("notice", "teardown"))


def test_a_creating_event_after_in_service_changes_nothing(handlers, starting, event, store, notifier) -> None:
    handlers.endpoint_events(event("endpoint_state_change_in_service"), None)
    before = store.get()
    handlers.endpoint_events(event("endpoint_state_change_creating"), None)
    handlers.endpoint_events(event("endpoint_state_change_failed"), None)
    assert store.get() == before
    assert len(notifier.sent) == 2


def test_a_late_in_service_for_an_older_endpoint_is_ignored(handlers, starting, event, store, notifier) -> None:
    stale = event("endpoint_state_change_in_service")
    stale["detail"]["EndpointName"] = "ondemand-sentiment-20251231t080000"
    assert handlers.endpoint_events(stale, None)["outcome"].startswith("ignored")
    assert store.get().state == State.STARTING
    assert notifier.sent == []


def test_events_for_other_stacks_endpoints_are_ignored(handlers, starting, event, store) -> None:
    foreign = event("endpoint_state_change_in_service")
    foreign["detail"]["EndpointName"] = "someone-elses-endpoint"
    assert handlers.endpoint_events(foreign, None)["outcome"] == "ignored: not this stack's endpoint"
    assert store.get().state == State.STARTING


def test_failed_marks_failed_with_the_reason_tells_subscribers_once_and_deletes(
    handlers, starting, event, store, notifier, endpoints
) -> None:
    handlers.endpoint_events(event("endpoint_state_change_failed"), None)
    handlers.endpoint_events(event("endpoint_state_change_failed"), None)
    item = store.get()
    assert item.state == State.FAILED
    assert item.last_error_code == "no_capacity" and "Unable to provision" not in item.last_error
    assert item.history[-1].reason == item.last_error == public_message("no_capacity")
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_B]
    assert "could not start" in notifier.sent[0][1] and "Unable to provision" not in notifier.sent[0][1]
    assert FIXTURE_ENDPOINT in endpoints.deleted


def test_failed_while_in_service_tears_the_endpoint_down_at_once(
    handlers, starting, event, store, notifier, endpoints
) -> None:
    """A broken endpoint bills without answering: the Failed event stops it, not the next reconciler run."""
    handlers.endpoint_events(event("endpoint_state_change_in_service"), None)
    texted = len(notifier.sent)
    endpoints.set_status(FIXTURE_ENDPOINT, EndpointStatus.FAILED)  # what the endpoint control reports too
    handlers.endpoint_events(event("endpoint_state_change_failed"), None)
    handlers.endpoint_events(event("endpoint_state_change_failed"), None)
    item = store.get()
    assert item.state == State.STOPPED and item.endpoint_name is None
    assert item.last_error_code == "endpoint_failed" and "Unable to provision" not in item.last_error
    assert FIXTURE_ENDPOINT in endpoints.deleted
    assert len(notifier.sent) == texted  # nobody is waiting for a text any more


def test_a_failing_scheduler_still_texts_and_leaves_teardown_to_the_reconciler(
    handlers, starting, event, store, scheduler, notifier
) -> None:
    scheduler.fail = True
    handlers.endpoint_events(event("endpoint_state_change_in_service"), None)
    assert store.get().state == State.IN_SERVICE
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_B]


def test_one_refused_and_one_unreachable_number_do_not_stop_the_others(
    handlers, store, adapters, event, notifier
) -> None:
    store.transition(
        [State.STOPPED],
        State.STARTING,
        "start",
        endpoint_name=FIXTURE_ENDPOINT,
        subscribers=["+12025550191", PHONE_A, "+12025550192"],
    )
    notifier.refuse.add("+12025550191")
    notifier.unreachable.add("+12025550192")
    result = handlers.endpoint_events(event("endpoint_state_change_in_service"), None)
    assert notifier.phones() == [PHONE_A]
    assert result["outcome"].endswith("queued 3 of 3 texts")  # all queued; the sender texted one


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("IN_SERVICE", EndpointStatus.IN_SERVICE),
        ("InService", EndpointStatus.IN_SERVICE),
        ("FAILED", EndpointStatus.FAILED),
        ("Creating", EndpointStatus.CREATING),
        ("OUT_OF_SERVICE", EndpointStatus.OUT_OF_SERVICE),
        ("SystemUpdating", EndpointStatus.SYSTEM_UPDATING),
        ("EXPLODED", None),
    ],
)
def test_both_spellings_of_the_status_are_understood(raw: str, status: EndpointStatus | None) -> None:
    assert parse_status(raw) == status


def test_an_unknown_status_is_ignored(handlers, starting, event, store) -> None:
    odd = event("endpoint_state_change_in_service")
    odd["detail"]["EndpointStatus"] = "EXPLODED"
    assert handlers.endpoint_events(odd, None)["outcome"].startswith("ignored: unknown status")
    odd["detail"]["EndpointStatus"] = "SYSTEM_UPDATING"
    assert handlers.endpoint_events(odd, None)["outcome"] == "ignored: SystemUpdating changes nothing"
    assert store.get().state == State.STARTING


def test_keep_alive_comes_from_settings(starting, adapters, settings, event, store) -> None:
    seven_minutes = bootstrap(dataclasses.replace(settings, keep_alive_minutes=7), adapters)
    endpoint_events.make_handler(seven_minutes)(event("endpoint_state_change_in_service"), None)
    item = store.get()
    assert item.expires_at - item.in_service_at == timedelta(minutes=7)
