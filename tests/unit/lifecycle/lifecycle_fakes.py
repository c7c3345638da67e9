"""In-memory fakes of the endpoint control, scheduler and notifier ports, recording every call."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from ondemand.domain import (
    EndpointError,
    EndpointInfo,
    EndpointNotDeletableError,
    EndpointStatus,
    NotifierError,
    SchedulerError,
    SendResult,
)
from ondemand.ports import OutgoingText, TextQueueError

PHONE_A = "+12025550100"
PHONE_B = "+12025550101"
PHONE_C = "+12025550102"


class FakeEndpoints:
    def __init__(self) -> None:
        self.endpoints: dict[str, EndpointInfo] = {}
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.invocations: list[tuple[str, dict[str, Any]]] = []
        self.fail_create: str | None = None
        self.fail_delete: str | None = None
        self.fail_invoke: str | None = None
        self.not_answering_for = 0
        """How many more invocations fail as a model still loading behind an InService endpoint does."""
        self.refuse_delete_while_creating = False
        """Refuse DeleteEndpoint on a Creating endpoint, as SageMaker does."""

    def create(self, name: str) -> None:
        self.created.append(name)
        if self.fail_create:
            raise EndpointError(self.fail_create)
        self.endpoints[name] = EndpointInfo(name, EndpointStatus.CREATING)

    def set_status(self, name: str, status: EndpointStatus, reason: str | None = None) -> None:
        self.endpoints[name] = EndpointInfo(name, status, reason)

    def describe(self, name: str) -> EndpointInfo | None:
        return self.endpoints.get(name)

    def delete(self, name: str) -> None:
        self.deleted.append(name)
        if self.fail_delete:
            raise EndpointError(self.fail_delete)
        endpoint = self.endpoints.get(name)
        if self.refuse_delete_while_creating and endpoint is not None and endpoint.status == EndpointStatus.CREATING:
            raise EndpointNotDeletableError(name, endpoint.status.value)
        self.endpoints.pop(name, None)

    def list(self, prefix: str) -> list[EndpointInfo]:
        return [e for n, e in sorted(self.endpoints.items()) if n.startswith(prefix)]

    def invoke(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.invocations.append((name, payload))
        if self.fail_invoke:
            raise EndpointError(self.fail_invoke, "endpoint_error")
        if self.not_answering_for > 0:
            self.not_answering_for -= 1
            raise EndpointError("ModelError: Received server error (503) from primary: the model is still loading")
        predictions = [
            {"label": "NEGATIVE" if "never" in t else "POSITIVE", "label_id": 0 if "never" in t else 1, "prob": 0.9}
            for t in payload["texts"]
        ]
        return {"predictions": predictions, "latency_ms": 3, "model": "fake-minilm"}


class FakeScheduler:
    def __init__(self) -> None:
        self.schedules: dict[str, tuple[datetime, dict[str, Any]]] = {}
        self.calls: list[str] = []
        self.fail: bool = False

    def schedule(self, name: str, at: datetime, payload: dict[str, Any]) -> None:
        self.calls.append(name)
        if self.fail:
            raise SchedulerError("scheduler is down")
        self.schedules[name] = (at, payload)

    def cancel(self, name: str) -> None:
        self.schedules.pop(name, None)


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.refuse: set[str] = set()
        self.unreachable: set[str] = set()

    def send(self, phone: str, message: str) -> SendResult:
        if phone in self.unreachable:
            raise NotifierError("provider unreachable")
        if phone in self.refuse:
            return SendResult(ok=False, detail="refused")
        self.sent.append((phone, message))
        return SendResult(ok=True, detail=f"id-{len(self.sent)}")

    def phones(self) -> list[str]:
        return [phone for phone, _ in self.sent]


class FakeTextQueue:
    """SQS as the text sender sees it: each text waits until `drain`, which hands it to the sender's Lambda handler
    as an SQS event (its receive count in the attributes); a text the handler reports failed comes back with its
    count one higher, as after a visibility timeout. `deliveries_of_each` > 1 delivers every message that many
    times (SQS is at-least-once)."""

    def __init__(self) -> None:
        self.enqueued: list[OutgoingText] = []
        self.enqueued_at: list[float] = []
        """perf_counter() of each enqueue: how long queueing took, apart from the handler's DynamoDB calls."""
        self.waiting: list[tuple[str, str, int]] = []
        self.handler: Any = None
        self.fail_enqueue = False

    def enqueue(self, text: OutgoingText) -> None:
        if self.fail_enqueue:
            raise TextQueueError("SQS SendMessage failed (ServiceUnavailable)")
        self.enqueued.append(text)
        self.enqueued_at.append(time.perf_counter())
        self.waiting.append((f"m-{len(self.enqueued)}", text.to_json(), 0))

    def drain(self, deliveries_of_each: int = 1) -> list[dict[str, Any]]:
        """Deliver until nothing waits; the handler's answers, in order."""
        assert self.handler is not None, "attach the texts handler first"
        answers = []
        while self.waiting:
            message_id, body, received = self.waiting.pop(0)
            assert received < 20, "a text was retried forever"
            for _ in range(deliveries_of_each if received == 0 else 1):
                received += 1
                attributes = {"ApproximateReceiveCount": str(received)}
                record = {"messageId": message_id, "body": body, "attributes": attributes}
                answer = self.handler({"Records": [record]}, None)
                answers.append(answer)
                if answer["batchItemFailures"]:
                    self.waiting.append((message_id, body, received))
                    break
        return answers
