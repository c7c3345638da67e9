"""The local gateway under a burst of simultaneous connections, on loopback.

A burst of 20 simultaneous POST /start against a freshly started runtime once got a ConnectionResetError before any
handler ran: socketserver listens with a backlog of 5, and while the accept loop waited for the GIL the kernel reset
the connections that did not fit. Every connection here is opened at the same moment (a barrier), so a short
backlog shows as resets at once.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_runtime.gateway import Gateway
from local_runtime.harness import RunningRuntime, run_local_runtime

CONNECTIONS = 250
BURST_ON_RUNTIME = 200  # the issue asks for >= 200 simultaneous connections on the real runtime too
BURST_SECONDS = 10  # the whole burst, answers included; about a second on an idle machine


Request = Callable[[http.client.HTTPConnection], None]


def burst(host: str, port: int, connections: int, request: Request) -> Counter[Any]:
    """Open `connections` connections at the same moment, each sending one request; count the statuses and the
    errors by kind (a reset shows as ConnectionResetError or RemoteDisconnected)."""
    outcomes: Counter[Any] = Counter()
    lock = threading.Lock()
    release = threading.Barrier(connections)

    def one() -> None:
        release.wait()
        connection = http.client.HTTPConnection(host, port, timeout=BURST_SECONDS * 3)
        try:
            request(connection)
            response = connection.getresponse()
            response.read()
            outcome: Any = response.status
        except Exception as error:
            outcome = type(error).__name__
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=one) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def post_start(connection: http.client.HTTPConnection) -> None:
    connection.request(
        "POST", "/start", body=json.dumps({"phone": "+12025550100"}), headers={"Content-Type": "application/json"}
    )


def slow_api(event: dict[str, Any]) -> dict[str, Any]:
    """An API that takes a little while, as the lifecycle's handler does, so connections pile up."""
    time.sleep(0.005)
    return {
        "statusCode": 202,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"state": "STARTING"}),
        "isBase64Encoded": False,
    }


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gateway = Gateway(api=slow_api, static_dir=tmp_path)
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.close()


def test_a_burst_of_simultaneous_connections_is_answered_without_resets(gateway: Gateway) -> None:
    host, port = gateway.server_address[:2]
    started = time.monotonic()
    outcomes = burst(host, port, CONNECTIONS, post_start)
    elapsed = time.monotonic() - started
    assert outcomes == Counter({202: CONNECTIONS}), outcomes
    assert elapsed < BURST_SECONDS


@pytest.mark.slow
def test_a_burst_of_starts_against_a_freshly_started_runtime_gets_only_answers(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported case, 200 callers at once against the whole runtime right after it starts: every caller gets an
    answer, none 5xx.
    (Which answer, 202, 200 or a 429 from a limit, is the lifecycle's business, tested elsewhere.)"""
    monkeypatch.setenv("START_LIMIT_PER_CLIENT", "100000")  # every caller is 127.0.0.1; the limit is not under test
    with run_local_runtime(tmp_path / "runtime", tiny_model_dir, keep_alive="1m") as runtime:
        host, port = _address(runtime)
        outcomes = burst(
            host,
            port,
            BURST_ON_RUNTIME,
            lambda connection: connection.request(
                "POST", "/start", body="{}", headers={"Content-Type": "application/json", **runtime.token_header}
            ),
        )
    assert all(isinstance(outcome, int) and outcome < 500 for outcome in outcomes), outcomes
    assert sum(outcomes.values()) == BURST_ON_RUNTIME


def _address(runtime: RunningRuntime) -> tuple[str, int]:
    host, port = runtime.base_url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)
