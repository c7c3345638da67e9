"""The local runtime answers only the developer who started it (issue 21, item 8), over real HTTP against
`python -m local_runtime`: another user of the machine, or a web page the developer opens (DNS rebinding), can reach
every loopback port, so

- the state store (moto's DynamoDB server) serves only requests signed with this run's random key;
- the model server answers only its own loopback Host and the runtime's token, before any model work;
- the gateway's routes that change state, cost texts or show numbers need the token the printed page URL carries.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from local_runtime.gateway import TOKEN_HEADER
from local_runtime.harness import RunningRuntime, run_local_runtime
from local_runtime.model_server_guard import MODEL_TOKEN_HEADER
from local_runtime.runtime import RATE_LIMIT_TABLE, RUNTIME_FILE, STATE_TABLE
from local_runtime.state_server import LocalStateServer

PHONE = "+12025550123"
REVIEW = {"texts": ["An absolute masterpiece, I loved every minute."]}
# Every route that changes state, may send a text or shows numbers, with a body it would otherwise accept.
PROTECTED = [
    ("POST", "/start", {"phone": PHONE}),
    ("POST", "/extend", {}),
    ("POST", "/stop", {}),
    ("POST", "/predict", REVIEW),
    ("POST", "/phone/code", {"phone": PHONE}),
    ("POST", "/phone/confirm", {"phone": PHONE, "code": "123456"}),
    ("GET", "/outbox", None),
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runtime(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    """One runtime for the module, with nothing sending its token for the test: each call says whether it does."""
    directory = tmp_path_factory.mktemp("security")
    with run_local_runtime(directory, tiny_model_dir, keep_alive="10m", send_token=False) as running:
        yield running


def runtime_info(runtime: RunningRuntime) -> dict[str, Any]:
    info: dict[str, Any] = json.loads((runtime.var_dir / RUNTIME_FILE).read_text())
    return info


def status(runtime: RunningRuntime) -> dict[str, Any]:
    answer = requests.get(runtime.base_url + "/status", timeout=30)
    assert answer.status_code == 200, answer.text
    current: dict[str, Any] = answer.json()
    return current


def call(runtime: RunningRuntime, method: str, path: str, body: Any, headers: dict[str, str]) -> requests.Response:
    return requests.request(method, runtime.base_url + path, json=body, headers=headers, timeout=60)


def wait_for_state(runtime: RunningRuntime, wanted: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while (state := status(runtime)["state"]) != wanted:
        assert state != "FAILED" and time.monotonic() < deadline, f"{state}\n{runtime.console()[-2000:]}"
        time.sleep(0.2)


def in_service(runtime: RunningRuntime) -> None:
    if status(runtime)["state"] != "IN_SERVICE":
        answer = call(runtime, "POST", "/start", {}, runtime.token_header)
        assert answer.status_code in (200, 202), answer.text
        wait_for_state(runtime, "IN_SERVICE")


def model_server_port(runtime: RunningRuntime) -> int:
    """The running model server's port, from the line it logs when it listens (logs/<endpoint>-<time>.log)."""
    ports = [
        int(match[1])
        for log in sorted((runtime.var_dir / "logs").glob("ondemand-sentiment-*.log"))
        if (match := re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read_text(errors="replace")))
    ]
    assert ports, "no model server log says where it listens"
    return ports[-1]


def snapshot(runtime: RunningRuntime) -> tuple[Any, ...]:
    """What a request that reached the lifecycle would change: the state item and the texts sent."""
    current = status(runtime)
    return current["state"], current["version"], current.get("subscribers_count"), len(runtime.outbox())


# --- the gateway ------------------------------------------------------------------------------------------------


def test_the_printed_page_url_carries_the_token_and_the_runtime_file_is_private(runtime: RunningRuntime) -> None:
    assert runtime.page_url in runtime.console()  # the developer's one way in, as Jupyter prints it
    assert len(runtime.token) >= 32
    assert (runtime.var_dir / RUNTIME_FILE).stat().st_mode & 0o077 == 0
    page = requests.get(runtime.page_url, timeout=10)  # the page itself is open, with or without the token
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert requests.get(runtime.base_url + "/js/api.js", timeout=10).status_code == 200


def test_without_the_token_no_protected_route_reaches_the_lifecycle(runtime: RunningRuntime) -> None:
    before = snapshot(runtime)
    for headers, code in (({}, "local_token_required"), ({TOKEN_HEADER: "guessed-" + "x" * 36}, "local_token_wrong")):
        for method, path, body in PROTECTED:
            answer = call(runtime, method, path, body, {"x-api-key": runtime_info(runtime)["admin_key"], **headers})
            assert answer.status_code == 403, (method, path, answer.text)
            assert answer.json()["error"] == code
            assert "?token=" in answer.json()["message"]  # a sentence saying where the token is
            assert PHONE[-4:] not in answer.text
    # A token differing in its last character only is as wrong as any other.
    near = runtime.token[:-1] + ("A" if runtime.token[-1] != "A" else "B")
    assert call(runtime, "POST", "/start", {}, {TOKEN_HEADER: near}).status_code == 403
    assert snapshot(runtime) == before  # no state change, no subscriber, no text


def test_status_stays_open_and_shows_no_phone_number(runtime: RunningRuntime) -> None:
    answer = call(runtime, "POST", "/start", {"phone": PHONE}, runtime.token_header)
    assert answer.status_code in (200, 202, 400, 403), answer.text  # 400/403: a phone may need confirming first
    assert answer.json().get("error") not in ("local_token_required", "local_token_wrong")
    shown = requests.get(runtime.base_url + "/status", timeout=30)
    assert shown.status_code == 200
    assert PHONE[-7:] not in shown.text and PHONE[-4:] not in shown.text, shown.text


def test_with_the_token_everything_works(runtime: RunningRuntime) -> None:
    in_service(runtime)
    predicted = call(runtime, "POST", "/predict", REVIEW, runtime.token_header)
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["predictions"][0]["label"] == "POSITIVE"
    extended = call(runtime, "POST", "/extend", {}, runtime.token_header)
    assert extended.status_code == 200, extended.text
    outbox = call(runtime, "GET", "/outbox", None, runtime.token_header)
    assert outbox.status_code == 200 and isinstance(outbox.json(), list)
    assert PHONE not in outbox.text  # masked even for the developer's page
    code = call(runtime, "POST", "/phone/code", {"phone": PHONE}, runtime.token_header)
    assert code.status_code not in (401, 403), code.text


def test_a_foreign_host_gets_403_from_the_gateway(runtime: RunningRuntime) -> None:
    port = runtime.base_url.rsplit(":", 1)[1]
    for method, path, body in [("GET", "/status", None), *PROTECTED]:
        headers = {"Host": f"evil.example:{port}", **runtime.token_header}  # even with the token
        answer = call(runtime, method, path, body, headers)
        assert answer.status_code == 403 and answer.json()["error"] == "host_not_allowed", (path, answer.text)


# --- the model server -------------------------------------------------------------------------------------------


def test_the_model_server_answers_only_the_runtime(runtime: RunningRuntime) -> None:
    in_service(runtime)
    port = model_server_port(runtime)
    url = f"http://127.0.0.1:{port}"
    for headers, code in (
        ({"Host": f"evil.example:{port}"}, "host_not_allowed"),  # DNS rebinding: a page on the attacker's name
        ({"Host": f"evil.example:{port}", MODEL_TOKEN_HEADER: "guessed"}, "host_not_allowed"),
        ({}, "token_required"),  # another user of the machine, right Host, no token
        ({MODEL_TOKEN_HEADER: "guessed"}, "token_required"),
        ({"Host": f"127.0.0.1:{port + 1}"}, "host_not_allowed"),  # another port's name
    ):
        for method, path in (("POST", "/invocations"), ("GET", "/ping")):
            answer = requests.request(method, url + path, json=REVIEW, headers=headers, timeout=30)
            assert answer.status_code == 403, (headers, path, answer.text)
            assert answer.json()["error"] == code
            assert len(answer.json()["message"]) > 20
            assert "predictions" not in answer.text and "model" not in answer.json()
    # The runtime's own adapter still gets answers through the same server.
    assert call(runtime, "POST", "/predict", REVIEW, runtime.token_header).status_code == 200


def test_no_token_is_on_a_command_line(runtime: RunningRuntime) -> None:
    """Any user reads /proc/PID/cmdline; the tokens travel in environments, pipes and the 0600 runtime file only."""
    from local_runtime.harness import descendants

    in_service(runtime)
    commands = " ".join([*descendants(runtime.process.pid).values(), *descendants(1).values()])
    assert runtime.token not in commands
    assert "LOCAL_MODEL_SERVER_TOKEN" not in commands and "--token" not in commands


# --- the state store --------------------------------------------------------------------------------------------


def test_made_up_credentials_get_nothing_from_the_state_store(runtime: RunningRuntime) -> None:
    answer = call(runtime, "POST", "/start", {"phone": PHONE}, runtime.token_header)
    assert answer.status_code < 500, answer.text
    before = snapshot(runtime)
    url = runtime_info(runtime)["state_store_url"]
    for key_id, secret in (("local", "local"), ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")):
        stranger = boto3.client(
            "dynamodb",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        attempts = {
            "scan": lambda client=stranger: client.scan(TableName=STATE_TABLE),
            "list": lambda client=stranger: client.list_tables(),
            "read the limits": lambda client=stranger: client.scan(TableName=RATE_LIMIT_TABLE),
            "subscribe a number": lambda client=stranger: client.update_item(
                TableName=STATE_TABLE,
                Key={"pk": {"S": "endpoint"}},
                UpdateExpression="ADD subscribers :p",
                ExpressionAttributeValues={":p": {"SS": ["+15555550999"]}},
            ),
            "delete the tables": lambda client=stranger: client.delete_table(TableName=STATE_TABLE),
        }
        for what, attempt in attempts.items():
            with pytest.raises(ClientError) as refused:
                attempt()
            error = refused.value.response
            assert error["Error"]["Code"] == "UnrecognizedClientException", (what, error)
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert "+1555" not in json.dumps(error, default=str)
    # moto's own unsigned routes (a dump of every table, a reset) are refused too.
    dump = requests.get(url + "/moto-api/data.json", timeout=10)
    assert dump.status_code == 400 and "+1555" not in dump.text
    assert requests.post(url + "/moto-api/reset", timeout=10).status_code == 400
    assert snapshot(runtime) == before  # nothing written, nothing deleted: the runtime still reads its item


def test_the_state_store_checks_the_whole_signature_not_only_the_key_id() -> None:
    """Someone who learnt the key id (it is not secret in SigV4: it travels in every request) still gets nothing."""
    name = f"signature-{uuid.uuid4().hex[:8]}"  # moto keeps tables per process
    server = LocalStateServer(table_name=name, rate_limit_table_name=f"{name}-rate-limits")
    server.start()
    try:
        key = server.credentials
        guessed_secret = boto3.client(
            "dynamodb",
            endpoint_url=server.url,
            region_name=server.region,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key="not-the-secret",
        )
        with pytest.raises(ClientError) as refused:
            guessed_secret.scan(TableName=name)
        assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"

        # A request signed with the real key passes; the same signature on another body does not.
        body = json.dumps({"TableName": name})
        signed = AWSRequest(
            "POST",
            server.url + "/",
            data=body,
            headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.Scan"},
        )
        SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "dynamodb", server.region).add_auth(signed)
        headers = dict(signed.headers.items())
        assert requests.post(server.url + "/", data=body, headers=headers, timeout=10).status_code == 200
        other = json.dumps({"TableName": f"{name}-rate-limits"})
        tampered = requests.post(server.url + "/", data=other, headers=headers, timeout=10)
        assert tampered.status_code == 400 and "InvalidSignatureException" in tampered.json()["__type"]
    finally:
        server.close()


def test_the_dashboard_finds_the_token_of_the_runtime_it_watches(
    runtime: RunningRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make dashboard` beside `make demo`: the token comes from the runtime's 0600 file, and only for that API."""
    from ondemand_dashboard.api_client import ApiError, OndemandApiClient
    from ondemand_dashboard.config import DashboardConfig

    monkeypatch.delenv("ONDEMAND_LOCAL_TOKEN", raising=False)
    monkeypatch.setenv("ONDEMAND_RUNTIME_FILE", str(runtime.var_dir / RUNTIME_FILE))
    monkeypatch.setenv("ONDEMAND_API_URL", runtime.base_url)
    config = DashboardConfig.from_env()
    assert config.local_token == runtime.token
    dashboard = OndemandApiClient(config.api_url, local_token=config.local_token)
    assert isinstance(dashboard.outbox(), list)
    assert dashboard.predict(REVIEW["texts"])["predictions"]

    with pytest.raises(ApiError) as refused:  # without it, the dashboard's calls are refused like anyone's
        OndemandApiClient(runtime.base_url).outbox()
    assert refused.value.status == 403 and "token" in refused.value.message
    monkeypatch.setenv("ONDEMAND_API_URL", "http://127.0.0.1:9")  # another API never gets this runtime's token
    assert DashboardConfig.from_env().local_token is None
    monkeypatch.setenv("ONDEMAND_LOCAL_TOKEN", "from-the-runtime")  # what python -m local_runtime hands its child
    assert DashboardConfig.from_env().local_token == "from-the-runtime"


def test_the_runtime_hands_its_dashboard_the_token_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment, which only the developer can read in /proc, never the command line, which anyone can."""
    import local_runtime.__main__ as cli

    seen: dict[str, Any] = {}

    class Started:
        def __init__(self, command: list[str], **options: Any) -> None:
            seen.update(command=command, env=options["env"])

    monkeypatch.setattr(cli.subprocess, "Popen", Started)
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: object())  # as if streamlit were installed
    assert cli.start_dashboard("http://127.0.0.1:8000", "admin-key", "the-run-token") is not None
    assert seen["env"]["ONDEMAND_LOCAL_TOKEN"] == "the-run-token"
    assert "the-run-token" not in " ".join(seen["command"])
