"""Phone numbers get one canonical E.164 form before they key anything (the subscriber list, the per-number caps),
so a number spelled another way is still the same number; what is not a number its country has is refused.

The numbers are fictional: 555-0100 to 555-0199 in a US area code (NANP's range for fiction) and Ofcom's drama
range 020 7946 0xxx in London; both are valid numbers to libphonenumber, which refuses 555-0100 behind the made-up
area code 555."""

from __future__ import annotations

import pytest
from ondemand.phones import InvalidPhoneError, describe_allowlist, is_allowed, normalize_phone, parse_country_codes

US = "+12025550100"  # Washington DC
UK = "+442079460123"  # London


@pytest.mark.parametrize(
    "spelling",
    [
        "+12025550100",
        "+1 202 555 0100",
        "+1 (202) 555-0100",
        "+1.202.555.0100",
        "+1-202-555-0100\n",
        "001 202 555 0100",
        "\uff0b\uff11\uff12\uff10\uff12\uff15\uff15\uff15\uff10\uff11\uff10\uff10",  # fullwidth plus and digits
        "+1\u00a0202\u2009555\u00a00100",  # no-break and thin spaces
        "+1 1 202 555 0100",  # the US trunk prefix written after the country code
    ],
)
def test_every_spelling_of_one_number_is_the_same_key(spelling: str) -> None:
    assert normalize_phone(spelling) == US


@pytest.mark.parametrize(
    "not_a_number",
    [
        "2025550100",  # no country code
        "+0202555010",  # no country code starts with 0
        "+1234",  # too short
        "+1555555",  # too short for the US, though E.164 allows 7 digits
        "+1 202 555 0147 0",  # one digit too many for the US
        "+1 555 555 0100",  # 555 is no area code
        "+1202555010012345",  # more than 15 digits
        "+1 202 555 0100 ext. 7",
        "+1 202 CALL NOW",  # the library alone would read the letters as keypad digits: +12022255669
        "+\u0661\u0662\u0660\u0662\u0665\u0665\u0665\u0660\u0661\u0660\u0660",  # Arabic-Indic digits of +12025550100
        "+44 7700 900123",  # Ofcom's drama range for mobiles: no UK mobile has it
        "",
        "+",
    ],
)
def test_what_is_not_an_international_number_is_refused(not_a_number: str) -> None:
    with pytest.raises(InvalidPhoneError, match="valid international number with its country code, such as \\+1"):
        normalize_phone(not_a_number)


def test_the_three_numbers_the_attack_found_are_refused_or_read_as_what_they_are() -> None:
    """The hand-written check let a doubled 1 hide Jamaica, took a 7-digit "+1" number, and gave a number with one
    digit too many a per-number counter of its own (one more key for every extra digit)."""
    jamaica = normalize_phone("+1 1 876 555 0100")
    assert jamaica == normalize_phone("+1 876 555 0100") == "+18765550100"
    assert not is_allowed(jamaica, parse_country_codes("+1"))
    for not_a_number in ("+1555555", "+1 202 555 0147 0"):
        with pytest.raises(InvalidPhoneError):
            normalize_phone(not_a_number)
        assert not is_allowed(not_a_number.replace(" ", ""), parse_country_codes("+1"))


def test_the_allowlist_matches_calling_codes_on_the_canonical_form() -> None:
    codes = parse_country_codes("+1, +44")
    assert is_allowed(US, codes) and is_allowed(UK, codes)
    assert not is_allowed("+4915112345678", codes) and not is_allowed("+1 202 555 0100", codes)
    assert not is_allowed("+447700900123", codes)  # +44, but a number the UK does not have
    with pytest.raises(ValueError, match="'1' is not a country calling code"):
        parse_country_codes("+44,1")


def test_a_uk_number_is_texted_only_when_plus_44_is_listed() -> None:
    assert normalize_phone("+44 (0)20 7946 0123") == normalize_phone("0044 20 7946 0123") == UK
    assert not is_allowed(UK, parse_country_codes("+1"))
    assert is_allowed(UK, parse_country_codes("+1, +44"))


def test_a_bare_plus_one_means_the_us_and_canada_not_the_caribbean() -> None:
    """Caribbean numbers share +1 with the US but bill as international texts (a favourite of SMS pumping): the owner
    who wants them lists their own code."""
    us_only = parse_country_codes("+1")
    assert is_allowed("+12125550100", us_only) and is_allowed("+14165550100", us_only)  # New York, Toronto
    assert is_allowed("+17875550100", us_only)  # Puerto Rico is in the US
    # Jamaica, the Dominican Republic, the Bahamas, Bermuda: valid numbers, so refused for their country alone
    for caribbean in ("+18765550100", "+18095550100", "+12423450100", "+14414120100"):
        assert normalize_phone(caribbean) == caribbean
        assert not is_allowed(caribbean, us_only), caribbean
    assert is_allowed("+18765550100", parse_country_codes("+1, +1876"))
    assert not is_allowed("+18095550100", parse_country_codes("+1, +1876"))
    assert describe_allowlist(parse_country_codes("+1,+44")) == "+1 (the US and Canada), +44"
