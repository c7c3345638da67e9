"""A second writer between the lifecycle's read and its conditional write: the write that read a stale item loses,
re-reads and decides again, so an extend made meanwhile is not undone, a subscriber who joined meanwhile is
texted, a use recorded meanwhile does not stop a teardown, and nothing is created or texted twice.

`RacingStore` wraps the state store: just before the write it is armed for, it lets a rival (another caller on the
same table) act, then the write goes on and wins or loses as DynamoDB decides."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from ondemand.bootstrap import Service, bootstrap
from ondemand.domain import ConflictError, EndpointError, EndpointStatus, State
from ondemand.handlers import api

from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A, PHONE_B, PHONE_C
from tests.unit.lifecycle.test_lifecycle_api import invoke
from tests.unit.lifecycle.test_lifecycle_budget import promote
from tests.unit.lifecycle_model.simulated_ports import FaultPlan, InMemoryStateStore

NOTICE_PREFIX = "Your sentiment model stops at"
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


def writing_state(state: State) -> Condition:
    return lambda kind, details: kind == "transition" and details["to"] == state


def writing_field(name: str) -> Condition:
    return lambda kind, details: kind == "update" and name in details


@pytest.fixture
def racing(store) -> RacingStore:
    return RacingStore(store)


@pytest.fixture
def pauses() -> list[float]:
    """What the raced caller slept: its backoff after each lost write (texts pace at a whole second)."""
    return []


@pytest.fixture
def raced(racing: RacingStore, adapters, settings, clock, pauses) -> Service:
    """The caller whose writes the rival races."""
    return bootstrap(settings, dataclasses.replace(adapters, store=racing), now=clock, sleep=pauses.append)


@pytest.fixture
def rival(service: Service) -> Any:
    """Another caller (another Lambda) on the same table, unraced."""
    return service.lifecycle


def a_prediction_a_minute_later(rival: Any, clock) -> Callable[[], None]:
    """A rival's writes: a minute passes and someone predicts, which records the use."""

    def act() -> None:
        clock.advance(minutes=1)
        rival.predict(["still here"])

    return act


def a_start_that_fails_at_once(rival: Any, endpoints) -> Callable[[], None]:
    """A rival's writes: a start whose CreateEndpoint is refused at once (STARTING, then FAILED)."""

    def act() -> None:
        endpoints.fail_create = "ResourceLimitExceeded: no ml.g4dn.xlarge capacity"
        with pytest.raises(EndpointError):
            rival.start()
        endpoints.fail_create = None

    return act


def expires_in(store, clock, minutes: float) -> bool:
    return store.get().expires_at == clock() + timedelta(minutes=minutes)


# ----- teardown -----


def test_a_teardown_that_read_the_old_expiry_does_not_stop_a_model_someone_just_extended(
    racing, raced, rival, store, endpoints, clock
) -> None:
    name = promote(rival, endpoints, PHONE_A)
    clock.advance(minutes=30)  # expires_at: the teardown is due
    rival.predict(["still reading"])
    racing.arm(writing_state(State.STOPPING), rival.extend)
    assert raced.lifecycle.teardown(name).startswith("skipped")
    assert racing.raced == 1
    assert store.get().state == State.IN_SERVICE and expires_in(store, clock, 30)
    assert endpoints.deleted == []


def test_a_teardown_that_loses_its_write_to_a_prediction_still_tears_down(
    racing, raced, rival, store, endpoints, clock, pauses
) -> None:
    name = promote(rival, endpoints, PHONE_A)
    clock.advance(minutes=30)
    racing.arm(writing_state(State.STOPPING), lambda: rival.predict(["one more"]))
    assert raced.lifecycle.teardown(name) == "torn down"
    assert store.get().state == State.STOPPED and endpoints.deleted == [name]
    assert len(pauses) == 1 and 0 < pauses[0] < 0.01  # it backed off before trying again


def test_a_teardown_losing_write_after_write_backs_off_a_little_longer_each_time_and_wins(
    racing, raced, rival, store, endpoints, clock, pauses
) -> None:
    """Eight predictions a minute apart each land between the teardown's read and its write."""
    name = promote(rival, endpoints, PHONE_A)
    clock.advance(minutes=30)
    racing.arm(writing_state(State.STOPPING), a_prediction_a_minute_later(rival, clock), times=8)
    assert raced.lifecycle.teardown(name) == "torn down"
    assert racing.raced == 8 and endpoints.deleted == [name]
    ceilings = [0.01 * (attempt + 1) for attempt in range(8)]
    assert len(pauses) == 8
    assert all(0 < pause < ceiling for pause, ceiling in zip(pauses, ceilings, strict=True)), pauses  # jittered


# ----- promotion and start -----


def test_a_promotion_texts_a_subscriber_who_joined_between_its_read_and_its_write(
    racing, raced, rival, endpoints, notifier
) -> None:
    name = rival.start(PHONE_A).state.endpoint_name
    endpoints.set_status(name, EndpointStatus.IN_SERVICE)
    racing.arm(writing_state(State.IN_SERVICE), lambda: rival.start(PHONE_B))
    assert raced.lifecycle.on_endpoint_status(name, EndpointStatus.IN_SERVICE).endswith("texted 2 of 2")
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_B]


def test_two_starts_at_once_create_one_endpoint_and_the_loser_is_subscribed(
    racing, raced, rival, store, endpoints, pauses
) -> None:
    racing.arm(writing_state(State.STARTING), lambda: rival.start(PHONE_B))
    result = raced.lifecycle.start(PHONE_A)
    assert not result.created and result.subscribed
    assert len(endpoints.created) == 1 and store.get().subscribers == (PHONE_B, PHONE_A)
    assert len(pauses) == 1


def test_a_start_racing_a_start_that_failed_gets_an_endpoint_name_of_its_own(
    racing, raced, rival, store, endpoints
) -> None:
    """SageMaker keeps a deleted endpoint's name busy while it deletes: a start must never reuse a failed start's
    name, even when that start began and failed between this one's read and its write, in the same second."""
    racing.arm(writing_state(State.STARTING), a_start_that_fails_at_once(rival, endpoints))
    assert raced.lifecycle.start(PHONE_A).created
    assert len(endpoints.created) == 2 and len(set(endpoints.created)) == 2
    assert store.get().state == State.STARTING and store.get().endpoint_name == endpoints.created[-1]


def test_two_clicks_with_one_phone_at_once_both_say_it_will_be_texted(racing, raced, rival, store) -> None:
    rival.start(PHONE_A)
    racing.arm(lambda kind, details: kind == "add_subscriber", lambda: rival.start(PHONE_B))
    result = raced.lifecycle.start(PHONE_B)
    assert result.subscribed and not result.created
    assert store.get().subscribers == (PHONE_A, PHONE_B)


@pytest.mark.parametrize("settings", [make_settings(max_subscribers=2)])
def test_two_phones_taking_the_last_place_at_once_do_not_overfill_the_list(racing, raced, rival, store) -> None:
    rival.start(PHONE_A)
    racing.arm(lambda kind, details: kind == "add_subscriber", lambda: rival.start(PHONE_B))
    assert not raced.lifecycle.start(PHONE_C).subscribed
    assert store.get().subscribers == (PHONE_A, PHONE_B)


def test_a_waiting_start_is_created_once_when_its_leftovers_event_and_the_reconciler_resume_it_together(
    racing, raced, rival, store, endpoints
) -> None:
    endpoints.refuse_delete_while_creating = True
    leftover = rival.start().state.endpoint_name
    rival.on_endpoint_status(leftover, EndpointStatus.FAILED, "Read timeout on endpoint URL")  # still Creating
    name = rival.start(PHONE_A).state.endpoint_name
    assert store.get().waiting_for == leftover and endpoints.created == [leftover]
    endpoints.set_status(leftover, EndpointStatus.IN_SERVICE)  # it settled
    racing.arm(writing_field("waiting_for"), rival.reconcile)
    raced.lifecycle.on_endpoint_status(leftover, EndpointStatus.IN_SERVICE)
    assert racing.raced == 1
    assert endpoints.created == [leftover, name]  # the reconciler created it; the event did not again
    assert store.get().state == State.STARTING and store.get().waiting_for is None


# ----- extend and the notice -----


def test_an_extend_that_loses_to_a_later_extend_never_moves_the_deadline_back(
    racing, raced, rival, store, endpoints, clock, scheduler
) -> None:
    name = promote(rival, endpoints)
    clock.advance(minutes=10)
    rival.predict(["reading"])

    def two_minutes_later_another_extend() -> None:
        clock.advance(minutes=2)
        rival.extend()

    racing.arm(writing_field("expires_at"), two_minutes_later_another_extend)
    raced.lifecycle.extend()
    assert expires_in(store, clock, 30)
    assert scheduler.schedules[f"teardown-{name}"][0] == store.get().expires_at


def test_an_extend_that_loses_its_write_to_a_prediction_still_extends(
    racing, raced, rival, store, endpoints, clock
) -> None:
    promote(rival, endpoints)
    clock.advance(minutes=10)
    rival.predict(["reading"])
    clock.advance(minutes=2)
    racing.arm(writing_field("expires_at"), lambda: rival.predict(["still reading"]))
    assert raced.lifecycle.extend().state.expires_at == clock() + timedelta(minutes=30)
    assert racing.raced == 1 and expires_in(store, clock, 30)


def notices(notifier) -> list[str]:
    return [phone for phone, message in notifier.sent if message.startswith(NOTICE_PREFIX)]


def test_two_firings_of_the_notice_at_once_text_each_subscriber_once(racing, raced, rival, endpoints, clock, notifier):
    name = promote(rival, endpoints, PHONE_A)
    clock.advance(minutes=25)
    racing.arm(writing_field("notice_sent_at"), lambda: rival.send_notice(name))
    assert raced.lifecycle.send_notice(name) == "skipped: the notice was already sent"
    assert notices(notifier) == [PHONE_A]


def test_a_notice_that_read_the_old_deadline_says_nothing_after_an_extend(
    racing, raced, rival, store, endpoints, clock, notifier
) -> None:
    name = promote(rival, endpoints, PHONE_A)
    clock.advance(minutes=25)
    rival.predict(["reading"])
    racing.arm(writing_field("notice_sent_at"), rival.extend)
    assert raced.lifecycle.send_notice(name).startswith("skipped: not due")
    assert notices(notifier) == [] and store.get().notice_sent_at is None


def test_a_notice_that_loses_its_write_to_a_prediction_is_still_sent(racing, raced, rival, endpoints, clock, notifier):
    name = promote(rival, endpoints, PHONE_A)
    clock.advance(minutes=25)
    racing.arm(writing_field("notice_sent_at"), lambda: rival.predict(["reading"]))
    assert raced.lifecycle.send_notice(name).startswith("notice sent")
    assert notices(notifier) == [PHONE_A]


class TestSixtyLostWrites:
    """Races every time, up to the bound on write attempts: on the in-memory store with DynamoDB's conditional writes
    (the lifecycle model's), as moto takes half a minute over sixty rounds."""

    @pytest.fixture
    def store(self, clock) -> InMemoryStateStore:
        return InMemoryStateStore(clock, FaultPlan())

    def test_a_teardown_that_never_wins_its_write_fails_so_the_schedule_retries_it(
        self, racing, raced, rival, store, endpoints, clock
    ) -> None:
        name = promote(rival, endpoints, PHONE_A)
        clock.advance(minutes=30)
        racing.arm(writing_state(State.STOPPING), a_prediction_a_minute_later(rival, clock), times=1000)
        with pytest.raises(ConflictError, match="keeps changing"):
            raced.lifecycle.teardown(name)
        assert store.get().state == State.IN_SERVICE and endpoints.deleted == []

    def test_a_start_that_never_wins_its_write_answers_409(self, racing, raced, rival, endpoints, event) -> None:
        """Every time, another start begins and fails between this start's read and its write."""
        racing.arm(writing_state(State.STARTING), a_start_that_fails_at_once(rival, endpoints), times=1000)
        status, body, _ = invoke(api.make_handler(raced), event("apigw_start"), {})
        assert (status, body["error"]) == (409, "conflict")
