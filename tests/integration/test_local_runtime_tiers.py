"""Answers from the first second, over real HTTP against `python -m local_runtime`: the instant tier answers while the
GPU model server is provisioning, then the GPU tier, then the "stops soon" text, then the teardown; and a fresh runtime
with no model trains in the background and is usable before the transformer exists."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from local_runtime.harness import RunningRuntime
from tests.integration.test_local_runtime import NEGATIVE, PHONE, POSITIVE, status, wait_for_state
from tests.lifecycle_driver import confirm_over_http

pytestmark = pytest.mark.slow
OTHER_PHONE = "+12025550177"


def predict(runtime: RunningRuntime) -> requests.Response:
    return requests.post(runtime.base_url + "/predict", json={"texts": [POSITIVE, NEGATIVE]}, timeout=60)


def moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def texts(runtime: RunningRuntime, containing: str) -> list[dict[str, Any]]:
    return [sms for sms in runtime.outbox() if containing in sms["message"]]


def wait_until(check: Callable[[], Any], timeout: float, what: str, runtime: RunningRuntime) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} after {timeout:.0f} s\n{runtime.console()[-2000:]}")


def test_instant_while_provisioning_then_gpu_then_the_notice_then_teardown(
    runtime_factory: Callable[..., AbstractContextManager[RunningRuntime]],
) -> None:
    with runtime_factory(keep_alive="30s", provisioning_delay="10s", extra_args=("--notice", "12s")) as runtime:
        first_phone = confirm_over_http(runtime.base_url, PHONE, runtime.outbox)  # texts only with consent
        other_phone = confirm_over_http(runtime.base_url, OTHER_PHONE, runtime.outbox)
        clicked = time.monotonic()
        started = requests.post(runtime.base_url + "/start", json=first_phone, timeout=30)
        start_seconds = time.monotonic() - clicked
        assert started.status_code == 202, started.text
        first = predict(runtime)
        first_answer_seconds = time.monotonic() - clicked
        requests.post(runtime.base_url + "/start", json=other_phone, timeout=30).raise_for_status()

        # While the GPU model server is provisioning, the instant tier answers at once.
        assert first.status_code == 200, first.text
        assert first.json()["tier"] == "instant" and first.json()["model"].startswith("instant-")
        assert [p["label"] for p in first.json()["predictions"]] == ["POSITIVE", "NEGATIVE"]
        assert first_answer_seconds <= 1.0, (
            f"the first answer took {first_answer_seconds:.2f} s after Start (the /start call {start_seconds:.2f} s)"
        )
        assert status(runtime)["state"] == "STARTING" and status(runtime)["instant_tier"] == "always"

        wait_for_state(runtime, "IN_SERVICE", timeout=180)
        gpu = predict(runtime)
        assert gpu.status_code == 200 and gpu.json()["tier"] == "gpu", gpu.text
        assert not gpu.json()["model"].startswith("instant-")
        in_service = status(runtime)
        notice_at = moment(in_service["notice_at"])
        assert notice_at == moment(in_service["expires_at"]) - timedelta(seconds=12)

        # The notice: one text to each phone, not before notice_at.
        wait_until(lambda: len(texts(runtime, "stops at")) >= 2, 60, "stop notices", runtime)
        notices = texts(runtime, "stops at")
        assert sorted(sms["phone"] for sms in notices) == [PHONE, OTHER_PHONE]
        assert all(moment(sms["at"]) >= notice_at - timedelta(seconds=1) for sms in notices), notices
        assert runtime.base_url in notices[0]["message"]  # "keep it running: <page link>"

        wait_for_state(runtime, "STOPPED", timeout=120)
        time.sleep(1)  # a duplicate would arrive right behind
        assert len(texts(runtime, "stops at")) == 2 and len(texts(runtime, "ready")) == 2
        after = predict(runtime)
        assert after.status_code == 200 and after.json()["tier"] == "instant"  # INSTANT_TIER always
        assert status(runtime)["subscribers_count"] == 0  # numbers deleted at STOPPED


def test_a_runtime_with_no_model_trains_in_the_background_and_starts_once_trained(
    runtime_factory: Callable[..., AbstractContextManager[RunningRuntime]],
    tmp_path: Path,
) -> None:
    """`make demo` on a fresh clone: usable before the transformer exists (the tiny profile keeps this short)."""
    empty_cache = tmp_path / "models" / "model"
    with runtime_factory(keep_alive="20s", extra_args=("--profile", "tiny"), model_dir=empty_cache) as runtime:
        pipeline = requests.get(runtime.base_url + "/pipeline", timeout=10).json()
        assert pipeline["state"] == "training" and pipeline["gpu_model"] is False, pipeline

        # Before the GPU model exists, Start fails as on AWS before the pipeline's first approval.
        refused = requests.post(runtime.base_url + "/start", json={}, timeout=30)
        assert refused.status_code == 503 and refused.json()["error"] == "no_approved_model", refused.text
        assert status(runtime)["state"] == "FAILED"

        wait_until(
            lambda: requests.get(runtime.base_url + "/pipeline", timeout=10).json()["instant_model"],
            300,
            "instant model",
            runtime,
        )
        early = predict(runtime)
        assert early.status_code == 200 and early.json()["tier"] == "instant", early.text

        progress = wait_until(
            lambda: (
                (answer := requests.get(runtime.base_url + "/pipeline", timeout=10).json())["state"] != "training"
                and answer
            ),
            900,
            "trained GPU model",
            runtime,
        )
        assert progress["state"] == "ready" and progress["gpu_model"] and progress["progress"] == 1.0, progress

        # No restart: Start works now.
        assert requests.post(runtime.base_url + "/start", json={}, timeout=30).status_code == 202
        wait_for_state(runtime, "IN_SERVICE", timeout=180)
        assert predict(runtime).json()["tier"] == "gpu"
