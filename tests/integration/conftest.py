"""Fixtures that start the whole local runtime (`python -m local_runtime`) on free ports with the pipeline's tiny
model. Other suites (tests/e2e) build theirs the same way from `local_runtime.harness`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from local_runtime.harness import RunningRuntime, ensure_test_model, run_local_runtime


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """The tiny model, made once per cache (about a minute on a fresh clone), then reused."""
    return ensure_test_model()


@pytest.fixture
def runtime_factory(tiny_model_dir: Path, tmp_path: Path) -> Callable[..., AbstractContextManager[RunningRuntime]]:
    """`with runtime_factory(keep_alive="1m") as runtime:` starts a runtime of its own in a fresh var folder."""
    counter = iter(range(1000))

    def start(model_dir: Path = tiny_model_dir, **options: Any) -> AbstractContextManager[RunningRuntime]:
        return run_local_runtime(tmp_path / f"runtime-{next(counter)}", model_dir, **options)

    return start


@pytest.fixture
def running_runtime(runtime_factory: Callable[..., AbstractContextManager[RunningRuntime]]) -> Iterator[RunningRuntime]:
    """The whole runtime with a two-minute keep-alive: `.base_url`, `.outbox_path`, `.outbox()`."""
    with runtime_factory(keep_alive="2m") as runtime:
        yield runtime
