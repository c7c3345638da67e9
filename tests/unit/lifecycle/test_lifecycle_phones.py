"""Phone numbers get one canonical E.164 form before they key anything (the subscriber list, the per-number caps),
so a number spelled another way is still the same number; what cannot be read as one is refused."""

from __future__ import annotations

import pytest
from ondemand.phones import InvalidPhoneError, describe_allowlist, is_allowed, normalize_phone, parse_country_codes


@pytest.mark.parametrize(
    "spelling",
    [
        "+15555550100",
        "+1 555 555 0100",
        "+1 (555) 555-0100",
        "+1.555.555.0100",
        "+1-555-555-0100\n",
        "001 555 555 0100",
        "\uff0b\uff11\uff15\uff15\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff10",  # fullwidth plus and digits
        "+1\u00a0555\u2009555\u00a00100",  # no-break and thin spaces
    ],
)
def test_every_spelling_of_one_number_is_the_same_key(spelling: str) -> None:
    assert normalize_phone(spelling) == "+15555550100"


@pytest.mark.parametrize(
    "not_a_number",
    [
        "5555550100",  # no country code
        "+0555550100",  # no country code starts with 0
        "+1234",  # too short
        "+1555555010012345",  # more than 15 digits
        "+1 555 555 0100 ext. 7",
        "+1 555 CALL NOW",
        "+\u0661\u0665\u0665\u0665\u0665\u0665\u0665\u0660\u0661\u0660\u0660",  # Arabic-Indic digits
        "",
        "+",
    ],
)
def test_what_is_not_an_international_number_is_refused(not_a_number: str) -> None:
    with pytest.raises(InvalidPhoneError, match="with its country code"):
        normalize_phone(not_a_number)


def test_the_allowlist_matches_calling_codes_on_the_canonical_form() -> None:
    codes = parse_country_codes("+1, +44")
    assert is_allowed("+15555550100", codes) and is_allowed("+447700900123", codes)
    assert not is_allowed("+4915112345678", codes) and not is_allowed("+1 555 555 0100", codes)
    with pytest.raises(ValueError, match="'1' is not a country calling code"):
        parse_country_codes("+44,1")


def test_a_bare_plus_one_means_the_us_and_canada_not_the_caribbean() -> None:
    """Caribbean numbers share +1 with the US but bill as international texts (a favourite of SMS pumping): the owner
    who wants them lists their own code."""
    us_only = parse_country_codes("+1")
    assert is_allowed("+12125550100", us_only) and is_allowed("+14165550100", us_only)  # New York, Toronto
    assert is_allowed("+17875550100", us_only)  # Puerto Rico is in the US
    for caribbean in ("+18765550100", "+18095550100", "+12425550100", "+14415550100"):  # Jamaica, DR, Bahamas, Bermuda
        assert not is_allowed(caribbean, us_only), caribbean
    assert is_allowed("+18765550100", parse_country_codes("+1, +1876"))
    assert not is_allowed("+18095550100", parse_country_codes("+1, +1876"))
    assert describe_allowlist(parse_country_codes("+1,+44")) == "+1 (the US and Canada), +44"
