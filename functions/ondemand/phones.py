"""Phone numbers: one canonical E.164 form before a number keys anything, and the owner's allowlist of countries.

Whether a number exists, and which country it belongs to, is libphonenumber's answer (the `phonenumbers` port, its
lite package: the same metadata without the geocoder and carrier data), not a hand-kept pattern: "+1555555" and
"+1 202 555 0147 0" are refused, and "+1 1 876 555 0100" is Jamaica's +18765550100, not a US number behind a doubled 1.

Accepted spellings: "+1 (202) 555-0100", "+1.202.555.0100", "001 202 555 0100", fullwidth digits and plus
("＋１２０２…", folded by NFKC). Refused: a number without "+" or "00" (its country is unknown), letters, digits of
other scripts, an extension, a number its country's numbering plan does not have. Two spellings of one number give
one canonical string, so the per-number limits and the subscriber list cannot be dodged by formatting.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

SEPARATORS = re.compile(r"[\s\-.()/]")
# Checked before the library sees the text: it would also read letters as keypad digits ("CALL NOW"), other scripts'
# digits and extensions, and each of those is a second spelling the caps would not recognise as the same number.
INTERNATIONAL = re.compile(r"\+[1-9][0-9]*")
COUNTRY_CODE = re.compile(r"\+[1-9][0-9]{0,3}")
CALLING_CODES = frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
# What a bare "+1" texts: the US with its territories (Puerto Rico, the US Virgin Islands, Guam, the Northern Mariana
# Islands, American Samoa) and Canada. The other countries of the +1 plan (the Caribbean, Bermuda) bill as
# international texts and are where SMS pumping goes; an owner who wants one lists it by its own code, e.g. "+1876".
# Which country a +1 number is, the library knows from its area code (and keeps up to date; no list here).
US_AND_CANADA = frozenset({"US", "CA", "PR", "VI", "GU", "MP", "AS"})
NOT_INTERNATIONAL = '"phone" must be a valid international number with its country code, such as +12025550100.'


class InvalidPhoneError(ValueError):
    """Not a phone number in international form; the message says what to send instead."""


def normalize_phone(raw: str) -> str:
    """The canonical E.164 form ("+12025550100") of `raw`, or InvalidPhoneError."""
    folded = unicodedata.normalize("NFKC", raw).strip()
    compact = SEPARATORS.sub("", folded)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not compact.isascii() or not INTERNATIONAL.fullmatch(compact):
        raise InvalidPhoneError(NOT_INTERNATIONAL)
    compact = phonenumbers.format_number(valid_number(compact), phonenumbers.PhoneNumberFormat.E164)
    return compact


def valid_number(international: str) -> phonenumbers.PhoneNumber:
    """The library's reading of "+<digits>", if it is a number its country has; InvalidPhoneError otherwise."""
    try:
        number = phonenumbers.parse(international, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneError(NOT_INTERNATIONAL) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneError(NOT_INTERNATIONAL)
    return number


def parse_country_codes(spec: str) -> tuple[str, ...]:
    """ "+1, +44" -> ("+1", "+44"); ValueError names an entry that is not a calling code, or a +1 entry that is
    neither "+1" nor one area code ("+1876")."""
    codes = tuple(part.strip() for part in spec.split(",") if part.strip())
    for code in codes:
        # Calling codes are prefix-free: at most one of the entry's first 1, 2 or 3 digits is one.
        if not COUNTRY_CODE.fullmatch(code) or not any(code[1:end] in CALLING_CODES for end in (2, 3, 4)):
            raise ValueError(f"{code!r} is not a country calling code such as +1 or +44")
        if code.startswith("+1") and len(code) not in (2, 5):
            raise ValueError(f"{code!r} is neither +1 nor a +1 area code such as +1876 (Jamaica)")
    return codes


def is_allowed(phone: str, country_codes: tuple[str, ...]) -> bool:
    """True if `phone` is a valid number in canonical form and of an allowed country: a bare "+1" is the US and Canada
    (by the library's region), any other entry matches the numbers it begins ("+44", "+1876")."""
    try:
        number = valid_number(phone)
    except InvalidPhoneError:
        return False
    if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != phone:
        return False
    for code in country_codes:
        if code == "+1":
            if phonenumbers.region_code_for_number(number) in US_AND_CANADA:
                return True
        elif phone.startswith(code):
            return True
    return False


def describe_allowlist(country_codes: tuple[str, ...]) -> str:
    """ "+1, +44" as a caller should read it: "+1 (the US and Canada), +44"."""
    return ", ".join("+1 (the US and Canada)" if code == "+1" else code for code in country_codes)
