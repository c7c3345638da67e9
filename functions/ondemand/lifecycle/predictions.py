"""Predictions: which tier answers /predict (the GPU endpoint in service, else the instant tier as INSTANT_TIER
allows, and the instant tier for a failed GPU call, marked degraded), and the use record /extend and the idle
teardown read.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any

from ondemand.domain import (
    ConflictError,
    EndpointError,
    EndpointState,
    InstantModelError,
    ModelNotReadyError,
    State,
)
from ondemand.lifecycle.room import Room, RoomKit
from ondemand.ports import InstantModel
from ondemand.status import eta_seconds

logger = logging.getLogger(__name__)

USE_RECORD_INTERVAL = timedelta(minutes=1)
"""A successful /predict records its time at most this often (one write a minute, however busy the model is)."""


class Predictions(Room):
    """Answers /predict from the tier that may answer now; every answer names its `tier` and `model`."""

    def __init__(self, kit: RoomKit, instant_model: InstantModel) -> None:
        super().__init__(kit)
        self.instant_model = instant_model

    def predict(self, texts: list[str]) -> dict[str, Any]:
        """The GPU endpoint's answer while it is in service; otherwise the instant tier's, as INSTANT_TIER allows.
        A GPU call that fails or times out is answered by the instant tier, marked degraded, unless the tier is off."""
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
