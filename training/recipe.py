"""The GPU training recipe (instance, images, hyperparameters, runtime), read from its one definition: the Step
Functions pipeline's training and model states in `statemachine/training_pipeline.asl.json`.

The state machine gets that file through `DefinitionUri` and fills its `${Placeholders}` (role, buckets, region) through
`DefinitionSubstitutions`; the launcher fills the same placeholders here, and gives the values Step Functions computes
at run time (the `Name.$` fields: job and model names, the artefact's S3 URI). So a change to the recipe reaches both.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ASL_PATH = Path(__file__).resolve().parents[1] / "statemachine" / "training_pipeline.asl.json"
TRAINING_STATE = "Fine-tune the model"
MODEL_STATE = "Create the SageMaker model"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def state_request(state: str, substitutions: dict[str, str], run_time_values: dict[str, Any]) -> dict[str, Any]:
    """The request a Task state of the pipeline sends, with every placeholder and every `Name.$` field filled."""
    parameters = json.loads(ASL_PATH.read_text())["States"][state]["Parameters"]
    request: dict[str, Any] = _fill(parameters, substitutions, run_time_values, state)
    return request


def _fill(value: Any, substitutions: dict[str, str], run_time_values: dict[str, Any], state: str) -> Any:
    if isinstance(value, dict):
        filled = {}
        for key, item in value.items():
            if key.endswith(".$"):
                name = key[:-2]
                if name not in run_time_values:
                    raise KeyError(f"{state!r}: {name} is computed by Step Functions ({item}); pass it explicitly")
                filled[name] = run_time_values[name]
            else:
                filled[key] = _fill(item, substitutions, run_time_values, state)
        return filled
    if isinstance(value, list):
        return [_fill(item, substitutions, run_time_values, state) for item in value]
    if isinstance(value, str):
        missing = set(PLACEHOLDER.findall(value)) - set(substitutions)
        if missing:
            raise KeyError(f"{state!r}: no value for the placeholder(s) {sorted(missing)}")
        return PLACEHOLDER.sub(lambda match: substitutions[match.group(1)], value)
    return value
