"""Texting: the one place a text is sent. Every text goes to a number in the owner's country allowlist, within the
per-number and daily caps, paced for the provider; a refused or failed text is logged, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from ondemand.domain import NotifierError, SendResult
from ondemand.phones import is_allowed
from ondemand.ports import Notifier, RateLimiter
from ondemand.settings import Settings

logger = logging.getLogger(__name__)

SMS_DAY_SECONDS = 86400
"""The rate limiter's windows are aligned to the epoch, so this is the UTC day."""


class Texting:
    """Tells the people who asked: the model is ready, it could not start, it stops soon."""

    def __init__(
        self,
        notifier: Notifier,
        rate_limiter: RateLimiter | None,
        settings: Settings,
        sleep: Callable[[float], None],
    ) -> None:
        self.notifier = notifier
        self.rate_limiter = rate_limiter
        self.settings = settings
        self.sleep = sleep

    def tell_ready(self, phones: Iterable[str], expires_at: datetime) -> list[SendResult]:
        """The ready text, sent once per start by the caller whose promoting write won."""
        return self.send(
            phones, f"Your sentiment model is ready. It shuts down at {expires_at:%H:%M} UTC unless extended."
        )

    def tell_failed(self, phones: Iterable[str], sentence: str) -> list[SendResult]:
        """The start failed; `sentence` is the failure code's public sentence, never a provider's message."""
        return self.send(phones, f"Your sentiment model could not start. {sentence}")

    def tell_stops_soon(self, phones: Iterable[str], expires_at: datetime) -> list[SendResult]:
        """The "stops at HH:MM" notice, with the page's link to keep it running when the owner configured one."""
        message = f"Your sentiment model stops at {expires_at.astimezone(UTC):%H:%M} UTC"
        page = self.settings.page_url
        return self.send(phones, f"{message}; keep it running: {page}" if page else f"{message}.")

    def send(self, phones: Iterable[str], message: str) -> list[SendResult]:
        """Text each phone the allowlist and the daily caps allow (a refused one is logged, not texted)."""
        results: list[SendResult] = []
        for phone in phones:
            refusal = self.refusal(phone)
            if refusal:
                logger.warning("SMS to %s*** not sent: %s", phone[:5], refusal)
                results.append(SendResult(ok=False, detail=refusal))
                continue
            if results:
                self.sleep(self.settings.sms_min_interval_seconds)  # SMS providers throttle bursts
            try:
                result = self.notifier.send(phone, message)
            except NotifierError as exc:
                result = SendResult(ok=False, detail=str(exc))
            if not result.ok:
                logger.warning("SMS to %s*** failed: %s", phone[:5], result.detail)
            results.append(result)
        return results

    def refusal(self, phone: str) -> str | None:
        """Why `phone` may not be texted now (outside the allowlist, a daily cap reached), or None. Each cap is one
        conditional counter in the rate table, so concurrent handlers cannot overshoot it."""
        if not is_allowed(phone, self.settings.sms_country_codes):
            return "country not in SMS_COUNTRY_CODES"
        if self.rate_limiter is None:
            return None
        if self.rate_limiter.acquire(f"sms#phone#{phone}", self.settings.sms_per_number_per_day, SMS_DAY_SECONDS):
            return "SMS_PER_NUMBER_PER_DAY reached"
        if self.rate_limiter.acquire("sms#all", self.settings.sms_per_day, SMS_DAY_SECONDS):
            return "SMS_PER_DAY reached"
        return None


def texted(results: list[SendResult]) -> str:
    """`texted N of M`, for the log line of the event that sent them."""
    return f"texted {sum(result.ok for result in results)} of {len(results)}"
