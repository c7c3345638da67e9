"""A second writer between the lifecycle's read and its conditional write: the write that read a stale item loses,
re-reads and decides again, so an extend made meanwhile is not undone, a subscriber who joined meanwhile is
texted, a use recorded meanwhile does not stop a teardown, and nothing is created or texted twice.

Here the state store is a `RacingStore`: just before the write it is armed for, a rival (another Lambda on the same
table, through the handlers) acts, then the write goes on and wins or loses as DynamoDB decides. The lifecycle under
test is the `machine` fixture, built on that store; `pauses` records what it slept (its backoff)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from ondemand.bootstrap import Service, bootstrap
from ondemand.domain import ConflictError, CoolingDownError, EndpointStatus, State
from ondemand.handlers import api, reconciler, teardown

from tests.lifecycle_driver import confirming
from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A, PHONE_B, PHONE_C
from tests.unit.lifecycle.test_lifecycle_api import invoke
from tests.unit.lifecycle.test_lifecycle_budget import promote
from tests.unit.lifecycle_model.simulated_ports import FaultPlan, InMemoryStateStore

NOTICE_PREFIX = "Your sentiment model stops at"
CAPACITY = "ResourceLimitExceeded: no ml.g4dn.xlarge capacity"
Condition = Callable[[str, dict[str, Any]], bool]


class RacingStore:
    """The state store with a rival writer: before each of the next `times` writes that `when(kind, details)`
    picks, `rival()` runs first. Reads and every other write pass straight through."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.when: Condition = lambda kind, details: False
        self.rival: Callable[[], object] = lambda: None
        self.left = 0
        self.raced = 0

    def arm(self, when: Condition, rival: Callable[[], object], times: int = 1) -> None:
        self.when, self.rival, self.left = when, rival, times

    def _race(self, kind: str, **details: Any) -> None:
        if self.left > 0 and self.when(kind, details):
            self.left -= 1
            self.raced += 1
            self.rival()

    def get(self) -> Any:
        return self.inner.get()

    def transition(self, expected, to, reason, **kwargs):
        self._race("transition", to=to, reason=reason, **kwargs)
        return self.inner.transition(expected, to, reason, **kwargs)

    def update(self, expected, reason, **kwargs):
        self._race("update", reason=reason, **kwargs)
        return self.inner.update(expected, reason, **kwargs)

    def add_subscriber(self, expected, phone, limit):
        self._race("add_subscriber", phone=phone)
        return self.inner.add_subscriber(expected, phone, limit)

    def record_use(self, endpoint_name, at, min_interval):
        self._race("record_use")
        return self.inner.record_use(endpoint_name, at, min_interval)


class Rival:
    """Another Lambda on the same table, unraced: each action is one invocation of a handler."""

    def __init__(self, service: Service, event: Callable[[str], dict[str, Any]], endpoints) -> None:
        self.api = confirming(api.make_handler(service), service)
        self.teardown = teardown.make_handler(service)
        self.reconciler = reconciler.make_handler(service)
        self.event = event
        self.endpoints = endpoints

    def start(self, phone: str | None = None) -> int:
        return invoke(self.api, self.event("apigw_start"), {} if phone is None else {"phone": phone})[0]

    def start_that_fails_at_once(self) -> None:
        """A start whose CreateEndpoint is refused at once: STARTING, then FAILED."""
        self.endpoints.fail_create = CAPACITY
        assert self.start() >= 500
        self.endpoints.fail_create = None

    def predict(self) -> None:
        """A prediction, which records the use (a write at most once a minute)."""
        assert invoke(self.api, self.event("apigw_predict"))[0] == 200

    def extend(self) -> None:
        assert invoke(self.api, self.event("apigw_extend"))[0] == 200

    def send_notice(self, name: str) -> None:
        self.teardown({"kind": "notice", "endpoint_name": name}, None)

    def reconcile(self) -> None:
        self.reconciler(self.event("reconciler_scheduled"), None)


def writing_state(state: State) -> Condition:
    return lambda kind, details: kind == "transition" and details["to"] == state


def writing_field(name: str) -> Condition:
    return lambda kind, details: kind == "update" and name in details


def subscribing(kind: str, details: dict[str, Any]) -> bool:
    return kind == "add_subscriber"


@pytest.fixture
def store(store) -> RacingStore:
    """The table's store (moto's DynamoDB), raced."""
    return RacingStore(store)


@pytest.fixture
def pauses() -> list[float]:
    return []


@pytest.fixture
def service(adapters, settings, clock, pauses) -> Service:
    """The service `machine` and `handlers` are made on: on the racing store, sleeping into `pauses`."""
    return bootstrap(settings, adapters, now=clock, sleep=pauses.append)


@pytest.fixture
def rival(store: RacingStore, adapters, settings, clock, event, endpoints) -> Rival:
    bare = bootstrap(settings, dataclasses.replace(adapters, store=store.inner), now=clock, sleep=lambda _: None)
    return Rival(bare, event, endpoints)


def a_prediction_a_minute_later(rival: Rival, clock) -> Callable[[], None]:
    def act() -> None:
        clock.advance(minutes=1)
        rival.predict()

    return act


def expires_in(store, clock, minutes: float) -> bool:
    return store.get().expires_at == clock() + timedelta(minutes=minutes)


# ----- teardown -----


def test_a_teardown_that_read_the_old_expiry_does_not_stop_a_model_someone_just_extended(
    machine, store, rival, endpoints, clock
) -> None:
    name = promote(machine, endpoints, PHONE_A)
    clock.advance(minutes=30)  # expires_at: the teardown is due
    rival.predict()
    store.arm(writing_state(State.STOPPING), rival.extend)
    assert machine.teardown(name).startswith("skipped")
    assert store.raced == 1
    assert store.get().state == State.IN_SERVICE and expires_in(store, clock, 30)
    assert endpoints.deleted == []


def test_a_teardown_that_loses_its_write_to_a_prediction_still_tears_down(
    machine, store, rival, endpoints, clock, pauses
) -> None:
    name = promote(machine, endpoints, PHONE_A)
    clock.advance(minutes=30)
    store.arm(writing_state(State.STOPPING), rival.predict)
    assert machine.teardown(name) == "torn down"
    assert store.get().state == State.STOPPED and endpoints.deleted == [name]
    assert len(pauses) == 1 and 0 < pauses[0] < 0.01  # it backed off before trying again


def test_a_teardown_losing_write_after_write_backs_off_a_little_longer_each_time_and_wins(
    machine, store, rival, endpoints, clock, pauses
) -> None:
    """Eight predictions a minute apart each land between the teardown's read and its write."""
    name = promote(machine, endpoints, PHONE_A)
    clock.advance(minutes=30)
    store.arm(writing_state(State.STOPPING), a_prediction_a_minute_later(rival, clock), times=8)
    assert machine.teardown(name) == "torn down"
    assert store.raced == 8 and endpoints.deleted == [name]
    ceilings = [0.01 * (attempt + 1) for attempt in range(8)]
    assert len(pauses) == 8
    assert all(0 < pause < ceiling for pause, ceiling in zip(pauses, ceilings, strict=True)), pauses  # jittered


# ----- promotion and start -----


def test_a_promotion_texts_a_subscriber_who_joined_between_its_read_and_its_write(
    machine, store, rival, endpoints, notifier
) -> None:
    name = machine.start(PHONE_A).state.endpoint_name
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    store.arm(writing_state(State.IN_SERVICE), lambda: rival.start(PHONE_B))
    assert machine.on_endpoint_status(name, EndpointStatus.IN_SERVICE).endswith("queued 2 of 2 texts")
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_B]


def test_two_starts_at_once_create_one_endpoint_and_the_loser_is_subscribed(
    machine, store, rival, endpoints, pauses
) -> None:
    store.arm(writing_state(State.STARTING), lambda: rival.start(PHONE_B))
    result = machine.start(PHONE_A)
    assert not result.created and result.subscribed
    assert len(endpoints.created) == 1 and store.get().subscribers == (PHONE_B, PHONE_A)
    assert len(pauses) == 1


@pytest.mark.parametrize("settings", [make_settings(cooldown_minutes=0)])
def test_a_start_racing_a_start_that_failed_gets_an_endpoint_name_of_its_own(machine, store, rival, endpoints):
    """SageMaker keeps a deleted endpoint's name busy while it deletes: a start must never reuse a failed start's
    name, even when that start began and failed between this one's read and its write, in the same second (possible
    only without a cooldown after a failure)."""
    store.arm(writing_state(State.STARTING), rival.start_that_fails_at_once)
    assert machine.start(PHONE_A).created
    assert len(endpoints.created) == 2 and len(set(endpoints.created)) == 2
    assert store.get().state == State.STARTING and store.get().endpoint_name == endpoints.created[-1]


def test_a_start_racing_a_start_that_failed_waits_out_the_cooldown(machine, store, rival, endpoints) -> None:
    store.arm(writing_state(State.STARTING), rival.start_that_fails_at_once)
    with pytest.raises(CoolingDownError, match="The last start failed"):
        machine.start(PHONE_A)
    assert len(endpoints.created) == 1 and store.get().state == State.FAILED


def test_two_clicks_with_one_phone_at_once_both_say_it_will_be_texted(machine, store, rival) -> None:
    machine.start(PHONE_A)
    store.arm(subscribing, lambda: rival.start(PHONE_B))
    result = machine.start(PHONE_B)
    assert result.subscribed and not result.created
    assert store.get().subscribers == (PHONE_A, PHONE_B)


@pytest.mark.parametrize("settings", [make_settings(max_subscribers=2)])
def test_two_phones_taking_the_last_place_at_once_do_not_overfill_the_list(machine, store, rival) -> None:
    machine.start(PHONE_A)
    store.arm(subscribing, lambda: rival.start(PHONE_B))
    assert not machine.start(PHONE_C).subscribed
    assert store.get().subscribers == (PHONE_A, PHONE_B)


def test_a_waiting_start_is_created_once_when_its_leftovers_event_and_the_reconciler_resume_it_together(
    machine, store, rival, endpoints, clock
) -> None:
    endpoints.refuse_delete_while_creating = True
    leftover = machine.start().state.endpoint_name
    machine.on_endpoint_status(leftover, EndpointStatus.FAILED, "Read timeout on endpoint URL")  # still Creating
    clock.advance(minutes=machine.settings.cooldown_minutes)
    name = machine.start(PHONE_A).state.endpoint_name
    assert store.get().waiting_for == leftover and endpoints.created == [leftover]
    endpoints.set_status(leftover, EndpointStatus.IN_SERVICE)  # it settled
    store.arm(writing_field("waiting_for"), rival.reconcile)
    machine.on_endpoint_status(leftover, EndpointStatus.IN_SERVICE)
    assert store.raced == 1
    assert endpoints.created == [leftover, name]  # the reconciler created it; the event did not again
    assert store.get().state == State.STARTING and store.get().waiting_for is None


# ----- extend and the notice -----


def test_an_extend_that_loses_to_a_later_extend_never_moves_the_deadline_back(
    machine, store, rival, endpoints, clock, scheduler
) -> None:
    name = promote(machine, endpoints)
    clock.advance(minutes=10)
    rival.predict()

    def two_minutes_later_another_extend() -> None:
        clock.advance(minutes=2)
        rival.extend()

    store.arm(writing_field("expires_at"), two_minutes_later_another_extend)
    machine.extend()
    assert store.raced == 1 and expires_in(store, clock, 30)
    assert scheduler.schedules[f"teardown-{name}"][0] == store.get().expires_at


def test_an_extend_that_loses_its_write_to_a_prediction_still_extends(machine, store, rival, endpoints, clock):
    promote(machine, endpoints)
    clock.advance(minutes=10)
    rival.predict()
    clock.advance(minutes=2)
    store.arm(writing_field("expires_at"), rival.predict)
    assert machine.extend().state.expires_at == clock() + timedelta(minutes=30)
    assert store.raced == 1 and expires_in(store, clock, 30)


def notices(notifier) -> list[str]:
    return [phone for phone, message in notifier.sent if message.startswith(NOTICE_PREFIX)]


def test_two_firings_of_the_notice_at_once_text_each_subscriber_once(machine, store, rival, endpoints, clock, notifier):
    name = promote(machine, endpoints, PHONE_A)
    clock.advance(minutes=25)
    store.arm(writing_field("notice_sent_at"), lambda: rival.send_notice(name))
    assert machine.send_notice(name) == "skipped: the notice was already sent"
    assert notices(notifier) == [PHONE_A]


def test_a_notice_that_read_the_old_deadline_says_nothing_after_an_extend(
    machine, store, rival, endpoints, clock, notifier
) -> None:
    name = promote(machine, endpoints, PHONE_A)
    clock.advance(minutes=25)
    rival.predict()
    store.arm(writing_field("notice_sent_at"), rival.extend)
    assert machine.send_notice(name).startswith("skipped: not due")
    assert notices(notifier) == [] and store.get().notice_sent_at is None


def test_a_notice_that_loses_its_write_to_a_prediction_is_still_sent(machine, store, rival, endpoints, clock, notifier):
    name = promote(machine, endpoints, PHONE_A)
    clock.advance(minutes=25)
    store.arm(writing_field("notice_sent_at"), rival.predict)
    assert machine.send_notice(name).startswith("notice sent")
    assert notices(notifier) == [PHONE_A]


class TestSixtyLostWrites:
    """Races every time, up to the bound on write attempts: on the in-memory store with DynamoDB's conditional writes
    (the lifecycle model's), as moto takes half a minute over sixty rounds."""

    @pytest.fixture
    def store(self, clock) -> RacingStore:
        return RacingStore(InMemoryStateStore(clock, FaultPlan()))

    def test_a_teardown_that_never_wins_its_write_fails_so_the_schedule_retries_it(
        self, machine, store, rival, endpoints, clock
    ) -> None:
        name = promote(machine, endpoints, PHONE_A)
        clock.advance(minutes=30)
        store.arm(writing_state(State.STOPPING), a_prediction_a_minute_later(rival, clock), times=1000)
        with pytest.raises(ConflictError, match="keeps changing"):
            machine.teardown(name)
        assert store.get().state == State.IN_SERVICE and endpoints.deleted == []

    @pytest.mark.parametrize("settings", [make_settings(cooldown_minutes=0)])
    def test_a_start_that_never_wins_its_write_answers_409(self, handlers, store, rival, event) -> None:
        """Every time, another start begins and fails between this start's read and its write."""
        store.arm(writing_state(State.STARTING), rival.start_that_fails_at_once, times=1000)
        status, body, _ = invoke(handlers.api, event("apigw_start"), {})
        assert (status, body["error"]) == (409, "conflict")
