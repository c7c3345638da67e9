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
