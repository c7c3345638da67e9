"""Texting: the one place a text is sent. The lifecycle only queues its texts (`Texting`, one message per number,
returning at once); the sender (`TextSender`, behind handlers/texts.py) sends each queued text exactly once, to a
number in the owner's country allowlist, within the per-number and daily caps, paced for the provider. A refused or
failed text is logged with the number masked, never raised into the lifecycle.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from ondemand.domain import NotifierError, SendResult
from ondemand.phones import is_allowed
from ondemand.ports import ClaimState, Notifier, OutgoingText, RateLimiter, TextClaims, TextQueue, TextQueueError
from ondemand.settings import Settings

logger = logging.getLogger(__name__)

SMS_DAY_SECONDS = 86400
"""The rate limiter's windows are aligned to the epoch, so this is the UTC day."""
TEXT_ATTEMPTS = 5
"""Deliveries of one text before it is dropped (SQS counts them: ApproximateReceiveCount). A text is about a run
that lasts minutes: one the provider failed five times over a quarter of an hour is not worth sending later."""
LEASE_SECONDS = 120
"""How long a sender holds a text's claim: more than the sender function's timeout (30 s), so a live sender always
finishes or gives the claim back first. A claim whose lease ran out belongs to a sender that died mid-send."""


def masked(phone: str) -> str:
    """The only form of a number the log ever shows."""
    return f"{phone[:5]}***"


class TextRetry(Exception):
    """The text was not sent and may be on the next delivery: the provider failed, or another delivery holds it."""


class Texting:
    """Tells the people who asked: the model is ready, it could not start, it stops soon."""

    def __init__(self, queue: TextQueue, settings: Settings) -> None:
        self.queue = queue
        self.settings = settings

    def tell_ready(self, phones: Iterable[str], expires_at: datetime) -> list[SendResult]:
        """The ready text, sent once per start by the caller whose promoting write won."""
        return self.send(
            phones,
            f"Your sentiment model is ready. It shuts down at {expires_at:%H:%M} UTC unless extended.",
            kind="ready",
        )

    def tell_failed(self, phones: Iterable[str], sentence: str) -> list[SendResult]:
        """The start failed; `sentence` is the failure code's public sentence, never a provider's message."""
        return self.send(phones, f"Your sentiment model could not start. {sentence}", kind="failed")

    def tell_stops_soon(self, phones: Iterable[str], expires_at: datetime) -> list[SendResult]:
        """The "stops at HH:MM" notice, with the page's link to keep it running when the owner configured one."""
        message = f"Your sentiment model stops at {expires_at.astimezone(UTC):%H:%M} UTC"
        page = self.settings.page_url
        return self.send(phones, f"{message}; keep it running: {page}" if page else f"{message}.", kind="notice")

    def tell_code(self, phone: str, code: str) -> list[SendResult]:
        """The one-time code that confirms `phone` (ondemand.consent): it names who sends it and what to do if its
        reader did not ask, and counts against the daily caps like any text."""
        page = urlsplit(self.settings.page_url or "").hostname
        sender = page or self.settings.endpoint_name_prefix
        return self.send(
            [phone],
            f"Sentiment model on {sender}: your code is {code} (valid today, UTC). You asked for a text when the "
            "model is up; if you did not, ignore this and no other text comes.",
        )

    def send(self, phones: Iterable[str], message: str, *, kind: str = "text") -> list[SendResult]:
        """Queue `message` for each phone the allowlist allows (one message per number; the sender checks the caps
        and sends) and return at once. ok=True means queued. Never raises: a text that cannot be queued is logged.

        One call is one text of one run: the lifecycle makes it once, after the conditional write only one caller
        wins, so a key drawn here names it; every delivery of its messages carries the same key."""
        run = uuid.uuid4().hex[:16]
        results: list[SendResult] = []
        for phone in phones:
            if not is_allowed(phone, self.settings.sms_country_codes):
                logger.warning("SMS to %s not queued: country not in SMS_COUNTRY_CODES", masked(phone))
                results.append(SendResult(ok=False, detail="country not in SMS_COUNTRY_CODES"))
                continue
            try:
                self.queue.enqueue(OutgoingText(run, kind, phone, message))
            except TextQueueError as exc:
                logger.warning("SMS to %s not queued: %s", masked(phone), exc)
                results.append(SendResult(ok=False, detail="not queued"))
                continue
            results.append(SendResult(ok=True, detail="queued"))
        return results


class TextSender:
    """Sends one queued text: claims its key, takes both daily caps, sends, marks it sent."""

    def __init__(
        self,
        notifier: Notifier,
        rate_limiter: RateLimiter | None,
        claims: TextClaims | None,
        settings: Settings,
        sleep: Callable[[float], None],
    ) -> None:
        self.notifier = notifier
        self.rate_limiter = rate_limiter
        self.claims = claims
        self.settings = settings
        self.sleep = sleep
        self.has_sent = False

    def deliver(self, text: OutgoingText, attempt: int = 1) -> str:
        """Send `text` at most once; what was done, for the log. Raises TextRetry (or the rate table's error) for the
        queue to deliver it again, except on the last attempt, where the text is dropped with a masked log line."""
        try:
            return self.send_once(text)
        except Exception as exc:
            if attempt < TEXT_ATTEMPTS:
                raise
            logger.warning("SMS %s to %s dropped after %d attempts: %s", text.key, masked(text.phone), attempt, exc)
            return f"dropped after {attempt} attempts"

    def send_once(self, text: OutgoingText) -> str:
        phone, key = text.phone, text.key
        refusal = self.refusal(phone)
        if refusal:
            logger.warning("SMS %s to %s not sent: %s", key, masked(phone), refusal)
            return f"not sent: {refusal}"
        claim = self.claims.claim(key, phone, LEASE_SECONDS) if self.claims else ClaimState.CLAIMED
        if claim is ClaimState.DONE:
            return "not sent: a delivery before this one handled it"
        if claim is ClaimState.ABANDONED:
            # The earlier delivery may have sent it before it died: a lost text rather than a second one.
            logger.warning("SMS %s to %s not sent: an earlier delivery died while sending it", key, masked(phone))
            return "not sent: an earlier delivery died while sending it"
        if claim is ClaimState.BUSY:
            raise TextRetry("another delivery is sending it")
        try:
            refusal = self.take_caps(phone)
        except Exception:
            self.release_claim(text)
            raise
        if refusal:
            logger.warning("SMS %s to %s not sent: %s", key, masked(phone), refusal)
            self.finish(text, "refused")
            return f"not sent: {refusal}"
        if self.has_sent:
            self.sleep(self.settings.sms_min_interval_seconds)  # SMS providers throttle bursts
        try:
            result = self.notifier.send(phone, text.message)
        except Exception as exc:
            # Unreachable, a 5xx, a timeout: nothing went out, so nothing is spent and the queue tries again.
            self.give_back_caps(phone)
            self.release_claim(text)
            detail = str(exc).replace(phone, masked(phone)) if isinstance(exc, NotifierError) else type(exc).__name__
            raise TextRetry(f"the provider failed: {detail}") from exc
        if not result.ok:
            self.give_back_caps(phone)
            self.finish(text, "failed")
            logger.warning("SMS %s to %s failed: %s", key, masked(phone), result.detail.replace(phone, masked(phone)))
            return "not sent: the provider refused it"
        self.has_sent = True
        self.finish(text, "sent")
        return "sent"

    def refusal(self, phone: str) -> str | None:
        """Why `phone` may never be texted (outside the allowlist), or None: the queue may carry any number."""
        if not is_allowed(phone, self.settings.sms_country_codes):
            return "country not in SMS_COUNTRY_CODES"
        return None

    def take_caps(self, phone: str) -> str | None:
        """Count this text against both daily caps, or say which one refuses it. Each cap is one conditional counter
        in the rate table, so concurrent senders cannot overshoot it; a text refused by either spends neither."""
        if self.rate_limiter is None:
            return None
        if self.rate_limiter.acquire(f"sms#phone#{phone}", self.settings.sms_per_number_per_day, SMS_DAY_SECONDS):
            return "SMS_PER_NUMBER_PER_DAY reached"
        if self.rate_limiter.acquire("sms#all", self.settings.sms_per_day, SMS_DAY_SECONDS):
            self.rate_limiter.release(f"sms#phone#{phone}", SMS_DAY_SECONDS)
            return "SMS_PER_DAY reached"
        return None

    def give_back_caps(self, phone: str) -> None:
        """The text did not go out: both counters taken for it are given back."""
        if self.rate_limiter is not None:
            self.rate_limiter.release(f"sms#phone#{phone}", SMS_DAY_SECONDS)
            self.rate_limiter.release("sms#all", SMS_DAY_SECONDS)

    def finish(self, text: OutgoingText, outcome: str) -> None:
        if self.claims:
            self.claims.finish(text.key, text.phone, outcome)

    def release_claim(self, text: OutgoingText) -> None:
        if self.claims:
            self.claims.release(text.key, text.phone)


class InlineTextQueue:
    """No queue (tests; a stack without TEXT_QUEUE_URL): each text goes to the sender at once, in the caller's
    process, retried right away as the queue would retry it, and never raises into the lifecycle."""

    def __init__(self, sender: TextSender) -> None:
        self.sender = sender

    def enqueue(self, text: OutgoingText) -> None:
        for attempt in range(1, TEXT_ATTEMPTS + 1):
            try:
                self.sender.deliver(text, attempt)
                return
            except Exception as exc:  # what the queue would retry
                logger.info("SMS %s to %s: attempt %d failed: %s", text.key, masked(text.phone), attempt, exc)


def texted(results: list[SendResult]) -> str:
    """`queued N of M texts`, for the log line of the event that queued them."""
    return f"queued {sum(result.ok for result in results)} of {len(results)} texts"
