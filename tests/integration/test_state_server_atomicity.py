"""Is the local state store the exactly-once store the product promises? DynamoDB applies each conditional write to
one item atomically; moto's server does not (its `update_item` reads the item, checks the condition and applies the
update with no lock, on one thread per request), so two identical writes could both pass their condition: the same
phone subscribed twice. `LocalStateServer` serializes requests in front of moto; these loops prove it holds.

Each round sends identical conditional writes of one item from many threads at once, over real sockets to the
server the local runtime uses. A thread switch interval far below Python's default makes the threads interleave
inside moto's handler as often as they would on a busier machine, so a missing lock shows within a few rounds.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from ondemand.adapters.dynamodb import StaticCredentials

from local_runtime.state_server import LocalStateServer

WRITERS = 12
ROUNDS = 30
KEY = {"pk": {"S": "endpoint"}}  # the state item's key (template.yaml's StateTable key schema)


@pytest.fixture
def state_server() -> Iterator[LocalStateServer]:
    # moto keeps its tables per process, not per server: each test gets tables of its own.
    name = f"atomicity-{uuid.uuid4().hex[:8]}"
    server = LocalStateServer(table_name=name, rate_limit_table_name=f"{name}-rate-limits")
    server.start()
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield server
    finally:
        sys.setswitchinterval(previous)
        server.close()


def sdk_client(server: LocalStateServer) -> Any:
    """A DynamoDB client with a connection per writer, so every write of a round is in flight at once."""
    return client_for(server.url, WRITERS, server.credentials)


def client_for(url: str, writers: int, credentials: StaticCredentials | None = None) -> Any:
    """`credentials`: the runtime's state store answers only its own (LocalStateServer.credentials); moto alone any."""
    key = credentials or StaticCredentials("local", "local")
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=Config(max_pool_connections=writers),
    )


def won_condition(update: Callable[[], object]) -> bool:
    """Run one conditional update: True if its condition held, False if DynamoDB refused it. Matched by error code,
    not client.exceptions.X: botocore builds those classes lazily, racily across threads."""
    try:
        update()
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def race(writers: int, write: Callable[[], bool]) -> int:
    """Run `write` on `writers` threads released together; how many of them won their condition."""
    start = threading.Barrier(writers)

    def one() -> bool:
        start.wait()
        return write()

    with ThreadPoolExecutor(writers) as pool:
        return sum(pool.map(lambda _: one(), range(writers)))


def subscribe(dynamodb: Any, table: str, phone: str) -> Callable[[], bool]:
    """add_subscriber's write: append the phone unless the list already holds it, and bump the version."""

    def write() -> bool:
        return won_condition(
            lambda: dynamodb.update_item(
                TableName=table,
                Key=KEY,
                UpdateExpression="SET subscribers = list_append(subscribers, :phones) ADD version :one",
                ConditionExpression="NOT contains(subscribers, :phone)",
                ExpressionAttributeValues={
                    ":phones": {"L": [{"S": phone}]},
                    ":phone": {"S": phone},
                    ":one": {"N": "1"},
                },
            )
        )

    return write


def subscribe_rounds(dynamodb: Any, table: str, writers: int, rounds: int) -> list[int]:
    """`rounds` races of `writers` identical subscribe writes (a new phone each round): the winners of each."""
    dynamodb.put_item(TableName=table, Item={**KEY, "subscribers": {"L": []}, "version": {"N": "0"}})
    return [race(writers, subscribe(dynamodb, table, f"+1555555{n:04d}")) for n in range(rounds)]


def test_identical_subscribe_writes_add_each_phone_exactly_once(state_server: LocalStateServer) -> None:
    dynamodb, table = sdk_client(state_server), state_server.table_name
    winners = subscribe_rounds(dynamodb, table, WRITERS, ROUNDS)

    item = dynamodb.get_item(TableName=table, Key=KEY, ConsistentRead=True)["Item"]
    phones = [value["S"] for value in item["subscribers"]["L"]]
    assert [n for n, won in enumerate(winners) if won != 1] == []
    assert len(phones) == len(set(phones)) == ROUNDS
    assert int(item["version"]["N"]) == ROUNDS


def test_writes_that_expect_one_version_let_exactly_one_through(state_server: LocalStateServer) -> None:
    """The optimistic lock every transition uses (pynamodb's VersionAttribute): only one writer of a version wins."""
    dynamodb, table = sdk_client(state_server), state_server.table_name
    dynamodb.put_item(
        TableName=table, Item={**KEY, "state": {"S": "STOPPED"}, "version": {"N": "0"}, "starts": {"N": "0"}}
    )

    def transition(version: int) -> Callable[[], bool]:
        def write() -> bool:
            return won_condition(
                lambda: dynamodb.update_item(
                    TableName=table,
                    Key=KEY,
                    UpdateExpression="SET version = :next ADD starts :one",
                    ConditionExpression="version = :expected",
                    ExpressionAttributeValues={
                        ":expected": {"N": str(version)},
                        ":next": {"N": str(version + 1)},
                        ":one": {"N": "1"},
                    },
                )
            )

        return write

    winners = [race(WRITERS, transition(version)) for version in range(ROUNDS)]

    item = dynamodb.get_item(TableName=table, Key=KEY, ConsistentRead=True)["Item"]
    assert [n for n, won in enumerate(winners) if won != 1] == []
    assert int(item["starts"]["N"]) == int(item["version"]["N"]) == ROUNDS
