"""Phone numbers: one canonical E.164 form before a number keys anything, and the owner's allowlist of countries.

Accepted spellings: "+1 (555) 555-0100", "+1.555.555.0100", "001 555 555 0100", fullwidth digits and plus
("＋１５５５…", folded by NFKC). Refused: a number without "+" or "00" (its country is unknown), letters, digits of
other scripts, an extension, more than 15 digits. Two spellings of one number give one canonical string, so the
per-number limits and the subscriber list cannot be dodged by formatting.
"""

from __future__ import annotations

import re
import unicodedata

SEPARATORS = re.compile(r"[\s\-.()/]")
CANONICAL = re.compile(r"\+[1-9][0-9]{6,14}")
COUNTRY_CODE = re.compile(r"\+[1-9][0-9]{0,3}")


class InvalidPhoneError(ValueError):
    """Not a phone number in international form; the message says what to send instead."""


def normalize_phone(raw: str) -> str:
    """The canonical E.164 form ("+15555550100") of `raw`, or InvalidPhoneError."""
    folded = unicodedata.normalize("NFKC", raw).strip()
    compact = SEPARATORS.sub("", folded)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not compact.isascii() or not CANONICAL.fullmatch(compact):
        raise InvalidPhoneError('"phone" must be an international number with its country code, such as +15555550100.')
    return compact


def parse_country_codes(spec: str) -> tuple[str, ...]:
    """ "+1, +44" -> ("+1", "+44"); ValueError names an entry that is not a calling code."""
    codes = tuple(part.strip() for part in spec.split(",") if part.strip())
    for code in codes:
        if not COUNTRY_CODE.fullmatch(code):
            raise ValueError(f"{code!r} is not a country calling code such as +1 or +44")
    return codes


# Area codes of the North American Numbering Plan that are other countries than the US and Canada (the Caribbean and
# Bermuda): "+1" numbers at international SMS rates, where SMS pumping is common. "+1" alone means the US (territories
# included) and Canada; an owner who wants one of these lists it by its own code, e.g. "+1876" for Jamaica.
NANP_OTHER_COUNTRIES = frozenset(
    {
        "242",
        "246",
        "264",
        "268",
        "284",
        "345",
        "441",
        "473",
        "649",
        "658",
        "664",
        "721",
        "758",
        "767",
        "784",
        "809",
        "829",
        "849",
        "868",
        "869",
        "876",
    }
)


def is_allowed(phone: str, country_codes: tuple[str, ...]) -> bool:
    """True if the canonical `phone` starts with one of the allowed calling codes; under a bare "+1", only the US and
    Canada."""
    if CANONICAL.fullmatch(phone) is None:
        return False
    matched = [code for code in country_codes if phone.startswith(code)]
    if not matched:
        return False
    return max(matched, key=len) != "+1" or phone[2:5] not in NANP_OTHER_COUNTRIES


def describe_allowlist(country_codes: tuple[str, ...]) -> str:
    """ "+1, +44" as a caller should read it: "+1 (the US and Canada), +44"."""
    return ", ".join("+1 (the US and Canada)" if code == "+1" else code for code in country_codes)
