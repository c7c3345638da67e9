"""The embedded default end to end over real HTTP: the same handlers, a real model server process, the state
store on moto's server, the event bus, the timers and the outbox, exactly as `make demo` runs them."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
import requests

from local_runtime.harness import RunningRuntime, descendants, is_model_server, process_exists
from local_runtime.outbox import read_outbox  # phones masked, as the page sees them
from tests.lifecycle_driver import confirm_over_http

PHONE = "+12025550123"
POSITIVE = "An absolute masterpiece, I loved every minute."
NEGATIVE = "Terrible, boring and a complete waste of time."

pytestmark = pytest.mark.slow


def status(runtime: RunningRuntime) -> dict[str, Any]:
    answer = requests.get(runtime.base_url + "/status", timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_for_state(runtime: RunningRuntime, wanted: str, timeout: float) -> list[str]:
    """Poll /status until `wanted`; returns every state seen on the way (deduplicated in order)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = status(runtime)["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == wanted:
            return seen
        assert state != "FAILED", f"{status(runtime)['last_error']}\n{runtime.console()[-2000:]}"
        time.sleep(0.2)
    raise AssertionError(f"not {wanted} after {timeout:.0f} s; saw {seen}\n{runtime.console()[-2000:]}")


def test_start_text_predict_and_shut_down_over_http(
    runtime_factory: Callable[..., AbstractContextManager[RunningRuntime]],
) -> None:
    # The reconciler runs every 2 s alongside: it must never take the endpoint in use for an orphan or a lost one.
    # (It may finish a teardown in progress, which it takes for an interrupted one; that is harmless.)
    with runtime_factory(
        keep_alive="25s", extra_args=("--reconcile-every", "2s", "--instant-tier", "while-starting")
    ) as runtime:
        assert status(runtime)["state"] == "STOPPED"
        page = requests.get(runtime.base_url + "/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()

        body = confirm_over_http(runtime.base_url, PHONE, runtime.outbox)  # texts only with consent: the code first
        started = requests.post(runtime.base_url + "/start", json=body, timeout=30)
        assert started.status_code == 202, started.text
        assert started.json()["state"] == "STARTING"
        wait_for_state(runtime, "IN_SERVICE", timeout=180)
        [model_pid] = runtime.model_server_pids()

        predicted = requests.post(runtime.base_url + "/predict", json={"texts": [POSITIVE, NEGATIVE]}, timeout=60)
        assert predicted.status_code == 200, f"{predicted.text}\n{runtime.console()[-2000:]}"
        assert [p["label"] for p in predicted.json()["predictions"]] == ["POSITIVE", "NEGATIVE"]
        assert predicted.json()["latency_ms"] >= 0

        deadline = time.monotonic() + 10
        while not [sms for sms in runtime.outbox() if "ready" in sms["message"]] and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # a duplicate would arrive right behind the first
        texts = [sms for sms in runtime.outbox() if sms["phone"] == PHONE and "ready" in sms["message"]]
        assert len(texts) == 1 and texts[0]["ok"]
        assert requests.get(runtime.base_url + "/outbox", timeout=10).json() == read_outbox(runtime.outbox_path)

        wait_for_state(runtime, "STOPPED", timeout=150)
        assert not process_exists(model_pid)
        assert runtime.model_server_pids() == []
        refused = requests.post(runtime.base_url + "/predict", json={"text": POSITIVE}, timeout=30)
        assert refused.status_code == 503  # --instant-tier while-starting: no tier may answer while STOPPED
        assert "STOPPED" in refused.text and refused.headers.get("Retry-After")
        console = runtime.console()
        assert "no state item owns it" not in console and "gone from SageMaker" not in console


def test_ctrl_c_stops_the_runtime_and_leaves_no_model_server_behind(
    runtime_factory: Callable[..., AbstractContextManager[RunningRuntime]],
) -> None:
    with runtime_factory(keep_alive="5m") as runtime:
        requests.post(runtime.base_url + "/start", json={}, timeout=30).raise_for_status()
        wait_for_state(runtime, "IN_SERVICE", timeout=180)
        children = descendants(runtime.process.pid)
        assert any(is_model_server(command) for command in children.values())

        runtime.process.send_signal(signal.SIGINT)
        assert runtime.process.wait(timeout=60) == 0
        assert [pid for pid in children if process_exists(pid)] == []
        assert "Stopped." in runtime.console()


def test_a_model_server_that_dies_in_service_is_torn_down_at_once(
    runtime_factory: Callable[..., AbstractContextManager[RunningRuntime]],
) -> None:
    """Not at the keep-alive's end nor at the next reconciler run: the Failed event itself stops the endpoint."""
    with runtime_factory(keep_alive="5m") as runtime:
        requests.post(runtime.base_url + "/start", json={}, timeout=30).raise_for_status()
        wait_for_state(runtime, "IN_SERVICE", timeout=180)
        [model_pid] = runtime.model_server_pids()

        os.kill(model_pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while status(runtime)["state"] != "STOPPED" and time.monotonic() < deadline:
            time.sleep(0.2)
        stopped = status(runtime)
        assert stopped["state"] == "STOPPED", f"{stopped}\n{runtime.console()[-2000:]}"
        assert stopped["last_error_code"] == "endpoint_failed"  # the raw reason goes only to the log
        assert runtime.model_server_pids() == []
