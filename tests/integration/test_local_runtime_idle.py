"""Extends follow real use, on the real local runtime: `/extend` with no recent successful `/predict` is refused,
and a model nobody predicts on for the idle window is torn down by the reconciler long before its keep-alive ends."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

import pytest
import requests

from local_runtime.harness import RunningRuntime
from tests.integration.test_local_runtime import POSITIVE, status, wait_for_state

pytestmark = pytest.mark.slow

IDLE_SECONDS = 5
KEEP_ALIVE = "5m"


def post(runtime: RunningRuntime, path: str, body: dict[str, object]) -> requests.Response:
    return requests.post(runtime.base_url + path, json=body, timeout=30)


def test_extend_needs_recent_use_and_an_unused_model_is_torn_down_early(
    runtime_factory: Callable[..., AbstractContextManager[RunningRuntime]],
) -> None:
    with runtime_factory(
        keep_alive=KEEP_ALIVE, extra_args=("--idle", f"{IDLE_SECONDS}s", "--reconcile-every", "1s")
    ) as runtime:
        assert post(runtime, "/start", {}).status_code in (200, 202)
        wait_for_state(runtime, "IN_SERVICE", timeout=60)

        refused = post(runtime, "/extend", {})
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "no_recent_use"

        answered = post(runtime, "/predict", {"text": POSITIVE})
        assert answered.status_code == 200 and answered.json()["tier"] == "gpu", answered.text
        assert post(runtime, "/extend", {}).status_code == 200  # the same call, now that someone used it
        used_at = time.monotonic()
        expires_at = datetime.fromisoformat(status(runtime)["expires_at"])

        seen = wait_for_state(runtime, "STOPPED", timeout=IDLE_SECONDS + 20)
        idle_for = time.monotonic() - used_at
        final = status(runtime)

    assert IDLE_SECONDS <= idle_for < IDLE_SECONDS + 20, seen
    stopped_at = datetime.fromisoformat(final["history"][-1]["at"])
    assert (expires_at - stopped_at).total_seconds() > 60, "torn down by the keep-alive, not for being idle"
    assert any("nobody used it" in entry["reason"] for entry in final["history"]), final["history"]
