"""The local runtime's adapters against real processes, sockets and timers (no lifecycle logic involved):
the endpoint control with a stand-in model server, the scheduler, the event bus, the gateway, the outbox."""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from ondemand.domain import EndpointError, EndpointStatus

from local_runtime.cfn_template import load_template, rule_patterns
from local_runtime.endpoints import LocalEndpointControl, SubprocessSpawner, endpoint_state_change_event
from local_runtime.event_bus import LocalEventBus, Rule
from local_runtime.gateway import Gateway
from local_runtime.harness import process_exists
from local_runtime.outbox import OutboxNotifier, read_outbox
from local_runtime.runtime import ENDPOINT_EVENTS_HANDLER
from local_runtime.scheduler import LocalScheduler, RateLoop

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"

# A model server that keeps the SageMaker container contract, answers by keyword, and can be told to crash.
STAND_IN_SERVER = textwrap.dedent('''
    import json, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if sys.argv[2:] == ["broken"]:  # how the pipeline's server says it could not load the model
                body = json.dumps({"error": "model_load_failed", "message": "no config.json in /nowhere"}).encode()
                self.send_response(503); self.send_header("Content-Length", str(len(body))); self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200 if self.path == "/ping" else 404); self.end_headers()

        def do_POST(self):
            texts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["texts"]
            preds = [{"label": "POSITIVE" if "good" in t else "NEGATIVE", "label_id": int("good" in t), "prob": 0.9}
                     for t in texts]
            body = json.dumps({"predictions": preds, "latency_ms": 1.0, "model": "stand-in"}).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
''')


class Events:
    """Collects the endpoint control's events so a test can wait for a status."""

    def __init__(self) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.queue.put(event)

    def wait_for(self, status: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(event)
            if event["detail"]["EndpointStatus"] == status:
                return event
        raise AssertionError(f"no {status} event; saw {[e['detail']['EndpointStatus'] for e in self.seen]}")


@pytest.fixture
def stand_in(tmp_path: Path) -> Path:
    script = tmp_path / "stand_in_server.py"
    script.write_text(STAND_IN_SERVER)
    return script


def control(tmp_path: Path, command: Any, events: Events, **kwargs: Any) -> LocalEndpointControl:
    return LocalEndpointControl(SubprocessSpawner(command), emit=events, log_dir=tmp_path / "logs", ready_timeout=30,
                                **kwargs)


def test_endpoint_is_creating_until_the_model_answers_then_in_service_and_delete_stops_the_process(
    tmp_path: Path, stand_in: Path
) -> None:
    events = Events()
    endpoints = control(tmp_path, lambda port: [sys.executable, str(stand_in), str(port)], events)

    endpoints.create("ondemand-sentiment-a")
    assert events.wait_for("CREATING")
    events.wait_for("IN_SERVICE")
    assert endpoints.describe("ondemand-sentiment-a").status == EndpointStatus.IN_SERVICE
    assert [e.name for e in endpoints.list("ondemand-sentiment-")] == ["ondemand-sentiment-a"]
    answer = endpoints.invoke("ondemand-sentiment-a", {"texts": ["a good film", "a dull film"]})
    assert [p["label"] for p in answer["predictions"]] == ["POSITIVE", "NEGATIVE"]

    pid = endpoints.endpoint("ondemand-sentiment-a").process.pid
    endpoints.delete("ondemand-sentiment-a")
    assert not process_exists(pid)
    assert endpoints.describe("ondemand-sentiment-a") is None
    events.wait_for("DELETING")
    endpoints.delete("ondemand-sentiment-a")  # already gone counts as deleted
    with pytest.raises(EndpointError):
        endpoints.invoke("ondemand-sentiment-a", {"texts": ["x"]})


def test_a_model_server_that_crashes_while_starting_becomes_failed_with_its_last_words(tmp_path: Path) -> None:
    events = Events()
    crash = [sys.executable, "-c", "import sys; print('no model in /nowhere'); sys.exit(3)"]
    endpoints = control(tmp_path, lambda port: crash, events)

    endpoints.create("ondemand-sentiment-b")
    failed = events.wait_for("FAILED")
    assert "code 3" in failed["detail"]["FailureReason"]
    assert "no model in /nowhere" in failed["detail"]["FailureReason"]
    assert endpoints.describe("ondemand-sentiment-b").status == EndpointStatus.FAILED


def test_a_model_server_that_cannot_load_its_model_fails_at_once_and_is_stopped(tmp_path: Path, stand_in: Path) -> None:
    events = Events()
    endpoints = control(tmp_path, lambda port: [sys.executable, str(stand_in), str(port), "broken"], events)

    endpoints.create("ondemand-sentiment-e")
    failed = events.wait_for("FAILED", timeout=20)
    assert "no config.json in /nowhere" in failed["detail"]["FailureReason"]
    assert endpoints.endpoint("ondemand-sentiment-e").process.poll() is not None


def test_a_model_server_that_dies_in_service_becomes_failed(tmp_path: Path, stand_in: Path) -> None:
    events = Events()
    endpoints = control(tmp_path, lambda port: [sys.executable, str(stand_in), str(port)], events)
    endpoints.create("ondemand-sentiment-c")
    events.wait_for("IN_SERVICE")

    os.kill(endpoints.endpoint("ondemand-sentiment-c").process.pid, signal.SIGKILL)
    failed = events.wait_for("FAILED")
    assert "exited unexpectedly" in failed["detail"]["FailureReason"]
    endpoints.close()


def test_the_provisioning_delay_keeps_the_endpoint_creating_and_delete_cancels_it(
    tmp_path: Path, stand_in: Path
) -> None:
    events = Events()
    endpoints = control(tmp_path, lambda port: [sys.executable, str(stand_in), str(port)], events,
                        provisioning_delay=30)
    endpoints.create("ondemand-sentiment-d")
    time.sleep(0.5)
    assert endpoints.describe("ondemand-sentiment-d").status == EndpointStatus.CREATING
    assert endpoints.endpoint("ondemand-sentiment-d").process is None
    started = time.monotonic()
    endpoints.delete("ondemand-sentiment-d")
    assert time.monotonic() - started < 5
    assert endpoints.describe("ondemand-sentiment-d") is None


def test_state_change_events_have_the_fixture_shape_and_match_the_template_rule() -> None:
    fixture = json.loads((EVENTS_DIR / "endpoint_state_change_in_service.json").read_text())
    event = endpoint_state_change_event("ondemand-sentiment-x", EndpointStatus.IN_SERVICE, "us-east-1",
                                        datetime.now(UTC))
    assert set(event) == set(fixture)
    assert set(fixture["detail"]) <= set(event["detail"])
    assert event["detail"]["EndpointStatus"] == fixture["detail"]["EndpointStatus"]

    rules = [Rule(p, ENDPOINT_EVENTS_HANDLER) for p in rule_patterns(load_template(), ENDPOINT_EVENTS_HANDLER)]
    assert rules and all(rule.matches(event) for rule in rules)
    other = endpoint_state_change_event("someone-elses-endpoint", EndpointStatus.IN_SERVICE, "us-east-1",
                                        datetime.now(UTC))
    assert not any(rule.matches(other) for rule in rules)


def test_the_bus_delivers_matching_events_to_the_rule_target_and_retries_a_failing_target() -> None:
    delivered: list[tuple[str, str]] = []
    attempts = {"n": 0}

    def invoke(target: str, event: dict[str, Any]) -> None:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise RuntimeError("first attempt fails")
        delivered.append((target, event["detail"]["EndpointName"]))

    pattern = {"source": ["aws.sagemaker"], "detail": {"EndpointName": [{"prefix": "ondemand-sentiment-"}]}}
    bus = LocalEventBus([Rule(pattern, "target.handler")], invoke, retry_delay=0.01)
    for name in ("ondemand-sentiment-1", "other-2"):
        bus.put(endpoint_state_change_event(name, EndpointStatus.IN_SERVICE, "us-east-1", datetime.now(UTC)))
    bus.drain()
    bus.close()
    assert delivered == [("target.handler", "ondemand-sentiment-1")]


def test_a_schedule_fires_its_payload_at_its_time_and_replacing_it_cancels_the_old_one() -> None:
    fired: list[tuple[float, dict[str, Any]]] = []
    scheduler = LocalScheduler(fire=lambda payload: fired.append((time.monotonic(), payload)))
    start = time.monotonic()
    scheduler.schedule("teardown", datetime.now(UTC) + timedelta(seconds=0.3), {"expires_at": "first"})
    scheduler.schedule("teardown", datetime.now(UTC) + timedelta(seconds=0.8), {"expires_at": "second"})
    scheduler.schedule("other", datetime.now(UTC) + timedelta(seconds=0.2), {"expires_at": "cancelled"})
    scheduler.cancel("other")
    assert scheduler.pending() == ["teardown"]
    time.sleep(1.3)
    assert [payload for _, payload in fired] == [{"expires_at": "second"}]
    assert fired[0][0] - start >= 0.75
    assert scheduler.pending() == []


def test_the_gateway_turns_requests_into_proxy_events_and_serves_the_page(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>page</h1>")
    (tmp_path / "dashboard").mkdir()
    (tmp_path / "dashboard" / "app.py").write_text("SECRET = 1")
    seen: list[dict[str, Any]] = []

    def api(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 503, "headers": {"Content-Type": "application/json", "Retry-After": "7"},
                "body": json.dumps({"error": "model_not_ready", "state": "STOPPED"}), "isBase64Encoded": False}

    gateway = Gateway(api=api, static_dir=tmp_path, extra_routes={"/outbox": lambda: [{"phone": "+15555550100"}]})
    gateway.start()
    try:
        page = requests.get(gateway.base_url + "/", timeout=5)
        assert page.status_code == 200 and "<h1>page</h1>" in page.text
        assert page.headers["Content-Type"] == "text/html"
        outbox = requests.get(gateway.base_url + "/outbox", timeout=5)
        assert outbox.json() == [{"phone": "+15555550100"}]
        assert outbox.headers["Access-Control-Allow-Origin"] == "*"  # a page opened from disk reads it too
        assert requests.get(gateway.base_url + "/dashboard/app.py", timeout=5).status_code == 503  # not a page file

        answer = requests.post(gateway.base_url + "/predict?debug=1", json={"text": "hello"}, timeout=5)
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "7"
        assert answer.json() == {"error": "model_not_ready", "state": "STOPPED"}
        event = seen[-1]
        assert (event["httpMethod"], event["path"], event["queryStringParameters"]) == ("POST", "/predict",
                                                                                      {"debug": "1"})
        assert json.loads(event["body"]) == {"text": "hello"} and event["isBase64Encoded"] is False
        assert event["headers"]["Content-Type"] == "application/json"
        assert requests.get(gateway.base_url + "/../../etc/passwd", timeout=5).status_code == 503  # to the API

        too_big = requests.post(gateway.base_url + "/predict", data=b"x" * (11 * 1024 * 1024), timeout=30)
        assert too_big.status_code == 413 and too_big.json()["error"] == "payload_too_large"
    finally:
        gateway.close()


def test_the_outbox_records_every_sms_and_what_the_provider_said(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    printed: list[dict[str, Any]] = []
    notifier = OutboxNotifier(outbox, on_send=printed.append)
    result = notifier.send("+15555550100", "Your model is ready.")
    assert result.ok
    [entry] = read_outbox(outbox)
    assert entry["phone"] == "+15555550100" and entry["message"] == "Your model is ready."
    assert entry["provider"] == "outbox" and entry["ok"] is True and entry["at"]
    assert printed == [entry]



def test_with_a_textbelt_key_the_sms_goes_to_textbelt_and_the_outbox_records_its_answer(tmp_path: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs

    from ondemand.adapters.sms import TextbeltNotifier

    received: list[dict[str, list[str]]] = []

    class FakeTextbelt(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()))
            body = json.dumps({"success": True, "textId": "42", "quotaRemaining": 9}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTextbelt)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/text"
        notifier = OutboxNotifier(tmp_path / "outbox.jsonl", provider=TextbeltNotifier(lambda: "secret-key", url),
                                  provider_name="textbelt")
        assert notifier.send("+15555550100", "Your model is ready.").ok
    finally:
        server.shutdown()
    assert received == [{"phone": ["+15555550100"], "message": ["Your model is ready."], "key": ["secret-key"]}]
    [entry] = read_outbox(tmp_path / "outbox.jsonl")
    assert entry["provider"] == "textbelt" and entry["ok"] is True and "textId=42" in entry["detail"]


def test_the_rate_loop_runs_its_target_every_period_until_closed() -> None:
    runs: list[float] = []
    loop = RateLoop(0.05, lambda: runs.append(time.monotonic()), name="reconciler")
    loop.start()
    time.sleep(0.4)
    loop.close()
    count = len(runs)
    time.sleep(0.15)
    assert count >= 3 and len(runs) == count


def test_a_port_taken_before_the_model_server_binds_it_is_retried_on_another(tmp_path: Path, stand_in: Path) -> None:
    events = Events()
    ports: list[int] = []

    def command(port: int) -> list[str]:
        ports.append(port)
        if len(ports) == 1:
            taken = "import sys; print('OSError: [Errno 98] Address already in use'); sys.exit(1)"
            return [sys.executable, "-c", taken]
        return [sys.executable, str(stand_in), str(port)]

    endpoints = control(tmp_path, command, events)
    endpoints.create("ondemand-sentiment-f")
    events.wait_for("IN_SERVICE")
    assert len(ports) == 2
    assert "FAILED" not in [e["detail"]["EndpointStatus"] for e in events.seen]
    endpoints.close()
