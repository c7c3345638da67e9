"""Shared test helpers: event fixtures from tests/events/*.json and the SAM template parsed with its !Ref tags."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = ROOT / "tests" / "events"


@cache
def _read_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of tests/events/<name>.json (callers may change it)."""
    return copy.deepcopy(_read_event(name))


@cache
def _read_template() -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml  # understands !Ref, !GetAtt, !Sub

    return cfn_yaml.load(str(ROOT / "template.yaml"))


def load_template() -> dict[str, Any]:
    return copy.deepcopy(_read_template())


MOTO_API = "http://motoapi.amazonaws.com"
"""moto's own API in decorator mode; in server mode, the server's URL."""


def queue_model_answers(model: str, count: int = 1, moto_url: str = MOTO_API) -> None:
    """Queue `count` answers of the model for moto's InvokeEndpoint, which answers each new endpoint with the next one
    (else a plain "body", not JSON): what /predict and the InService event's canary prediction read."""
    import requests

    answer = {"predictions": [{"label": "POSITIVE", "label_id": 1, "prob": 0.9}], "model": model}
    requests.post(
        f"{moto_url}/moto-api/static/sagemaker/endpoint-results",
        timeout=10,
        json={"results": [{"Body": json.dumps(answer), "ContentType": "application/json"}] * count},
    ).raise_for_status()


def create_table_from_template(dynamodb_client: Any, logical_id: str, table_name: str) -> None:
    """Create a table with the key schema, attributes and billing mode template.yaml gives it, so tests cannot drift."""
    properties = _read_template()["Resources"][logical_id]["Properties"]
    dynamodb_client.create_table(
        TableName=table_name,
        AttributeDefinitions=[dict(a) for a in properties["AttributeDefinitions"]],
        KeySchema=[dict(k) for k in properties["KeySchema"]],
        BillingMode=properties["BillingMode"],
    )


@pytest.fixture
def event() -> Callable[[str], dict[str, Any]]:
    """`event("apigw_start")` -> a fresh copy of tests/events/apigw_start.json."""
    return load_event


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture
def state_table() -> Callable[[Any, str], None]:
    """`state_table(dynamodb_client, name)` creates the StateTable of template.yaml under `name`."""
    return lambda client, name: create_table_from_template(client, "StateTable", name)
