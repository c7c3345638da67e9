"""The lifecycle's commands as methods, for tests that drive it step by step: each method is one command sent
through `Service.handle`, exactly as a handler sends it, so a test exercises the same rooms and the same map."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ondemand.bootstrap import Service
from ondemand.domain import EndpointStatus
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
from ondemand.ports import StateStore
from ondemand.settings import Settings


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

    def start(self, phone: str | None = None, client: str | None = None) -> StartResult:
        return self.service.handle(Start(phone, client))

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
