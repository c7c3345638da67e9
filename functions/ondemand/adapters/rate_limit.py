"""Fixed-window rate limits on DynamoDB: one counter item per key and window, removed by the table's TTL.

The public /start can create a GPU endpoint and text a phone, so it is limited per phone number and per client
(source IP). A use over the limit is refused before it is counted, so a refused caller does not push the window
out. Keys are stored only as an HMAC-SHA256 with a secret pepper: a counter outlives the subscriber list, and a plain
hash of a phone number is reversed by hashing the whole E.164 space (about 10^11 numbers per country code, hours on
a laptop). Without the pepper (Secrets Manager on AWS, a 0600 file locally) a copy of the table names nobody.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from ondemand.adapters.dynamodb import StaticCredentials, bound_model
from ondemand.ports import ClaimState


class RateCounterBase(Model):
    """One window's count of one key; `expires_at` (epoch seconds) is the table's TTL attribute."""

    pk = UnicodeAttribute(hash_key=True)
    hits = NumberAttribute()
    expires_at = NumberAttribute()


class MissingPepperError(Exception):
    """The rate limiter has no pepper: counting under unsalted keys would store reversible phone numbers."""


def hashed(value: str, pepper: bytes) -> str:
    """A stable key that names nobody without the pepper: HMAC-SHA256(pepper, value), all 256 bits in hex."""
    if not pepper:
        raise MissingPepperError("the rate-limit pepper is empty; refusing to store keys anyone can recompute")
    return hmac.new(pepper, value.encode(), hashlib.sha256).hexdigest()


class Pepper:
    """The keys' HMAC pepper, read on first use (a Secrets Manager read that only the callers that count need), then
    kept; MissingPepperError without one."""

    def __init__(self, read: Callable[[], str | None]) -> None:
        self._read = read
        self._pepper: bytes | None = None

    def __call__(self) -> bytes:
        if self._pepper is None:
            value = self._read()
            if not value:
                raise MissingPepperError("no rate-limit pepper is configured (RATE_LIMIT_PEPPER_SECRET)")
            self._pepper = value.encode()
        return self._pepper


class DynamoRateLimiter:
    """`acquire(key, limit, window)` counts one use, or returns the seconds until the caller may try again."""

    def __init__(
        self,
        table_name: str,
        pepper: Callable[[], str | None],
        host: str | None = None,
        region: str = "us-east-1",
        now: Callable[[], float] = time.time,
        credentials: StaticCredentials | None = None,
    ) -> None:
        self.model = bound_model(RateCounterBase, table_name, host, region, credentials)
        self.now = now
        self._pepper_of_keys = Pepper(pepper)

    @property
    def pepper(self) -> bytes:
        return self._pepper_of_keys()

    def _counter(self, key: str, window: int) -> RateCounterBase:
        return self.model(f"{hashed(key, self.pepper)}#{window}")  # keys may hold phone numbers

    def acquire(self, key: str, limit: int, window_seconds: int) -> int | None:
        """None if this use is within `limit` uses of `key` in the current window (and counts it); otherwise the
        whole seconds until the window ends (the Retry-After), without counting it."""
        now = self.now()
        window = int(now // window_seconds)
        window_end = (window + 1) * window_seconds
        model = self.model
        item = self._counter(key, window)
        try:
            item.update(
                actions=[model.hits.add(1), model.expires_at.set(window_end + window_seconds)],
                condition=model.hits.does_not_exist() | (model.hits < limit),
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return max(1, math.ceil(window_end - now))
            raise
        return None

    def release(self, key: str, window_seconds: int) -> None:
        """Give back one use of `key` in the current window: a conditional decrement, never below zero (a window
        that has ended, or a counter already at zero, is left alone)."""
        model = self.model
        counter = self._counter(key, int(self.now() // window_seconds))
        try:
            counter.update(actions=[model.hits.add(-1)], condition=model.hits > 0)
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise


class TextClaimBase(Model):
    """One text's claim, beside the counters: `sending` while a sender holds it (until `lease_until`), then `sent`,
    `refused` or `failed`; `released` when the provider failed and the queue may retry. `expires_at` is the TTL."""

    pk = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    lease_until = NumberAttribute()
    expires_at = NumberAttribute()


CLAIM_SECONDS = 2 * 86400
"""How long a finished claim is kept: longer than a text can wait in the queue (a day at most), so every
redelivery of it finds it."""
SENDING, RELEASED = "sending", "released"


class DynamoTextClaims:
    """`TextClaims` on the rate table: one conditional write per text, keyed by an HMAC of its key and number."""

    def __init__(
        self,
        table_name: str,
        pepper: Callable[[], str | None],
        host: str | None = None,
        region: str = "us-east-1",
        now: Callable[[], float] = time.time,
        credentials: StaticCredentials | None = None,
    ) -> None:
        self.model = bound_model(TextClaimBase, table_name, host, region, credentials)
        self.pepper = Pepper(pepper)
        self.now = now

    def _item(self, key: str, phone: str) -> TextClaimBase:
        return self.model(hashed(f"text#{key}#{phone}", self.pepper()))

    def claim(self, key: str, phone: str, lease_seconds: int) -> ClaimState:
        now = self.now()
        model, item = self.model, self._item(key, phone)
        try:
            item.update(
                actions=[
                    model.status.set(SENDING),
                    model.lease_until.set(now + lease_seconds),
                    model.expires_at.set(int(now) + CLAIM_SECONDS),
                ],
                # Absent, given back, or past its TTL but not yet removed (DynamoDB removes expired items lazily).
                condition=model.status.does_not_exist() | (model.status == RELEASED) | (model.expires_at < now),
            )
            return ClaimState.CLAIMED
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        try:
            held = model.get(item.pk, consistent_read=True)
        except model.DoesNotExist:
            return ClaimState.BUSY  # removed in between: the next delivery claims it
        if held.status != SENDING:
            return ClaimState.DONE
        return ClaimState.BUSY if held.lease_until > now else ClaimState.ABANDONED

    def finish(self, key: str, phone: str, outcome: str) -> None:
        self._settle(key, phone, outcome)

    def release(self, key: str, phone: str) -> None:
        self._settle(key, phone, RELEASED)

    def _settle(self, key: str, phone: str, status: str) -> None:
        """From `sending` to `status`; a claim no longer sending (its lease taken over) is left as it is."""
        model = self.model
        try:
            self._item(key, phone).update(actions=[model.status.set(status)], condition=model.status == SENDING)
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
