"""The "stops soon" notice: NOTICE_MINUTES before expires_at everyone who asked this session gets one text; extends
move it (its schedule is replaced, not added); never twice, never after STOPPED; the status carries notice_at."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import boto3
import pytest
from ondemand.adapters.scheduler import EventBridgeScheduler
from ondemand.bootstrap import Handler, bootstrap
from ondemand.domain import EndpointStatus, State
from ondemand.handlers import teardown
from ondemand.lifecycle.schedules import notice_schedule_name, teardown_schedule_name

from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A, PHONE_B

PAGE = "https://example.org/sentiment/"


@pytest.fixture
def settings():
    return make_settings(notice_minutes=5, keep_alive_minutes=30, page_url=PAGE)


@pytest.fixture
def in_service(machine, endpoints, notifier) -> str:
    name = machine.start(PHONE_A).state.endpoint_name
    machine.start(PHONE_B)
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE)
    notifier.sent.clear()  # the "ready" texts
    return name


def fire(handlers, scheduler, name: str) -> str:
    """What EventBridge Scheduler does at the notice's moment: invoke the teardown function with its payload."""
    _, payload = scheduler.schedules[notice_schedule_name(name)]
    return handlers.teardown(payload, None)["outcome"]


def test_the_notice_is_scheduled_notice_minutes_before_the_deadline(machine, in_service, scheduler) -> None:
    at, payload = scheduler.schedules[notice_schedule_name(in_service)]
    assert at == machine.store.get().expires_at - timedelta(minutes=5)
    assert payload["kind"] == "notice" and payload["endpoint_name"] == in_service


def test_everyone_who_asked_gets_one_text_with_the_time_and_the_page(
    handlers, machine, in_service, scheduler, notifier, clock
) -> None:
    clock.advance(minutes=25)
    assert fire(handlers, scheduler, in_service).startswith("notice sent; queued 2 of 2 texts")
    expires_at = machine.store.get().expires_at
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_B]
    assert notifier.sent[0][1] == f"Your sentiment model stops at {expires_at:%H:%M} UTC; keep it running: {PAGE}"
    # A duplicate delivery and a Lambda retry send nothing more.
    assert fire(handlers, scheduler, in_service) == "skipped: the notice was already sent"
    assert machine.send_notice(in_service) == "skipped: the notice was already sent"
    assert len(notifier.sent) == 2


def test_an_extend_moves_the_notice_and_the_old_moment_texts_nobody(
    handlers, machine, in_service, scheduler, notifier, clock
) -> None:
    clock.advance(minutes=20)
    old_payload = scheduler.schedules[notice_schedule_name(in_service)][1]
    machine.predict(["someone is using it"])  # /extend follows real use
    extended = machine.extend().state
    notices = [name for name in scheduler.schedules if name.startswith("notice-")]
    assert notices == [notice_schedule_name(in_service)]  # replaced, not added
    assert scheduler.schedules[notices[0]][0] == extended.expires_at - timedelta(minutes=5)

    clock.advance(minutes=5)  # the old notice's moment; an in-flight invocation of the replaced schedule
    assert handlers.teardown(old_payload, None)["outcome"].startswith("skipped: not due until")
    assert notifier.sent == []
    clock.advance(minutes=20)  # the new moment
    assert fire(handlers, scheduler, in_service).startswith("notice sent; queued 2 of 2 texts")


def test_after_the_notice_an_extend_schedules_no_second_one(
    handlers, machine, in_service, scheduler, notifier, clock
) -> None:
    clock.advance(minutes=25)
    fire(handlers, scheduler, in_service)
    scheduler.schedules.pop(notice_schedule_name(in_service))  # it fired (ActionAfterCompletion: DELETE)
    machine.predict(["someone is using it"])  # /extend follows real use
    machine.extend()
    assert notice_schedule_name(in_service) not in scheduler.schedules
    assert len(notifier.sent) == 2


def test_no_notice_after_stopped_and_the_numbers_are_deleted_then(
    handlers, machine, in_service, scheduler, notifier, clock
) -> None:
    assert machine.store.get().subscribers == (PHONE_A, PHONE_B)  # kept for the notice
    _, payload = scheduler.schedules[notice_schedule_name(in_service)]
    machine.stop()
    assert notice_schedule_name(in_service) not in scheduler.schedules  # cancelled with the teardown's
    clock.advance(minutes=25)
    assert handlers.teardown(payload, None)["outcome"].startswith("skipped: the item is STOPPED")
    assert notifier.sent == [] and machine.store.get().subscribers == ()


def test_a_failed_start_keeps_no_numbers(machine) -> None:
    name = machine.start(PHONE_A).state.endpoint_name
    machine.on_endpoint_status(name, EndpointStatus.FAILED, "capacity")
    assert machine.store.get().state == State.FAILED and machine.store.get().subscribers == ()


def test_status_carries_notice_at_while_in_service(handlers, machine, in_service, event) -> None:
    status = json.loads(handlers.api(event("apigw_status"), None)["body"])
    expires_at = machine.store.get().expires_at
    assert status["notice_at"] == (expires_at - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    machine.stop()
    assert json.loads(handlers.api(event("apigw_status"), None)["body"])["notice_at"] is None


@pytest.mark.parametrize("settings", [make_settings(notice_minutes=0)])
def test_notice_minutes_zero_turns_it_off(machine, in_service, scheduler, handlers, event, settings) -> None:
    assert notice_schedule_name(in_service) not in scheduler.schedules
    assert machine.send_notice(in_service) == "skipped: the notice is off"
    assert json.loads(handlers.api(event("apigw_status"), None)["body"])["notice_at"] is None


@pytest.mark.parametrize("settings", [make_settings(notice_minutes=5, keep_alive_minutes=30, page_url=None)])
def test_without_a_page_url_the_text_has_no_link(machine, in_service, notifier, clock, settings) -> None:
    clock.advance(minutes=26)
    machine.send_notice(in_service)
    assert notifier.sent[0][1].endswith(" UTC.") and "http" not in notifier.sent[0][1]


@pytest.fixture
def teardown_function(adapters, settings, clock) -> Handler:
    """The teardown function as deployed: its scheduler adapter has no role or target to create schedules with (the
    template grants it scheduler:DeleteSchedule only), on moto's EventBridge Scheduler."""
    client = boto3.client("scheduler")
    client.create_schedule_group(Name=settings.schedule_group_name)
    deletes_only = EventBridgeScheduler(client, group_name=settings.schedule_group_name, role_arn=None, target_arn=None)
    service = bootstrap(
        settings,
        dataclasses.replace(adapters, scheduler=deletes_only),
        now=clock,
        sleep=lambda _: None,
    )
    return teardown.make_handler(service)


@pytest.mark.parametrize("seconds_early", [3, 59])
def test_a_notice_fired_early_is_sent_by_the_function_that_cannot_reschedule(
    teardown_function, machine, in_service, scheduler, notifier, clock, seconds_early
) -> None:
    """Scheduler's at() has a minute's precision: the current notice's firing texts, however early in that minute."""
    due, payload = scheduler.schedules[notice_schedule_name(in_service)]
    clock.current = due - timedelta(seconds=seconds_early)
    assert teardown_function(payload, None)["outcome"].startswith("notice sent; queued 2 of 2 texts")
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_B]
    assert teardown_function(payload, None)["outcome"] == "skipped: the notice was already sent"


def test_a_teardown_fired_early_tears_down_in_the_function_that_cannot_reschedule(
    teardown_function, machine, in_service, scheduler, endpoints, clock
) -> None:
    due, payload = scheduler.schedules[teardown_schedule_name(in_service)]
    clock.current = due - timedelta(seconds=59)
    assert teardown_function(payload, None)["outcome"] == "torn down"
    assert machine.store.get().state == State.STOPPED and in_service not in endpoints.endpoints
