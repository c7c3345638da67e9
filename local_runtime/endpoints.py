"""The local endpoint control: a "SageMaker endpoint" is a model server process (the SageMaker container contract:
`GET /ping`, `POST /invocations`) started on a free loopback port, reporting its status changes as SageMaker's
EventBridge events so the same handlers react to them."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import requests
from ondemand.domain import EndpointError, EndpointInfo, EndpointStatus

from local_runtime.fork_server import ForkServerSpawner, ProcessHandle, die_with_parent
from local_runtime.model_server_guard import MODEL_TOKEN_ENV, MODEL_TOKEN_HEADER

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "000000000000"
WARM_UP_PAYLOAD = {"texts": ["A warm-up sentence, so the first real prediction is not the slow one."]}

# SageMaker spells statuses one way in DescribeEndpoint (`InService`) and another in its events (`IN_SERVICE`).
EVENT_STATUS = {
    EndpointStatus.CREATING: "CREATING",
    EndpointStatus.UPDATING: "UPDATING",
    EndpointStatus.IN_SERVICE: "IN_SERVICE",
    EndpointStatus.DELETING: "DELETING",
    EndpointStatus.FAILED: "FAILED",
}

CommandFactory = Callable[[int], list[str]]
PORT_ATTEMPTS = 3


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def model_server_args(model_dir: Path, port: int) -> list[str]:
    """The arguments of `python -m training.model_server` for one endpoint."""
    return ["--model-dir", str(model_dir), "--host", "127.0.0.1", "--port", str(port)]


def model_server_command(model_dir: Path) -> CommandFactory:
    """The pipeline's model server in a fresh interpreter, on a given port (no gate: the benchmarks time it bare)."""
    return lambda port: [sys.executable, "-m", "training.model_server", *model_server_args(model_dir, port)]


def guarded_model_server_command(model_dir: Path) -> CommandFactory:
    """The pipeline's model server behind the runtime's gate (local_runtime/model_server_guard.py), in a fresh
    interpreter; its token comes in the environment (SubprocessSpawner's `token`)."""
    return lambda port: [
        sys.executable,
        "-m",
        "local_runtime.model_server_guard",
        *model_server_args(model_dir, port),
    ]


class Spawner(Protocol):
    """Starts one model server process listening on `port`, its output going to `log_path`."""

    def spawn(self, port: int, log_path: Path) -> ProcessHandle: ...

    def warm_up(self, timeout: float) -> None:
        """Return once spawning is as fast as it gets (or after `timeout`)."""
        ...

    def close(self) -> None: ...


class SubprocessSpawner:
    """A fresh process per endpoint from a command line (the slow, simple way; tests use it with stand-ins). `token`
    goes in the process's environment (LOCAL_MODEL_SERVER_TOKEN), which other users cannot read."""

    def __init__(self, command: CommandFactory, token: str | None = None) -> None:
        self._command = command
        self._token = token

    def spawn(self, port: int, log_path: Path) -> ProcessHandle:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        if self._token:
            env[MODEL_TOKEN_ENV] = self._token
        with log_path.open("wb") as log_file:
            return subprocess.Popen(
                self._command(port),
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def warm_up(self, timeout: float) -> None:
        pass

    def close(self) -> None:
        pass


class ModelServerSpawner:
    """The pipeline's model server, forked from a warm fork server when it is up, else in a fresh interpreter; either
    way behind the gate that wants `token` (local_runtime/model_server_guard.py)."""

    def __init__(self, model_dir: Path, log_dir: Path, token: str, fork: bool = True) -> None:
        self._model_dir = model_dir
        self._token = token
        self._fallback = SubprocessSpawner(guarded_model_server_command(model_dir), token=token)
        self._fork_server = ForkServerSpawner(model_dir, log_dir / "fork-server.log", REPO_ROOT) if fork else None

    def spawn(self, port: int, log_path: Path) -> ProcessHandle:
        if self._fork_server is not None:
            try:
                return self._fork_server.spawn(model_server_args(self._model_dir, port), log_path, self._token)
            except RuntimeError as error:
                log.warning("%s; starting the model server in a fresh interpreter instead", error)
        return self._fallback.spawn(port, log_path)

    def warm_up(self, timeout: float) -> None:
        if self._fork_server is not None and not self._fork_server.wait_ready(timeout):
            log.warning("the fork server is not ready after %.0f s; starts may be slow", timeout)

    def close(self) -> None:
        if self._fork_server is not None:
            self._fork_server.close()


def endpoint_state_change_event(
    name: str, status: EndpointStatus, region: str, created: datetime, failure_reason: str | None = None
) -> dict[str, Any]:
    """A "SageMaker Endpoint State Change" event of the shape EventBridge delivers."""
    now = datetime.now(UTC)
    arn = f"arn:aws:sagemaker:{region}:{ACCOUNT}:endpoint/{name.lower()}"
    detail: dict[str, Any] = {
        "EndpointName": name,
        "EndpointArn": arn,
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "CurrentInstanceCount": 1,
                "DesiredInstanceCount": 1,
                "CurrentWeight": 1.0,
                "DesiredWeight": 1.0,
            }
        ],
        "EndpointStatus": EVENT_STATUS[status],
        "CreationTime": int(created.timestamp() * 1000),
        "LastModifiedTime": int(now.timestamp() * 1000),
        "Tags": {},
    }
    if failure_reason:
        detail["FailureReason"] = failure_reason
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "SageMaker Endpoint State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [arn],
        "detail": detail,
    }


def stop_process(process: ProcessHandle, timeout: float) -> int:
    """SIGTERM the process group, SIGKILL it after `timeout`, and wait until the process is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            return process.wait(wait)
        except subprocess.TimeoutExpired:
            log.warning("process %d ignored SIGTERM for %.0f s; killing it", process.pid, timeout)
    return process.wait()


def _load_failure(ping: requests.Response) -> str | None:
    """The reason a model server gave up loading (a /ping error other than "still loading"), if it says so."""
    try:
        body = ping.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("error") not in (None, "loading"):
        return str(body.get("message") or body["error"])
    return None


@dataclass
class LocalEndpoint:
    """One endpoint and its model server process."""

    name: str
    status: EndpointStatus
    created: datetime
    created_monotonic: float
    failure_reason: str | None = None
    process: ProcessHandle | None = None
    port: int | None = None
    log_path: Path | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class SpawnerWhenModelReady:
    """A spawner made once the GPU model exists: the fork server preloads the model's classes, so it cannot start
    before the background pipeline has trained one. `activate()` makes it and warms it up in the background."""

    def __init__(self, make: Callable[[], Spawner]) -> None:
        self._make = make
        self._spawner: Spawner | None = None
        self._lock = threading.Lock()

    def activate(self, warm_up_timeout: float = 300) -> Spawner:
        with self._lock:
            if self._spawner is None:
                self._spawner = spawner = self._make()
                threading.Thread(target=spawner.warm_up, args=(warm_up_timeout,), name="warm-up", daemon=True).start()
            return self._spawner

    def spawn(self, port: int, log_path: Path) -> ProcessHandle:
        return self.activate().spawn(port, log_path)

    def warm_up(self, timeout: float) -> None:
        if self._spawner is not None:
            self._spawner.warm_up(timeout)

    def close(self) -> None:
        if self._spawner is not None:
            self._spawner.close()


NO_MODEL_YET = (
    "No approved model yet: the local model pipeline is still training the GPU model (GET /pipeline "
    "shows its progress). The instant model answers /predict meanwhile; Start works once it is done."
)


class LocalEndpointControl:
    """EndpointControl port backed by model server processes on loopback."""

    def __init__(
        self,
        spawner: Spawner,
        emit: Callable[[dict[str, Any]], None],
        log_dir: Path,
        region: str = "us-east-1",
        provisioning_delay: float = 0.0,
        ready_timeout: float = 600.0,
        stop_timeout: float = 10.0,
        invoke_timeout: float = 60.0,
        model_ready: Callable[[], bool] = lambda: True,
        model_token: str | None = None,
    ) -> None:
        self._spawner = spawner
        self._model_ready = model_ready
        """False until there is a GPU model to serve: create then fails as CreateEndpoint's start does on AWS before
        the pipeline's first approval (ondemand.adapters.sagemaker.SageMakerEndpoints.approved_model)."""
        self._emit = emit
        self._log_dir = log_dir
        self._region = region
        self.provisioning_delay = provisioning_delay
        self._ready_timeout = ready_timeout
        self._stop_timeout = stop_timeout
        self._invoke_timeout = invoke_timeout
        self._endpoints: dict[str, LocalEndpoint] = {}
        self._lock = threading.Lock()
        self._http = requests.Session()
        if model_token:  # the model servers' gate (model_server_guard.py) answers nothing without it
            self._http.headers[MODEL_TOKEN_HEADER] = model_token
        log_dir.mkdir(parents=True, exist_ok=True)

    # --- the port -------------------------------------------------------------------------------------------

    def create(self, name: str) -> None:
        if not self._model_ready():
            raise EndpointError(NO_MODEL_YET, "no_approved_model")
        with self._lock:
            existing = self._endpoints.get(name)
            if existing and existing.status != EndpointStatus.FAILED:
                raise EndpointError(f"Cannot create already existing endpoint {name!r} ({existing.status.value}).")
            endpoint = LocalEndpoint(
                name=name, status=EndpointStatus.CREATING, created=datetime.now(UTC), created_monotonic=time.monotonic()
            )
            endpoint.thread = threading.Thread(target=self._run, args=(endpoint,), name=f"endpoint-{name}", daemon=True)
            self._endpoints[name] = endpoint
        if existing:
            self._stop(existing)
        self._publish(endpoint)
        endpoint.thread.start()

    def describe(self, name: str) -> EndpointInfo | None:
        with self._lock:
            endpoint = self._endpoints.get(name)
        return self._info(endpoint) if endpoint else None

    def delete(self, name: str) -> None:
        with self._lock:
            endpoint = self._endpoints.get(name)
            if endpoint is None:
                return
            endpoint.status = EndpointStatus.DELETING
            endpoint.cancelled.set()
        self._publish(endpoint)
        self._stop(endpoint)
        with self._lock:
            if self._endpoints.get(name) is endpoint:
                del self._endpoints[name]

    def list(self, prefix: str) -> list[EndpointInfo]:
        with self._lock:
            endpoints = [e for e in self._endpoints.values() if e.name.startswith(prefix)]
        return [self._info(e) for e in endpoints]

    def invoke(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None or endpoint.status != EndpointStatus.IN_SERVICE:
            status = endpoint.status.value if endpoint else "missing"
            raise EndpointError(f"Endpoint {name!r} is not in service ({status}).")
        try:
            response = self._http.post(f"{endpoint.url}/invocations", json=payload, timeout=self._invoke_timeout)
        except requests.RequestException as error:
            raise EndpointError(f"The model server did not answer: {error}") from error
        if response.status_code != 200:
            raise EndpointError(f"The model server answered {response.status_code}: {response.text[:300]}")
        answer: dict[str, Any] = response.json()
        return answer

    # --- for the runtime and its tests ----------------------------------------------------------------------

    def endpoint(self, name: str) -> LocalEndpoint | None:
        """The live record (process, port, timings) of one endpoint."""
        with self._lock:
            return self._endpoints.get(name)

    def close(self) -> None:
        """Delete every endpoint: no model server outlives the runtime."""
        with self._lock:
            names = list(self._endpoints)
        for name in names:
            self.delete(name)

    # --- the endpoint's life, on its own thread -------------------------------------------------------------

    def _info(self, endpoint: LocalEndpoint) -> EndpointInfo:
        return EndpointInfo(name=endpoint.name, status=endpoint.status, failure_reason=endpoint.failure_reason)

    def _publish(self, endpoint: LocalEndpoint) -> None:
        reason = endpoint.failure_reason if endpoint.status == EndpointStatus.FAILED else None
        self._emit(endpoint_state_change_event(endpoint.name, endpoint.status, self._region, endpoint.created, reason))

    def _run(self, endpoint: LocalEndpoint) -> None:
        if endpoint.cancelled.wait(self.provisioning_delay):
            return
        for attempt in range(1, PORT_ATTEMPTS + 1):
            failure = self._start_process(endpoint)
            if failure is None or endpoint.cancelled.is_set():
                break
            # The free port may have been taken between our probe and the server's bind (a shared machine).
            if "Address already in use" not in failure or attempt == PORT_ATTEMPTS:
                self._fail(endpoint, failure)
                return
            log.warning("endpoint %s: port %s was taken; trying another", endpoint.name, endpoint.port)
        if endpoint.cancelled.is_set():
            return
        with self._lock:
            if endpoint.cancelled.is_set():
                return
            endpoint.status = EndpointStatus.IN_SERVICE
        self._publish(endpoint)
        assert endpoint.process is not None
        code = endpoint.process.wait()  # this thread spawned it, so it must outlive it (PDEATHSIG)
        self._fail(endpoint, f"The model server exited unexpectedly with code {code}. {self._log_tail(endpoint)}")

    def _start_process(self, endpoint: LocalEndpoint) -> str | None:
        """Spawn the model server and wait until it is ready: None, or why it is not (the process then stopped)."""
        with self._lock:
            if endpoint.cancelled.is_set():
                return "deleted while creating"
            endpoint.port = free_port()
            endpoint.log_path = self._log_dir / f"{endpoint.name}-{endpoint.created:%Y%m%dT%H%M%S}.log"
        try:
            process = self._spawner.spawn(endpoint.port, endpoint.log_path)
        except OSError as error:
            return f"The model server could not be started: {error}"
        with self._lock:
            endpoint.process = process
        log.info("endpoint %s: model server pid %d on port %d", endpoint.name, process.pid, endpoint.port)
        failure = self._wait_until_ready(endpoint)
        if failure is not None:
            stop_process(process, self._stop_timeout)
        return failure

    def _fail(self, endpoint: LocalEndpoint, reason: str) -> None:
        with self._lock:
            if endpoint.cancelled.is_set():
                return
            endpoint.status = EndpointStatus.FAILED
            endpoint.failure_reason = reason.strip()
        log.error("endpoint %s failed: %s", endpoint.name, endpoint.failure_reason)
        self._publish(endpoint)

    def _wait_until_ready(self, endpoint: LocalEndpoint) -> str | None:
        """None once /ping answers and a warm-up prediction succeeds; otherwise why not."""
        assert endpoint.process is not None
        deadline = time.monotonic() + self._ready_timeout
        while time.monotonic() < deadline:
            if endpoint.cancelled.is_set():
                return "deleted while creating"
            code = endpoint.process.poll()
            if code is not None:
                return f"The model server exited with code {code} while starting. {self._log_tail(endpoint)}"
            try:
                ping = self._http.get(f"{endpoint.url}/ping", timeout=2)
            except requests.RequestException:
                ping = None
            if ping is not None and ping.status_code == 200:
                break
            if ping is not None and _load_failure(ping):
                return f"The model server could not load the model: {_load_failure(ping)}"
            time.sleep(0.1)
        else:
            return f"The model server did not answer /ping within {self._ready_timeout:.0f} s."
        try:
            warm_up = self._http.post(f"{endpoint.url}/invocations", json=WARM_UP_PAYLOAD, timeout=self._ready_timeout)
        except requests.RequestException as error:
            return f"The warm-up prediction failed: {error}"
        if warm_up.status_code != 200:
            return f"The warm-up prediction failed with {warm_up.status_code}: {warm_up.text[:300]}"
        return None

    def _stop(self, endpoint: LocalEndpoint) -> None:
        endpoint.cancelled.set()
        with self._lock:
            process = endpoint.process
        if process is not None:
            code = stop_process(process, self._stop_timeout)
            log.info("endpoint %s: model server pid %d stopped (%s)", endpoint.name, process.pid, code)
        if endpoint.thread is not None and endpoint.thread is not threading.current_thread():
            endpoint.thread.join(timeout=self._stop_timeout + 5)

    @staticmethod
    def _log_tail(endpoint: LocalEndpoint, lines: int = 5) -> str:
        if endpoint.log_path is None or not endpoint.log_path.exists():
            return ""
        tail = endpoint.log_path.read_text(errors="replace").strip().splitlines()[-lines:]
        return " | ".join(tail)[-800:]
