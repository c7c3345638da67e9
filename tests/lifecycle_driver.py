"""The lifecycle's commands as methods, for tests that drive it step by step: each method is one command sent
through `Service.handle`, exactly as a handler sends it, so a test exercises the same rooms and the same map."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests
from ondemand.bootstrap import Handler, Service, consent_key
from ondemand.consent import new_token
from ondemand.domain import EndpointStatus
from ondemand.handlers import texts
from ondemand.lifecycle.commands import (
    EndpointStatusChanged,
    Extend,
    Predict,
    Reconcile,
    SendNotice,
    Start,
    Stop,
    TearDown,
)
from ondemand.lifecycle.reconciler import Repair
from ondemand.lifecycle.shutdown import ExtendResult, StopResult
from ondemand.lifecycle.starts import StartResult
from ondemand.phones import InvalidPhoneError, normalize_phone
from ondemand.ports import StateStore
from ondemand.settings import Settings


def confirmation_for(service: Service, phone: str) -> str:
    """The token /phone/confirm would give for `phone` (its owner typed the texted code), for tests that start with a
    phone but test something else than the confirmation."""
    key = consent_key(service.adapters)
    assert key is not None, "the service has no consent key: give its adapters a rate limiter or consent_key"
    return new_token(key(), phone, service.now())[0]


def confirmed(service: Service, phone: str, **body: Any) -> dict[str, Any]:
    """A /start body naming `phone` with its confirmation."""
    return {"phone": phone, "confirmation": confirmation_for(service, phone), **body}


def confirming(handler: Handler, service: Service) -> Handler:
    """`handler` (the API's) as a caller who confirmed their number first: a POST /start body naming a valid phone
    without "confirmation" gets the phone's valid one. For tests of everything but consent, which use the bare
    handler (tests/unit/lifecycle/test_lifecycle_consent.py)."""

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            body = json.loads(event.get("body") or "") if event.get("path") == "/start" else None
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("phone"), str) and "confirmation" not in body:
            try:
                phone = normalize_phone(body["phone"])
            except InvalidPhoneError:
                phone = None
            if phone is not None:
                event = {**event, "body": json.dumps({**body, "confirmation": confirmation_for(service, phone)})}
        return handler(event, context)

    return handle


CODE_TEXT = re.compile(r"code is (\d{6})")


def confirm_over_http(base_url: str, phone: str, outbox: Callable[[], list[dict[str, Any]]]) -> dict[str, str]:
    """A /start body for `phone` with its confirmation, got over HTTP as the page gets it: ask for the code, read it
    from `outbox` (the local runtime's, numbers revealed), trade it. For tests of a running API."""
    sent = requests.post(f"{base_url}/phone/code", json={"phone": phone}, timeout=30)
    assert sent.status_code == 202, sent.text
    deadline = time.monotonic() + 30  # texts may go out through a queue, a moment after the answer

    def texted_codes() -> list[str]:
        return [m.group(1) for sms in outbox() if sms["phone"] == phone and (m := CODE_TEXT.search(sms["message"]))]

    while not (codes := texted_codes()):
        assert time.monotonic() < deadline, f"no code texted to {phone[:5]}***"
        time.sleep(0.1)
    code = codes[-1]
    confirmed = requests.post(f"{base_url}/phone/confirm", json={"phone": phone, "code": code}, timeout=30)
    assert confirmed.status_code == 200, confirmed.text
    return {"phone": phone, "confirmation": confirmed.json()["confirmation"]}


class LifecycleDriver:
    def __init__(self, service: Service) -> None:
        self.service = service

    @property
    def store(self) -> StateStore:
        return self.service.adapters.store

    @property
    def settings(self) -> Settings:
        return self.service.settings

    @property
    def now(self) -> Callable[[], datetime]:
        return self.service.now

    def start(
        self, phone: str | None = None, client: str | None = None, confirmation: str | None = None
    ) -> StartResult:
        """A start as its handler sends it; a phone comes with a valid confirmation unless the test gives one."""
        if phone is not None and confirmation is None:
            confirmation = confirmation_for(self.service, phone)
        return self.service.handle(Start(phone, client, confirmation))

    def predict(self, texts: list[str]) -> dict[str, Any]:
        return self.service.handle(Predict(texts))

    def extend(self) -> ExtendResult:
        return self.service.handle(Extend())

    def stop(self, reason: str = "stopped by an administrator") -> StopResult:
        return self.service.handle(Stop(reason))

    def on_endpoint_status(self, name: str, status: EndpointStatus, failure_reason: str | None = None) -> str:
        return self.service.handle(EndpointStatusChanged(name, status, failure_reason))

    def send_notice(self, name: str, scheduled_for: datetime | None = None) -> str:
        return self.service.handle(SendNotice(name, scheduled_for))

    def teardown(self, name: str, scheduled_for: datetime | None = None) -> str:
        return self.service.handle(TearDown(name, scheduled_for))

    def reconcile(self) -> list[Repair]:
        return self.service.handle(Reconcile())

    def drain_texts(self, deliveries_of_each: int = 1) -> list[dict[str, Any]]:
        """Deliver every queued text to the texts handler, as SQS would (a service without a queue sent its texts
        inline already: nothing to do). The handler's answers, in order."""
        queue: Any = self.service.adapters.text_queue
        if queue is None:
            return []
        if queue.handler is None:
            queue.handler = texts.make_handler(self.service)
        return list(queue.drain(deliveries_of_each))
