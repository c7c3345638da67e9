"""Consent to texts: a one-time code proves a number's owner asked, a confirmation token remembers it. Pure functions.

Nothing here is stored. The code of a number is HMAC-SHA256(key, "code|<phone>|<UTC day>") cut to 6 digits, so the
server can recompute it instead of keeping it; the token is
"<expiry epoch>.<hex HMAC(key, "confirmed|<phone>|<expiry>")>", kept by the caller's browser, so the server keeps no
list of confirmed numbers. The key is the rate limiter's secret pepper (ondemand.ports.Peppered): Secrets Manager on
AWS, a 0600 file locally. The messages' prefixes ("code|", "confirmed|") never begin a rate limiter key ("start#...",
"sms#...", "code#..."), so no MAC here equals a key's hash in the rate table.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import TypeGuard

CODE_DIGITS = 6
CONFIRMATION_DAYS = 30
"""How long a confirmation token lets /start name its number."""
WRONG_CODES_PER_DAY = 5
"""Attempts at /phone/confirm per number per UTC day, counted before comparing: 5 guesses in 10^6."""

UNCONFIRMED = "Confirm this number first: ask for a code."


class UnconfirmedPhoneError(Exception):
    """/start named a phone without a valid, unexpired confirmation for exactly that number (400)."""

    def __init__(self, message: str = UNCONFIRMED) -> None:
        super().__init__(message)


class WrongCodeError(Exception):
    """/phone/confirm with a code that is not today's code of the number (400)."""


class TextsOffError(Exception):
    """No key to make codes with (no rate limiter on this stack): no number can be confirmed (400)."""


def utc_day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def _mac(key: bytes, message: str) -> bytes:
    if not key:
        raise ValueError("an empty key would make codes and tokens anyone can compute")
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def code_for(key: bytes, phone: str, moment: datetime) -> str:
    """The code of canonical `phone` on the UTC day of `moment`: 6 decimal digits of its MAC. The digits are the
    MAC's first 8 bytes modulo 10^6 (a bias of under 10^-13), not the leading digits of its decimal form, which
    follow Benford's law and would make some codes likelier."""
    number = int.from_bytes(_mac(key, f"code|{phone}|{utc_day(moment)}")[:8], "big")
    return f"{number % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def code_matches(key: bytes, phone: str, given: str, moment: datetime) -> bool:
    """`given` is today's code of `phone`, compared in constant time."""
    return hmac.compare_digest(given.encode(), code_for(key, phone, moment).encode())


def is_code_shaped(given: object) -> TypeGuard[str]:
    return isinstance(given, str) and len(given) == CODE_DIGITS and given.isascii() and given.isdigit()


def _token_mac(key: bytes, phone: str, expires: int) -> str:
    return _mac(key, f"confirmed|{phone}|{expires}").hex()


def new_token(key: bytes, phone: str, now: datetime) -> tuple[str, datetime]:
    """A confirmation of `phone` valid CONFIRMATION_DAYS from `now`, and when it expires."""
    expires = int((now + timedelta(days=CONFIRMATION_DAYS)).timestamp())
    return f"{expires}.{_token_mac(key, phone, expires)}", datetime.fromtimestamp(expires, UTC)


def token_confirms(key: bytes, phone: str, token: object, now: datetime) -> bool:
    """`token` was made by new_token for exactly `phone`, and has not expired."""
    if not isinstance(token, str) or len(token) > 200:
        return False
    expires_text, dot, mac = token.partition(".")
    if not dot or not expires_text.isascii() or not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    if expires <= now.timestamp():
        return False
    return hmac.compare_digest(mac.encode(), _token_mac(key, phone, expires).encode())
