"""The local runtime's text queue: enqueue returns at once, a background thread delivers each text to the sender's
handler as SQS would (receive count in the attributes), and a text the handler reports failed comes back later."""

from __future__ import annotations

import time
from typing import Any

from ondemand.ports import OutgoingText

from local_runtime.text_queue import LocalTextQueue


def test_texts_are_delivered_in_the_background_and_a_failed_one_comes_back() -> None:
    delivered: list[tuple[str, str]] = []

    def deliver(event: dict[str, Any]) -> dict[str, Any]:
        [record] = event["Records"]
        text = OutgoingText.from_json(record["body"])
        count = record["attributes"]["ApproximateReceiveCount"]
        time.sleep(0.2)  # a slow provider
        delivered.append((text.phone, count))
        failed = text.phone == "+12025550102" and count == "1"
        return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}] if failed else []}

    queue = LocalTextQueue(visibility_seconds=0.3)
    queue.start(deliver)
    try:
        started = time.monotonic()
        for phone in ("+12025550101", "+12025550102", "+12025550103"):
            queue.enqueue(OutgoingText("run", "ready", phone, "ready"))
        assert time.monotonic() - started < 0.1  # the caller never waits for the provider
        assert queue.wait_until_empty(timeout=10)
    finally:
        queue.close()
    assert sorted(delivered) == [
        ("+12025550101", "1"),
        ("+12025550102", "1"),
        ("+12025550102", "2"),
        ("+12025550103", "1"),
    ]


def test_a_handler_that_raises_does_not_stop_the_queue() -> None:
    calls: list[str] = []

    def deliver(event: dict[str, Any]) -> dict[str, Any]:
        calls.append(event["Records"][0]["attributes"]["ApproximateReceiveCount"])
        if len(calls) == 1:
            raise RuntimeError("the sender crashed")
        return {"batchItemFailures": []}

    queue = LocalTextQueue(visibility_seconds=0.1)
    queue.start(deliver)
    try:
        queue.enqueue(OutgoingText("run", "ready", "+12025550101", "ready"))
        assert queue.wait_until_empty(timeout=10)
    finally:
        queue.close()
    assert calls == ["1", "2"]
