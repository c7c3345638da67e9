"""Promotion: STARTING -> IN_SERVICE once the endpoint answers a real prediction (the canary), then the teardown and
notice schedules, and the ready text to everyone who asked.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from ondemand.budget import budget_stop
from ondemand.domain import EndpointError, State
from ondemand.lifecycle.room import Room
from ondemand.lifecycle.starts import STALE_STARTING
from ondemand.lifecycle.texting import texted

logger = logging.getLogger(__name__)

# SageMaker reports InService once the container answers /ping, which can be before the model answers a request
# (https://github.com/aws/sagemaker-huggingface-inference-toolkit/issues/111): one real prediction of this text must
# succeed before anyone is told the model is ready.
CANARY_TEXT = "A short canary review: the model answers before anyone is told it is ready."


class Promotion(Room):
    """Makes a started endpoint the one in service, once it answers, and tells the people who asked."""

    def promote_if_answering(self, name: str, reason: str) -> str:
        """Promote (see promote) once one real prediction succeeds; until then the item stays STARTING and the next
        event or the reconciler tries again (the reconciler fails it after the starting timeout)."""
        item = self.store.get()
        if item.state != State.STARTING or item.endpoint_name != name:
            return STALE_STARTING
        failure = self.canary(name)
        if failure is not None:
            logger.warning("%s is InService but not answering yet: %s", name, failure)
            return f"kept STARTING: {failure}"
        return self.promote(name, reason) or STALE_STARTING

    def canary(self, name: str) -> str | None:
        """One real prediction through the endpoint: None if it answered one prediction, otherwise why not."""
        try:
            answer = self.endpoints.invoke(name, {"texts": [CANARY_TEXT]})
        except EndpointError as exc:
            return f"the canary prediction failed: {exc}"
        predictions = answer.get("predictions")
        if not isinstance(predictions, list) or len(predictions) != 1:
            return "the canary prediction did not answer one prediction"
        return None

    def promote(self, name: str, reason: str) -> str | None:
        """STARTING -> IN_SERVICE, schedule the teardown and the notice, send the ready text. None if the item is not
        STARTING this endpoint (a duplicate or stale event); otherwise what was done."""
        now = self.now()
        keep_alive_end = now + timedelta(minutes=self.settings.keep_alive_minutes)
        budget = self.settings.gpu_minutes_per_day
        # Only the caller whose promoting write wins texts, from the item as it was just before: a retry or a crash
        # can lose a text but never send one twice. The numbers stay on the item for the stop notice until STOPPED.
        promoted = self.writes.transition_if(
            [State.STARTING],
            State.IN_SERVICE,
            reason,
            guard=lambda item: item.endpoint_name == name,
            derive=lambda item: {"expires_at": min(keep_alive_end, budget_stop(item, budget) or keep_alive_end)},
            in_service_at=now,
            notice_sent_at=None,
        )
        if promoted is None:
            return None
        before, after = promoted
        expires_at = after.expires_at or keep_alive_end
        self.schedules.teardown_at(name, expires_at)
        self.schedules.notice_before(name, expires_at)
        sent = self.texting.tell_ready(before.subscribers, expires_at)
        return f"promoted to IN_SERVICE; {texted(sent)}"
