"""The instant model as the API will use it: trained, saved, loaded back, answering like the GPU model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ondemand.instant_model import METADATA_FILE, WEIGHTS_FILE, InstantModel, InstantModelError

from tests.unit.instant.conftest import TINY_HYPERPARAMETERS
from training import instant_train

OBVIOUS = {
    "A wonderful, moving film. The acting is brilliant and I loved every minute of it.": "POSITIVE",
    "One of the best movies of the year: funny, smart and beautifully made.": "POSITIVE",
    "Terrible. A boring, stupid mess and a complete waste of time.": "NEGATIVE",
    "The worst film I have ever seen; awful acting and no plot at all.": "NEGATIVE",
}


def test_a_tiny_model_labels_obvious_reviews(tiny_model_dir: Path) -> None:
    model = InstantModel.load(tiny_model_dir)
    predictions = model.predict(list(OBVIOUS))
    assert [p["label"] for p in predictions] == list(OBVIOUS.values())
    assert all(p["label_id"] == (1 if p["label"] == "POSITIVE" else 0) for p in predictions)
    assert all(0.5 <= p["prob"] <= 1.0 for p in predictions)


def test_an_answer_has_the_gpu_models_shape_and_names_the_model(tiny_model_dir: Path) -> None:
    model = InstantModel.load(tiny_model_dir)
    answer = model.answer(["Great film", "Awful film"])
    assert set(answer) == {"predictions", "latency_ms", "model"}
    assert [set(p) for p in answer["predictions"]] == [{"label", "label_id", "prob"}] * 2
    metadata = json.loads((tiny_model_dir / METADATA_FILE).read_text())
    assert answer["model"] == f"instant-nb-logreg-uni-bi@{metadata['version']}" == model.name
    assert metadata["training"]["rows"] == 600 and metadata["labels"] == ["NEGATIVE", "POSITIVE"]


def test_train_save_load_gives_the_trained_classifiers_probabilities(
    tiny_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    texts = tiny_reviews["text"].tolist()
    fitted = instant_train.fit(texts, tiny_reviews["label"].tolist(), TINY_HYPERPARAMETERS)
    instant_train.save(
        tmp_path / "m",
        fitted.weights,
        fitted.bias,
        {"model_name": "m", "version": "1", "labels": ["NEGATIVE", "POSITIVE"]},
    )
    loaded = InstantModel.load(tmp_path / "m")
    held_out = list(OBVIOUS) + texts[:50]
    features = instant_train.bucket_matrix(held_out, 1 << TINY_HYPERPARAMETERS.bucket_bits)
    expected = fitted.classifier.predict_proba(instant_train.nb_scaled(features, fitted.ratios))[:, 1]
    served = np.array([loaded.positive_probability(text) for text in held_out])
    np.testing.assert_allclose(served, expected, atol=1e-5)  # float32 weights on disk, float64 in sklearn
    assert [p["label_id"] for p in loaded.predict(held_out)] == (expected >= 0.5).astype(int).tolist()


@pytest.fixture
def artifact_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "copy"))


def _edit_metadata(folder: Path, edit) -> None:
    metadata = json.loads((folder / METADATA_FILE).read_text())
    edit(metadata)
    (folder / METADATA_FILE).write_text(json.dumps(metadata))


def test_load_refuses_a_weights_file_with_a_flipped_byte(artifact_copy: Path) -> None:
    raw = bytearray((artifact_copy / WEIGHTS_FILE).read_bytes())
    raw[1234] ^= 0xFF
    (artifact_copy / WEIGHTS_FILE).write_bytes(bytes(raw))
    with pytest.raises(InstantModelError, match="checksum"):
        InstantModel.load(artifact_copy)


def test_load_refuses_a_truncated_weights_file(artifact_copy: Path) -> None:
    raw = (artifact_copy / WEIGHTS_FILE).read_bytes()
    (artifact_copy / WEIGHTS_FILE).write_bytes(raw[:-4])
    with pytest.raises(InstantModelError, match="float32 weights need"):
        InstantModel.load(artifact_copy)


def test_load_refuses_another_featurizer(artifact_copy: Path) -> None:
    _edit_metadata(artifact_copy, lambda m: m["featurizer"].update(name="words-uni-bi-tri/1"))
    with pytest.raises(InstantModelError, match="featurizer 'words-uni-bi-tri/1'"):
        InstantModel.load(artifact_copy)


def test_load_refuses_weights_made_for_other_buckets(artifact_copy: Path) -> None:
    # What a changed hash or tokenizer at training time looks like to the server.
    _edit_metadata(artifact_copy, lambda m: m["featurizer"].update(canary_buckets=[1, 2, 3]))
    with pytest.raises(InstantModelError, match="canary"):
        InstantModel.load(artifact_copy)


def test_load_refuses_a_bucket_count_that_is_not_a_power_of_two(artifact_copy: Path) -> None:
    _edit_metadata(artifact_copy, lambda m: m["featurizer"].update(bucket_count=1000))
    with pytest.raises(InstantModelError, match="power of two, not 1000"):
        InstantModel.load(artifact_copy)


def test_load_refuses_a_newer_format_and_broken_json(artifact_copy: Path) -> None:
    _edit_metadata(artifact_copy, lambda m: m.update(format="instant-linear/2"))
    with pytest.raises(InstantModelError, match="instant-linear/2"):
        InstantModel.load(artifact_copy)
    (artifact_copy / METADATA_FILE).write_text("{not json")
    with pytest.raises(InstantModelError, match="not valid instant-model metadata"):
        InstantModel.load(artifact_copy)


def test_load_says_how_to_make_a_missing_model(tmp_path: Path) -> None:
    with pytest.raises(InstantModelError, match="instant_model.json.*instant_train"):
        InstantModel.load(tmp_path)


def test_predict_takes_a_list_of_strings(tiny_model_dir: Path) -> None:
    model = InstantModel.load(tiny_model_dir)
    with pytest.raises(TypeError, match="list of strings"):
        model.predict("one review")
    with pytest.raises(TypeError, match="Text 1 is a int"):
        model.predict(["fine", 3])


def test_serving_imports_no_numpy_torch_or_sklearn(tiny_model_dir: Path) -> None:
    # A fresh interpreter: this test process has numpy loaded already. The editable install finds ondemand under -I.
    script = (
        "import sys;"
        "from ondemand.instant_model import InstantModel;"
        "print(InstantModel.load(sys.argv[1]).predict(['A great film'])[0]['label']);"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'torch', 'sklearn', 'scipy', 'pandas'});"
        "print(heavy)"
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-c", script, str(tiny_model_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert completed.stdout.split("\n")[:2] == ["POSITIVE", "[]"]
