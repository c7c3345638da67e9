"""Running the whole local runtime as a child process, for tests, the benchmark and the browser test: the same
command a newcomer runs (`python -m local_runtime`), on free ports, in its own var folder.

    with run_local_runtime(var_dir, model_dir, keep_alive="8s") as runtime:
        requests.post(runtime.base_url + "/start", json={"phone": "+12025550100"})

While it runs, every `requests` call to it carries its token (`X-Local-Token`), as the page opened from the printed
URL does; `send_token=False` leaves every call as it is written, for tests of what happens without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import requests

from local_runtime.endpoints import REPO_ROOT
from local_runtime.gateway import TOKEN_HEADER
from local_runtime.outbox import read_outbox
from local_runtime.runtime import RUNTIME_FILE

TEST_MODEL_DIR = REPO_ROOT / "var" / "test-models" / "tiny"


def process_exists(pid: int) -> bool:
    """Whether a process with this id is still there (a zombie counts until it is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def descendants(pid: int) -> dict[int, str]:
    """Every live process below `pid` (children, grandchildren, ...) as `[name] command line`, from /proc."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            name = (entry / "comm").read_text().strip()
            arguments = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            commands[int(entry.name)] = f"[{name}] {arguments}"
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":  # a zombie is already gone, only not yet reaped
            parents[int(entry.name)] = int(fields[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands.get(child, "")
                frontier.append(child)
    return found


def is_model_server(command: str) -> bool:
    """A model server started fresh (`-m training.model_server`, or behind the runtime's gate,
    `-m local_runtime.model_server_guard`) or forked by the fork server (named model-server)."""
    return command.startswith("[model-server]") or any(
        module in command for module in ("training.model_server", "local_runtime.model_server_guard")
    )


@dataclass
class RunningRuntime:
    """A local runtime child process and where it listens."""

    base_url: str
    outbox_path: Path
    var_dir: Path
    process: subprocess.Popen[bytes]
    token: str = ""

    @property
    def page_url(self) -> str:
        """The page's URL as the runtime prints it, with the token."""
        return f"{self.base_url}/?token={self.token}"

    @property
    def token_header(self) -> dict[str, str]:
        """The header every route but the page and /status needs."""
        return {TOKEN_HEADER: self.token}

    def outbox(self) -> list[dict[str, Any]]:
        return read_outbox(self.outbox_path, reveal_phones=True)

    def texts_to(self, phone: str, containing: str, timeout: float = 15.0) -> list[dict[str, Any]]:
        """The outbox's texts to `phone` whose message contains `containing`, waiting up to `timeout` seconds for the
        first: texts are queued and sent by the sender on its own thread, after the request that queued them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [sms for sms in self.outbox() if sms["phone"] == phone and containing in sms["message"]]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def model_server_pids(self) -> list[int]:
        """Model server processes the runtime has running right now."""
        return [pid for pid, command in descendants(self.process.pid).items() if is_model_server(command)]

    def console(self) -> str:
        """What the runtime printed so far."""
        return (self.var_dir / "console.log").read_text(errors="replace")


def ensure_test_model(model_dir: Path = TEST_MODEL_DIR) -> Path:
    """The pipeline's `tiny` model in a cache of its own (made once, in about a minute)."""
    from local_runtime.model_pipeline import ensure_model

    return ensure_model(profile="tiny", model_dir=model_dir)


def ensure_benchmark_model(profile: str) -> Path:
    """A benchmark's model: `tiny`, the tests' cached one; `quick`, the demo's (var/model, made if missing)."""
    if profile == "tiny":
        return ensure_test_model()
    from local_runtime.model_pipeline import ensure_model

    return ensure_model(profile=profile)


@contextmanager
def run_local_runtime(
    var_dir: Path,
    model_dir: Path,
    keep_alive: str = "2m",
    provisioning_delay: str = "0",
    extra_args: tuple[str, ...] = (),
    start_timeout: float = 120.0,
    send_token: bool = True,
) -> Iterator[RunningRuntime]:
    """Start `python -m local_runtime` on a free port; on exit SIGTERM it (as Ctrl-C would) and wait for it.
    `send_token`: `requests` calls to it carry its token meanwhile (`sending_token`)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    runtime_file = var_dir / RUNTIME_FILE
    runtime_file.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "local_runtime",
        "--port",
        "0",
        "--no-dashboard",
        "--model-dir",
        str(model_dir),
        "--var-dir",
        str(var_dir),
        "--keep-alive",
        keep_alive,
        "--provisioning-delay",
        provisioning_delay,
        *extra_args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with (var_dir / "console.log").open("wb") as console:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=console, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + start_timeout
        while not runtime_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (var_dir / "console.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the local runtime did not start (exit code {process.poll()}):\n{tail}")
            time.sleep(0.1)
        info = json.loads(runtime_file.read_text())
        running = RunningRuntime(
            base_url=info["base_url"],
            outbox_path=Path(info["outbox"]),
            var_dir=var_dir,
            process=process,
            token=info["token"],
        )
        if send_token:
            with sending_token(running):
                yield running
        else:
            yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def sending_token(runtime: RunningRuntime) -> Iterator[None]:
    """Every `requests` call to `runtime` carries its token, unless the call names that header itself (a test of a
    wrong token). Calls to anywhere else do not get it."""
    original = requests.Session.request

    def request(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.get("headers") or {})
        if str(url).startswith(runtime.base_url + "/") and not any(
            name.lower() == TOKEN_HEADER.lower() for name in headers
        ):
            kwargs["headers"] = {**headers, **runtime.token_header}
        return original(self, method, url, *args, **kwargs)

    with mock.patch.object(requests.Session, "request", request):
        yield
