"""A SageMaker training job rehearsed on this machine, the way the Hugging Face training image runs it.

SageMaker gives the container an /opt/ml tree: `input/config/{hyperparameters,inputdataconfig,resourceconfig}.json`
(the CreateTrainingJob request's HyperParameters, as the strings it was sent, and its channels), one folder per channel
under `input/data/`, an empty `model/`, and runs the image's `train` command. That command is the training toolkit's
(sagemaker-training): it imports SAGEMAKER_TRAINING_MODULE, `sagemaker_pytorch_container.training:main` in the PyTorch
and HF images, which extracts `sagemaker_submit_directory` into `code/`, pip-installs its requirements.txt, and runs
`sagemaker_program` with the hyperparameters as `--name value` arguments and the SM_* environment. SageMaker then tars
`model/` into model.tar.gz. Here the tree is a temporary folder (SAGEMAKER_BASE_DIR, the toolkit's own switch for
that), the submit directory is the launcher's archive as a local file, and only the base model differs from the
state machine's request (the offline tiny one for distilbert-base-uncased).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from training import launcher

HF_TRAINING_MODULE = "sagemaker_pytorch_container.training:main"  # the ENV of the HF PyTorch training image
# The images' Python side (tests/unit/sagemaker/requirements-dlc.txt), built by `make .venv-sagemaker/.installed`.
DLC_VENV = launcher.REPO_ROOT / ".venv-sagemaker"
DLC_PYTHON = DLC_VENV / "bin" / "python"
# The training image's transformers (4.36.0) over the venv's 4.37.0, which is the inference image's (pip --target).
TRAINING_IMAGE_OVERLAY = DLC_VENV / "training-image"
# The recipe's generated capability rows (the full profile's 400 per capability, 2,800 in all) would make the rehearsal
# ten times longer: it generates a few per capability instead, through the same code path.
REHEARSAL_SIZES = {"capability-rows": "4", "capability-validation-rows": "4"}
# Enough rows for the recipe's learning rate (3e-05, batch 32, 2 epochs: 20 steps) to separate the two kinds clearly;
# validation: the recipe's 512 rows to choose the checkpoint and enough left over to fit the combination on.
ROWS_PER_LABEL = {"train": 160, "validation": 320, "test": 16}
SENTENCES = {
    1: [
        "A warm, funny and moving film.",
        "Brilliant acting and a script that sings.",
        "I loved every minute of it.",
        "A delight from start to finish.",
        "Superb, touching and beautifully shot.",
    ],
    0: [
        "A dull, lifeless mess.",
        "Boring, predictable and far too long.",
        "I hated every minute of it.",
        "A waste of a talented cast.",
        "Clumsy, tedious and badly written.",
    ],
}


@dataclass
class TrainingRun:
    base_dir: Path  # the /opt/ml of the job
    returncode: int
    log: str  # what the container printed: CloudWatch's copy, where the metric definitions are matched
    request: dict

    @property
    def model_dir(self) -> Path:
        return self.base_dir / "model"

    def model_tar_gz(self, destination: Path) -> Path:
        """model/ as SageMaker uploads it: its contents at the root of model.tar.gz."""
        with tarfile.open(destination, "w:gz") as archive:
            for path in sorted(self.model_dir.iterdir()):
                archive.add(path, arcname=path.name)
        return destination


def reviews(rows_per_label: int, seed: int) -> pd.DataFrame:
    """Short labelled reviews, half marked as IMDb rows and half as Rotten Tomatoes (the `full` profile trains on
    both sources)."""
    rows = [
        {
            "text": f"{SENTENCES[label][(i + seed) % 5]} ({seed}-{i})",
            "label": label,
            "source": ("imdb", "rotten_tomatoes")[i % 2],
        }
        for i in range(rows_per_label)
        for label in (0, 1)
    ]
    return pd.DataFrame(rows)


def job_request(base_model: str, source_uri: str) -> dict:
    """The state machine's CreateTrainingJob request (through the launcher), with the offline base model."""
    request = launcher.training_job_request(
        "rehearsal",
        "arn:aws:iam::123456789012:role/sagemaker",
        source_uri,
        "s3://curated/reviews/",
        "s3://artifacts/training/",
        "eu-west-1",
    )
    request["HyperParameters"]["base-model"] = json.dumps(base_model)
    request["HyperParameters"].update(REHEARSAL_SIZES)
    return request


def prepare(base_dir: Path, request: dict) -> None:
    config = base_dir / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(request["HyperParameters"]))
    channels = {
        c["ChannelName"]: {
            "TrainingInputMode": request["AlgorithmSpecification"]["TrainingInputMode"],
            "S3DistributionType": c["DataSource"]["S3DataSource"]["S3DataDistributionType"],
            "RecordWrapperType": "None",
        }
        for c in request["InputDataConfig"]
    }
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    (config / "resourceconfig.json").write_text(
        json.dumps(
            {
                "current_host": "algo-1",
                "current_instance_type": request["ResourceConfig"]["InstanceType"],
                "current_group_name": "homogeneousCluster",
                "hosts": ["algo-1"],
                "network_interface_name": "eth0",
                "instance_groups": [
                    {
                        "instance_group_name": "homogeneousCluster",
                        "hosts": ["algo-1"],
                        "instance_type": request["ResourceConfig"]["InstanceType"],
                    }
                ],
            }
        )
    )
    for seed, channel in enumerate(channels):
        folder = base_dir / "input" / "data" / channel
        folder.mkdir(parents=True)
        # As the Glue job writes them: Parquet files under the split's prefix.
        reviews(ROWS_PER_LABEL[channel], seed).to_parquet(folder / "part-0.parquet", index=False)
    (base_dir / "model").mkdir()
    (base_dir / "output" / "data").mkdir(parents=True)


def run_training_job(work: Path, base_model: str, timeout: float = 900) -> TrainingRun:
    """Lay out the job, run the image's `train` command on it, return what it printed and left."""
    source = work / "sourcedir.tar.gz"
    source.write_bytes(launcher.source_archive())
    base_dir = work / "opt" / "ml"
    request = job_request(base_model, str(source))
    prepare(base_dir, request)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_", "PYTHONPATH"))},
        "SAGEMAKER_BASE_DIR": str(base_dir),
        "SAGEMAKER_TRAINING_MODULE": HF_TRAINING_MODULE,
        "PYTHONPATH": str(TRAINING_IMAGE_OVERLAY),
        # The hosts are SageMaker's names (algo-1): the toolkit's own switch for a run without the cluster's DNS.
        "SM_STUDIO_LOCAL_MODE": "true",
        # Offline: the requirements.txt install must be satisfied by what the image has, and no hub is reachable.
        "PIP_NO_INDEX": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    train_command = DLC_VENV / "bin" / "train"  # sagemaker-training's console script: what SageMaker runs in the image
    ran = subprocess.run([str(train_command)], cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
    return TrainingRun(base_dir, ran.returncode, ran.stdout + ran.stderr, request)


def extract(model_tar_gz: Path, destination: Path) -> Path:
    """What the inference container does with ModelDataUrl: model.tar.gz extracted into /opt/ml/model."""
    destination.mkdir(parents=True)
    with tarfile.open(model_tar_gz) as archive:
        archive.extractall(destination, filter="data")
    return destination


def archive_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return archive.getnames()
