"""The local model pipeline as a background child process, so a fresh `make demo` is usable at once.

The runtime comes up first; the pipeline publishes the instant model within seconds of curating the reviews (the
instant tier then answers /predict), then fine-tunes the transformer. Until that one is ready, /start fails as it does
on AWS before the pipeline's first approval; when it is, Start works with no restart. GET /pipeline on the gateway
shows where it is (`status()`).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local_runtime.endpoints import REPO_ROOT, stop_process
from local_runtime.fork_server import die_with_parent
from local_runtime.model_pipeline import _child_env, gpu_model_ready, instant_model_dir

log = logging.getLogger(__name__)


class BackgroundPipeline:
    """Runs `python -m local_runtime.model_pipeline` unless a good enough model is cached; reports its progress."""

    def __init__(
        self,
        profile: str,
        model_dir: Path,
        work_dir: Path,
        on_ready: Callable[[], None] = lambda: None,
        command: list[str] | None = None,
    ) -> None:
        self.profile = profile
        self.model_dir = Path(model_dir)
        self.progress_file = work_dir / "pipeline_progress.json"
        self.log_path = work_dir / "logs" / "model_pipeline.log"
        self.on_ready = on_ready
        self._command = command
        self._process: subprocess.Popen[bytes] | None = None
        self._exit_code: int | None = None
        self._closing = False
        self._thread: threading.Thread | None = None

    def gpu_model_ready(self) -> bool:
        return gpu_model_ready(self.model_dir)

    def instant_model_ready(self) -> bool:
        return (instant_model_dir(self.model_dir) / "instant_model.json").is_file()

    def start(self) -> None:
        """Start the child unless a model of the profile is cached (then there is nothing to do)."""
        if gpu_model_ready(self.model_dir, self.profile) and self.instant_model_ready():
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.progress_file.unlink(missing_ok=True)
        command = self._command or [
            sys.executable,
            "-m",
            "local_runtime.model_pipeline",
            "--profile",
            self.profile,
            "--out",
            str(self.model_dir),
        ]
        command = [*command, "--progress-file", str(self.progress_file)]
        with open(self.log_path, "ab") as log_file:
            self._process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=_child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self._thread = threading.Thread(target=self._wait, name="model-pipeline", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._exit_code is None

    def _wait(self) -> None:
        assert self._process is not None
        self._exit_code = self._process.wait()
        if self._closing:
            return
        if self._exit_code == 0 and self.gpu_model_ready():
            self.on_ready()
        else:
            log.error("the model pipeline failed (exit %s); its log is %s", self._exit_code, self.log_path)

    def status(self) -> dict[str, Any]:
        """What GET /pipeline answers (api contract: state, stage, progress, message, instant_model, gpu_model)."""
        instant, gpu = self.instant_model_ready(), self.gpu_model_ready()
        if self._process is None:
            state = "ready" if gpu else "none"
            message = "The GPU model is ready." if gpu else "No model pipeline is running and no GPU model exists."
            return {
                "state": state,
                "stage": state,
                "progress": 1.0 if gpu else None,
                "message": message,
                "instant_model": instant,
                "gpu_model": gpu,
            }
        reported = self._reported()
        if self._exit_code is None:
            return {
                "state": "training",
                "stage": reported.get("stage", "starting"),
                "progress": reported.get("progress", 0.0),
                "message": reported.get("message", "Starting the model pipeline."),
                "instant_model": instant,
                "gpu_model": gpu,
            }
        if self._exit_code == 0 and gpu:
            return {
                "state": "ready",
                "stage": "ready",
                "progress": 1.0,
                "message": "The GPU model is ready: Start works.",
                "instant_model": instant,
                "gpu_model": gpu,
            }
        return {
            "state": "failed",
            "stage": reported.get("stage", "starting"),
            "progress": reported.get("progress"),
            "message": f"The model pipeline failed (exit {self._exit_code}); see {self.log_path.name} in the "
            "runtime's logs folder.",
            "instant_model": instant,
            "gpu_model": gpu,
        }

    def _reported(self) -> dict[str, Any]:
        try:
            reported = json.loads(self.progress_file.read_text())
        except (OSError, ValueError):
            return {}
        return reported if isinstance(reported, dict) else {}

    def close(self) -> None:
        self._closing = True
        if self._process is not None and self._exit_code is None:
            stop_process(self._process, timeout=10)
