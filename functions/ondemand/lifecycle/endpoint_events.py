"""Endpoint events: what a SageMaker Endpoint State Change means for the item, handed to the room that owns it
(a waiting start resumes, a deferred stop finishes, a start is promoted or fails, a broken endpoint is torn down).
"""

from __future__ import annotations

import logging

from ondemand.domain import EndpointError, EndpointStatus, State
from ondemand.lifecycle.promotion import Promotion
from ondemand.lifecycle.room import Room, RoomKit
from ondemand.lifecycle.shutdown import Shutdown
from ondemand.lifecycle.starts import STALE_STARTING, Starts, failure_code

logger = logging.getLogger(__name__)

STALE_IN_SERVICE = "ignored: not IN_SERVICE with this endpoint (duplicate or stale event)"


class EndpointEvents(Room):
    """Routes one endpoint status change to the start, promotion or shutdown it concerns."""

    def __init__(self, kit: RoomKit, starts: Starts, promotion: Promotion, shutdown: Shutdown) -> None:
        super().__init__(kit)
        self.starts = starts
        self.promotion = promotion
        self.shutdown = shutdown

    def on_endpoint_status(self, name: str, status: EndpointStatus, failure_reason: str | None = None) -> str:
        """A SageMaker Endpoint State Change. Returns what was done, for the log."""
        if not name.startswith(self.settings.endpoint_name_prefix + "-"):
            return "ignored: not this stack's endpoint"
        if status not in (EndpointStatus.IN_SERVICE, EndpointStatus.FAILED):
            return f"ignored: {status.value} changes nothing"
        item = self.store.get()
        if item.state == State.STARTING and item.waiting_for == name:
            return self.starts.resume(name) or STALE_STARTING
        if item.state == State.FAILED and item.waiting_for == name:
            # A failed start's endpoint SageMaker would not delete while Creating: it has settled, so delete it now.
            deleted = self.starts.finish_failed(name)
            if deleted is None:
                return "ignored: the failed start's endpoint was already deleted"
            return f"deleted {name}, the failed start's endpoint" if deleted else f"{name} still bills: delete refused"
        if item.state == State.STOPPING and item.endpoint_name == name:
            # A stop SageMaker refused while the endpoint was Creating: it has settled, so finish it now.
            try:
                waiting = self.shutdown.finish_when_deletable(name).waiting
            except EndpointError as exc:  # throttled: the reconciler finishes it within its period
                logger.warning("could not finish the stop of %s: %s", name, exc)
                return f"still STOPPING: {exc}"
            return f"still STOPPING: {waiting}" if waiting else "finished a stop that waited for SageMaker"
        if status == EndpointStatus.IN_SERVICE:
            return self.promotion.promote_if_answering(name, "endpoint InService")
        detail = f"SageMaker reported the endpoint Failed: {failure_reason or 'no reason given'}"
        if item.state == State.IN_SERVICE:
            # Only believe it if the endpoint says so too: a Failed event after InService may be a stale one.
            info = self.endpoints.describe(name)
            if info is not None and info.status not in (EndpointStatus.FAILED, EndpointStatus.OUT_OF_SERVICE):
                return f"ignored: a Failed event, but the endpoint reports {info.status.value}"
            return self.shutdown.tear_down_broken(name, detail) or STALE_IN_SERVICE
        return self.starts.fail(name, failure_code(failure_reason), detail) or STALE_STARTING
