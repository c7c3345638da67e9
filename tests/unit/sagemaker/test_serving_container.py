"""The serving contract: the model.tar.gz the training job leaves, served by the Hugging Face inference image's own code
(tests/unit/sagemaker/inference_container.py: MMS's worker side and sagemaker-huggingface-inference-toolkit 2.3.0, in
.venv-sagemaker at the image's versions), asked by our own /predict path: the Predict command and the
SageMaker adapter's `invoke`, with InvokeEndpoint answered by that container instead of AWS."""

from __future__ import annotations

import base64
import io
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ondemand.adapters.sagemaker import SageMakerEndpoints
from ondemand.bootstrap import bootstrap
from ondemand.domain import EndpointError, EndpointState, State
from ondemand.ports import Adapters

from tests.lifecycle_driver import LifecycleDriver
from tests.settings_factory import make_settings
from tests.unit.sagemaker.training_job import DLC_PYTHON, extract
from training import launcher

pytestmark = pytest.mark.slow
CONTAINER = Path(__file__).with_name("inference_container.py")
TEXTS = [
    "A warm, funny and moving film. I loved every minute of it.",
    "Clumsy, tedious and badly written. A dull, lifeless mess.",
]


class InferenceContainer:
    """The container's Python worker in a child process; `invoke` is one POST /invocations."""

    def __init__(self, model_dir: Path, environment: dict[str, str]) -> None:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(model_dir.parent),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            # sagemaker_inference's _set_python_path: the model's code/ goes on the workers' PYTHONPATH.
            "PYTHONPATH": str(model_dir / "code"),
            **environment,
        }
        self.process = subprocess.Popen(
            [str(DLC_PYTHON), str(CONTAINER), str(model_dir)],
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        first = self.process.stdout.readline()
        if not first:
            raise RuntimeError(f"the container did not start:\n{self.process.stderr.read()[-4000:]}")

    def invoke(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        self.process.stdin.write(json.dumps({"headers": headers, "body": base64.b64encode(body).decode()}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the container died:\n{self.process.stderr.read()[-4000:]}")
        answer = json.loads(line)
        answer["body"] = base64.b64decode(answer["body"])
        return answer

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


class ContainerRuntime:
    """The sagemaker-runtime client as the adapter uses it, with InvokeEndpoint answered by the container the way
    SageMaker answers: the model's body on a 200, a ModelError carrying the container's status otherwise."""

    def __init__(self, container: InferenceContainer) -> None:
        self.container = container
        self.answers: list[dict[str, Any]] = []

    def invoke_endpoint(self, EndpointName: str, ContentType: str, Accept: str, Body: bytes) -> dict:
        answer = self.container.invoke({"Content-Type": ContentType, "Accept": Accept}, Body)
        self.answers.append(answer)
        if answer["status"] != 200:
            from botocore.exceptions import ClientError

            # As SageMaker words it, with the worker's message (MMS puts a failed request's reason there).
            message = f"Received client error ({answer['status']}) from primary with message {answer['message']!r}"
            error = {"Code": "ModelError", "Message": message}
            raise ClientError({"Error": error, "OriginalStatusCode": answer["status"]}, "InvokeEndpoint")
        return {"Body": io.BytesIO(answer["body"]), "ContentType": answer["content_type"]}


class InServiceStore:
    """The state item as /predict reads it when the endpoint is in service."""

    def get(self) -> EndpointState:
        return EndpointState(state=State.IN_SERVICE, version=3, since=datetime.now(UTC), endpoint_name="ep-1")

    def record_use(self, endpoint_name: str, at: datetime, min_interval: timedelta) -> EndpointState:
        """A successful prediction notes its time on the item (for /extend); nothing to keep here."""
        return self.get()


def extracted_model(training_run, work: Path) -> Path:
    """The training job's artefact, extracted where the image puts it."""
    assert training_run.returncode == 0, training_run.log[-4000:]
    return extract(training_run.model_tar_gz(work / "model.tar.gz"), work / "opt" / "ml" / "model")


def serve(model_dir: Path) -> InferenceContainer:
    """The container on `model_dir` with the model's Environment as the launcher asks for it."""
    environment = launcher.model_request("m", "r", "s3://m", "eu-west-1")["PrimaryContainer"]["Environment"]
    return InferenceContainer(model_dir, environment)


@pytest.fixture(scope="module")
def container(training_run, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceContainer]:
    running = serve(extracted_model(training_run, tmp_path_factory.mktemp("inference")))
    yield running
    running.close()


def predict_through_the_api_path(container: InferenceContainer, texts: list[str]) -> tuple[dict, ContainerRuntime]:
    runtime = ContainerRuntime(container)
    endpoints = SageMakerEndpoints(
        None,
        runtime,
        None,
        prefix="ondemand-sentiment",
        instance_type="ml.g4dn.xlarge",
        approved_model_parameter="/approved",
    )
    adapters = Adapters(store=InServiceStore(), endpoints=endpoints, scheduler=None, notifier=None)
    return LifecycleDriver(bootstrap(make_settings(), adapters)).predict(texts), runtime


def test_predict_gets_one_labelled_prediction_per_text_from_the_inference_image(container):
    answer, runtime = predict_through_the_api_path(container, TEXTS)

    assert runtime.answers[0]["status"] == 200, runtime.answers[0]["body"][-2000:]
    assert runtime.answers[0]["content_type"] == "application/json"
    assert answer["model"] == "sentiment-distilbert"  # the recipe's model-name, through serving_config.json
    assert [p["label"] for p in answer["predictions"]] == ["POSITIVE", "NEGATIVE"]
    for prediction in answer["predictions"]:
        assert prediction["label_id"] == {"NEGATIVE": 0, "POSITIVE": 1}[prediction["label"]]
        assert 0.5 <= prediction["prob"] <= 1.0
        # The recipe combines the linear model; the rehearsal's few held-out rows set no bound for it to decide alone.
        assert prediction["scored_by"] == "transformer+linear"
    assert answer["latency_ms"] >= 0


def test_where_the_linear_part_decides_alone_the_inference_image_answers_with_it_and_says_so(training_run, tmp_path):
    """A bound every text passes (0): the image's Python runs the skip path and the answer reaches /predict marked."""
    model_dir = extracted_model(training_run, tmp_path)
    serving_file = model_dir / "serving_config.json"
    serving = json.loads(serving_file.read_text())
    serving["combination"] = [{**band, "linear_decides_beyond": 0.0} for band in serving["combination"]]
    serving_file.write_text(json.dumps(serving))
    running = serve(model_dir)
    try:
        answer, runtime = predict_through_the_api_path(running, TEXTS)
    finally:
        running.close()

    assert runtime.answers[0]["status"] == 200, runtime.answers[0]["body"][-2000:]
    assert [p["scored_by"] for p in answer["predictions"]] == ["linear", "linear"]
    assert [p["label"] for p in answer["predictions"]] == ["POSITIVE", "NEGATIVE"]


def test_a_request_the_model_refuses_is_an_endpoint_error_naming_why(container):
    """An empty text is refused by input_fn: the toolkit answers 400 with its message, which the adapter reports."""
    runtime = ContainerRuntime(container)
    endpoints = SageMakerEndpoints(
        None,
        runtime,
        None,
        prefix="ondemand-sentiment",
        instance_type="ml.g4dn.xlarge",
        approved_model_parameter="/approved",
    )

    with pytest.raises(EndpointError, match="ModelError"):
        endpoints.invoke("ep-1", {"texts": ["fine", "   "]})

    assert runtime.answers[0]["status"] == 400
    assert "Text 1 is empty" in runtime.answers[0]["message"]
