"""The local runtime's adapters against real processes, sockets and timers (no lifecycle logic involved):
the endpoint control with a stand-in model server, the scheduler, the event bus, the gateway, the outbox."""

from __future__ import annotations

import json
import os
import queue
import signal
import stat
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from ondemand.adapters.dynamodb import DynamoStateStore
from ondemand.domain import EndpointError, EndpointStatus, State

from local_runtime.cfn_template import load_template, rule_patterns
from local_runtime.endpoints import LocalEndpointControl, SubprocessSpawner, endpoint_state_change_event
from local_runtime.event_bus import LocalEventBus, Rule
from local_runtime.gateway import Gateway
from local_runtime.harness import process_exists
from local_runtime.outbox import OutboxNotifier, mask_phone, read_outbox
from local_runtime.runtime import ENDPOINT_EVENTS_HANDLER, LocalRuntime, RuntimeConfig
from local_runtime.scheduler import LocalScheduler, RateLoop
from local_runtime.state_server import LocalStateServer

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"

# A model server that keeps the SageMaker container contract, answers by keyword, and can be told to crash.
STAND_IN_SERVER = textwrap.dedent("""
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
""")


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
    return LocalEndpointControl(
        SubprocessSpawner(command), emit=events, log_dir=tmp_path / "logs", ready_timeout=30, **kwargs
    )


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
    endpoints = control(
        tmp_path, lambda port: [sys.executable, str(stand_in), str(port)], events, provisioning_delay=30
    )
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
    event = endpoint_state_change_event(
        "ondemand-sentiment-x", EndpointStatus.IN_SERVICE, "us-east-1", datetime.now(UTC)
    )
    assert set(event) == set(fixture)
    assert set(fixture["detail"]) <= set(event["detail"])
    assert event["detail"]["EndpointStatus"] == fixture["detail"]["EndpointStatus"]

    rules = [Rule(p, ENDPOINT_EVENTS_HANDLER) for p in rule_patterns(load_template(), ENDPOINT_EVENTS_HANDLER)]
    assert rules and all(rule.matches(event) for rule in rules)
    other = endpoint_state_change_event(
        "someone-elses-endpoint", EndpointStatus.IN_SERVICE, "us-east-1", datetime.now(UTC)
    )
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
        return {
            "statusCode": 503,
            "headers": {"Content-Type": "application/json", "Retry-After": "7"},
            "body": json.dumps({"error": "model_not_ready", "state": "STOPPED"}),
            "isBase64Encoded": False,
        }

    gateway = Gateway(api=api, static_dir=tmp_path, extra_routes={"/outbox": lambda: [{"phone": "+15555550100"}]})
    gateway.start()
    try:
        page = requests.get(gateway.base_url + "/", timeout=5)
        assert page.status_code == 200 and "<h1>page</h1>" in page.text
        assert page.headers["Content-Type"] == "text/html"
        outbox = requests.get(gateway.base_url + "/outbox", timeout=5)
        assert outbox.json() == [{"phone": "+15555550100"}]
        assert "Access-Control-Allow-Origin" not in outbox.headers  # only the page served here reads it
        assert requests.get(gateway.base_url + "/dashboard/app.py", timeout=5).status_code == 503  # not a page file

        answer = requests.post(gateway.base_url + "/predict?debug=1", json={"text": "hello"}, timeout=5)
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "7"
        assert answer.json() == {"error": "model_not_ready", "state": "STOPPED"}
        event = seen[-1]
        assert (event["httpMethod"], event["path"], event["queryStringParameters"]) == (
            "POST",
            "/predict",
            {"debug": "1"},
        )
        assert json.loads(event["body"]) == {"text": "hello"} and event["isBase64Encoded"] is False
        assert event["headers"]["Content-Type"] == "application/json"
        assert requests.get(gateway.base_url + "/../../etc/passwd", timeout=5).status_code == 503  # to the API

        too_big = requests.post(
            gateway.base_url + "/predict",
            data=b"x" * (11 * 1024 * 1024),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert too_big.status_code == 413 and too_big.json()["error"] == "payload_too_large"
    finally:
        gateway.close()


def test_the_outbox_records_every_sms_and_what_the_provider_said(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    printed: list[dict[str, Any]] = []
    notifier = OutboxNotifier(outbox, on_send=printed.append)
    result = notifier.send("+15555550100", "Your model is ready.")
    assert result.ok
    [entry] = read_outbox(outbox, reveal_phones=True)
    assert entry["phone"] == "+15555550100" and entry["message"] == "Your model is ready."
    assert entry["provider"] == "outbox" and entry["ok"] is True and entry["at"]
    assert printed == [entry]


def test_the_outbox_file_is_private_and_what_it_shows_masks_the_numbers(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    outbox.write_text("")  # as the runtime empties it at start: made with the umask's mode
    notifier = OutboxNotifier(outbox)
    for phone in ("+15555550100", "+447700900123"):
        notifier.send(phone, "Your model is ready.")
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o600
    assert [e["phone"] for e in read_outbox(outbox)] == ["+1555***0100", "+4477***0123"]
    assert [e["phone"] for e in read_outbox(outbox, reveal_phones=True)] == ["+15555550100", "+447700900123"]
    assert [mask_phone(p) for p in ("+1234567", "+12", "")] == ["+12***67", "***", "***"]


def test_the_runtime_file_with_the_admin_key_is_private(tmp_path: Path) -> None:
    runtime = LocalRuntime(RuntimeConfig(model_dir=tmp_path, var_dir=tmp_path, admin_key="s3cret"), say=lambda _: None)
    runtime.gateway = Gateway(api=lambda event: {}, static_dir=tmp_path)
    runtime.state_server = LocalStateServer(table_name="unused")
    try:
        (tmp_path / "runtime.tmp").write_text("left by a crash")  # a leftover is replaced, not reused
        runtime._write_runtime_file()
    finally:
        runtime.gateway.server_close()
    written = tmp_path / "runtime.json"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert json.loads(written.read_text())["admin_key"] == "s3cret"


def test_the_console_line_for_a_text_masks_the_number(tmp_path: Path) -> None:
    said: list[str] = []
    runtime = LocalRuntime(RuntimeConfig(model_dir=tmp_path, var_dir=tmp_path), say=said.append)
    runtime._sent({"phone": "+15555550100", "ok": True, "provider": "outbox", "message": "Your model is ready."})
    assert said == ["SMS to +1555***0100 via outbox sent: Your model is ready."]


def test_with_a_textbelt_key_the_sms_goes_to_textbelt_and_the_outbox_records_its_answer(tmp_path: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs

    from ondemand.adapters.sms import TextbeltNotifier

    received: list[dict[str, list[str]]] = []

    class FakeTextbelt(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
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
        notifier = OutboxNotifier(
            tmp_path / "outbox.jsonl", provider=TextbeltNotifier(lambda: "secret-key", url), provider_name="textbelt"
        )
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


@pytest.fixture
def recording_gateway(tmp_path: Path) -> Iterator[tuple[Gateway, list[dict[str, Any]]]]:
    """A gateway whose API answers as the Lambda does (CORS for any origin) and records what reached it."""
    (tmp_path / "index.html").write_text("<h1>page</h1>")
    reached: list[dict[str, Any]] = []

    def api(event: dict[str, Any]) -> dict[str, Any]:
        reached.append(event)
        return {
            "statusCode": 202,
            "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"},
            "body": json.dumps({"state": "STARTING"}),
            "isBase64Encoded": False,
        }

    gateway = Gateway(api=api, static_dir=tmp_path, extra_routes={"/outbox": lambda: [{"phone": "+1555***0100"}]})
    gateway.start()
    try:
        yield gateway, reached
    finally:
        gateway.close()


def assert_refused(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code and len(response.json()["message"]) > 10
    assert not any(name.lower().startswith("access-control-") for name in response.headers)


def test_the_gateway_answers_only_its_own_loopback_names(
    recording_gateway: tuple[Gateway, list[dict[str, Any]]],
) -> None:
    gateway, reached = recording_gateway
    port = gateway.server_address[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        answer = requests.post(gateway.base_url + "/start", json={}, headers={"Host": host}, timeout=5)
        assert answer.status_code == 202, (host, answer.text)
    for host in (
        f"attacker.example:{port}",
        "127.0.0.1",
        f"127.0.0.1:{port + 1}",
        f"localhost.:{port}",
        f"127.0.0.1.nip.io:{port}",
        "",
    ):
        for method, path in (("POST", "/start"), ("GET", "/status"), ("GET", "/outbox"), ("GET", "/")):
            answer = requests.request(
                method,
                gateway.base_url + path,
                json={} if method == "POST" else None,
                headers={"Host": host},
                timeout=5,
            )
            assert_refused(answer, 403, "host_not_allowed")
    assert len(reached) == 4


def test_a_post_body_must_be_json(recording_gateway: tuple[Gateway, list[dict[str, Any]]]) -> None:
    """What a cross-site form or a `no-cors` fetch can send without a preflight never reaches /start."""
    gateway, reached = recording_gateway
    for content_type in (
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "application/octet-stream",
    ):
        answer = requests.post(
            gateway.base_url + "/start",
            data=b'{"phone": "+12025550100"}',
            headers={"Content-Type": content_type},
            timeout=5,
        )
        assert_refused(answer, 415, "unsupported_media_type")
    no_type = requests.post(gateway.base_url + "/start", data=b"{}", timeout=5)  # bytes: requests names no type
    assert "Content-Type" not in no_type.request.headers
    assert_refused(no_type, 415, "unsupported_media_type")
    assert reached == []

    assert requests.post(gateway.base_url + "/start", json={}, timeout=5).status_code == 202
    charset = requests.post(
        gateway.base_url + "/start", data=b"{}", timeout=5, headers={"Content-Type": "Application/JSON; charset=utf-8"}
    )
    assert charset.status_code == 202
    assert requests.post(gateway.base_url + "/extend", timeout=5).status_code == 202  # no body, nothing to read
    assert len(reached) == 3


def test_another_origin_can_neither_preflight_post_nor_read_the_outbox(
    recording_gateway: tuple[Gateway, list[dict[str, Any]]],
) -> None:
    gateway, reached = recording_gateway
    for origin in ("https://attacker.example", "null", "http://127.0.0.1:1"):
        preflight = requests.options(
            gateway.base_url + "/start",
            timeout=5,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert_refused(preflight, 403, "cross_origin_refused")
        post = requests.post(gateway.base_url + "/start", json={}, headers={"Origin": origin}, timeout=5)
        assert_refused(post, 403, "cross_origin_refused")
        outbox = requests.get(gateway.base_url + "/outbox", headers={"Origin": origin}, timeout=5)
        assert_refused(outbox, 403, "cross_origin_refused")
    assert reached == []

    # A plain GET of the API gets what the Lambda answers (its CORS included): the state is public on AWS too.
    status = requests.get(gateway.base_url + "/status", headers={"Origin": "https://attacker.example"}, timeout=5)
    assert status.status_code == 202 and status.headers["Access-Control-Allow-Origin"] == "*"
    # The page this gateway serves posts with its own origin (browsers send Origin on every POST).
    for own in (gateway.base_url, gateway.base_url.replace("127.0.0.1", "localhost")):
        answer = requests.post(gateway.base_url + "/start", json={}, headers={"Origin": own}, timeout=5)
        assert answer.status_code == 202


def test_the_state_store_refuses_browsers_and_other_hosts_and_sends_no_cors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # pynamodb signs with whatever the runtime sets
        monkeypatch.setenv(name, "local")
    name = f"guard-{uuid.uuid4().hex[:8]}"  # moto keeps tables per process
    server = LocalStateServer(table_name=name, rate_limit_table_name=f"{name}-rate-limits")
    server.start()
    try:
        list_tables = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"}
        for extra in (
            {"Origin": "https://attacker.example"},
            {"Origin": "null"},
            {"Host": "attacker.example:" + server.url.rsplit(":", 1)[1]},
        ):
            answer = requests.post(server.url, data="{}", headers={**list_tables, **extra}, timeout=5)
            assert answer.status_code == 403, answer.text
            assert not any(name.lower().startswith("access-control-") for name in answer.headers)
        preflight = requests.options(
            server.url,
            timeout=5,
            headers={"Origin": "https://attacker.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 403 and "Access-Control-Allow-Origin" not in preflight.headers

        assert server.table_name in server.client().list_tables()["TableNames"]  # an SDK client is served
        # The lifecycle's own pynamodb store, unchanged, reads and writes through the guard.
        store = DynamoStateStore(server.table_name, server.url, server.region, 20, credentials=server.credentials)
        store.transition([State.STOPPED], State.STARTING, "a test start")
        assert store.add_subscriber([State.STARTING], "+15555550100", limit=10).subscribers == ("+15555550100",)
        assert store.get().state == State.STARTING
    finally:
        server.close()
