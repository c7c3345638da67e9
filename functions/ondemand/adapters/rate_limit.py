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
        """`pepper` is read on the first use (a Secrets Manager read that only /start needs), then kept."""
        self.model = bound_model(RateCounterBase, table_name, host, region, credentials)
        self.now = now
        self._read_pepper = pepper
        self._pepper: bytes | None = None

    @property
    def pepper(self) -> bytes:
        if self._pepper is None:
            value = self._read_pepper()
            if not value:
                raise MissingPepperError("no rate-limit pepper is configured (RATE_LIMIT_PEPPER_SECRET)")
            self._pepper = value.encode()
        return self._pepper

    def acquire(self, key: str, limit: int, window_seconds: int) -> int | None:
        """None if this use is within `limit` uses of `key` in the current window (and counts it); otherwise the
        whole seconds until the window ends (the Retry-After), without counting it."""
        now = self.now()
        window = int(now // window_seconds)
        window_end = (window + 1) * window_seconds
        model = self.model
        item = model(f"{hashed(key, self.pepper)}#{window}")  # keys may hold phone numbers
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
