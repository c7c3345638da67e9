"""The attacker test: hypothesis plays anyone on the internet against the real lifecycle for 30 simulated days.

The real API handler, the lifecycle's rooms, DynamoStateStore and DynamoRateLimiter run on moto's DynamoDB with a
fake clock; SageMaker, the scheduler and the SMS provider are fakes that bill, fire and record in simulated time. The
attacker has unlimited addresses and phone numbers (any country, any spelling, a victim's number spelled many ways)
and any call pattern the stage throttle allows: hypothesis picks, per day, how often it calls /start and with how
big a burst, how often it predicts and extends, and how the environment fails (CreateEndpoint refused at once, or
the endpoint failing after provisioning). Calls more often than once a minute change nothing the minute-grained
rules do not already see, so the attacker acts on a minute grid plus at the exact moments a 429's Retry-After
names (when the cooldown or the day's budget ends), which is where an every-second attacker would win.

After each simulated month it asserts what the owner was promised: GPU minutes per UTC day <= GPU_MINUTES_PER_DAY
(billed from CreateEndpoint to DeleteEndpoint), texts per day <= SMS_PER_DAY and per number <= the per-number cap,
no text outside the allowlist, and no text to a caller for its own request's failure. The worst month in dollars
is printed beside always-on (tests/unit/attacker/conftest.py).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from ondemand.adapters.dynamodb import DynamoStateStore
from ondemand.adapters.rate_limit import DynamoRateLimiter
from ondemand.bootstrap import bootstrap
from ondemand.budget import seconds_by_day
from ondemand.consent import new_token
from ondemand.domain import PUBLIC_MESSAGES, EndpointError, EndpointInfo, EndpointStatus, SendResult
from ondemand.handlers import api
from ondemand.phones import is_allowed, normalize_phone
from ondemand.ports import Adapters

from tests.conftest import create_table_from_template, load_event
from tests.lifecycle_driver import LifecycleDriver
from tests.settings_factory import make_settings
from tests.unit.lifecycle_model.simulated_ports import FaultPlan, InMemoryStateStore

DAYS = 30
HOURLY_USD = 0.7364  # ml.g4dn.xlarge on-demand, us-east-1
RECONCILER_PERIOD = timedelta(minutes=5)
SETTINGS = make_settings(  # what template.yaml deploys
    rate_limit_table_name="attacker-rates",
    start_limit_per_phone=3,
    start_limit_per_client=10,
    start_limit_window_seconds=3600,
    gpu_minutes_per_day=240,
    min_run_minutes=15,
    cooldown_minutes=5,
    idle_minutes=15,
    sms_country_codes=("+1",),
    sms_per_day=100,
    sms_per_number_per_day=5,
    sms_provider="sns",
)
CONSENT_KEY = b"attacker-test-consent-key"
"""The key of the codes and confirmations (the pepper on AWS): the attacker never has it; the callers of the failing-
starts scenario confirmed their own numbers with it."""
VICTIM_SPELLINGS = [
    "+12025550100",
    "+1 202 555 0100",
    "001-202-555-0100",
    "+1 (202) 555-0100",
    "\uff0b\uff11\uff12\uff10\uff12\uff15\uff15\uff15\uff10\uff11\uff10\uff10",
]
COUNTRY_CODES = ["1", "1", "44", "7", "234", "225", "881", "882", "960", "1876"]
WORST: dict[str, float] = {}
"""The worst simulated month: GPU hours and dollars (the conftest prints it)."""
TOTALS: Counter[str] = Counter()


@dataclass(frozen=True)
class DayPlan:
    """What the attacker does on one day, and how AWS fails that day."""

    start_every_minutes: int
    burst: int
    phone_mix: str  # "none" | "victim" | "random" | "mixed"; "fresh": a new allowed number every call (not drawn)
    predict_every_minutes: int | None
    extend_every_minutes: int | None
    create_fails: str  # "never" | "at_once" | "after_provisioning" | "sometimes"
    provisioning_minutes: int


day_plans = st.builds(
    DayPlan,
    start_every_minutes=st.sampled_from([1, 5, 30, 120]),
    burst=st.integers(1, 20),
    phone_mix=st.sampled_from(["none", "victim", "random", "mixed"]),
    predict_every_minutes=st.sampled_from([1, 3, 14, None]),
    extend_every_minutes=st.sampled_from([1, 5, 29, None]),
    create_fails=st.sampled_from(["never", "never", "at_once", "after_provisioning", "sometimes"]),
    provisioning_minutes=st.integers(3, 20),
)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current


@dataclass
class SimulatedSageMaker:
    """Bills from create() to delete(); an endpoint becomes InService (or Failed) after provisioning."""

    clock: Clock
    plan: DayPlan | None = None
    rng: random.Random = field(default_factory=random.Random)
    create_error_code: str = "access_denied"
    endpoints: dict[str, EndpointInfo] = field(default_factory=dict)
    ready_at: dict[str, tuple[datetime, EndpointStatus]] = field(default_factory=dict)
    billing: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    open_bill: dict[str, int] = field(default_factory=dict)

    def create(self, name: str) -> None:
        assert self.plan is not None
        mode = self.plan.create_fails
        if mode == "at_once" or (mode == "sometimes" and self.rng.random() < 0.5):
            raise EndpointError(
                f"CreateEndpoint {name}: AccessDeniedException: User arn:aws:sts::210987654321:x",
                self.create_error_code,
            )
        self.endpoints[name] = EndpointInfo(name, EndpointStatus.CREATING)
        outcome = EndpointStatus.FAILED if mode == "after_provisioning" else EndpointStatus.IN_SERVICE
        self.ready_at[name] = (self.clock() + timedelta(minutes=self.plan.provisioning_minutes), outcome)
        self.open_bill[name] = len(self.billing)
        self.billing.append((self.clock(), None))

    def describe(self, name: str) -> EndpointInfo | None:
        return self.endpoints.get(name)

    def delete(self, name: str) -> None:
        self.endpoints.pop(name, None)
        self.ready_at.pop(name, None)
        if name in self.open_bill:
            index = self.open_bill.pop(name)
            self.billing[index] = (self.billing[index][0], self.clock())

    def list(self, prefix: str) -> list[EndpointInfo]:
        return [e for n, e in self.endpoints.items() if n.startswith(prefix)]

    def invoke(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self.endpoints.get(name, EndpointInfo(name, EndpointStatus.FAILED)).status != EndpointStatus.IN_SERVICE:
            raise EndpointError(f"{name} is not in service", "endpoint_error")
        return {
            "predictions": [{"label": "POSITIVE", "label_id": 1, "prob": 0.9} for _ in payload["texts"]],
            "model": "fake",
        }


@dataclass
class SimulatedScheduler:
    schedules: dict[str, tuple[datetime, dict[str, Any]]] = field(default_factory=dict)

    def schedule(self, name: str, at: datetime, payload: dict[str, Any]) -> None:
        self.schedules[name] = (at, payload)

    def cancel(self, name: str) -> None:
        self.schedules.pop(name, None)


@dataclass
class RecordingSms:
    clock: Clock
    sent: list[tuple[datetime, str, str, str | None]] = field(default_factory=list)
    """(when, phone, message, the API request being handled when it was sent, if any)"""
    current_request: str | None = None

    def send(self, phone: str, message: str) -> SendResult:
        self.sent.append((self.clock(), phone, message, self.current_request))
        return SendResult(ok=True)


class InMemoryRateLimiter:
    """DynamoRateLimiter's fixed windows (refused uses not counted) in a dict, for the month-long runs."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.hits: Counter[tuple[str, int]] = Counter()

    def acquire(self, key: str, limit: int, window_seconds: int) -> int | None:
        now = self.clock().timestamp()
        window = int(now // window_seconds)
        if self.hits[key, window] >= limit:
            return max(1, int((window + 1) * window_seconds - now))
        self.hits[key, window] += 1
        return None

    def release(self, key: str, window_seconds: int) -> None:
        window = int(self.clock().timestamp() // window_seconds)
        if self.hits[key, window] > 0:
            self.hits[key, window] -= 1


class Simulation:
    def __init__(self, start: datetime, rng: random.Random, *, on_moto: bool) -> None:
        """`on_moto`: the real DynamoDB adapters on moto (about 30 ms a call here, so days, not months); otherwise
        the model test's in-memory store with DynamoDB's conditional-write semantics and an in-memory limiter."""
        self.clock = Clock(start)
        self.rng = rng
        self.sagemaker = SimulatedSageMaker(self.clock, rng=rng)
        self.scheduler = SimulatedScheduler()
        self.sms = RecordingSms(self.clock)
        if on_moto:
            dynamodb = boto3.client("dynamodb", region_name="us-east-1")
            create_table_from_template(dynamodb, "StateTable", "attacker-state")
            create_table_from_template(dynamodb, "RateLimitTable", "attacker-rates")
            store: Any = DynamoStateStore("attacker-state", now=self.clock)
            limiter: Any = DynamoRateLimiter(
                "attacker-rates", lambda: "test-pepper", now=lambda: self.clock().timestamp()
            )
        else:
            store = InMemoryStateStore(self.clock, FaultPlan())
            limiter = InMemoryRateLimiter(self.clock)
        adapters = Adapters(
            store, self.sagemaker, self.scheduler, self.sms, rate_limiter=limiter, consent_key=lambda: CONSENT_KEY
        )
        self.service = bootstrap(SETTINGS, adapters, now=self.clock, sleep=lambda _: None)
        self.lifecycle = LifecycleDriver(self.service)
        self.api = api.make_handler(self.service)
        self.next_reconcile = start + RECONCILER_PERIOD
        self.own_failures: list[tuple[str, str]] = []
        """(request id, canonical phone) of /start requests that failed inside themselves."""
        self.totals: Counter[str] = Counter()
        """Answers by route and status; the month-long test adds them to TOTALS."""
        self.fresh_numbers = 0
        self.code_requests: list[datetime] = []
        """When the attacker asked /phone/code to text a number (the only way left to text one it does not own)."""

    # ----- the environment, in simulated time -----

    def advance_to(self, moment: datetime) -> None:
        """Run everything due up to `moment` in time order: provisioning, schedules, the reconciler."""
        while True:
            due: list[tuple[datetime, str, Any]] = [(self.next_reconcile, "reconcile", None)]
            due += [(at, "ready", name) for name, (at, _) in self.sagemaker.ready_at.items()]
            due += [(at, "schedule", name) for name, (at, _) in self.scheduler.schedules.items()]
            at, kind, what = min(due, key=lambda entry: entry[0])
            if at > moment:
                break
            self.clock.current = max(self.clock.current, at)
            if kind == "reconcile":
                self.next_reconcile += RECONCILER_PERIOD
                self.lifecycle.reconcile()
            elif kind == "ready":
                _, status = self.sagemaker.ready_at.pop(what)
                self.sagemaker.endpoints[what] = EndpointInfo(
                    what, status, "CapacityError: arn:aws:x" if status == EndpointStatus.FAILED else None
                )
                self.lifecycle.on_endpoint_status(what, status, self.sagemaker.endpoints[what].failure_reason)
            else:
                _, payload = self.scheduler.schedules.pop(what)  # ActionAfterCompletion: DELETE
                self.lifecycle.teardown(payload["endpoint_name"])
        self.clock.current = max(self.clock.current, moment)

    # ----- the attacker's calls, through the real API handler -----

    def call(self, path: str, body: dict[str, Any] | None = None, ip: str = "203.0.113.10") -> tuple[int, Any, Any]:
        event = load_event(f"apigw_{path}")
        event["body"] = json.dumps(body) if body is not None else None
        request_id = str(uuid.uuid4())
        event["requestContext"]["requestId"] = request_id
        event["requestContext"]["identity"]["sourceIp"] = ip
        self.sms.current_request = request_id
        try:
            response = self.api(event, None)
        finally:
            self.sms.current_request = None
        self.totals[f"{path} {response['statusCode']}"] += 1
        assert response["statusCode"] < 500 or path == "start", (path, response)
        headers = {**(response.get("headers") or {})}
        headers.update({k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()})
        return response["statusCode"], json.loads(response["body"]), headers

    def attacker_phone(self, mix: str) -> str | None:
        choice = mix if mix != "mixed" else self.rng.choice(["none", "victim", "random"])
        if choice == "none":
            return None
        if choice == "victim":
            return self.rng.choice(VICTIM_SPELLINGS)
        if choice == "fresh":
            self.fresh_numbers += 1
            return f"+1202{2_000_000 + self.fresh_numbers:07d}"  # valid DC numbers (exchanges 200-999), never texted
        return f"+{self.rng.choice(COUNTRY_CODES)}{self.rng.randrange(10**9, 10**10)}"

    def start_burst(self, plan: DayPlan) -> int | None:
        """`burst` simultaneous /start calls from new addresses; returns the Retry-After of a 429, if any."""
        retry_after = None
        for _ in range(plan.burst):
            phone = self.attacker_phone(plan.phone_mix)
            ip = f"198.51.{self.rng.randrange(256)}.{self.rng.randrange(256)}"
            status, body, headers = self.call("start", {"phone": phone} if phone else {}, ip)
            if status >= 500 and phone is not None:
                self.own_failures.append((body["request_id"], normalize_phone(phone)))
            if phone is not None:  # without the number's confirmation that start was refused: text it a code instead
                self.code_requests.append(self.clock())
                assert self.call("phone_code", {"phone": phone}, ip)[0] in (202, 400, 429)
            if status == 429 and body["error"] in ("budget_exhausted", "cooling_down"):
                retry_after = int(headers["Retry-After"])
        return retry_after

    def play_day(self, plan: DayPlan, day_start: datetime, hours: float = 24) -> None:
        self.sagemaker.plan = plan
        day_end = day_start + timedelta(hours=hours)
        moment = next_start = next_minute = day_start
        minute = 0
        while moment < day_end:
            self.advance_to(moment)
            state = self.lifecycle.store.get().state.value
            if moment >= next_start and state in ("STOPPED", "FAILED", "STARTING"):
                retry_after = self.start_burst(plan)
                wait = timedelta(minutes=plan.start_every_minutes)
                if retry_after is not None:
                    wait = min(wait, timedelta(seconds=retry_after))  # a 429 named the moment: be there
                next_start = moment + wait
            if moment == next_minute:
                if state == "IN_SERVICE":
                    if plan.predict_every_minutes and minute % plan.predict_every_minutes == 0:
                        self.call("predict", {"text": "great film"})
                    if plan.extend_every_minutes and minute % plan.extend_every_minutes == 0:
                        self.call("extend", {})
                minute += 1
                next_minute = day_start + timedelta(minutes=minute)
            if next_start <= moment:  # not startable now (in service, stopping): look again later
                next_start = moment + timedelta(minutes=plan.start_every_minutes)
            moment = min(next_minute, next_start)
        self.advance_to(day_end)

    # ----- what the owner was promised -----

    def check(self) -> float:
        """Assert the promises; returns the month's GPU hours."""
        gpu_seconds: dict[str, float] = defaultdict(float)
        for begin, end in self.sagemaker.billing:
            for day, seconds in seconds_by_day(begin, end or self.clock()).items():
                gpu_seconds[day] += seconds
        worst_day = max(gpu_seconds.values(), default=0.0) / 60
        assert worst_day <= SETTINGS.gpu_minutes_per_day + 1e-6, f"{worst_day:.1f} GPU minutes in one day"

        texts_per_day = Counter(at.strftime("%Y-%m-%d") for at, _, _, _ in self.sms.sent)
        assert max(texts_per_day.values(), default=0) <= SETTINGS.sms_per_day, texts_per_day.most_common(1)
        per_number = Counter((at.strftime("%Y-%m-%d"), phone) for at, phone, _, _ in self.sms.sent)
        assert max(per_number.values(), default=0) <= SETTINGS.sms_per_number_per_day, per_number.most_common(1)
        outside = [phone for _, phone, _, _ in self.sms.sent if not is_allowed(phone, SETTINGS.sms_country_codes)]
        assert outside == [], f"texted outside the allowlist: {outside[:3]}"
        texted_in_request = {(request, phone) for _, phone, _, request in self.sms.sent if request}
        own = [failure for failure in self.own_failures if failure in texted_in_request]
        assert own == [], f"texted a caller about its own request's failure: {own[:3]}"
        for _, _, message, _ in self.sms.sent:
            assert "arn:" not in message and "210987654321" not in message, message
        return sum(gpu_seconds.values()) / 3600

    def texts_on(self, day: datetime, phone: str | None = None) -> list[datetime]:
        """When texts went out on `day`'s UTC date (to `phone` only, if given)."""
        return [at for at, to, _, _ in self.sms.sent if at.date() == day.date() and (phone is None or to == phone)]

    def starts_on(self, day: datetime, after: datetime) -> int:
        """How many endpoints were created on `day`'s UTC date after `after`: the demand a text cap had to refuse."""
        return sum(1 for begin, _ in self.sagemaker.billing if begin.date() == day.date() and begin > after)


# A month takes about a minute here, so `make test` plays a few; ATTACKER_EXAMPLES=50 plays more.
@settings(
    max_examples=int(os.environ.get("ATTACKER_EXAMPLES", "2")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plans=st.lists(day_plans, min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1), start_hour=st.integers(0, 23))
def test_an_attacker_cannot_spend_more_than_the_owners_budget(plans: list[DayPlan], seed: int, start_hour: int):
    start = datetime(2026, 3, 1, start_hour, tzinfo=UTC)
    simulation = Simulation(start, random.Random(seed), on_moto=False)
    for day in range(DAYS):
        simulation.play_day(plans[day % len(plans)], start + timedelta(days=day))
    gpu_hours = simulation.check()
    TOTALS.update(simulation.totals)
    TOTALS["texts"] += len(simulation.sms.sent)
    TOTALS["simulated months"] += 1
    if gpu_hours > WORST.get("gpu_hours", -1):
        WORST.update(gpu_hours=gpu_hours, usd=gpu_hours * HOURLY_USD, always_on_usd=24 * DAYS * HOURLY_USD)
    WORST["texts"] = max(WORST.get("texts", 0), len(simulation.sms.sent))  # the conftest prices the whole bill


def test_the_same_attack_on_the_dynamodb_adapters_keeps_the_budget() -> None:
    """The most expensive plan hypothesis tends to find, on the real DynamoDB adapters (moto) across a midnight:
    starts every minute in bursts with phones, predicting and extending every minute."""
    plan = DayPlan(
        start_every_minutes=1,
        burst=4,
        phone_mix="mixed",
        predict_every_minutes=1,
        extend_every_minutes=1,
        create_fails="sometimes",
        provisioning_minutes=7,
    )
    start = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
    with mock_aws():
        simulation = Simulation(start, random.Random(7), on_moto=True)
        simulation.play_day(plan, start, hours=3)
        assert simulation.check() > 0


def test_every_victim_spelling_is_one_number() -> None:
    """The victim's spellings must collapse to one key, or the per-number cap could be dodged by formatting."""
    assert {normalize_phone(spelling) for spelling in VICTIM_SPELLINGS} == {"+12025550100"}
    # The random numbers are well-formed: the allowlist, not the format check, is what keeps them from a text.
    assert normalize_phone("+442079460123") == "+442079460123"
    assert not is_allowed("+442079460123", SETTINGS.sms_country_codes)


# ----- fixed scenarios: SMS pumping, each cap on its own -----

MIDNIGHT = datetime(2026, 3, 1, tzinfo=UTC)
NORMAL_OPERATION = DayPlan(
    start_every_minutes=1,
    burst=20,
    phone_mix="fresh",
    predict_every_minutes=1,
    extend_every_minutes=None,
    create_fails="never",
    provisioning_minutes=7,
)


def test_many_addresses_and_numbers_reach_the_daily_text_cap_which_holds_until_the_next_utc_day() -> None:
    """Every session fills its subscriber list with new numbers from new addresses: each session asks for about 40
    texts ("ready" and "stops soon"), a day's budget of sessions for far more than SMS_PER_DAY."""
    simulation = Simulation(MIDNIGHT, random.Random(1), on_moto=False)
    next_day = MIDNIGHT + timedelta(days=1)
    simulation.play_day(NORMAL_OPERATION, MIDNIGHT)
    simulation.play_day(NORMAL_OPERATION, next_day)
    simulation.check()

    # Without the numbers' confirmations no start lists them: what is left is one code text per number, and the
    # daily cap holds for those too.
    first_day = simulation.texts_on(MIDNIGHT)
    assert len(first_day) == SETTINGS.sms_per_day
    assert all("your code is" in message for _, _, message, _ in simulation.sms.sent)
    asked_after = [at for at in simulation.code_requests if at.date() == MIDNIGHT.date() and at > max(first_day)]
    assert asked_after, "no code asked for after the cap: nothing was held"
    second_day = simulation.texts_on(next_day)
    assert 0 < len(second_day) <= SETTINGS.sms_per_day


def test_one_victims_number_gets_no_more_than_its_daily_cap_however_it_is_spelled() -> None:
    """Many addresses subscribe one victim, spelled many ways, to every session they can."""
    plan = replace(NORMAL_OPERATION, burst=5, phone_mix="victim")
    simulation = Simulation(MIDNIGHT, random.Random(2), on_moto=False)
    next_day = MIDNIGHT + timedelta(days=1)
    simulation.play_day(plan, MIDNIGHT)
    simulation.play_day(plan, next_day)
    simulation.check()

    # Never confirmed, the victim is on no list: one code a day, however many ask and however they spell it.
    victim = "+12025550100"
    first_day = simulation.texts_on(MIDNIGHT, victim)
    assert len(first_day) == 1
    asked_after = [at for at in simulation.code_requests if at.date() == MIDNIGHT.date() and at > max(first_day)]
    assert len(asked_after) > 100, "the victim's number was asked for all day"
    assert len(simulation.texts_on(next_day, victim)) == 1
    assert {phone for _, phone, _, _ in simulation.sms.sent} == {victim}


@pytest.mark.parametrize(("code", "status"), [("quota_exceeded", 503), ("access_denied", 502)])
def test_starts_failing_at_once_send_no_text_and_each_caller_gets_the_error(code: str, status: int) -> None:
    """A new account's GPU quota of 0 or a missing permission fails CreateEndpoint inside the /start request: of N
    calls naming a new number, from a new address, the first gets the error as its answer, the others within the
    cooldown after the failure are refused before any write, and nobody is texted."""
    calls = 40
    simulation = Simulation(MIDNIGHT, random.Random(3), on_moto=False)
    simulation.sagemaker.plan = replace(NORMAL_OPERATION, create_fails="at_once")
    simulation.sagemaker.create_error_code = code
    answers = []
    for n in range(calls):
        simulation.advance_to(MIDNIGHT + timedelta(seconds=n))
        phone = f"+1202555{n:04d}"  # each caller confirmed its own number
        confirmation = new_token(CONSENT_KEY, phone, simulation.clock())[0]
        answers.append(simulation.call("start", {"phone": phone, "confirmation": confirmation}, ip=f"198.51.100.{n}"))
    simulation.check()

    assert simulation.sms.sent == []
    first, *later = [(answer, body["error"], body["message"]) for answer, body, _ in answers]
    assert first == (status, code, PUBLIC_MESSAGES[code])
    assert {(answer, error) for answer, error, _ in later} == {(429, "cooling_down")}
    assert simulation.sagemaker.billing == [], "no endpoint was ever created"
