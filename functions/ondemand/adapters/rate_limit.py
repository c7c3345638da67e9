"""Fixed-window rate limits on DynamoDB: one counter item per key and window, removed by the table's TTL.

The public /start can create a GPU endpoint and text a phone, so it is limited per phone number and per client
(source IP). A use over the limit is refused before it is counted, so a refused caller does not push the window
out. Keys are stored only as a hash: a counter outlives the subscriber list, a phone number in it should not.
"""

from __future__ import annotations

import hashlib
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




def hashed(value: str) -> str:
    """A stable, non-reversible form of a key (phone numbers are not kept in the rate table)."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class DynamoRateLimiter:
    """`acquire(key, limit, window)` counts one use, or returns the seconds until the caller may try again."""

    def __init__(
        self, table_name: str, host: str | None = None, region: str = "us-east-1",
        now: Callable[[], float] = time.time, credentials: StaticCredentials | None = None,
    ) -> None:
        self.model = bound_model(RateCounterBase, table_name, host, region, credentials)
        self.now = now

    def acquire(self, key: str, limit: int, window_seconds: int) -> int | None:
        """None if this use is within `limit` uses of `key` in the current window (and counts it); otherwise the
        whole seconds until the window ends (the Retry-After), without counting it."""
        now = self.now()
        window = int(now // window_seconds)
        window_end = (window + 1) * window_seconds
        model = self.model
        item = model(f"{hashed(key)}#{window}")  # keys may hold phone numbers
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
