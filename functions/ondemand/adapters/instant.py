"""The InstantModel port: the instant tier's artifact, loaded once per container (Lambda) or process (local runtime).

On AWS the training pipeline records the artifact's S3 location in an SSM parameter (statemachine/: "none" until its
first run): either a SageMaker model.tar.gz holding `instant_model.json` and `instant_model.f32` (what the pipeline's
training job writes), or a prefix ending in "/" with the two files. Locally the artifact is a folder the local model
pipeline writes (var/instant_model). Until one is published the answer is None, and the adapter looks again at most
every `recheck_seconds`, so a model published after the container started is picked up without a restart.
"""

from __future__ import annotations

import io
import logging
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ondemand.domain import InstantModelError
from ondemand.instant_model import METADATA_FILE, WEIGHTS_FILE, InstantModel
from ondemand.instant_model import InstantModelError as ArtifactError

logger = logging.getLogger(__name__)

NOT_PUBLISHED = "none"  # what statemachine/pipeline.yaml puts in the parameter before the pipeline's first run
ARTIFACT_FILES = (METADATA_FILE, WEIGHTS_FILE)
RECHECK_SECONDS = 60.0


class LoadedOnce:
    """Loads the model from the folder `locate()` returns, once; None from `locate` means nothing is published yet.
    Thread-safe: the local gateway answers on many threads; on Lambda one event runs at a time."""

    def __init__(
        self,
        locate: Callable[[], Path | None],
        *,
        recheck_seconds: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._locate = locate
        self._recheck_seconds = recheck_seconds
        self._clock = clock
        self._model: InstantModel | None = None
        self._error: InstantModelError | None = None
        self._looked_at: float | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> InstantModel | None:
        """The loaded model, loading it if it is published; None while it is not. A failed load raises its
        InstantModelError on every call until the next look."""
        if self._model is not None:
            return self._model
        with self._lock:
            now = self._clock()
            if self._model is None and (self._looked_at is None or now - self._looked_at >= self._recheck_seconds):
                self._looked_at = now
                self._error = None
                try:
                    self._model = self._load()
                except InstantModelError as exc:
                    self._error = exc
            if self._error is not None:
                raise self._error
            return self._model

    def _load(self) -> InstantModel | None:
        folder = self._locate()
        if folder is None:
            return None
        try:
            model = InstantModel.load(folder)
        except ArtifactError as exc:
            raise InstantModelError(f"The instant model could not be loaded: {exc}") from exc
        logger.info("instant model %s loaded from %s", model.name, folder)
        return model

    def answer(self, texts: list[str]) -> dict[str, Any] | None:
        model = self.model
        if model is None:
            return None
        return {"predictions": model.predict(texts), "model": model.name}


class FolderInstantModel(LoadedOnce):
    """The local adapter: the folder the local model pipeline publishes (looked at on every call until it exists:
    a stat is cheap, and the page should switch to the instant tier the moment training publishes it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        super().__init__(self._published, recheck_seconds=0)

    def _published(self) -> Path | None:
        return self.folder if all((self.folder / name).is_file() for name in ARTIFACT_FILES) else None


class S3InstantModel(LoadedOnce):
    """The AWS adapter: the location from SSM, the artifact from S3 into a private temporary folder."""

    def __init__(self, ssm: Any, s3: Any, parameter_name: str, *, recheck_seconds: float = RECHECK_SECONDS) -> None:
        self.ssm = ssm
        self.s3 = s3
        self.parameter_name = parameter_name
        self._folder = Path(tempfile.mkdtemp(prefix="instant-model-"))
        super().__init__(self._download, recheck_seconds=recheck_seconds)

    def _download(self) -> Path | None:
        try:
            location = self.ssm.get_parameter(Name=self.parameter_name)["Parameter"]["Value"].strip()
        except (ClientError, BotoCoreError) as exc:
            logger.error("could not read %s", self.parameter_name, exc_info=True)
            raise InstantModelError("The instant model's location could not be read.") from exc
        if location == NOT_PUBLISHED:
            return None
        bucket, _, key = location.removeprefix("s3://").partition("/")
        if not location.startswith("s3://") or not bucket or not key:
            raise InstantModelError(f"{self.parameter_name} holds {location!r}, not an s3:// location.")
        try:
            if key.endswith("/"):
                for name in ARTIFACT_FILES:
                    (self._folder / name).write_bytes(self._read(bucket, key + name))
            else:
                self._extract(self._read(bucket, key))
        except (ClientError, BotoCoreError) as exc:
            logger.error("could not download the instant model from %s", location, exc_info=True)
            raise InstantModelError("The published instant model could not be downloaded.") from exc
        return self._folder

    def _read(self, bucket: str, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def _extract(self, archive: bytes) -> None:
        """The two artifact files from a model.tar.gz, wherever they sit in it; nothing else is written (no paths
        from the archive are used, so a crafted member name cannot write outside the folder)."""
        found = set()
        try:
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
                for member in tar.getmembers():
                    name = Path(member.name).name
                    if member.isfile() and name in ARTIFACT_FILES and name not in found:
                        extracted = tar.extractfile(member)
                        if extracted is not None:
                            (self._folder / name).write_bytes(extracted.read())
                            found.add(name)
        except tarfile.TarError as exc:
            raise InstantModelError(f"The published instant model is not a readable archive: {exc}") from exc
        missing = sorted(set(ARTIFACT_FILES) - found)
        if missing:
            raise InstantModelError(f"The published instant model archive lacks {', '.join(missing)}.")
