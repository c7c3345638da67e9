"""The endpoint lifecycle: start -> InService -> SMS -> teardown, with exactly one endpoint at a time.

Pure Python. Every decision is a conditional write on the single state item; only the caller that wins the
write acts (creates the endpoint, schedules the teardown, sends the texts), so retries, duplicate events and
concurrent clicks change nothing twice. Adapters come in through the constructor.

Methods that handle an event return the outcome as a short sentence for the log; the reconciler returns `Repair`
values, text only in their `detail`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from ondemand.budget import charge, current_deadline, next_midnight, run_deadline
from ondemand.domain import (
    BudgetExhaustedError,
    ConflictError,
    CoolingDownError,
    EndpointError,
    EndpointInfo,
    EndpointNotDeletableError,
    EndpointState,
    EndpointStatus,
    InstantModelError,
    LifecycleError,
    ModelNotReadyError,
    NoRecentUseError,
    NotifierError,
    SendResult,
    State,
    public_message,
)
from ondemand.phones import is_allowed
from ondemand.ports import Adapters
from ondemand.settings import Settings
from ondemand.status import eta_seconds, iso

logger = logging.getLogger(__name__)

# A write lost to a concurrent writer is retried after re-reading; this bounds the retries of one call.
MAX_WRITE_ATTEMPTS = 60
# /start writes STARTING and calls CreateEndpoint in one invocation (Lambda timeout 30 s); an endpoint still not
# listed after this was never created.
CREATE_GRACE = timedelta(seconds=60)
# A schedule for the end of the day's GPU budget may fire up to a minute early (Scheduler's precision).
BUDGET_SLACK = timedelta(seconds=60)
# A successful /predict records its time at most this often (one write a minute, however busy the model is).
USE_RECORD_INTERVAL = timedelta(minutes=1)
# /extend moves expires_at only by at least this much (or half the keep-alive, for the local demo's 30 s), so a
# caller hammering /extend does not rewrite the item and the schedule on every call.
MIN_EXTEND_STEP = timedelta(minutes=1)
SMS_DAY_SECONDS = 86400  # the rate limiter's windows are aligned to the epoch, so this is the UTC day
LIVE_STATES = (State.STARTING, State.IN_SERVICE, State.STOPPING)
STALE_STARTING = "ignored: not STARTING this endpoint (duplicate or stale event)"
STALE_IN_SERVICE = "ignored: not IN_SERVICE with this endpoint (duplicate or stale event)"
# SageMaker reports InService once the container answers /ping, which can be before the model answers a request
# (https://github.com/aws/sagemaker-huggingface-inference-toolkit/issues/111): one real prediction of this text must
# succeed before anyone is told the model is ready.
CANARY_TEXT = "A short canary review: the model answers before anyone is told it is ready."


def utc_now() -> datetime:
    return datetime.now(UTC)


def _stopped_fields() -> dict[str, Any]:
    """What a STOPPED item holds: no endpoint, no expiry, nobody left to text."""
    return {"endpoint_name": None, "expires_at": None, "in_service_at": None, "subscribers": []}


def failure_code(reason: str | None) -> str:
    """The stable code of an endpoint failure SageMaker reported (its FailureReason stays in the log)."""
    return "no_capacity" if reason and "capacity" in reason.lower() else "endpoint_failed"


def teardown_schedule_name(endpoint_name: str) -> str:
    """Deterministic per start, so a retried InService event or an extend replaces the schedule, never adds one."""
    return f"teardown-{endpoint_name}"[:64]


def notice_schedule_name(endpoint_name: str) -> str:
    """Deterministic per start like the teardown's: an extend moves the notice by replacing its schedule."""
    return f"notice-{endpoint_name}"[:64]


# A notice firing without its schedule's payload counts as due this early (timers fire at whole seconds).
NOTICE_EARLY_TOLERANCE = timedelta(seconds=5)
NOTICE_KIND = "notice"
"""The `kind` of the notice schedule's payload; the teardown function takes both schedules."""


def _ceil_second(moment: datetime) -> datetime:
    """Schedules fire at a whole second; rounding up means the notice never fires before its moment."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


@dataclass(frozen=True)
class StartResult:
    state: EndpointState
    created: bool
    """True for the one caller that won STOPPED|FAILED -> STARTING and created the endpoint."""
    subscribed: bool
    """True if the caller's phone is on the list to text (now or already)."""


class RepairKind(StrEnum):
    """The kinds of drift the reconciler repairs."""

    DELETED_ORPHAN = "deleted_orphan"
    PROMOTED = "promoted"
    FAILED_START = "failed_start"
    TORE_DOWN_BROKEN = "tore_down_broken"
    MARKED_GONE = "marked_gone"
    TORE_DOWN_EXPIRED = "tore_down_expired"
    TORE_DOWN_IDLE = "tore_down_idle"
    FINISHED_STOP = "finished_stop"
    DELETE_DEFERRED = "delete_deferred"
    """SageMaker refused the delete while the endpoint is Creating or Updating: retried on the next run."""
    RESUMED_START = "resumed_start"
    """The leftover a start waited for settled: deleted, and the start's own endpoint created."""


@dataclass(frozen=True)
class Repair:
    """One repair the reconciler made; `detail` is for the log."""

    endpoint_name: str
    kind: RepairKind
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"endpoint_name": self.endpoint_name, "kind": self.kind.value, "detail": self.detail}


@dataclass(frozen=True)
class StopResult:
    state: EndpointState
    waiting: str | None = None
    """Why the endpoint is not deleted yet (SageMaker refuses while it is Creating): the item stays STOPPING and the
    next event for it or the reconciler finishes. None once STOPPED."""


@dataclass(frozen=True)
class ExtendResult:
    state: EndpointState
    capped: bool
    """True when the hard cap, not the keep-alive, set the new expires_at."""


class EndpointLifecycle:
    """Decisions about the one on-demand endpoint. Handlers parse events and call one method each."""

    def __init__(
        self,
        adapters: Adapters,
        settings: Settings,
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = adapters.store
        self.endpoints = adapters.endpoints
        self.scheduler = adapters.scheduler
        self.notifier = adapters.notifier
        self.instant_model = adapters.instant_model
        self.rate_limiter = adapters.rate_limiter
        self.settings = settings
        self.now = now
        self.sleep = sleep

    # ----- the API's commands -----

    def start(self, phone: str | None = None) -> StartResult:
        """Create the endpoint if nobody has; otherwise add `phone` to the people to text when it is ready."""
        for attempt in range(MAX_WRITE_ATTEMPTS):
            current = self.store.get()
            if current.state in (State.STOPPED, State.FAILED):
                now = self.now()
                ledger = self._refuse_start_beyond_budget(current, now)
                try:
                    started = self.store.transition(
                        [State.STOPPED, State.FAILED],
                        State.STARTING,
                        "start requested",
                        expected_version=current.version,
                        endpoint_name=self._new_endpoint_name(current.version + 1),
                        subscribers=[phone] if phone else [],
                        expires_at=None,
                        in_service_at=None,
                        last_error=None,
                        notice_sent_at=None,
                        last_error_code=None,
                        last_used_at=None,
                        run_started_at=now,
                        gpu_seconds_by_day=ledger,
                        waiting_for=None,
                    )
                except ConflictError:
                    self._backoff(attempt)
                    continue
                self._schedule_budget_stop(started)
                self._create_endpoint(started, phone)
                return StartResult(started, created=True, subscribed=phone is not None)
            if current.state == State.STARTING:
                if phone is None or phone in current.subscribers:
                    return StartResult(current, created=False, subscribed=phone is not None)
                if len(current.subscribers) >= self.settings.max_subscribers:
                    return StartResult(current, created=False, subscribed=False)
                try:
                    updated = self.store.add_subscriber([State.STARTING], phone, self.settings.max_subscribers)
                except ConflictError:
                    continue  # no longer STARTING, or someone added this phone or filled the list: decide again
                return StartResult(updated, created=False, subscribed=True)
            if current.state == State.IN_SERVICE:
                return StartResult(current, created=False, subscribed=False)
            raise ConflictError("The model is shutting down; start it again in a minute.")
        raise ConflictError("Too many people are starting the model at once; try again in a few seconds.")

    def _refuse_start_beyond_budget(self, current: EndpointState, now: datetime) -> dict[str, float]:
        """Raise CoolingDownError or BudgetExhaustedError unless a start now may run at least the minimum run;
        otherwise return the ledger the STARTING write keeps (a run left open by a lost write charged up to now)."""
        if current.cooldown_until is not None and now < current.cooldown_until:
            raise CoolingDownError(current.cooldown_until, max(1, int((current.cooldown_until - now).total_seconds())))
        ledger = dict(current.gpu_seconds_by_day)
        if current.run_started_at is not None:
            ledger = charge(ledger, current.run_started_at, now)
        deadline = run_deadline(ledger, now, self.settings.gpu_minutes_per_day * 60)
        if deadline - now < timedelta(minutes=self.settings.min_run_minutes):
            resets_at = next_midnight(max(now, deadline))
            raise BudgetExhaustedError(
                f"Today's GPU budget ({self.settings.gpu_minutes_per_day:g} minutes) is spent; "
                f"the model can start again at {iso(resets_at)}.",
                resets_at,
                max(1, int((resets_at - now).total_seconds())),
            )
        return ledger

    def _budget_deadline(self, item: EndpointState) -> datetime | None:
        return current_deadline(item, self.settings.gpu_minutes_per_day * 60)

    def _schedule_budget_stop(self, started: EndpointState) -> None:
        """A start that could still be STARTING when the budget runs out gets a teardown schedule at that moment
        (promotion replaces it with expires_at), so a hung start cannot bill past the budget until the reconciler."""
        deadline = self._budget_deadline(started)
        timeout = timedelta(minutes=self.settings.starting_timeout_minutes)
        if started.endpoint_name and deadline is not None and deadline < self.now() + timeout:
            self._schedule_teardown(started.endpoint_name, deadline)

    def _new_endpoint_name(self, start_version: int) -> str:
        """`<prefix>-<UTC time>-<version>`: the version the STARTING write creates is unique per start, so a stop and
        a start in the same second never reuse a name SageMaker is still deleting."""
        return f"{self.settings.endpoint_name_prefix}-{self.now():%Y%m%dt%H%M%S}-{start_version}"

    def _create_endpoint(self, started: EndpointState, caller: str | None) -> None:
        """Create the new endpoint, after deleting any other endpoint of ours (a failed start's whose cleanup was
        throttled, one a crashed start left): the item now owns only the new name, so never two bill at once.
        A failure here is the caller's own request's: it gets the error as the answer, not a text too.

        A leftover SageMaker will not delete yet (Creating or Updating) keeps the start STARTING: the item records it
        in `waiting_for`, and its settling event or the reconciler creates ours (see _resume_start)."""
        name = started.endpoint_name or ""
        try:
            for leftover in self.endpoints.list(self.settings.endpoint_name_prefix + "-"):
                if leftover.name != name and leftover.status != EndpointStatus.DELETING:
                    self.endpoints.delete(leftover.name)
            self.endpoints.create(name)
        except EndpointNotDeletableError as exc:
            logger.info("start of %s waits for %s: %s", name, exc.name, exc)
            self._transition_if(
                [State.STARTING],
                None,
                f"waiting for {exc.name} to settle",
                guard=lambda item: item.endpoint_name == name,
                waiting_for=exc.name,
            )
        except EndpointError as exc:
            self._fail(name, exc.code, f"could not create the endpoint: {exc}", spare=caller)
            raise

    def _resume_start(self, leftover: str) -> str | None:
        """The leftover a start waits for has settled: delete it and create the start's endpoint. Only the caller that
        wins the write clearing `waiting_for` does, so an event and the reconciler never both create. None if the
        item is not waiting for `leftover`; otherwise what was done, for the log."""
        claimed = self._transition_if(
            [State.STARTING],
            None,
            f"{leftover} settled",
            guard=lambda item: item.waiting_for == leftover,
            waiting_for=None,
        )
        if claimed is None:
            return None
        _, item = claimed
        try:
            self._create_endpoint(item, caller=None)
        except EndpointError as exc:
            return f"{leftover} settled, but creating {item.endpoint_name} failed: {exc.code}"
        waiting = self.store.get().waiting_for
        if waiting:
            return f"{leftover} settled; still waiting for {waiting}"
        return f"{leftover} settled; created {item.endpoint_name}"

    def predict(self, texts: list[str]) -> dict[str, Any]:
        """The GPU endpoint's answer while it is in service; otherwise the instant tier's, as INSTANT_TIER allows.
        A GPU call that fails or times out is answered by the instant tier, marked degraded, unless the tier is off.
        Every answer names its `tier` and `model`."""
        item = self.store.get()
        if item.state == State.IN_SERVICE and item.endpoint_name:
            try:
                return {**self._gpu_answer(item, item.endpoint_name, texts), "tier": "gpu"}
            except EndpointError:
                if self.settings.instant_tier == "off":
                    raise
                instant = self._instant_answer(texts, quiet=True)
                if instant is None:
                    raise
                logger.warning("the GPU endpoint failed; the instant tier answered (degraded)", exc_info=True)
                return {**instant, "tier": "instant", "degraded": True}
        if self._instant_tier_allowed(item.state):
            instant = self._instant_answer(texts)
            if instant is not None:
                return {**instant, "tier": "instant"}
        raise ModelNotReadyError(item.state, self._retry_after(item))

    def _gpu_answer(self, item: EndpointState, endpoint_name: str, texts: list[str]) -> dict[str, Any]:
        answer = self.endpoints.invoke(endpoint_name, {"texts": texts})
        predictions = answer.get("predictions")
        if not isinstance(predictions, list) or len(predictions) != len(texts):
            raise EndpointError("The model server answered without one prediction per text.", "endpoint_error")
        self._record_use(item)
        return answer

    def _instant_tier_allowed(self, state: State) -> bool:
        """May the instant tier answer while the item is in `state` (the GPU endpoint not in service)?"""
        tier = self.settings.instant_tier
        return tier == "always" or (tier == "while-starting" and state == State.STARTING)

    def _instant_answer(self, texts: list[str], *, quiet: bool = False) -> dict[str, Any] | None:
        """The instant model's answer; None while none is published. A broken artifact raises InstantModelError,
        except as a fallback (`quiet`), where the GPU's own error is the one to report."""
        try:
            answer = self.instant_model.answer(texts)
            if answer is not None and len(answer.get("predictions") or ()) != len(texts):
                raise InstantModelError("The instant model answered without one prediction per text.")
        except InstantModelError:
            if not quiet:
                raise
            logger.error("the instant model could not answer either", exc_info=True)
            return None
        return answer

    def _record_use(self, item: EndpointState) -> None:
        """Note a successful prediction for /extend and the idle teardown: one conditional write a minute at most."""
        now = self.now()
        if not item.endpoint_name or (item.last_used_at and now - item.last_used_at < USE_RECORD_INTERVAL):
            return
        with contextlib.suppress(ConflictError):  # another prediction recorded it first, or the endpoint changed
            self.store.record_use(item.endpoint_name, now, USE_RECORD_INTERVAL)

    def _retry_after(self, item: EndpointState) -> int:
        if item.state == State.STARTING:
            return max(5, eta_seconds(item, self.now(), self.settings.typical_provisioning_seconds) or 0)
        if item.state == State.STOPPING:
            return 30
        return self.settings.typical_provisioning_seconds

    def extend(self) -> ExtendResult:
        """Keep the endpoint alive for the keep-alive from now, never past InService + the hard cap or the day's
        GPU budget, and only while someone used it recently; steps under a minute change nothing."""
        keep_alive = timedelta(minutes=self.settings.keep_alive_minutes)
        hard_cap = timedelta(minutes=self.settings.hard_cap_minutes)
        min_step = min(MIN_EXTEND_STEP, keep_alive / 2)
        for attempt in range(MAX_WRITE_ATTEMPTS):
            current = self.store.get()
            if current.state != State.IN_SERVICE or not current.endpoint_name:
                raise ConflictError(f"The model is {current.state.value}; only a model in service can be extended.")
            now = self.now()
            if not self._recently_used(current, now):
                raise NoRecentUseError()
            wanted = now + keep_alive
            cap = (current.in_service_at or current.since) + hard_cap
            budget_end = self._budget_deadline(current) or wanted
            new_expiry = min(wanted, cap, budget_end)
            if current.expires_at is not None and new_expiry < current.expires_at + min_step:
                if budget_end < min(wanted, cap):
                    resets_at = next_midnight(budget_end)
                    raise BudgetExhaustedError(
                        f"Today's GPU budget ends this run at {iso(current.expires_at)}; "
                        f"the model can run longer after {iso(resets_at)}.",
                        resets_at,
                        max(1, int((resets_at - now).total_seconds())),
                    )
                return ExtendResult(current, capped=wanted > cap)
            try:
                extended = self.store.update(
                    [State.IN_SERVICE], "extended", expected_version=current.version, expires_at=new_expiry
                )
            except ConflictError:
                self._backoff(attempt)
                continue
            self._schedule_teardown(current.endpoint_name, new_expiry)
            if extended.notice_sent_at is None:
                self._schedule_notice(current.endpoint_name, new_expiry)  # replaces the old one: never two
            return ExtendResult(extended, capped=wanted > cap)
        raise ConflictError("The model's state keeps changing; try again in a few seconds.")

    def _recently_used(self, item: EndpointState, now: datetime) -> bool:
        idle = timedelta(minutes=self.settings.idle_minutes)
        return item.last_used_at is not None and now - item.last_used_at <= idle

    def stop(self, reason: str = "stopped by an administrator") -> StopResult:
        """Tear down now, whatever expires_at says (the dashboard's Stop button). While SageMaker refuses to delete
        the endpoint (a stop during STARTING), the intent is kept as STOPPING and finished later."""
        current = self.store.get()
        if current.state not in LIVE_STATES or not current.endpoint_name:
            raise ConflictError(f"The model is {current.state.value}; there is nothing to stop.")
        if current.state == State.STOPPING:
            return self._finish_stop_when_deletable(current.endpoint_name)
        stopping = self._transition_if(
            [State.STARTING, State.IN_SERVICE],
            State.STOPPING,
            reason,
            guard=lambda item: item.endpoint_name == current.endpoint_name,
        )
        if stopping is None:
            raise ConflictError("The model's state changed while stopping it; look at /status and try again.")
        return self._finish_stop_when_deletable(current.endpoint_name)

    # ----- events -----

    def on_endpoint_status(self, name: str, status: EndpointStatus, failure_reason: str | None = None) -> str:
        """A SageMaker Endpoint State Change. Returns what was done, for the log."""
        if not self._owns_name(name):
            return "ignored: not this stack's endpoint"
        if status in (EndpointStatus.IN_SERVICE, EndpointStatus.FAILED):
            item = self.store.get()
            if item.state == State.STARTING and item.waiting_for == name:
                return self._resume_start(name) or STALE_STARTING
            if item.state == State.STOPPING and item.endpoint_name == name:
                # A stop SageMaker refused while the endpoint was Creating: it has settled, so finish it now.
                try:
                    waiting = self._finish_stop_when_deletable(name).waiting
                except EndpointError as exc:  # throttled: the reconciler finishes it within its period
                    logger.warning("could not finish the stop of %s: %s", name, exc)
                    return f"still STOPPING: {exc}"
                return f"still STOPPING: {waiting}" if waiting else "finished a stop that waited for SageMaker"
        if status == EndpointStatus.IN_SERVICE:
            return self._promote_if_answering(name, "endpoint InService")
        if status == EndpointStatus.FAILED:
            detail = f"SageMaker reported the endpoint Failed: {failure_reason or 'no reason given'}"
            if item.state == State.IN_SERVICE:
                # Only believe it if the endpoint says so too: a Failed event after InService may be a stale one.
                info = self.endpoints.describe(name)
                if info is not None and info.status not in (EndpointStatus.FAILED, EndpointStatus.OUT_OF_SERVICE):
                    return f"ignored: a Failed event, but the endpoint reports {info.status.value}"
                return self._tear_down_broken(name, detail) or STALE_IN_SERVICE
            return self._fail(name, failure_code(failure_reason), detail) or STALE_STARTING
        return f"ignored: {status.value} changes nothing"

    def _promote_if_answering(self, name: str, reason: str) -> str:
        """Promote (see _promote) once one real prediction succeeds; until then the item stays STARTING and the next
        event or the reconciler tries again (the reconciler fails it after the starting timeout)."""
        item = self.store.get()
        if item.state != State.STARTING or item.endpoint_name != name:
            return STALE_STARTING
        failure = self._canary(name)
        if failure is not None:
            logger.warning("%s is InService but not answering yet: %s", name, failure)
            return f"kept STARTING: {failure}"
        return self._promote(name, reason) or STALE_STARTING

    def _canary(self, name: str) -> str | None:
        """One real prediction through the endpoint: None if it answered one prediction, otherwise why not."""
        try:
            answer = self.endpoints.invoke(name, {"texts": [CANARY_TEXT]})
        except EndpointError as exc:
            return f"the canary prediction failed: {exc}"
        predictions = answer.get("predictions")
        if not isinstance(predictions, list) or len(predictions) != 1:
            return "the canary prediction did not answer one prediction"
        return None

    def _promote(self, name: str, reason: str) -> str | None:
        """STARTING -> IN_SERVICE, schedule the teardown, text the subscribers. None if the item is not STARTING
        this endpoint (a duplicate or stale event); otherwise what was done."""
        now = self.now()
        keep_alive_end = now + timedelta(minutes=self.settings.keep_alive_minutes)
        # Only the caller whose promoting write wins texts, from the item as it was just before: a retry or a crash
        # can lose a text but never send one twice. The numbers stay on the item for the stop notice until STOPPED.
        promoted = self._transition_if(
            [State.STARTING],
            State.IN_SERVICE,
            reason,
            guard=lambda item: item.endpoint_name == name,
            derive=lambda item: {"expires_at": min(keep_alive_end, self._budget_deadline(item) or keep_alive_end)},
            in_service_at=now,
            notice_sent_at=None,
        )
        if promoted is None:
            return None
        before, after = promoted
        expires_at = after.expires_at or keep_alive_end
        self._schedule_teardown(name, expires_at)
        self._schedule_notice(name, expires_at)
        message = f"Your sentiment model is ready. It shuts down at {expires_at:%H:%M} UTC unless extended."
        sent = self._notify(before.subscribers, message)
        return f"promoted to IN_SERVICE; texted {sum(r.ok for r in sent)} of {len(sent)}"

    def _fail(self, name: str, code: str, detail: str | None = None, spare: str | None = None) -> str | None:
        """STARTING -> FAILED, delete the endpoint, tell the subscribers but `spare` (the caller whose own request
        failed: it gets the error as its answer). Item, history and texts carry the code's sentence; `detail` (a
        provider's message) only the log. None if not STARTING this endpoint."""
        sentence = public_message(code)
        failed = self._transition_if(
            [State.STARTING],
            State.FAILED,
            sentence,
            guard=lambda item: item.endpoint_name == name,
            derive=lambda item: self._closing_fields(item, cooldown=False),
            last_error=sentence,
            last_error_code=code,
            subscribers=[],
        )
        if failed is None:
            return None
        logger.warning("start of %s failed (%s): %s", name, code, detail or sentence)
        before, _ = failed
        self._delete_quietly(name)
        to_text = [phone for phone in before.subscribers if phone != spare]
        sent = self._notify(to_text, f"Your sentiment model could not start. {sentence}")
        return f"FAILED ({code}); texted {sum(r.ok for r in sent)} of {len(sent)}"

    def _tear_down_broken(self, name: str, detail: str) -> str | None:
        """An endpoint that broke while in service bills without answering: stop it now, keeping why (the code's
        sentence on the item; `detail` in the log). None if the item is not IN_SERVICE with this endpoint."""
        sentence = public_message("endpoint_failed")
        broken = self._transition_if(
            [State.IN_SERVICE],
            State.STOPPING,
            sentence,
            guard=lambda item: item.endpoint_name == name,
            last_error=sentence,
            last_error_code="endpoint_failed",
        )
        if broken is None:
            return None
        logger.warning("endpoint %s broke while in service: %s", name, detail)
        waiting = self._finish_stop_when_deletable(name).waiting
        return f"broken while in service; STOPPING: {waiting}" if waiting else "broken while in service; torn down"

    def send_notice(self, name: str, scheduled_for: datetime | None = None) -> str:
        """The notice schedule fired: text everyone who asked this session that the model stops soon. At most once
        per session (the write that records the notice is won by one caller, who texts), never after the item left
        IN_SERVICE. `scheduled_for` is the expires_at the schedule was made for (its payload): while the item still
        holds it, this is the current schedule and it texts even if Scheduler fired early in its minute; otherwise
        never before expires_at - NOTICE_MINUTES (a stale firing from before an extend changes nothing: the extend
        moved the schedule). Nothing here creates a schedule: the teardown function may not. Returns what was done,
        for the log."""
        notice = timedelta(minutes=self.settings.notice_minutes)
        if notice <= timedelta(0):
            return "skipped: the notice is off"
        for attempt in range(MAX_WRITE_ATTEMPTS):
            current = self.store.get()
            if current.state != State.IN_SERVICE or current.endpoint_name != name or current.expires_at is None:
                return f"skipped: the item is {current.state.value} with {current.endpoint_name or 'no endpoint'}"
            if current.notice_sent_at is not None:
                return "skipped: the notice was already sent"
            current_schedule = scheduled_for is not None and iso(current.expires_at) == iso(scheduled_for)
            early = (current.expires_at - notice - self.now()).total_seconds()
            if early > NOTICE_EARLY_TOLERANCE.total_seconds() and not current_schedule:
                # A stale firing: an extend moved the deadline and replaced the schedule, which fires then.
                return f"skipped: not due until {iso(current.expires_at - notice)}"
            try:
                self.store.update(
                    [State.IN_SERVICE], "stop notice sent", expected_version=current.version, notice_sent_at=self.now()
                )
            except ConflictError:
                self._backoff(attempt)
                continue
            sent = self._notify(current.subscribers, self._notice_message(current.expires_at))
            return f"notice sent; texted {sum(r.ok for r in sent)} of {len(sent)}"
        raise ConflictError("The model's state keeps changing; try again in a few seconds.")

    def _notice_message(self, expires_at: datetime) -> str:
        message = f"Your sentiment model stops at {expires_at.astimezone(UTC):%H:%M} UTC"
        return f"{message}; keep it running: {self.settings.page_url}" if self.settings.page_url else f"{message}."

    def teardown(self, name: str, scheduled_for: datetime | None = None, reason: str = "keep-alive expired") -> str:
        """The schedule fired. `scheduled_for` is the expires_at the schedule was made for (its payload): while the
        item still holds that expires_at, this is the current schedule and it tears down even if it fired early
        (EventBridge Scheduler fires within a minute of its at(); see adapters/scheduler.py). Returns what was done,
        for the log."""
        current = self.store.get()
        if current.state == State.STOPPING and current.endpoint_name == name:
            waiting = self._finish_stop_when_deletable(name).waiting
            return f"still STOPPING: {waiting}" if waiting else "finished an interrupted teardown"
        if current.state == State.STARTING and current.endpoint_name == name and self._past_budget(current):
            return self._fail(name, "budget_exhausted") or STALE_STARTING
        if current.state != State.IN_SERVICE or current.endpoint_name != name:
            return f"skipped: the item is {current.state.value} with {current.endpoint_name or 'no endpoint'}"
        if not self._is_due(current, name, scheduled_for):
            return f"skipped: extended until {iso(current.expires_at)}"
        stopped = self._stop_if_due(name, reason, scheduled_for)
        if stopped is None:
            return "skipped: the item changed (extended or already stopping)"
        return f"STOPPING: {stopped.waiting}" if stopped.waiting else "torn down"

    def _past_budget(self, item: EndpointState) -> bool:
        """The day's budget ends within BUDGET_SLACK: Scheduler fires anywhere in a minute, so a schedule for the
        budget's end may come a little early; stopping then keeps the day under its budget."""
        deadline = self._budget_deadline(item)
        return deadline is not None and deadline <= self.now() + BUDGET_SLACK

    def _is_due(self, item: EndpointState, name: str, scheduled_for: datetime | None = None) -> bool:
        """The item holds `name` and either is past its expires_at or still has the one `scheduled_for` names (an
        extend would have changed it). Compared to the second: the payload carries expires_at as iso() writes it."""
        if item.endpoint_name != name:
            return False
        if item.expires_at is None or item.expires_at <= self.now():
            return True
        return scheduled_for is not None and iso(item.expires_at) == iso(scheduled_for)

    def _stop_if_due(self, name: str, reason: str, scheduled_for: datetime | None = None) -> StopResult | None:
        """IN_SERVICE -> STOPPING -> STOPPED if the item still holds `name` and is due (see _is_due); None if not."""
        stopping = self._transition_if(
            [State.IN_SERVICE], State.STOPPING, reason, guard=lambda item: self._is_due(item, name, scheduled_for)
        )
        if stopping is None:
            return None
        return self._finish_stop_when_deletable(name)

    def _finish_stop_when_deletable(self, name: str) -> StopResult:
        """_finish_stop, unless SageMaker refuses the delete yet: then the item stays STOPPING (the intent is kept)
        and the next event for the endpoint or the reconciler finishes it."""
        try:
            return StopResult(self._finish_stop(name))
        except EndpointNotDeletableError as exc:
            logger.info("stop of %s waits: %s", name, exc)
            return StopResult(self.store.get(), str(exc))

    def _finish_stop(self, name: str) -> EndpointState:
        self.endpoints.delete(name)
        for schedule in (teardown_schedule_name(name), notice_schedule_name(name)):
            try:
                self.scheduler.cancel(schedule)
            except LifecycleError:
                logger.warning("could not delete schedule %s; it deletes itself after firing", schedule, exc_info=True)
        stopped = self._transition_if(
            [State.STOPPING],
            State.STOPPED,
            "endpoint deleted",
            guard=lambda item: item.endpoint_name == name,
            derive=lambda item: self._closing_fields(item, cooldown=True),
            **_stopped_fields(),
        )
        return stopped[1] if stopped else self.store.get()

    def _closing_fields(self, item: EndpointState, *, cooldown: bool) -> dict[str, Any]:
        """What the write that ends a run sets: its GPU time charged to the ledger, and after a teardown the
        cooldown before the next start."""
        now = self.now()
        fields: dict[str, Any] = {"run_started_at": None}
        if item.run_started_at is not None:
            fields["gpu_seconds_by_day"] = charge(item.gpu_seconds_by_day, item.run_started_at, now)
        if cooldown and self.settings.cooldown_minutes > 0:
            fields["cooldown_until"] = now + timedelta(minutes=self.settings.cooldown_minutes)
        return fields

    def reconcile(self) -> list[Repair]:
        """Repair drift between the item and SageMaker. Returns the repairs made (none: nothing drifted)."""
        # List before reading the item: any endpoint listed was created after its STARTING write, so the item
        # read afterwards already names it, and a start racing with this run is never mistaken for an orphan.
        listed = self.endpoints.list(self.settings.endpoint_name_prefix + "-")
        item = self.store.get()
        owned = item.endpoint_name if item.state in LIVE_STATES else None
        repairs = self._delete_orphans(listed, owned)
        if owned is None:
            return repairs
        info = next((e for e in listed if e.name == owned), None)
        if item.state == State.STARTING and item.waiting_for and info is None:
            deferred = any(repair.kind == RepairKind.DELETE_DEFERRED for repair in repairs)
            repair = self._repair_waiting_start(item, owned, deferred)
        elif item.state == State.STARTING:
            repair = self._repair_starting(item, owned, info)
        elif item.state == State.IN_SERVICE:
            repair = self._repair_in_service(item, owned, info)
        else:
            repair = self._finish_interrupted_stop(owned)
        return repairs + ([repair] if repair else [])

    def _delete_orphans(self, listed: list[EndpointInfo], owned: str | None) -> list[Repair]:
        """Endpoints of ours the item does not own bill for nothing."""
        repairs = []
        for endpoint in listed:
            if endpoint.name != owned and endpoint.status != EndpointStatus.DELETING:
                try:
                    self.endpoints.delete(endpoint.name)
                except EndpointNotDeletableError as exc:  # the rest of the sweep goes on; the next run retries
                    repairs.append(Repair(endpoint.name, RepairKind.DELETE_DEFERRED, f"no state item owns it; {exc}"))
                    continue
                repairs.append(Repair(endpoint.name, RepairKind.DELETED_ORPHAN, "no state item owns it; deleted"))
        return repairs

    def _repair_starting(self, item: EndpointState, owned: str, info: EndpointInfo | None) -> Repair | None:
        """A start whose InService or Failed event was lost, that never created its endpoint, or that hangs."""
        if info is not None and info.status == EndpointStatus.IN_SERVICE:
            failure = self._canary(owned)
            if failure is None:
                promoted = self._promote(owned, "reconciler: InService and answering (its event was missed or early)")
                return Repair(owned, RepairKind.PROMOTED, promoted) if promoted else None
            timeout = self.settings.starting_timeout_minutes
            if self.now() - item.since <= timedelta(minutes=timeout):
                logger.warning("%s is InService but not answering yet: %s", owned, failure)
                return None
            detail = f"InService but no prediction succeeded within {timeout:g} minutes: {failure}"
            failed = self._fail(owned, "start_timeout", detail)
            return Repair(owned, RepairKind.FAILED_START, failed) if failed else None
        why = self._why_start_failed(item, info)
        if why is None:
            return None
        failed = self._fail(owned, *why)
        return Repair(owned, RepairKind.FAILED_START, failed) if failed else None

    def _repair_waiting_start(self, item: EndpointState, owned: str, deferred: bool) -> Repair | None:
        """A start waiting for a leftover to settle: failed past the budget or the starting timeout, otherwise resumed
        once no endpoint of ours refuses deletion (`deferred`: one did in this run)."""
        why = self._why_start_failed(item, None)
        if why is not None:
            failed = self._fail(owned, *why)
            return Repair(owned, RepairKind.FAILED_START, failed) if failed else None
        if deferred or item.waiting_for is None:
            return None
        resumed = self._resume_start(item.waiting_for)
        return Repair(owned, RepairKind.RESUMED_START, resumed) if resumed else None

    def _why_start_failed(self, item: EndpointState, info: EndpointInfo | None) -> tuple[str, str] | None:
        """(code, detail for the log) of why a STARTING item cannot succeed any more, or None while it still may."""
        since_start = self.now() - item.since
        if info is not None and info.status == EndpointStatus.FAILED:
            return failure_code(info.failure_reason), f"SageMaker reports Failed: {info.failure_reason}"
        if info is None and since_start > CREATE_GRACE and not item.waiting_for and self._never_created(item):
            return "interrupted", "the endpoint was never created (the start was interrupted)"
        if info is not None and info.status in (EndpointStatus.DELETING, EndpointStatus.OUT_OF_SERVICE):
            return "endpoint_failed", f"SageMaker reports the endpoint {info.status.value} while starting"
        if self._past_budget(item):
            return "budget_exhausted", "the day's GPU budget ran out while starting"
        if since_start > timedelta(minutes=self.settings.starting_timeout_minutes):
            return "start_timeout", f"still STARTING after {self.settings.starting_timeout_minutes:g} minutes"
        return None

    def _never_created(self, item: EndpointState) -> bool:
        """The item's endpoint does not exist, asked again: a waiting start resumed by an event after this run listed
        the endpoints has created it meanwhile. A describe that fails is no proof: the next run decides."""
        try:
            return item.endpoint_name is None or self.endpoints.describe(item.endpoint_name) is None
        except EndpointError:
            return False

    def _repair_in_service(self, item: EndpointState, owned: str, info: EndpointInfo | None) -> Repair | None:
        """An endpoint in service that broke, vanished, or outlived its expires_at (a lost schedule)."""
        if info is not None and info.status in (EndpointStatus.FAILED, EndpointStatus.OUT_OF_SERVICE):
            detail = f"reconciler: SageMaker reports the endpoint {info.status.value}: {info.failure_reason}"
            torn_down = self._tear_down_broken(owned, detail)
            return Repair(owned, RepairKind.TORE_DOWN_BROKEN, torn_down) if torn_down else None
        if info is None or info.status == EndpointStatus.DELETING:
            vanished = self._transition_if(
                [State.IN_SERVICE],
                State.STOPPED,
                "reconciler: the endpoint is gone or being deleted outside this stack",
                guard=lambda current: current.endpoint_name == owned,
                derive=lambda current: self._closing_fields(current, cooldown=True),
                **_stopped_fields(),
            )
            if vanished is None:
                return None
            return Repair(owned, RepairKind.MARKED_GONE, "gone from SageMaker; item set to STOPPED")
        expired = item.expires_at is not None and item.expires_at < self.now()
        stopped = self._stop_if_due(owned, "reconciler: past expires_at") if expired else None
        if stopped is not None:
            if stopped.waiting:
                return Repair(owned, RepairKind.DELETE_DEFERRED, f"past expires_at; STOPPING: {stopped.waiting}")
            return Repair(owned, RepairKind.TORE_DOWN_EXPIRED, "past expires_at; torn down")
        idle = f"nobody used it for {self.settings.idle_minutes:g} minutes"
        if self._is_idle(item, owned) and self._stop_if(owned, idle, lambda current: self._is_idle(current, owned)):
            return Repair(owned, RepairKind.TORE_DOWN_IDLE, f"{idle}; torn down")
        return None

    def _is_idle(self, item: EndpointState, name: str) -> bool:
        """IN_SERVICE with `name`, and no successful prediction (or promotion) within IDLE_MINUTES."""
        active = max(moment for moment in (item.in_service_at, item.last_used_at, item.since) if moment is not None)
        return item.endpoint_name == name and self.now() - active > timedelta(minutes=self.settings.idle_minutes)

    def _stop_if(self, name: str, reason: str, guard: Callable[[EndpointState], bool]) -> bool:
        stopping = self._transition_if([State.IN_SERVICE], State.STOPPING, reason, guard=guard)
        if stopping is None:
            return False
        self._finish_stop_when_deletable(name)
        return True

    def _finish_interrupted_stop(self, owned: str) -> Repair:
        """A STOPPING item: the teardown died between its STOPPING write and deleting the endpoint, or SageMaker
        refused the delete while the endpoint was Creating (a stop during STARTING)."""
        waiting = self._finish_stop_when_deletable(owned).waiting
        if waiting:
            return Repair(owned, RepairKind.DELETE_DEFERRED, f"STOPPING: {waiting}")
        return Repair(owned, RepairKind.FINISHED_STOP, "finished an interrupted teardown")

    # ----- helpers -----

    def _owns_name(self, name: str) -> bool:
        return name.startswith(self.settings.endpoint_name_prefix + "-")

    def _transition_if(
        self,
        expected: Iterable[State],
        to: State | None,
        reason: str,
        guard: Callable[[EndpointState], bool],
        derive: Callable[[EndpointState], dict[str, Any]] | None = None,
        **changes: Any,
    ) -> tuple[EndpointState, EndpointState] | None:
        """Make the transition if the item is (still) in `expected` and passes `guard`: (item before, item after),
        or None if it is not. A write lost to a concurrent writer is retried on a fresh read, so exactly one caller
        wins, and "before" is exactly what that caller's write replaced. `derive` computes more changes from the
        item read (the budget's ledger), so they are as fresh as the write's condition. `to` None changes fields only
        (no history entry, `since` kept)."""
        expected = tuple(expected)
        for attempt in range(MAX_WRITE_ATTEMPTS):
            current = self.store.get()
            if current.state not in expected or not guard(current):
                return None
            fields = {**changes, **(derive(current) if derive else {})}
            try:
                if to is None:
                    after = self.store.update(expected, reason, expected_version=current.version, **fields)
                else:
                    after = self.store.transition(expected, to, reason, expected_version=current.version, **fields)
            except ConflictError:
                self._backoff(attempt)
                continue
            return current, after
        raise ConflictError("The model's state keeps changing; try again in a few seconds.")

    def _schedule_teardown(self, name: str, at: datetime) -> None:
        try:
            self.scheduler.schedule(teardown_schedule_name(name), at, {"endpoint_name": name, "expires_at": iso(at)})
        except LifecycleError:
            # The reconciler tears down any item past expires_at, so a lost schedule costs at most 5 minutes.
            logger.error("could not schedule the teardown of %s at %s", name, iso(at), exc_info=True)

    def _schedule_notice(self, name: str, expires_at: datetime) -> None:
        """Schedule (or move) the stop notice to expires_at - NOTICE_MINUTES; nothing if the notice is off."""
        if self.settings.notice_minutes <= 0:
            return
        due = expires_at - timedelta(minutes=self.settings.notice_minutes)
        at = _ceil_second(max(self.now(), due))
        payload = {"kind": NOTICE_KIND, "endpoint_name": name, "expires_at": iso(expires_at)}
        try:
            self.scheduler.schedule(notice_schedule_name(name), at, payload)
        except LifecycleError:
            # A lost notice costs a text, never a bill: the teardown has its own schedule and the reconciler.
            logger.error("could not schedule the stop notice of %s at %s", name, iso(at), exc_info=True)

    def _delete_quietly(self, name: str) -> None:
        try:
            self.endpoints.delete(name)
        except EndpointError:
            logger.warning("could not delete %s; the reconciler will", name, exc_info=True)

    def _notify(self, phones: Iterable[str], message: str) -> list[SendResult]:
        """Text each phone in the allowlist within the daily caps (a refused one is logged, not texted)."""
        results: list[SendResult] = []
        for phone in phones:
            refusal = self._text_refusal(phone)
            if refusal:
                logger.warning("SMS to %s*** not sent: %s", phone[:5], refusal)
                results.append(SendResult(ok=False, detail=refusal))
                continue
            if results:
                self.sleep(self.settings.sms_min_interval_seconds)  # SMS providers throttle bursts
            try:
                result = self.notifier.send(phone, message)
            except NotifierError as exc:
                result = SendResult(ok=False, detail=str(exc))
            if not result.ok:
                logger.warning("SMS to %s*** failed: %s", phone[:5], result.detail)
            results.append(result)
        return results

    def _text_refusal(self, phone: str) -> str | None:
        """Why `phone` may not be texted now (outside the allowlist, a daily cap reached), or None. Each cap is one
        conditional counter in the rate table, so concurrent handlers cannot overshoot it."""
        if not is_allowed(phone, self.settings.sms_country_codes):
            return "country not in SMS_COUNTRY_CODES"
        if self.rate_limiter is None:
            return None
        if self.rate_limiter.acquire(f"sms#phone#{phone}", self.settings.sms_per_number_per_day, SMS_DAY_SECONDS):
            return "SMS_PER_NUMBER_PER_DAY reached"
        if self.rate_limiter.acquire("sms#all", self.settings.sms_per_day, SMS_DAY_SECONDS):
            return "SMS_PER_DAY reached"
        return None

    def _backoff(self, attempt: int) -> None:
        self.sleep(min(0.5, 0.01 * (attempt + 1)) * random.random())
