"""Texts as units of work of their own: the lifecycle only queues them (one message per number) and returns at once,
however many people wait and however slow the provider is; the sender sends each exactly once, retries what the
provider failed, and counts against the daily caps only the texts that went out. Then the SQS adapter on moto."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any

import boto3
import pytest
from ondemand.adapters.rate_limit import DynamoTextClaims
from ondemand.adapters.sqs import SqsTextQueue
from ondemand.domain import EndpointStatus, NotifierError, SendResult, State
from ondemand.handlers import texts
from ondemand.lifecycle.texting import LEASE_SECONDS, SMS_DAY_SECONDS, TEXT_ATTEMPTS
from ondemand.ports import Adapters, ClaimState, OutgoingText, TextQueueError

from tests.lifecycle_driver import LifecycleDriver
from tests.settings_factory import make_settings
from tests.unit.lifecycle.lifecycle_fakes import PHONE_A, PHONE_B, FakeTextQueue
from tests.unit.lifecycle.lifecycle_rate_table import RATE_TABLE, with_rate_table

ENDPOINT = "ondemand-sentiment-20260101t120000"
PROVIDER_SECONDS = 2.0
CROWD = [f"+1202555{1000 + i:04d}" for i in range(100)]


class SlowProvider:
    """An SMS provider that takes PROVIDER_SECONDS a text on the test's clock (no real waiting), and can fail."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.sent: list[tuple[str, str]] = []
        self.unreachable_for: dict[str, int] = {}
        """phone -> how many more sends fail as an unreachable provider (a NotifierError: 5xx, timeout)."""

    def send(self, phone: str, message: str) -> SendResult:
        self.clock.advance(seconds=PROVIDER_SECONDS)
        if self.unreachable_for.get(phone, 0) > 0:
            self.unreachable_for[phone] -= 1
            raise NotifierError(f"Textbelt could not be reached for {phone}: HTTP 503")
        self.sent.append((phone, message))
        return SendResult(ok=True, detail=f"textId={len(self.sent)}")

    def phones(self) -> list[str]:
        return [phone for phone, _ in self.sent]


@pytest.fixture
def settings():
    return make_settings(max_subscribers=len(CROWD), sms_per_day=1000, sms_per_number_per_day=5)


@pytest.fixture
def notifier(clock) -> SlowProvider:
    return SlowProvider(clock)


@pytest.fixture
def queue() -> FakeTextQueue:
    return FakeTextQueue()


@pytest.fixture
def adapters(adapters, aws, clock, queue) -> Adapters:
    return dataclasses.replace(with_rate_table(adapters, clock), text_queue=queue)


def waiting(store, endpoints, phones: list[str]) -> None:
    """The item STARTING ENDPOINT with `phones` waiting; the endpoint InService and answering."""
    store.transition([State.STOPPED], State.STARTING, "start", endpoint_name=ENDPOINT, subscribers=phones)
    endpoints.set_status(ENDPOINT, EndpointStatus.IN_SERVICE)


def in_service_event(event) -> dict[str, Any]:
    payload = event("endpoint_state_change_in_service")
    payload["detail"]["EndpointName"] = ENDPOINT
    return payload


def test_a_hundred_subscribers_cost_the_in_service_handler_milliseconds_and_each_is_texted_once(
    service, handlers, store, endpoints, notifier, queue, clock, event
) -> None:
    waiting(store, endpoints, CROWD)
    before = clock()
    started = time.perf_counter()
    result = handlers.endpoint_events(in_service_event(event), None)
    elapsed = time.perf_counter() - started
    assert result["outcome"] == "promoted to IN_SERVICE; queued 100 of 100 texts"
    # The handler's time is its few DynamoDB calls (about 0.2 s each on moto here, ~10 ms on DynamoDB); queueing the
    # hundred texts takes milliseconds of it.
    queueing = queue.enqueued_at[-1] - queue.enqueued_at[0]
    assert queueing < 0.1 and elapsed < 3.0, f"queueing took {queueing:.3f} s, the InService handler {elapsed:.2f} s"
    assert clock() == before and notifier.sent == []  # not one provider second spent in the handler
    assert len(queue.waiting) == 100

    LifecycleDriver(service).drain_texts()
    assert sorted(notifier.phones()) == sorted(CROWD)  # each once
    assert all("ready" in message for _, message in notifier.sent)
    assert (clock() - before).total_seconds() == 100 * PROVIDER_SECONDS  # the provider's time went to the sender


def test_a_duplicate_delivery_of_a_sent_text_sends_nothing(service, store, endpoints, notifier, queue) -> None:
    waiting(store, endpoints, [PHONE_A, PHONE_B])
    machine = LifecycleDriver(service)
    machine.on_endpoint_status(ENDPOINT, EndpointStatus.IN_SERVICE)
    machine.drain_texts(deliveries_of_each=3)  # SQS delivers at least once: here three times each
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_B]


def test_a_text_sent_again_after_it_went_out_sends_nothing(service, store, endpoints, notifier, queue) -> None:
    """The same message later (a redrive, a late duplicate): its claim says sent."""
    waiting(store, endpoints, [PHONE_A])
    machine = LifecycleDriver(service)
    machine.on_endpoint_status(ENDPOINT, EndpointStatus.IN_SERVICE)
    machine.drain_texts()
    queue.waiting.append(("again", queue.enqueued[0].to_json(), 0))
    machine.drain_texts()
    assert notifier.phones() == [PHONE_A]


@pytest.mark.parametrize("settings", [make_settings(sms_per_number_per_day=1)])
def test_a_provider_failure_is_retried_and_the_text_sent_once_spending_one_allowance(
    service, store, endpoints, notifier, queue
) -> None:
    notifier.unreachable_for[PHONE_A] = 2
    waiting(store, endpoints, [PHONE_A, PHONE_B])
    machine = LifecycleDriver(service)
    machine.on_endpoint_status(ENDPOINT, EndpointStatus.IN_SERVICE)
    answers = machine.drain_texts()
    assert sum(bool(answer["batchItemFailures"]) for answer in answers) == 2  # two failures, each redelivered
    # Sent on the third delivery although the number may have one text a day: the failures spent nothing.
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_B]


def test_a_text_the_provider_always_fails_is_dropped_after_its_attempts_with_the_number_masked(
    service, store, endpoints, notifier, queue, caplog
) -> None:
    notifier.unreachable_for[PHONE_A] = 99
    waiting(store, endpoints, [PHONE_A])
    machine = LifecycleDriver(service)
    machine.on_endpoint_status(ENDPOINT, EndpointStatus.IN_SERVICE)
    with caplog.at_level(logging.INFO):
        answers = machine.drain_texts()
    assert len(answers) == TEXT_ATTEMPTS and not answers[-1]["batchItemFailures"]  # then SQS deletes it
    assert notifier.sent == [] and queue.waiting == []
    assert any(f"dropped after {TEXT_ATTEMPTS} attempts" in r.getMessage() for r in caplog.records)
    assert PHONE_A not in caplog.text and PHONE_A[:5] + "***" in caplog.text


@pytest.mark.parametrize("settings", [make_settings(sms_per_day=2, sms_per_number_per_day=1)])
def test_a_text_refused_by_the_days_cap_leaves_the_numbers_allowance_untouched(
    service, adapters, store, endpoints, notifier, queue, caplog
) -> None:
    limiter = adapters.rate_limiter
    for _ in range(2):  # the day's texts, spent on other numbers
        assert limiter.acquire("sms#all", 2, SMS_DAY_SECONDS) is None
    waiting(store, endpoints, [PHONE_A])
    machine = LifecycleDriver(service)
    machine.on_endpoint_status(ENDPOINT, EndpointStatus.IN_SERVICE)
    with caplog.at_level(logging.WARNING):
        answers = machine.drain_texts()
    assert notifier.sent == [] and not answers[0]["batchItemFailures"]  # refused: logged, not retried
    assert "SMS_PER_DAY reached" in caplog.text and PHONE_A not in caplog.text

    limiter.release("sms#all", SMS_DAY_SECONDS)  # one of the day's texts was given back: the cap allows one more
    # The next text to the same number (a later notice) goes out: its one text a day was not spent by the refusal.
    queue.enqueue(OutgoingText("later-run", "notice", PHONE_A, "Your sentiment model stops at 12:30 UTC."))
    machine.drain_texts()
    assert notifier.phones() == [PHONE_A]


@pytest.mark.parametrize("settings", [make_settings(sms_per_day=5, sms_per_number_per_day=1)])
def test_a_text_refused_for_its_number_spends_none_of_the_days_cap(
    service, adapters, store, endpoints, notifier, queue
) -> None:
    assert adapters.rate_limiter.acquire(f"sms#phone#{PHONE_A}", 1, SMS_DAY_SECONDS) is None  # A had its text
    waiting(store, endpoints, [PHONE_A])
    machine = LifecycleDriver(service)
    machine.on_endpoint_status(ENDPOINT, EndpointStatus.IN_SERVICE)
    machine.drain_texts()
    assert notifier.sent == []
    for _ in range(5):  # the whole day's cap is still there
        assert adapters.rate_limiter.acquire("sms#all", 5, SMS_DAY_SECONDS) is None


class FlakyLimiter:
    """The rate table failing its first `failures` calls (throttled, unreachable), then the real one."""

    def __init__(self, limiter, failures: int) -> None:
        self.limiter = limiter
        self.failures = failures

    def acquire(self, key: str, limit: int, window_seconds: int) -> int | None:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("ProvisionedThroughputExceededException")
        return self.limiter.acquire(key, limit, window_seconds)

    def release(self, key: str, window_seconds: int) -> None:
        self.limiter.release(key, window_seconds)


def test_a_rate_table_error_does_not_lose_the_ready_texts(adapters, settings, clock, store, endpoints) -> None:
    from ondemand.bootstrap import bootstrap

    queue = adapters.text_queue
    flaky = dataclasses.replace(adapters, rate_limiter=FlakyLimiter(adapters.rate_limiter, failures=1))
    service = bootstrap(settings, flaky, now=clock, sleep=lambda _: None)
    waiting(store, endpoints, [PHONE_A, PHONE_B])
    machine = LifecycleDriver(service)
    outcome = machine.on_endpoint_status(ENDPOINT, EndpointStatus.IN_SERVICE)
    assert outcome == "promoted to IN_SERVICE; queued 2 of 2 texts"  # queued before any counter is touched
    assert store.get().state == State.IN_SERVICE
    answers = machine.drain_texts()
    assert answers[0]["batchItemFailures"]  # the first text met the failing table and was given back
    assert sorted(adapters.notifier.phones()) == [PHONE_A, PHONE_B]
    assert len(queue.enqueued) == 2


def test_a_text_that_cannot_be_queued_is_logged_and_the_promotion_stands(
    service, store, endpoints, queue, caplog
) -> None:
    queue.fail_enqueue = True
    waiting(store, endpoints, [PHONE_A])
    with caplog.at_level(logging.WARNING):
        outcome = LifecycleDriver(service).on_endpoint_status(ENDPOINT, EndpointStatus.IN_SERVICE)
    assert outcome == "promoted to IN_SERVICE; queued 0 of 1 texts"
    assert store.get().state == State.IN_SERVICE
    assert "not queued" in caplog.text and PHONE_A not in caplog.text


def test_a_number_outside_the_allowlist_is_neither_queued_nor_sent_from_a_forged_message(
    service, store, endpoints, notifier, queue
) -> None:
    waiting(store, endpoints, ["+447700900123", PHONE_A])
    machine = LifecycleDriver(service)
    assert machine.on_endpoint_status(ENDPOINT, EndpointStatus.IN_SERVICE).endswith("queued 1 of 2 texts")
    assert [text.phone for text in queue.enqueued] == [PHONE_A]
    queue.waiting.append(("forged", OutgoingText("x", "text", "+447700900123", "win a prize").to_json(), 0))
    machine.drain_texts()
    assert notifier.phones() == [PHONE_A]


def test_a_message_that_is_not_a_text_is_dropped_not_retried(service) -> None:
    handler = texts.make_handler(service)
    answer = handler({"Records": [{"messageId": "m", "body": "{not json", "attributes": {}}]}, None)
    assert answer == {"batchItemFailures": []}


def test_a_sender_that_died_mid_send_is_not_followed_by_a_second_text(adapters, clock, notifier) -> None:
    """The claim outlives a sender killed between the provider's call and marking the text sent: another delivery
    while its lease lasts waits; after it, the text is given up (a lost text rather than two)."""
    claims = DynamoTextClaims(RATE_TABLE, lambda: "test-pepper", now=lambda: clock().timestamp())
    assert claims.claim("run#ready", PHONE_A, LEASE_SECONDS) is ClaimState.CLAIMED
    assert claims.claim("run#ready", PHONE_A, LEASE_SECONDS) is ClaimState.BUSY
    clock.advance(seconds=LEASE_SECONDS + 1)
    assert claims.claim("run#ready", PHONE_A, LEASE_SECONDS) is ClaimState.ABANDONED
    claims.release("run#ready", PHONE_A)  # too late: nothing changes
    assert claims.claim("run#ready", PHONE_B, LEASE_SECONDS) is ClaimState.CLAIMED  # one claim per number
    claims.release("run#ready", PHONE_B)
    assert claims.claim("run#ready", PHONE_B, LEASE_SECONDS) is ClaimState.CLAIMED  # given back: claimable
    claims.finish("run#ready", PHONE_B, "sent")
    assert claims.claim("run#ready", PHONE_B, LEASE_SECONDS) is ClaimState.DONE


def test_the_claims_store_no_number(adapters, clock) -> None:
    claims = DynamoTextClaims(RATE_TABLE, lambda: "test-pepper", now=lambda: clock().timestamp())
    claims.claim("run#ready", PHONE_A, LEASE_SECONDS)
    items = boto3.client("dynamodb").scan(TableName=RATE_TABLE)["Items"]
    assert items and PHONE_A[1:] not in json.dumps(items)


# ----- the SQS adapter, on moto -----


@pytest.fixture
def sqs(aws):
    client = boto3.client("sqs", region_name="us-east-1")
    return client, client.create_queue(QueueName="texts", Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]


def test_the_sqs_queue_carries_one_message_per_text_that_the_handler_reads(sqs, service, adapters, notifier) -> None:
    client, url = sqs
    queue = SqsTextQueue(client, url)
    sent = [OutgoingText("r1", "ready", phone, "Your sentiment model is ready.") for phone in (PHONE_A, PHONE_B)]
    for text in sent:
        queue.enqueue(text)
    received = client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert sorted((OutgoingText.from_json(m["Body"]) for m in received), key=str) == sorted(sent, key=str)
    # As the SQS event source hands them to the sender: one record per message, the attributes beside the body.
    records = [
        {"messageId": m["MessageId"], "body": m["Body"], "attributes": m["Attributes"], "eventSource": "aws:sqs"}
        for m in received
    ]
    assert texts.make_handler(service)({"Records": records}, None) == {"batchItemFailures": []}
    assert sorted(notifier.phones()) == [PHONE_A, PHONE_B]


def test_a_queue_that_cannot_be_reached_is_an_error_naming_no_account_or_number(sqs) -> None:
    client, url = sqs
    queue = SqsTextQueue(client, url.replace("/texts", "/missing"))
    with pytest.raises(TextQueueError) as raised:
        queue.enqueue(OutgoingText("r1", "ready", PHONE_A, "hello"))
    message = str(raised.value)
    assert message.startswith("SQS SendMessage failed (") and "123456789012" not in message and PHONE_A not in message


def test_release_gives_back_one_use_of_the_current_window_and_never_goes_below_zero(adapters) -> None:
    limiter = adapters.rate_limiter
    assert limiter.acquire("sms#all", 1, SMS_DAY_SECONDS) is None
    assert limiter.acquire("sms#all", 1, SMS_DAY_SECONDS) is not None  # full
    limiter.release("sms#all", SMS_DAY_SECONDS)
    limiter.release("sms#all", SMS_DAY_SECONDS)  # nothing more to give back: stays at zero
    limiter.release("sms#never-counted", SMS_DAY_SECONDS)
    assert limiter.acquire("sms#all", 1, SMS_DAY_SECONDS) is None
    assert limiter.acquire("sms#all", 1, SMS_DAY_SECONDS) is not None  # one use, not two


# ----- what the providers' answers mean for the queue -----


@pytest.mark.parametrize(("status", "retried"), [(503, True), (500, True), (429, True), (400, False), (200, False)])
def test_a_textbelt_5xx_or_throttle_is_retried_and_a_refusal_is_not(status: int, retried: bool) -> None:
    from ondemand.adapters.sms import TextbeltNotifier

    body = b'{"success": false, "error": "Out of quota"}' if status != 200 else b'{"success": true, "textId": "1"}'
    notifier = TextbeltNotifier(lambda: "key", post=lambda url, fields: (status, body))
    if retried:
        with pytest.raises(NotifierError):
            notifier.send(PHONE_A, "hello")
    else:
        assert notifier.send(PHONE_A, "hello").ok is (status == 200)


@pytest.mark.parametrize(
    ("code", "http", "retried"),
    [("Throttled", 429, True), ("InternalError", 500, True), ("InvalidParameter", 400, False)],
)
def test_an_sns_throttle_or_internal_error_is_retried_and_an_invalid_number_is_not(code, http, retried) -> None:
    from botocore.exceptions import ClientError
    from ondemand.adapters.sms import SnsNotifier

    class Sns:
        def publish(self, **_: Any) -> dict[str, Any]:
            error = {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": http}}
            raise ClientError(error, "Publish")

    if retried:
        with pytest.raises(NotifierError):
            SnsNotifier(Sns()).send(PHONE_A, "hello")
    else:
        assert not SnsNotifier(Sns()).send(PHONE_A, "hello").ok
