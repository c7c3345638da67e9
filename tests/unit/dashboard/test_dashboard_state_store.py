"""ONDEMAND_STATE_TABLE: the dashboard reads the state item from the table (moto's DynamoDB, built from
template.yaml's key schema) while actions still go to the API."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from ondemand.adapters.dynamodb import DynamoStateStore
from ondemand.domain import State

from tests.unit.dashboard.dashboard_fake_api import FakePlatformApi
from tests.unit.dashboard.dashboard_harness import open_page

TABLE = "dashboard-state"


@pytest.fixture
def table_store(fake_api: FakePlatformApi, monkeypatch: pytest.MonkeyPatch, state_table) -> Iterator[DynamoStateStore]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "ONDEMAND_STATE_TABLE": TABLE,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "DYNAMODB_ENDPOINT_URL", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        state_table(boto3.client("dynamodb"), TABLE)
        yield DynamoStateStore(TABLE)


def test_state_and_history_come_from_the_table_and_actions_from_the_api(
    fake_api: FakePlatformApi, table_store: DynamoStateStore
) -> None:
    table_store.transition(
        [State.STOPPED],
        State.STARTING,
        "start requested",
        endpoint_name="ondemand-sentiment-t1",
        subscribers=["+15555550100"],
    )
    table_store.transition([State.STARTING], State.IN_SERVICE, "endpoint InService")
    fake_api.failures["/status"] = (500, {"error": "internal_error", "message": "the API is down"})

    app = open_page()

    assert not app.exception
    assert not app.error
    assert next(item.value for item in app.metric if item.label == "State") == "IN_SERVICE"
    assert any("`ondemand-sentiment-t1`" in text.value for text in app.markdown)
    assert any("read from the table dashboard-state" in caption.value for caption in app.sidebar.caption)

    next(item for item in app.button if item.label == "Extend").click().run()
    assert len(fake_api.posts("/extend")) == 1

    app.switch_page("pages/history.py").run()
    assert list(app.dataframe[0].value["to"]) == ["IN_SERVICE", "STARTING"]


def test_an_unreadable_table_is_a_message(
    fake_api: FakePlatformApi, table_store: DynamoStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONDEMAND_STATE_TABLE", "no-such-table")

    app = open_page()

    assert not app.exception
    assert "Cannot read the state table no-such-table" in app.error[0].value
