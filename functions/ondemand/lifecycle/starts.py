"""Starts: who may start the model (rate limits, cooldown, budget, the list of people to text), the one write that
wins STOPPED|FAILED -> STARTING, creating the endpoint, and a start's failure (STARTING -> FAILED).

The decisions are the named pure functions of ondemand.budget; this room reads the item, asks them, and writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from ondemand.budget import (
    Subscription,
    budget_stop,
    closing_fields,
    counts_against_client,
    ledger_for_start,
    refuse_while_cooling_down,
    subscription,
)
from ondemand.domain import (
    ConflictError,
    EndpointError,
    EndpointNotDeletableError,
    EndpointState,
    EndpointStatus,
    RateLimitedError,
    State,
    public_message,
)
from ondemand.lifecycle.room import Room, RoomKit
from ondemand.lifecycle.texting import texted
from ondemand.ports import RateLimiter

logger = logging.getLogger(__name__)

TOO_MANY_STARTING = "Too many people are starting the model at once; try again in a few seconds."
STALE_STARTING = "ignored: not STARTING this endpoint (duplicate or stale event)"
LOG_DETAIL_CHARS = 300
"""A provider's message is logged up to this long: a failing start's log line stays bounded, whatever it says."""


@dataclass(frozen=True)
class StartResult:
    state: EndpointState
    created: bool
    """True for the one caller that won STOPPED|FAILED -> STARTING and created the endpoint."""
    subscribed: bool
    """True if the caller's phone is on the list to text (now or already)."""


def failure_code(reason: str | None) -> str:
    """The stable code of an endpoint failure SageMaker reported (its FailureReason stays in the log)."""
    return "no_capacity" if reason and "capacity" in reason.lower() else "endpoint_failed"


class Starts(Room):
    """Admits a start, creates the one endpoint, and fails a start that cannot succeed."""

    def __init__(self, kit: RoomKit, rate_limiter: RateLimiter | None) -> None:
        super().__init__(kit)
        self.rate_limiter = rate_limiter

    def start(self, phone: str | None = None, client: str | None = None) -> StartResult:
        """Create the endpoint if nobody has; otherwise add `phone` to the people to text when it is ready. `client`
        is the caller's address the start limits count against (None: an in-process caller, which none apply to)."""
        if client is not None:
            self.limit(phone, client)
        for _ in self.writes.attempts():
            current = self.store.get()
            if current.state in (State.STOPPED, State.FAILED):
                now = self.now()
                # The budget first: when the day is spent, "tomorrow" is the answer that holds, not the cooldown.
                ledger = ledger_for_start(
                    current, now, self.settings.gpu_minutes_per_day, self.settings.min_run_minutes
                )
                refuse_while_cooling_down(current, now)
                try:
                    started = self.store.transition(
                        [State.STOPPED, State.FAILED],
                        State.STARTING,
                        "start requested",
                        expected_version=current.version,
                        endpoint_name=self.new_endpoint_name(current.version + 1),
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
                    continue
                self.schedule_budget_stop(started)
                self.create_endpoint(started, phone)
                return StartResult(started, created=True, subscribed=phone is not None)
            if current.state == State.STARTING:
                joining = subscription(current.subscribers, phone, self.settings.max_subscribers)
                if joining is not Subscription.JOINS:
                    return StartResult(current, created=False, subscribed=joining is Subscription.ALREADY_ON)
                try:
                    updated = self.store.add_subscriber(
                        [State.STARTING], cast(str, phone), self.settings.max_subscribers
                    )
                except ConflictError:
                    continue  # no longer STARTING, or someone added this phone or filled the list: decide again
                return StartResult(updated, created=False, subscribed=True)
            if current.state == State.IN_SERVICE:
                return StartResult(current, created=False, subscribed=False)
            raise ConflictError("The model is shutting down; start it again in a minute.")
        raise ConflictError(TOO_MANY_STARTING)

    def limit(self, phone: str | None, client: str) -> None:
        """RateLimitedError past a limit: per client, the starts that can cost money or text someone; per phone,
        every start naming it."""
        if self.rate_limiter is None:
            return
        window = self.settings.start_limit_window_seconds
        if counts_against_client(phone, self.store.get().state):
            wait = self.rate_limiter.acquire(f"start#client#{client}", self.settings.start_limit_per_client, window)
            if wait is not None:
                raise RateLimitedError(f"Too many starts from your address; try again in {wait} seconds.", wait)
        if phone is not None:
            wait = self.rate_limiter.acquire(f"start#phone#{phone}", self.settings.start_limit_per_phone, window)
            if wait is not None:
                raise RateLimitedError(f"Too many starts for this phone number; try again in {wait} seconds.", wait)

    def new_endpoint_name(self, start_version: int) -> str:
        """`<prefix>-<UTC time>-<version>`: the version the STARTING write creates is unique per start, so a stop and
        a start in the same second never reuse a name SageMaker is still deleting."""
        return f"{self.settings.endpoint_name_prefix}-{self.now():%Y%m%dt%H%M%S}-{start_version}"

    def schedule_budget_stop(self, started: EndpointState) -> None:
        """A start that could still be STARTING when the budget runs out gets a teardown schedule at that moment
        (promotion replaces it with expires_at), so a hung start cannot bill past the budget until the reconciler."""
        stop_at = budget_stop(started, self.settings.gpu_minutes_per_day)
        timeout = timedelta(minutes=self.settings.starting_timeout_minutes)
        if started.endpoint_name and stop_at is not None and stop_at <= self.now() + timeout:
            self.schedules.teardown_at(started.endpoint_name, stop_at)

    def create_endpoint(self, started: EndpointState, caller: str | None) -> None:
        """Create the new endpoint, after deleting any other endpoint of ours (a failed start's whose cleanup was
        throttled, one a crashed start left): the item now owns only the new name, so never two bill at once.
        A failure here is the caller's own request's: it gets the error as the answer, not a text too.

        A leftover SageMaker will not delete yet (Creating or Updating) keeps the start STARTING: the item records it
        in `waiting_for`, and its settling event or the reconciler creates ours (see resume)."""
        name = started.endpoint_name or ""
        try:
            for leftover in self.endpoints.list(self.settings.endpoint_name_prefix + "-"):
                if leftover.name != name and leftover.status != EndpointStatus.DELETING:
                    self.endpoints.delete(leftover.name)
            self.endpoints.create(name)
        except EndpointNotDeletableError as exc:
            logger.info("start of %s waits for %s: %s", name, exc.name, exc)
            self.writes.transition_if(
                [State.STARTING],
                None,
                f"waiting for {exc.name} to settle",
                guard=lambda item: item.endpoint_name == name,
                waiting_for=exc.name,
            )
        except EndpointError as exc:
            self.fail(name, exc.code, f"could not create the endpoint: {exc}", spare=caller)
            raise

    def resume(self, leftover: str) -> str | None:
        """The leftover a start waits for has settled: delete it and create the start's endpoint. Only the caller that
        wins the write clearing `waiting_for` does, so an event and the reconciler never both create. None if the
        item is not waiting for `leftover`; otherwise what was done, for the log."""
        claimed = self.writes.transition_if(
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
            self.create_endpoint(item, caller=None)
        except EndpointError as exc:
            return f"{leftover} settled, but creating {item.endpoint_name} failed: {exc.code}"
        waiting = self.store.get().waiting_for
        if waiting:
            return f"{leftover} settled; still waiting for {waiting}"
        return f"{leftover} settled; created {item.endpoint_name}"

    def fail(self, name: str, code: str, detail: str | None = None, spare: str | None = None) -> str | None:
        """STARTING -> FAILED, delete the endpoint, tell the subscribers but `spare` (the caller whose own request
        failed: it gets the error as its answer). Item, history and texts carry the code's sentence; `detail` (a
        provider's message) only the log, cut to LOG_DETAIL_CHARS. None if not STARTING this endpoint.

        The cooldown follows a failure as it follows a teardown, so a start that keeps failing (no approved model, a
        GPU quota of 0) costs its writes once per cooldown, not once per request. A delete SageMaker refuses (the
        endpoint is still Creating) leaves the run open on the item (see keep_billing) until the endpoint is gone."""
        sentence = public_message(code)
        failed = self.writes.transition_if(
            [State.STARTING],
            State.FAILED,
            sentence,
            guard=lambda item: item.endpoint_name == name,
            derive=lambda item: closing_fields(item, self.now(), self.settings.cooldown_minutes),
            last_error=sentence,
            last_error_code=code,
            subscribers=[],
            waiting_for=None,
        )
        if failed is None:
            return None
        logger.warning("start of %s failed (%s): %s", name, code, (detail or sentence)[:LOG_DETAIL_CHARS])
        before, _ = failed
        try:
            self.endpoints.delete(name)
        except EndpointError as exc:
            self.keep_billing(name, exc)
        sent = self.texting.tell_failed([phone for phone in before.subscribers if phone != spare], sentence)
        return f"FAILED ({code}); {texted(sent)}"

    def keep_billing(self, name: str, refusal: EndpointError) -> None:
        """The failed start's endpoint could not be deleted yet: it bills on, so the item reopens the run from now
        and names the endpoint in `waiting_for`; its next status event or the reconciler deletes it and charges the
        run (finish_failed). The FAILED write already charged the run up to now."""
        logger.warning("could not delete %s yet (%s); its next event or the reconciler will", name, refusal.code)
        self.writes.transition_if(
            [State.FAILED],
            None,
            f"{name} still bills until SageMaker deletes it",
            guard=lambda item: item.endpoint_name == name and item.run_started_at is None,
            run_started_at=self.now(),
            waiting_for=name,
        )

    def finish_failed(self, name: str) -> bool | None:
        """Delete the endpoint of a failed start SageMaker would not delete before, and charge its run: True once
        deleted, False if SageMaker refused again (its next event or the reconciler retries), None if the item is not
        FAILED waiting for `name`."""
        item = self.store.get()
        if item.state != State.FAILED or item.waiting_for != name:
            return None
        try:
            self.endpoints.delete(name)
        except EndpointError as exc:
            logger.info("%s still bills: the delete was refused (%s)", name, exc.code)
            return False
        closed = self.writes.transition_if(
            [State.FAILED],
            None,
            f"{name} deleted",
            guard=lambda current: current.waiting_for == name,
            derive=lambda current: closing_fields(current, self.now(), cooldown_minutes=0),
            waiting_for=None,
        )
        return True if closed else None
