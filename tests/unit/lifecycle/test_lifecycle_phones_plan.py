"""The numbering plan at its edges: every NANP country that is not the US or Canada is kept out of a bare "+1", a
national number is refused whatever it starts with, and the shortest and longest E.164 numbers and calling codes are
told apart from what is not one."""

from __future__ import annotations

import pytest
from ondemand.phones import InvalidPhoneError, describe_allowlist, is_allowed, normalize_phone, parse_country_codes

# The "+1" area codes of other countries (ITU's NANP list): international SMS rates, favourites of SMS pumping.
CARIBBEAN_AND_BERMUDA = {
    "242": "the Bahamas",
    "246": "Barbados",
    "264": "Anguilla",
    "268": "Antigua and Barbuda",
    "284": "the British Virgin Islands",
    "345": "the Cayman Islands",
    "441": "Bermuda",
    "473": "Grenada",
    "649": "the Turks and Caicos Islands",
    "658": "Jamaica",
    "664": "Montserrat",
    "721": "Sint Maarten",
    "758": "Saint Lucia",
    "767": "Dominica",
    "784": "Saint Vincent and the Grenadines",
    "809": "the Dominican Republic",
    "829": "the Dominican Republic",
    "849": "the Dominican Republic",
    "868": "Trinidad and Tobago",
    "869": "Saint Kitts and Nevis",
    "876": "Jamaica",
}
# "+1" alone keeps the US with its territories, and Canada.
US_AND_CANADA = ("212", "416", "604", "787", "939", "340", "671", "670", "684", "907", "808")


@pytest.mark.parametrize(("area", "country"), sorted(CARIBBEAN_AND_BERMUDA.items()))
def test_a_bare_plus_one_never_texts_a_number_of_another_country(area: str, country: str) -> None:
    number = normalize_phone(f"+1 ({area}) 555-0100")
    assert not is_allowed(number, parse_country_codes("+1")), country
    assert is_allowed(number, parse_country_codes(f"+1, +1{area}")), f"{country} listed by its own code"
    assert not is_allowed(number, parse_country_codes("+44")), country


@pytest.mark.parametrize("area", US_AND_CANADA)
def test_a_bare_plus_one_texts_the_us_its_territories_and_canada(area: str) -> None:
    assert is_allowed(normalize_phone(f"+1 {area} 555 0100"), parse_country_codes("+1"))


@pytest.mark.parametrize("national", ["07911 123456", "01632 960123", "(0)7911-123456"])
def test_a_national_number_with_a_trunk_zero_is_refused_not_read_as_another_country(national: str) -> None:
    """ "07911 123456" is a UK mobile written the British way: taking its "0" for "00" would make it +91 (India)."""
    with pytest.raises(InvalidPhoneError, match="with its country code"):
        normalize_phone(national)


def test_a_double_zero_prefix_is_the_international_plus() -> None:
    assert normalize_phone("0044 7911 123456") == normalize_phone("+44 7911 123456") == "+447911123456"


def test_the_shortest_and_longest_numbers_e164_allows() -> None:
    assert normalize_phone("+290 1234") == "+2901234"  # St Helena: a 3-digit code and 4 digits
    assert normalize_phone("+1 555 555 0100 1234") == "+155555501001234"  # 15 digits
    for too_short_or_long in ("+290 123", "+1 555 555 0100 12345"):
        with pytest.raises(InvalidPhoneError):
            normalize_phone(too_short_or_long)


def test_an_allowlist_reads_loosely_written_lists_and_refuses_what_no_calling_code_is() -> None:
    assert parse_country_codes(" +1 , +44 ,") == ("+1", "+44")
    assert parse_country_codes("+1,,+1876") == ("+1", "+1876")
    assert parse_country_codes("+1684") == ("+1684",)  # the longest calling codes have four digits
    for not_a_code in ("+0", "+01", "+12345", "44"):
        with pytest.raises(ValueError, match="not a country calling code"):
            parse_country_codes(not_a_code)


def test_only_a_bare_plus_one_is_described_as_the_us_and_canada() -> None:
    assert describe_allowlist(("+1", "+1876", "+44")) == "+1 (the US and Canada), +1876, +44"
