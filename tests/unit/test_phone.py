"""Phone facts come from libphonenumber: E.164, area codes, regions, zones, line types."""

from __future__ import annotations

import pytest

from callsign.domain import phone
from callsign.domain.errors import InvalidNumber


@pytest.mark.parametrize("raw", ["(312) 555-0101", "312.555.0101", "+1 312 555 0101",
                                 "1-312-555-0101", "tel:+1-312-555-0101"])
def test_common_formats_parse_to_e164_with_the_default_country(raw: str) -> None:
    """Numbers written any common way come out in E.164."""
    assert phone.parse_number(raw, "US", field="to") == "+13125550101"


@pytest.mark.parametrize("raw", ["12345", "+1 999 555 0101", "not a number", "", "   "])
def test_invalid_numbers_are_refused_naming_the_field(raw: str) -> None:
    """An invalid number raises InvalidNumber that names the field."""
    with pytest.raises(InvalidNumber) as caught:
        phone.parse_number(raw, "US", field="users[0].work_phone")
    assert caught.value.field == "users[0].work_phone"
    assert str(caught.value).startswith("users[0].work_phone: ")


def test_the_nanp_area_code_is_the_npa_not_the_first_three_digits_of_e164() -> None:
    """+1 312 ... has area code 312, not '+13'."""
    assert phone.facts_for("+13125550101", "US", field="n").area_code == "312"
    assert phone.facts_for("+16465550104", "US", field="n").area_code == "646"


def test_chicago_il_and_illinois_are_the_same_region() -> None:
    """The geocoder says "Chicago, IL" for 312 and "Illinois" for 630: one region."""
    chicago = phone.facts_for("+13125550101", "US", field="n")
    aurora = phone.facts_for("+16305550142", "US", field="n")
    assert chicago.region == aurora.region == "Illinois"
    assert phone.normalise_region("Chicago, IL") == phone.normalise_region("Illinois")
    assert phone.normalise_region("Toronto, ON") == "Ontario"


def test_outside_nanp_the_area_code_is_geographic_and_the_region_is_the_geocoders() -> None:
    """London landlines have area code 20; Prague has no area code but a region."""
    london = phone.facts_for("+442079460000", "GB", field="n")
    assert (london.area_code, london.region, london.line_type) == ("20", "London", "landline")
    prague = phone.facts_for("+420222123456", "CZ", field="n")
    assert prague.area_code is None
    assert prague.region == "Prague"


def test_line_types_are_known_where_the_numbering_plan_tells() -> None:
    """NANP does not split fixed and mobile; the UK does."""
    assert phone.facts_for("+13125550101", "US", field="n").line_type == "unknown"
    assert phone.facts_for("+447911123456", "GB", field="n").line_type == "mobile"


def test_time_zones_come_from_the_number() -> None:
    """312 is Chicago time; 907 spans two zones."""
    assert phone.facts_for("+13125550101", "US", field="n").timezones == ("America/Chicago",)
    assert len(phone.facts_for("+19075550100", "US", field="n").timezones) == 2


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("911", "US", True), ("112", "GB", True), ("999", "GB", True), ("112", "DE", True),
    ("411", "US", False), ("+13125550101", "US", False),
])
def test_emergency_short_numbers_are_recognised_per_country(
    raw: str, country: str, expected: bool
) -> None:
    """Emergency numbers come from libphonenumber's short-number data."""
    assert phone.is_emergency(raw, country) is expected


@pytest.mark.parametrize(("code", "country", "expected"), [
    ("312", "US", True), ("416", "CA", True), ("999", "US", False), ("31", "US", False),
    ("20", "GB", True), ("abc", "US", False),
])
def test_area_codes_are_checked_against_the_numbering_plan(
    code: str, country: str, expected: bool
) -> None:
    """Only real geographic area codes are accepted."""
    assert phone.valid_area_code(code, country) is expected
