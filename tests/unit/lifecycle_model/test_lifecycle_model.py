"""A model-based test of the endpoint lifecycle: hypothesis drives users and a faulty AWS against the real
lifecycle (every room, wired by bootstrap), and after every step checks what we promise, whatever fails: never two
endpoints, no endpoint
billing past expires_at plus one reconciler period plus the delete time, the item agreeing with SageMaker after a
reconciler run, at most one "ready" text per phone per start, and a FAILED start that can be started again; the
"stops soon" notice at most once per phone per start, only while IN_SERVICE and never before the current deadline
(extends included) minus NOTICE_MINUTES; no phone number kept once the item is STOPPED or FAILED.

The environment may deliver SageMaker's events twice, late, out of order or never; fail create_endpoint (capacity,
or a timeout after SageMaker made it), delete_endpoint (throttling, or SageMaker's refusal while Creating), the
teardown schedule or an SMS; fire a schedule up to 60 s early or late; report InService before the model answers;
lose a schedule; crash a handler right after any port call (Lambda then retries events and schedules); advance the
clock (schedules fire, the reconciler runs every period, deleted endpoints disappear); run the reconciler at any
time. Also checked: never a "ready" text before a prediction succeeded, a teardown schedule firing for the current
expires_at always tears down (early or late) and one for an extended expires_at never does, and no DeleteEndpoint
refusal escapes a handler (each caller keeps its intent for a later run).

HYPOTHESIS_PROFILE=long runs the long profile (outside CI); the default is the CI profile (>= 500 examples).
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from ondemand.bootstrap import bootstrap
from ondemand.domain import (
    LIVE_STATES,
    ConflictError,
    EndpointError,
    EndpointNotDeletableError,
    EndpointStatus,
    ModelNotReadyError,
    State,
    iso,
)
from ondemand.lifecycle.reconciler import CREATE_GRACE
from ondemand.lifecycle.schedules import NOTICE_KIND
from ondemand.ports import Adapters

from tests.lifecycle_driver import LifecycleDriver
from tests.settings_factory import make_settings
from tests.unit.lifecycle_model.simulated_ports import (
    DELETE_TIME,
    FAULT_KINDS,
    FaultPlan,
    HandlerCrash,
    InMemoryStateStore,
    SimulatedNotifier,
    SimulatedSageMaker,
    SimulatedScheduler,
)

RECONCILER_PERIOD = timedelta(minutes=5)  # template.yaml: rate(5 minutes)
RETRY_DELAY = timedelta(minutes=1)  # Lambda's async retry and Scheduler's retry policy, roughly
SETTINGS = make_settings(
    endpoint_name_prefix="ondemand-sentiment",
    keep_alive_minutes=30,
    hard_cap_minutes=240,
    starting_timeout_minutes=20,
    max_subscribers=20,
    history_limit=50,
    notice_minutes=5,
    # The budget, cooldown and idle teardown have their own tests (tests/unit/lifecycle, tests/unit/attacker); here
    # they are out of the way, so this model keeps checking exactly-once under faults.
    gpu_minutes_per_day=1440,
    cooldown_minutes=0,
    idle_minutes=240,
    sms_country_codes=("+1", "+44"),
)
STARTING_TIMEOUT = timedelta(minutes=SETTINGS.starting_timeout_minutes)
READY_PREFIX = "Your sentiment model is ready"
NOTICE_PREFIX = "Your sentiment model stops at"
NOTICE = timedelta(minutes=SETTINGS.notice_minutes)
# Scheduler fires an at() schedule anywhere in its minute: the faults fire schedules up to this early or late.
SCHEDULE_PRECISION = timedelta(seconds=60)
PHONES = [None, "+12025550100", "+12025550101", "+442079460123"]

PROFILES = {
    "ci": settings(max_examples=1000, stateful_step_count=60),
    "long": settings(max_examples=20_000, stateful_step_count=80),
}
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

# What the whole run did, for the summary the conftest prints.
TOTALS: Counter[str] = Counter()


class LifecycleUnderFaults(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        self.faults = FaultPlan()
        self.store = InMemoryStateStore(lambda: self.now, self.faults, SETTINGS.history_limit)
        self.sagemaker = SimulatedSageMaker(lambda: self.now, self.faults)
        self.scheduler = SimulatedScheduler(self.faults)
        self.notifier = SimulatedNotifier(self.store, self.faults, self.sagemaker)
        # A key for the consent tokens the driver's starts carry (the subscribers' confirmations).
        adapters = Adapters(self.store, self.sagemaker, self.scheduler, self.notifier, consent_key=lambda: b"key")
        self.lifecycle = LifecycleDriver(bootstrap(SETTINGS, adapters, now=lambda: self.now, sleep=lambda _: None))
        self.events: list[tuple[str, EndpointStatus, str | None]] = []
        self.next_reconcile = self.now + RECONCILER_PERIOD
        self.crash_next_after: int | None = None
        self.unowned_since: dict[str, datetime] = {}
        self.provisioned: set[str] = set()
        self.fired: list[dict] = []
        """Payloads of schedules that fired: EventBridge Scheduler delivers at least once, so any may fire again."""
        TOTALS["examples"] += 1

    def teardown(self) -> None:
        TOTALS.update(self.faults.injected)
        TOTALS.update(f"transition {t.from_state.value} -> {t.to_state.value}" for t in self.store.item.history)
        TOTALS["ready texts"] += sum(message.startswith(READY_PREFIX) for _, _, message in self.notifier.sent)
        TOTALS["notice texts"] += sum(message.startswith(NOTICE_PREFIX) for _, _, message in self.notifier.sent)

    # ----- running handlers -----

    def run_handler(self, call, *, safety_net: bool = False):
        """One Lambda invocation; a crash ends it where it happened, like a killed process."""
        TOTALS["handler invocations"] += 1
        self.faults.safety_net = safety_net
        self.faults.begin_invocation(self.crash_next_after)
        self.crash_next_after = None
        try:
            return call()
        except EndpointNotDeletableError as exc:
            raise AssertionError(f"a DeleteEndpoint refusal escaped the handler instead of waiting: {exc}") from exc
        finally:
            self.faults.safety_net = False
            self.faults.crash_after_calls = None

    def periodic_reconcile(self) -> None:
        """The rate(5 minutes) reconciler: the safety net, assumed to run (faults wait for the next handler)."""
        self.run_handler(self.lifecycle.reconcile, safety_net=True)
        TOTALS["timed reconciler runs"] += 1
        self.check_converged()

    # ----- what users do -----

    @rule(phone=st.sampled_from(PHONES))
    def start(self, phone: str | None) -> None:
        before = self.store.item
        clean = self.crash_next_after is None and not any(
            self.faults.armed[kind] for kind in ("create_capacity", "create_timeout", "delete_throttle")
        )
        try:
            result = self.run_handler(lambda: self.lifecycle.start(phone))
        except HandlerCrash:
            return
        except ConflictError:
            assert before.state == State.STOPPING, f"start refused while {before.state.value}"
            return
        except EndpointError:
            assert not clean, "a start failed with no fault injected"
            return
        if before.state in (State.STOPPED, State.FAILED) and clean:
            assert result.created, f"a start from {before.state.value} did not create an endpoint"
            name = result.state.endpoint_name
            waiting = self.store.item.waiting_for in self.sagemaker.refusing_deletes()  # created once that settles
            assert waiting or name in self.sagemaker.billing(), f"a start from {before.state.value} left no {name}"

    @rule(action=st.sampled_from(["predict", "predict", "extend", "extend", "stop"]))
    def use_the_model(self, action: str) -> None:
        """What users and the admin do with a running model: predict, extend it, or stop it (the admin key)."""
        item = self.store.item
        if action == "extend":
            with contextlib.suppress(HandlerCrash, ConflictError):
                self.run_handler(self.lifecycle.extend)
        elif action == "stop":
            with contextlib.suppress(HandlerCrash, ConflictError, EndpointError):
                self.run_handler(self.lifecycle.stop)
        else:
            try:
                answer = self.run_handler(lambda: self.lifecycle.predict(["great film"]))
            except HandlerCrash:
                return
            except ModelNotReadyError:
                assert item.state != State.IN_SERVICE, "predict said not ready while IN_SERVICE"
                return
            except EndpointError:  # a 502, fair only while the item's endpoint is not InService (drift)
                endpoint = self.sagemaker.endpoints.get(item.endpoint_name or "")
                assert endpoint is None or endpoint.status != EndpointStatus.IN_SERVICE, "predict failed on InService"
                return
            assert item.state == State.IN_SERVICE and len(answer["predictions"]) == 1

    # ----- what SageMaker and EventBridge do -----

    @precondition(lambda self: self.sagemaker.creating())
    @rule(data=st.data(), ok=st.sampled_from([True, True, True, False]))
    def sagemaker_finishes_provisioning(self, data: st.DataObject, ok: bool) -> None:
        name = data.draw(st.sampled_from(self.sagemaker.creating()), label="endpoint")
        self.sagemaker.finish_provisioning(name, ok)
        status = EndpointStatus.IN_SERVICE if ok else EndpointStatus.FAILED
        self.events.append((name, status, None if ok else "CapacityError: unable to provision"))

    @precondition(lambda self: self.sagemaker.loading())
    @rule(data=st.data())
    def model_finishes_loading(self, data: st.DataObject) -> None:
        """The model behind an InService endpoint starts answering (SageMaker sends no event for that)."""
        name = data.draw(st.sampled_from(self.sagemaker.loading()), label="endpoint")
        self.sagemaker.endpoints[name].loading = False

    @precondition(lambda self: self.events)
    @rule(data=st.data(), again=st.booleans())
    def deliver_event(self, data: st.DataObject, again: bool) -> None:
        """Any pending event, not only the oldest (out of order); `again` delivers it and keeps it (a duplicate)."""
        index = data.draw(st.integers(0, len(self.events) - 1), label="event")
        event = self.events[index] if again else self.events.pop(index)
        if again:
            TOTALS["duplicate events"] += 1
        if index != 0:
            TOTALS["out-of-order events"] += 1
        try:
            self.run_handler(lambda: self.lifecycle.on_endpoint_status(*event))
        except HandlerCrash:
            if not again:
                self.events.append(event)  # Lambda retries an async invocation that failed

    @precondition(lambda self: set(self.sagemaker.billing()) - self.sagemaker.refusing_deletes())
    @rule(data=st.data())
    def someone_deletes_the_endpoint(self, data: st.DataObject) -> None:
        """Drift from outside: an operator deletes the endpoint in the console (no event reaches us for it); SageMaker
        refuses them too while it refuses us."""
        deletable = set(self.sagemaker.billing()) - self.sagemaker.refusing_deletes()
        name = data.draw(st.sampled_from(sorted(deletable)), label="endpoint")
        endpoint = self.sagemaker.endpoints[name]
        endpoint.status, endpoint.gone_at = EndpointStatus.DELETING, self.now + DELETE_TIME
        TOTALS["endpoints deleted from outside"] += 1

    @precondition(lambda self: self.events)
    @rule(data=st.data())
    def lose_event(self, data: st.DataObject) -> None:
        self.events.pop(data.draw(st.integers(0, len(self.events) - 1), label="event"))
        TOTALS["lost events"] += 1

    @precondition(lambda self: self.scheduler.schedules)
    @rule(data=st.data())
    def lose_schedule(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.scheduler.schedules)), label="schedule")
        del self.scheduler.schedules[name]
        TOTALS["lost schedules"] += 1

    @rule(
        kind=st.sampled_from((*FAULT_KINDS, "crash", "none", "none", "none")),
        after_calls=st.integers(1, 6),
        offset_seconds=st.integers(-int(SCHEDULE_PRECISION.total_seconds()), int(SCHEDULE_PRECISION.total_seconds())),
    )
    def inject_fault(self, kind: str, after_calls: int, offset_seconds: int) -> None:
        """Arm a fault for the next call it applies to; a crash kills the next handler after `after_calls` calls;
        `schedule_early_late` makes every schedule from now on fire `offset_seconds` from its at().
        ("none" keeps faults rarer than the happy path, so runs reach InService and teardown often.)"""
        if kind == "none":
            return
        if kind == "schedule_early_late":
            self.faults.schedule_offset = timedelta(seconds=offset_seconds)
            return
        if kind == "crash":
            self.crash_next_after = after_calls
        elif self.faults.armed[kind] < 2:
            self.faults.armed[kind] += 1

    @precondition(lambda self: self.fired)
    @rule(data=st.data())
    def a_schedule_fires_again(self, data: st.DataObject) -> None:
        """A duplicate, late delivery of a schedule that already fired (possibly from before an extend)."""
        payload = data.draw(st.sampled_from(self.fired), label="schedule payload")
        TOTALS["schedules fired again"] += 1
        self.fire_teardown(payload)

    @precondition(lambda self: self.pending_notices())
    @rule()
    def an_extend_races_the_notice(self) -> None:
        """The notice's moment comes and Scheduler invokes it, but a user's extend lands first: the replaced
        schedule's invocation still runs once, now early for the new deadline."""
        at, payload = min(self.pending_notices(), key=lambda pending: pending[0])
        self.advance_to(max(self.now, at - timedelta(seconds=1)))
        with contextlib.suppress(HandlerCrash, ConflictError):
            self.run_handler(self.lifecycle.extend)
        self.now = max(self.now, at)
        TOTALS["extends racing the notice"] += 1
        self.fire_teardown(payload)

    def pending_notices(self) -> list[tuple[datetime, dict]]:
        return [(at, p) for at, p in self.scheduler.schedules.values() if p.get("kind") == NOTICE_KIND]

    @rule()
    def run_reconciler(self) -> None:
        """An extra run (a developer invokes it, or a delayed rate event); it meets the armed faults like any."""
        injected = sum(self.faults.injected.values())
        try:
            self.run_handler(self.lifecycle.reconcile)
        except (HandlerCrash, EndpointError, ConflictError):
            return
        if sum(self.faults.injected.values()) == injected:
            self.check_converged()

    @rule(seconds=st.sampled_from([1, 20, 90, 300, 600, 1800, 3600, 7200]))
    def advance_clock(self, seconds: int) -> None:
        """Time passes: deleted endpoints disappear, due schedules fire (retried after a crash), the reconciler
        runs every period; every invariant is checked at each of those moments."""
        self.advance_to(self.now + timedelta(seconds=seconds))

    def advance_to(self, target: datetime) -> None:
        self.deliver_pending_events()
        while True:
            moments = [m for m in (self.next_reconcile, self.scheduler.next_due(), self.sagemaker.next_removal()) if m]
            moment = min(moments)
            if moment > target:
                break
            self.now = max(self.now, moment)
            self.sagemaker.remove_deleted()
            for payload in self.scheduler.pop_due(self.now):
                self.fire_teardown(payload)
            if self.next_reconcile <= self.now:
                self.next_reconcile += RECONCILER_PERIOD
                self.periodic_reconcile()
            self.check_lifetimes()
        self.now = target
        self.sagemaker.remove_deleted()

    def deliver_pending_events(self) -> None:
        """EventBridge delivers within seconds: whatever is pending when time moves on arrives, oldest first."""
        while self.events:
            event = self.events.pop(0)
            try:
                self.run_handler(lambda event=event: self.lifecycle.on_endpoint_status(*event))
            except HandlerCrash:
                self.events.append(event)

    def fire_teardown(self, payload: dict) -> None:
        """A schedule fires its target, the teardown function: a teardown or (kind "notice") the stop notice. A teardown
        firing for the expires_at the item still holds must tear down, however early or late it came; one for an
        expires_at an extend replaced must change nothing."""
        self.fired.append(payload)
        name = payload["endpoint_name"]
        if payload.get("kind") == NOTICE_KIND:
            TOTALS["notice schedules fired"] += 1
            try:
                self.run_handler(lambda: self.lifecycle.send_notice(name))
            except HandlerCrash:
                retry = f"retry-{name}-{self.now.isoformat()}"
                self.scheduler.schedules[retry] = (self.now + RETRY_DELAY, payload)
            return
        TOTALS["teardown schedules fired"] += 1
        before = self.store.item
        holds = before.state == State.IN_SERVICE and before.endpoint_name == name and before.expires_at is not None
        current = holds and iso(before.expires_at) == payload["expires_at"]
        extended = holds and not current and before.expires_at > self.now
        if current and before.expires_at != self.now:
            TOTALS[f"teardown schedules fired {'early' if self.now < before.expires_at else 'late'}"] += 1
        scheduled_for = datetime.fromisoformat(payload["expires_at"])
        try:
            self.run_handler(lambda: self.lifecycle.teardown(name, scheduled_for))
        except HandlerCrash:
            retry = f"retry-{payload['endpoint_name']}-{self.now.isoformat()}"
            self.scheduler.schedules[retry] = (self.now + RETRY_DELAY, payload)
            return
        except EndpointError:
            pass  # throttled: the schedule is done, the reconciler finishes the teardown
        after = self.store.item
        still_up = after.state == State.IN_SERVICE and after.endpoint_name == name
        offset = (self.now - before.expires_at).total_seconds() if before.expires_at else 0
        assert not (current and still_up), f"the schedule for {name}'s expires_at fired {offset:+.0f} s off and left it"
        assert not extended or still_up, f"the old schedule of {name} stopped it although it was extended"

    # ----- invariants -----

    @invariant()
    def at_most_one_endpoint(self) -> None:
        billing = sorted(self.sagemaker.billing())
        assert len(billing) <= 1, f"{len(billing)} endpoints billing at once: {billing}"

    @invariant()
    def no_endpoint_outlives_its_bound(self) -> None:
        self.check_lifetimes()

    @invariant()
    def at_most_one_ready_text_per_phone_per_start(self) -> None:
        sent = self.notifier.sent
        ready = Counter((start, phone) for start, phone, message in sent if message.startswith(READY_PREFIX))
        twice = [key for key, count in ready.items() if count > 1]
        assert not twice, f"texted 'ready' more than once for (start, phone): {twice}"

    @invariant()
    def never_texted_ready_before_a_successful_invocation(self) -> None:
        unproven = [(s, p) for s, p, message in self.notifier.sent_before_an_answer if message.startswith(READY_PREFIX)]
        assert not unproven, f"texted 'ready' before the endpoint answered any prediction: {unproven}"

    @invariant()
    def at_most_one_notice_per_phone_per_start(self) -> None:
        sent = self.notifier.sent
        notices = Counter((start, phone) for start, phone, message in sent if message.startswith(NOTICE_PREFIX))
        twice = [key for key, count in notices.items() if count > 1]
        assert not twice, f"texted the stop notice more than once for (start, phone): {twice}"

    @invariant()
    def notices_go_out_only_in_service_and_when_due(self) -> None:
        """Each notice went out while the item was IN_SERVICE, no earlier than its deadline (as extended) - the notice
        than its current schedule can fire (within Scheduler's minute): a stale firing, made for a deadline an extend
        has since moved, never texts ahead of time."""
        for (_, phone, message), (item, at) in zip(self.notifier.sent, self.notifier.item_at_send, strict=True):
            if not message.startswith(NOTICE_PREFIX):
                continue
            assert item.state == State.IN_SERVICE, f"the stop notice to {phone} went out while {item.state.value}"
            due = item.expires_at - NOTICE if item.expires_at is not None else None
            assert due is not None and at >= due - SCHEDULE_PRECISION, (
                f"the stop notice to {phone} went out at {at:%H:%M:%S}, more than a minute before {due:%H:%M:%S}"
            )

    @invariant()
    def no_phone_is_kept_after_the_session(self) -> None:
        """Numbers are kept for the notice until STOPPED (or FAILED), and deleted then."""
        item = self.store.item
        if item.state in (State.STOPPED, State.FAILED):
            assert item.subscribers == (), f"the item is {item.state.value} but still holds {item.subscribers}"

    def check_lifetimes(self) -> None:
        """No endpoint exists past: expires_at (IN_SERVICE), the starting timeout (STARTING), or the moment it
        stopped being the item's (anything else), plus one reconciler period plus the delete time."""
        item = self.store.item
        slack = RECONCILER_PERIOD + DELETE_TIME
        for name, endpoint in self.sagemaker.endpoints.items():
            owned = item.state in LIVE_STATES and item.endpoint_name == name
            if owned and item.state == State.IN_SERVICE and item.expires_at is not None:
                bound, why = item.expires_at + slack, f"expires_at {item.expires_at:%H:%M:%S}"
            elif owned and item.state == State.STARTING:
                bound, why = endpoint.created_at + STARTING_TIMEOUT + slack, "the starting timeout"
            elif name in self.sagemaker.refusing_deletes():
                continue  # SageMaker refuses to delete it until it leaves Creating: nobody can stop it sooner
            else:
                since = self.unowned_since.setdefault(name, item.since if owned else self.now)
                if endpoint.delete_locked and endpoint.settled_at is not None:
                    since = max(since, endpoint.settled_at)  # deletable only from then
                bound, why = since + slack, f"{'STOPPING' if owned else 'orphaned'} since {since:%H:%M:%S}"
            if owned and item.state != State.STOPPING:
                self.unowned_since.pop(name, None)
            assert self.now <= bound, f"{name} ({endpoint.status.value}) still exists {self.now - bound} after {why}"

    def check_converged(self) -> None:
        """Right after a reconciler run, the item says what SageMaker says."""
        item = self.store.item
        billing = self.sagemaker.billing()
        owned = item.endpoint_name if item.state in LIVE_STATES else None
        refusing = self.sagemaker.refusing_deletes()  # SageMaker will not delete these yet
        strays = sorted(set(billing) - {owned} - refusing)
        assert not strays, f"after the reconciler the item is {item.state.value} but {strays} still bill"
        assert item.state != State.STOPPING or owned in refusing, "after the reconciler the item is still STOPPING"
        if item.state == State.STARTING:
            if owned in billing:
                loading = billing[owned].status == EndpointStatus.IN_SERVICE and billing[owned].loading
                assert billing[owned].status == EndpointStatus.CREATING or loading, (
                    f"after the reconciler the item is STARTING but SageMaker says {billing[owned].status.value}"
                )
            elif item.waiting_for not in refusing:
                assert self.now - item.since <= CREATE_GRACE, (
                    f"after the reconciler the item is STARTING {owned}, which SageMaker does not have "
                    f"(for {self.now - item.since})"
                )
        if item.state == State.IN_SERVICE:
            assert owned in billing and billing[owned].status == EndpointStatus.IN_SERVICE, (
                f"after the reconciler the item is IN_SERVICE but SageMaker has {owned}: {billing.get(owned)}"
            )


TestLifecycleUnderFaults = LifecycleUnderFaults.TestCase
TestLifecycleUnderFaults.settings = settings(
    PROFILES[PROFILE],
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
