"""A fork server for the model server, so a start does not pay Python's torch/transformers import (seconds on a
busy machine, training/README.md) every time. It imports the model server's code once, holds no model and no port,
and on each request forks a fresh model server process that loads the model and serves it; deleting the endpoint
stops that process as before. This is how the local start meets its few-seconds goal (see benchmarks/bench_start.py).

Runtime side: `ForkServerSpawner`. Process side: `python -m local_runtime.fork_server --model-dir DIR`, which
speaks JSON lines: requests on stdin, replies (`ready`, `spawned`, `exited`) on its original stdout."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import IO, Any, Protocol

log = logging.getLogger(__name__)

PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1


class ProcessHandle(Protocol):
    """The part of `subprocess.Popen` the endpoint control uses."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class ForkedProcess:
    """A model server forked by the fork server: its exit code arrives as a message."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._exited = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired(f"model server {self.pid}", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def exited(self, code: int) -> None:
        self.returncode = code
        self._exited.set()


def _prctl(option: int, value: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(option, value)


def die_with_parent() -> None:
    """In a child: if the parent is killed outright, the kernel kills the child too (no orphans)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


# ---------------------------------------------------------------------------------------------------------------
# Runtime side


class ForkServerSpawner:
    """Starts the fork server at once (it warms up in the background) and asks it for model server processes."""

    def __init__(self, model_dir: Path, log_path: Path, repo_root: Path, ready_timeout: float = 120.0) -> None:
        self._ready = threading.Event()
        self._alive = True
        self._ready_timeout = ready_timeout
        self._replies: dict[str, dict[str, Any]] = {}
        self._reply_arrived = threading.Condition()
        self._processes: dict[int, ForkedProcess] = {}
        self._early_exits: dict[int, int] = {}
        self._lock = threading.Lock()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "local_runtime.fork_server", "--model-dir", str(model_dir)],
                cwd=repo_root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self._reader = threading.Thread(target=self._read_replies, name="fork-server-replies", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def wait_ready(self, timeout: float) -> bool:
        """True once the fork server has imported everything (False if it died or took longer than `timeout`)."""
        return self._ready.wait(timeout) and self._alive

    def spawn(self, argv: list[str], log_path: Path, token: str) -> ForkedProcess:
        """A new model server process running `training.model_server` with `argv`, behind the gate that wants `token`
        (model_server_guard.py; the token goes over the private pipe, never on a command line). Raises RuntimeError
        if the fork server is not available (the caller then starts the model server the slow way)."""
        if not self.wait_ready(self._ready_timeout):
            raise RuntimeError("the fork server is not running")
        request_id = uuid.uuid4().hex
        try:
            self._send({"op": "spawn", "id": request_id, "argv": argv, "log": str(log_path), "token": token})
        except OSError as error:
            raise RuntimeError(f"the fork server is gone: {error}") from error
        with self._reply_arrived:
            if not self._reply_arrived.wait_for(lambda: request_id in self._replies or not self._alive, timeout=30):
                raise RuntimeError("the fork server did not answer")
            reply = self._replies.pop(request_id, None)
        if reply is None:
            raise RuntimeError("the fork server exited")
        with self._lock:
            process = ForkedProcess(reply["pid"])
            self._processes[process.pid] = process
            if process.pid in self._early_exits:
                process.exited(self._early_exits.pop(process.pid))
        return process

    def close(self) -> None:
        """Closing its stdin tells the fork server to stop its children and exit."""
        with contextlib.suppress(OSError):
            self._process.stdin.close()  # type: ignore[union-attr]
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _send(self, message: dict[str, Any]) -> None:
        with self._lock:
            assert self._process.stdin is not None
            self._process.stdin.write((json.dumps(message) + "\n").encode())
            self._process.stdin.flush()

    def _read_replies(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            message = json.loads(line)
            if message["op"] == "ready":
                self._ready.set()
            elif message["op"] == "spawned":
                with self._reply_arrived:
                    self._replies[message["id"]] = message
                    self._reply_arrived.notify_all()
            elif message["op"] == "exited":
                with self._lock:
                    process = self._processes.pop(message["pid"], None)
                    if process is None:
                        self._early_exits[message["pid"]] = message["code"]
                if process is not None:
                    process.exited(message["code"])
        # The fork server is gone: its children died with it (PDEATHSIG); nobody waits forever.
        self._alive = False
        self._ready.set()
        with self._lock:
            orphans, self._processes = list(self._processes.values()), {}
        for process in orphans:
            process.exited(-signal.SIGKILL)
        with self._reply_arrived:
            self._reply_arrived.notify_all()


# ---------------------------------------------------------------------------------------------------------------
# Fork server side


class _ForkServer:
    def __init__(self, channel: IO[str]) -> None:
        self._channel = channel
        self._write_lock = threading.Lock()
        self._children: set[int] = set()

    def reply(self, message: dict[str, Any]) -> None:
        with self._write_lock:
            self._channel.write(json.dumps(message) + "\n")
            self._channel.flush()

    def serve(self, requests: IO[str]) -> None:
        threading.Thread(target=self._reap_forever, name="reaper", daemon=True).start()
        self.reply({"op": "ready", "pid": os.getpid()})
        for line in requests:
            request = json.loads(line)
            if request["op"] == "spawn":
                pid = self._fork(request["argv"], request["log"], request["token"])
                self._children.add(pid)
                self.reply({"op": "spawned", "id": request["id"], "pid": pid})
        self._stop_children()

    def _fork(self, argv: list[str], log_path: str, token: str) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:  # the child: a model server in a session of its own, its output in its log
            os.setsid()
            die_with_parent()
            _prctl(PR_SET_NAME, b"model-server")
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            null_fd = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null_fd, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.close(self._channel.fileno())  # not .close(): that would flush the parent's buffered replies
            from local_runtime.model_server_guard import serve_guarded

            serve_guarded(argv, token)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _reap_forever(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                time.sleep(0.05)
                continue
            self._children.discard(pid)
            self.reply({"op": "exited", "pid": pid, "code": os.waitstatus_to_exitcode(status)})

    def _stop_children(self) -> None:
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            for pid in list(self._children):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, sig)
            deadline = time.monotonic() + grace
            while self._children and time.monotonic() < deadline:
                time.sleep(0.05)


def _preload(model_dir: str) -> None:
    """Import everything a model server imports, and the model class its folder names, without loading weights."""
    from local_runtime import model_server_guard  # noqa: F401  # the gate every forked model server runs behind
    from training import inference, model_server  # noqa: F401  # the import is the point

    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401  # imported only: sessions (and their threads) start in the forked child
    with contextlib.suppress(Exception):
        from transformers import AutoConfig
        from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING

        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING[type(AutoConfig.from_pretrained(model_dir))]


def main() -> None:
    parser = argparse.ArgumentParser(description="fork server for the local model server")
    parser.add_argument("--model-dir", required=True)
    args = parser.parse_args()
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything printed by a library goes to the log, never into the reply channel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runtime decides when this stops (stdin closes)
    _preload(args.model_dir)
    _ForkServer(channel).serve(sys.stdin)
    sys.stderr.flush()
    os._exit(0)  # its children are gone; skip tearing down torch's interpreter state (seconds on a busy machine)


if __name__ == "__main__":
    main()
