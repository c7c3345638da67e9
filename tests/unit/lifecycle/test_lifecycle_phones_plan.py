"""The numbering plan at its edges: every NANP country that is not the US or Canada is kept out of a bare "+1", a
national number is refused whatever it starts with, and lengths are each country's, as libphonenumber knows them.

Numbers are 555-0100 where the library takes it (NANP's range for fiction); where a country's plan has no 555
exchange, the exchange of the library's own example number with 0100."""

from __future__ import annotations

import pytest
from ondemand.phones import InvalidPhoneError, describe_allowlist, is_allowed, normalize_phone, parse_country_codes

# The "+1" area codes of other countries (ITU's NANP list): international SMS rates, favourites of SMS pumping.
CARIBBEAN_AND_BERMUDA = {
    "242": ("the Bahamas", "345 0100"),
    "246": ("Barbados", "250 0100"),
    "264": ("Anguilla", "235 0100"),
    "268": ("Antigua and Barbuda", "406 0100"),
    "284": ("the British Virgin Islands", "229 0100"),
    "345": ("the Cayman Islands", "323 0100"),
    "441": ("Bermuda", "412 0100"),
    "473": ("Grenada", "269 0100"),
    "649": ("the Turks and Caicos Islands", "712 0100"),
    "658": ("Jamaica", "555 0100"),
    "664": ("Montserrat", "492 0100"),
    "721": ("Sint Maarten", "542 0100"),
    "758": ("Saint Lucia", "430 0100"),
    "767": ("Dominica", "420 0100"),
    "784": ("Saint Vincent and the Grenadines", "555 0100"),
    "809": ("the Dominican Republic", "555 0100"),
    "829": ("the Dominican Republic", "555 0100"),
    "849": ("the Dominican Republic", "555 0100"),
    "868": ("Trinidad and Tobago", "221 0100"),
    "869": ("Saint Kitts and Nevis", "236 0100"),
    "876": ("Jamaica", "555 0100"),
}
# "+1" alone keeps the US with its territories, and Canada: each region the library tells apart.
US_AND_CANADA = {
    "212": "555 0100",  # New York
    "907": "555 0100",  # Alaska
    "808": "555 0100",  # Hawaii
    "416": "555 0100",  # Toronto
    "604": "555 0100",  # Vancouver
    "787": "555 0100",  # Puerto Rico
    "939": "555 0100",  # Puerto Rico
    "340": "555 0100",  # the US Virgin Islands
    "671": "555 0100",  # Guam
    "670": "555 0100",  # the Northern Mariana Islands
    "684": "733 0100",  # American Samoa
}


@pytest.mark.parametrize(("area", "country", "local"), [(a, *c) for a, c in sorted(CARIBBEAN_AND_BERMUDA.items())])
def test_a_bare_plus_one_never_texts_a_number_of_another_country(area: str, country: str, local: str) -> None:
    number = normalize_phone(f"+1 ({area}) {local}")  # a valid number: refused for its country, not its digits
    assert not is_allowed(number, parse_country_codes("+1")), country
    assert is_allowed(number, parse_country_codes(f"+1, +1{area}")), f"{country} listed by its own code"
    assert not is_allowed(number, parse_country_codes("+44")), country


@pytest.mark.parametrize(("area", "local"), sorted(US_AND_CANADA.items()))
def test_a_bare_plus_one_texts_the_us_its_territories_and_canada(area: str, local: str) -> None:
    assert is_allowed(normalize_phone(f"+1 {area} {local}"), parse_country_codes("+1"))


# "01298 200000" is a Buxton number written the British way: reading its "0" as "00" would make it +298 200000, a
# number of the Faroe Islands; "07911 123456" would be +911123456.
@pytest.mark.parametrize("national", ["07911 123456", "01632 960123", "(0)7911-123456", "01298 200000"])
def test_a_national_number_with_a_trunk_zero_is_refused_not_read_as_another_country(national: str) -> None:
    with pytest.raises(InvalidPhoneError, match="with its country code"):
        normalize_phone(national)


def test_a_double_zero_prefix_is_the_international_plus() -> None:
    assert normalize_phone("0044 20 7946 0123") == normalize_phone("+44 20 7946 0123") == "+442079460123"


def test_lengths_are_each_countrys_not_only_e164s() -> None:
    assert normalize_phone("+683 4002") == "+6834002"  # Niue: a 3-digit code and 4 digits, the shortest there are
    assert normalize_phone("+49 30 901820") == "+4930901820"  # German numbers vary in length
    # St Helena's numbers have five digits since 2013; the US has ten; neither is over E.164's 15
    for wrong_length in ("+290 1234", "+1 202 555 010", "+1 202 555 01000", "+1 202 555 0100 1234"):
        with pytest.raises(InvalidPhoneError):
            normalize_phone(wrong_length)


def test_an_allowlist_reads_loosely_written_lists_and_refuses_what_no_calling_code_is() -> None:
    assert parse_country_codes(" +1 , +44 ,") == ("+1", "+44")
    assert parse_country_codes("+1,,+1876") == ("+1", "+1876")
    assert parse_country_codes("+1684") == ("+1684",)  # the longest entries: +1 and an area code
    assert parse_country_codes("+683, +7") == ("+683", "+7")  # calling codes of three digits and of one
    for not_a_code in ("+0", "+01", "+12345", "44", "+2", "+999", "+0044"):
        with pytest.raises(ValueError, match="not a country calling code"):
            parse_country_codes(not_a_code)


def test_a_plus_one_entry_is_the_whole_plan_or_one_area_code() -> None:
    """ "+12" would take in the Bahamas (242), Barbados (246) and three more countries with the 2xx of the US."""
    for partial in ("+12", "+187"):
        with pytest.raises(ValueError, match="neither \\+1 nor a \\+1 area code"):
            parse_country_codes(partial)


def test_only_a_bare_plus_one_is_described_as_the_us_and_canada() -> None:
    assert describe_allowlist(("+1", "+1876", "+44")) == "+1 (the US and Canada), +1876, +44"
