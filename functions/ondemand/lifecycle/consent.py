"""Consent: a number gets texts only after its owner typed the code texted to it (ondemand.consent has the codes and
tokens; this room counts, texts and checks).

POST /phone/code texts a number its code at most once per UTC day (and a client asks for at most
CODE_LIMIT_PER_CLIENT codes a day); POST /phone/confirm trades a right code for a token, at most
WRONG_CODES_PER_DAY attempts per number a day; /start accepts a phone only with a token for exactly that number.
Nothing about a number is stored but the rate limiter's peppered counters, which expire with their day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from ondemand.consent import (
    WRONG_CODES_PER_DAY,
    TextsOffError,
    UnconfirmedPhoneError,
    WrongCodeError,
    code_for,
    code_matches,
    new_token,
    token_confirms,
)
from ondemand.domain import RateLimitedError
from ondemand.lifecycle.texting import SMS_DAY_SECONDS, Texting
from ondemand.ports import KeySource, RateLimiter
from ondemand.settings import Settings

logger = logging.getLogger(__name__)

TEXTS_OFF = 'This service sends no texts, so no number can be confirmed; leave "phone" out.'


class Consent:
    """Sends codes, trades a right code for a confirmation, and checks a confirmation before /start keeps a number."""

    def __init__(
        self,
        texting: Texting,
        rate_limiter: RateLimiter | None,
        key: KeySource | None,
        settings: Settings,
        now: Callable[[], datetime],
    ) -> None:
        self.texting = texting
        self.rate_limiter = rate_limiter
        self._key = key
        self.settings = settings
        self.now = now

    def key(self) -> bytes:
        if self._key is None:
            raise TextsOffError(TEXTS_OFF)
        return self._key()

    def send_code(self, phone: str, client: str | None) -> None:
        """Text `phone` its code for today, unless one was sent today already (silently: the caller cannot tell, so
        the answer says nothing about anyone else's requests). RateLimitedError past the client's daily codes."""
        key = self.key()
        if self.rate_limiter is not None:
            if client is not None:
                wait = self.rate_limiter.acquire(
                    f"code#client#{client}", self.settings.code_limit_per_client, SMS_DAY_SECONDS
                )
                if wait is not None:
                    raise RateLimitedError(
                        f"Too many codes asked from your address today; try again in {wait} seconds.", wait
                    )
            if self.rate_limiter.acquire(f"code#phone#{phone}", 1, SMS_DAY_SECONDS) is not None:
                logger.info("code for %s*** already sent today; not sent again", phone[:5])
                return
        self.texting.tell_code(phone, code_for(key, phone, self.now()))

    def confirm(self, phone: str, code: str) -> tuple[str, datetime]:
        """A confirmation token for `phone` and its expiry if `code` is today's code. Every attempt counts before the
        comparison, so past WRONG_CODES_PER_DAY in a day even the right code is refused (RateLimitedError)."""
        key = self.key()
        if self.rate_limiter is not None:
            wait = self.rate_limiter.acquire(f"confirm#phone#{phone}", WRONG_CODES_PER_DAY, SMS_DAY_SECONDS)
            if wait is not None:
                raise RateLimitedError(
                    f"Too many codes were tried for this number today; ask for a new code in {wait} seconds.", wait
                )
        now = self.now()
        if not code_matches(key, phone, code, now):
            raise WrongCodeError("That is not the code texted to this number today; check it and try again.")
        return new_token(key, phone, now)

    def confirmed(self, phone: str | None, confirmation: object) -> str | None:
        """`phone` if `confirmation` confirms exactly it and has not expired; None for no phone. UnconfirmedPhoneError
        otherwise, before anything is counted or written."""
        if phone is None:
            return None
        if self._key is None or not token_confirms(self._key(), phone, confirmation, self.now()):
            raise UnconfirmedPhoneError()
        return phone
