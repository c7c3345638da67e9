"""The pynamodb state store against moto's DynamoDB, on a table built from template.yaml's key schema."""

from __future__ import annotations

import pytest
from ondemand.adapters.dynamodb import DynamoStateStore
from ondemand.domain import ConflictError, State


def test_a_missing_item_reads_as_stopped_at_version_0(store: DynamoStateStore) -> None:
    item = store.get()
    assert (item.state, item.version, item.endpoint_name, item.subscribers) == (State.STOPPED, 0, None, ())


def test_a_transition_writes_fields_and_a_history_entry(store: DynamoStateStore, clock) -> None:
    store.transition(
        [State.STOPPED],
        State.STARTING,
        "start requested",
        endpoint_name="ondemand-sentiment-x",
        subscribers=["+15555550100"],
    )
    item = store.get()
    assert item.state == State.STARTING
    assert item.version == 1
    assert item.since == clock()
    assert item.subscribers == ("+15555550100",)
    assert [(h.from_state, h.to_state, h.reason) for h in item.history] == [
        (State.STOPPED, State.STARTING, "start requested")
    ]


def test_history_keeps_only_the_latest_entries(aws, state_table, clock) -> None:
    import boto3

    state_table(boto3.client("dynamodb"), "bounded")
    bounded = DynamoStateStore("bounded", history_limit=3, now=clock)
    cycle = [
        (State.STOPPED, State.STARTING),
        (State.STARTING, State.IN_SERVICE),
        (State.IN_SERVICE, State.STOPPING),
        (State.STOPPING, State.STOPPED),
    ]
    for number, (source, target) in enumerate(cycle * 2):
        bounded.transition([source], target, f"step {number}")
    assert [h.reason for h in bounded.get().history] == ["step 5", "step 6", "step 7"]


def test_a_transition_from_an_unexpected_state_is_a_conflict(store: DynamoStateStore) -> None:
    with pytest.raises(ConflictError):
        store.transition([State.IN_SERVICE], State.STOPPING, "teardown")
    assert store.get().state == State.STOPPED


def test_a_write_based_on_an_old_version_is_a_conflict(store: DynamoStateStore) -> None:
    first = store.transition([State.STOPPED], State.STARTING, "start", subscribers=[])
    store.update([State.STARTING], "subscriber", expected_version=first.version, subscribers=["+15555550100"])
    with pytest.raises(ConflictError):
        store.update([State.STARTING], "subscriber", expected_version=first.version, subscribers=["+15555550101"])
    assert store.get().subscribers == ("+15555550100",)


def test_the_database_condition_rejects_a_write_that_lost_the_race(store: DynamoStateStore, clock) -> None:
    """Both writers read version 0; the second save must fail in DynamoDB itself, not in a Python check."""
    loser = DynamoStateStore(store.model.Meta.table_name, now=clock)
    stale = loser._load()
    store.transition([State.STOPPED], State.STARTING, "winner")
    loser._load = lambda: stale
    with pytest.raises(ConflictError, match="another writer"):
        loser.transition([State.STOPPED], State.STARTING, "loser")
    assert [h.reason for h in store.get().history] == ["winner"]


def test_only_item_fields_can_be_changed(store: DynamoStateStore) -> None:
    with pytest.raises(ValueError, match="not item fields"):
        store.transition([State.STOPPED], State.STARTING, "start", state="IN_SERVICE")


def test_add_subscriber_appends_atomically_and_bumps_the_version(store: DynamoStateStore) -> None:
    started = store.transition([State.STOPPED], State.STARTING, "start", subscribers=["+15555550100"])
    added = store.add_subscriber([State.STARTING], "+15555550101", limit=3)
    assert added.subscribers == ("+15555550100", "+15555550101")
    assert added.version == started.version + 1
    assert store.get() == added


def test_add_subscriber_refuses_duplicates_a_full_list_and_the_wrong_state(store: DynamoStateStore) -> None:
    store.transition([State.STOPPED], State.STARTING, "start", subscribers=["+15555550100"])
    with pytest.raises(ConflictError):
        store.add_subscriber([State.STARTING], "+15555550100", limit=3)
    store.add_subscriber([State.STARTING], "+15555550101", limit=2)
    with pytest.raises(ConflictError):
        store.add_subscriber([State.STARTING], "+15555550102", limit=2)
    with pytest.raises(ConflictError):
        store.add_subscriber([State.IN_SERVICE], "+15555550103", limit=9)
    assert store.get().subscribers == ("+15555550100", "+15555550101")


def test_a_write_based_on_a_read_before_add_subscriber_loses(store: DynamoStateStore) -> None:
    """The atomic add still moves the version, so a decision made on the older read cannot overwrite it."""
    read = store.transition([State.STOPPED], State.STARTING, "start", subscribers=[])
    store.add_subscriber([State.STARTING], "+15555550100", limit=5)
    with pytest.raises(ConflictError):
        store.transition([State.STARTING], State.FAILED, "stale", expected_version=read.version, subscribers=[])
    assert store.get().subscribers == ("+15555550100",)


def test_stores_on_one_table_share_one_model_class_and_other_tables_get_their_own() -> None:
    """pynamodb keeps a connection per model class: a class per store would open a connection per store."""
    first = DynamoStateStore("one-table", host="http://127.0.0.1:8000", region="us-east-1")
    again = DynamoStateStore("one-table", host="http://127.0.0.1:8000", region="us-east-1")
    other = DynamoStateStore("other-table", host="http://127.0.0.1:8000", region="us-east-1")
    assert first.model is again.model
    assert other.model is not first.model
    assert (first.model.Meta.table_name, other.model.Meta.table_name) == ("one-table", "other-table")
