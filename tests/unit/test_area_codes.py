"""Every NANP area code libphonenumber knows has its place: US states, Canadian provinces,
and the other NANP countries; toll-free codes name no place."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType, geocoder

from callsign.domain import phone

GEOGRAPHIC = (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE,
              PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _library_npas() -> dict[str, tuple[str, int]]:
    """Each NPA 200-999 with the region and number type libphonenumber gives a sample
    number in it (the first valid one of NPA-d55-5555, d = 2..9)."""
    found: dict[str, tuple[str, int]] = {}
    for npa in map(str, range(200, 1000)):
        for digit in "23456789":
            sample = phonenumbers.parse(f"+1{npa}{digit}555555")
            if phonenumbers.is_valid_number(sample):
                found[npa] = (phonenumbers.region_code_for_number(sample) or "",
                              phonenumbers.number_type(sample))
                break
    return found


LIBRARY_NPAS = _library_npas()
US_CA = sorted(npa for npa, (region, kind) in LIBRARY_NPAS.items()
               if region in ("US", "CA") and kind in GEOGRAPHIC)
OTHER_NANP = sorted(npa for npa, (region, kind) in LIBRARY_NPAS.items()
                    if region not in ("US", "CA") and kind in GEOGRAPHIC)
NOT_GEOGRAPHIC = sorted(npa for npa, (_, kind) in LIBRARY_NPAS.items()
                        if kind not in GEOGRAPHIC)


def test_the_library_knows_hundreds_of_us_and_canadian_area_codes() -> None:
    """The enumeration below is the library's, not a short hand list."""
    assert len(US_CA) > 400
    assert {"203", "310", "713", "718", "905"} <= set(US_CA)
    assert {"800", "888", "877", "900"} <= set(NOT_GEOGRAPHIC)


@pytest.mark.parametrize("npa", US_CA)
def test_every_us_and_canadian_area_code_has_its_state_or_province(npa: str) -> None:
    """A geographic NPA of the US or Canada is valid and names a state or province, the
    same one the geocoder names for a city in it."""
    region = phone.nanp_region(npa)
    assert region is not None
    assert ", " not in region
    assert phone.valid_area_code(npa, "US")
    assert phone.valid_area_code(npa, "CA")
    assert phone.nanp_country(npa) == LIBRARY_NPAS[npa][0]
    states = set(phone._nanp_state_names().values())
    cities = [text for text in phone._nanp_descriptions()[npa] if ", " in text]
    if cities:  # "Hartford, CT" and the like: their state is the NPA's
        assert region in states
        named = [phone.normalise_region(text) for text in cities]
        assert region == max(set(named), key=named.count)


@pytest.mark.parametrize("npa", OTHER_NANP)
def test_other_nanp_area_codes_name_their_country(npa: str) -> None:
    """Outside the US and Canada an NPA's region is its country (Bahamas, Puerto Rico)."""
    for digit in "23456789":
        sample = phonenumbers.parse(f"+1{npa}{digit}555555")
        if phonenumbers.is_valid_number(sample):
            break
    assert phone.nanp_region(npa) == geocoder.country_name_for_number(sample, "en")
    assert phone.nanp_country(npa) == LIBRARY_NPAS[npa][0]


@pytest.mark.parametrize("npa", NOT_GEOGRAPHIC)
def test_toll_free_and_premium_area_codes_name_no_place(npa: str) -> None:
    """800, 888, 900 ... are no area code anyone is local to."""
    assert phone.nanp_region(npa) is None
    assert not phone.valid_area_code(npa, "US")


@pytest.mark.parametrize(("npa", "region"), [
    ("203", "Connecticut"), ("310", "California"), ("713", "Texas"), ("718", "New York"),
    ("905", "Ontario"),
])
def test_area_codes_described_only_on_longer_prefixes_have_their_region(
    npa: str, region: str
) -> None:
    """The geocoder keys these NPAs only on NPA-NXX prefixes; they still have a state."""
    assert phone.nanp_region(npa) == region
    assert phone.facts_for(f"+1{npa}5550123", "US", field="n").region == region
    assert phone.valid_area_code(npa, "US")


def test_a_toll_free_number_has_no_area_code_and_no_region() -> None:
    """+1 800 ... serves no area code, and a toll-free callee matches none."""
    facts = phone.facts_for("+18005550100", "US", field="n")
    assert (facts.area_code, facts.region, facts.is_geographic) == (None, None, False)


def test_a_misspelt_province_in_the_data_is_read_as_the_province() -> None:
    """The geocoder spells one BC overlay "British Colombia": same province."""
    assert {phone.nanp_region(n) for n in ("236", "250", "257", "604", "778")} == {
        "British Columbia"}
