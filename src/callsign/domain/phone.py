"""Phone facts from libphonenumber: E.164 form, area code, region, time zones, line type.

Parsing is a real cost on the hot path (tens of microseconds), so everything derived
from a number is computed once per number and cached.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from typing import Literal

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, geocoder, shortnumberinfo
from phonenumbers import timezone as phone_timezone

from callsign.domain.errors import InvalidInput, InvalidNumber

LineType = Literal["landline", "mobile", "unknown"]
LINE_TYPES: tuple[LineType, ...] = ("landline", "mobile", "unknown")

_NANP_COUNTRY_CODE = 1
_UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True)
class PhoneFacts:
    """What libphonenumber knows about one valid number; derived values are lazy."""

    e164: str
    country: str
    _parsed: phonenumbers.PhoneNumber

    @property
    def is_nanp(self) -> bool:
        return self._parsed.country_code == _NANP_COUNTRY_CODE

    @cached_property
    def area_code(self) -> str | None:
        """The NANP NPA, or elsewhere the geographic area code; None where there is none."""
        national = phonenumbers.national_significant_number(self._parsed)
        if self.is_nanp:
            return national[:3]
        length = phonenumbers.length_of_geographical_area_code(self._parsed)
        return national[:length] if length else None

    @cached_property
    def region(self) -> str | None:
        """The state or province for NANP numbers, else the geocoder's area."""
        if self.is_nanp and self.area_code is not None:
            return nanp_region(self.area_code)
        description = geocoder.description_for_number(self._parsed, "en")
        return normalise_region(description) if description else None

    @cached_property
    def timezones(self) -> tuple[str, ...]:
        if self.is_nanp:
            # NANP time-zone data goes no finer than NPA-NXX: share it per exchange.
            return _zones_of(self._parsed, self.e164[:8])
        return _zones_of(self._parsed, self.e164)

    @cached_property
    def _type(self) -> int:
        if self.is_nanp and self.area_code is not None:
            # Within one NPA every valid number has the same type (geographic, toll-free).
            return _nanp_type_of(self._parsed, self.area_code)
        return int(phonenumbers.number_type(self._parsed))

    @property
    def line_type(self) -> LineType:
        if self._type == PhoneNumberType.FIXED_LINE:
            return "landline"
        if self._type == PhoneNumberType.MOBILE:
            return "mobile"
        return "unknown"

    @property
    def is_geographic(self) -> bool:
        country_code = self._parsed.country_code or 0
        return bool(phonenumbers.is_number_type_geographical(self._type, country_code))


_zone_cache: dict[str, tuple[str, ...]] = {}
_nanp_types: dict[str, int] = {}


def _zones_of(parsed: phonenumbers.PhoneNumber, key: str) -> tuple[str, ...]:
    zones = _zone_cache.get(key)
    if zones is None:
        found = phone_timezone.time_zones_for_number(parsed)
        zones = _zone_cache[key] = tuple(z for z in found if z != _UNKNOWN_ZONE)
    return zones


def _nanp_type_of(parsed: phonenumbers.PhoneNumber, area_code: str) -> int:
    kind = _nanp_types.get(area_code)
    if kind is None:
        kind = _nanp_types[area_code] = int(phonenumbers.number_type(parsed))
    return kind


def parse_number(raw: str, default_country: str, *, field: str) -> str:
    """Return ``raw`` in E.164 form, or raise InvalidNumber naming ``field``."""
    return facts_for(raw, default_country, field=field).e164


def facts_for(raw: str, default_country: str, *, field: str) -> PhoneFacts:
    """Parse ``raw`` (any common format) and return its facts, or raise InvalidNumber."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidNumber("a phone number is required", field=field)
    facts = _cached_facts(raw.strip(), default_country.upper())
    if facts is None:
        raise InvalidNumber(f"{raw!r} is not a valid phone number", field=field)
    return facts


@lru_cache(maxsize=65536)
def _cached_facts(raw: str, default_country: str) -> PhoneFacts | None:
    try:
        parsed = phonenumbers.parse(raw, default_country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    country = phonenumbers.region_code_for_number(parsed) or default_country
    return PhoneFacts(e164=e164, country=country, _parsed=parsed)


def validate_country(country: str, *, field: str) -> str:
    """Return an ISO 3166 region code libphonenumber supports, upper-cased."""
    code = (country or "").strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(f"{country!r} is not a country code libphonenumber knows", field=field)
    return code


def is_emergency(raw: str, country: str) -> bool:
    """True when ``raw`` dials an emergency service in ``country`` (911, 112, 999, ...)."""
    digits = raw.strip()
    if not digits or digits.startswith("+") or len(digits) > 6:
        return False
    return bool(shortnumberinfo.is_emergency_number(digits, country.upper()))


def valid_area_code(area_code: str, country: str) -> bool:
    """True when ``area_code`` is a geographic area code of ``country`` (a NANP NPA for NANP)."""
    if not area_code.isdigit():
        return False
    code = phonenumbers.country_code_for_region(country.upper())
    if code == _NANP_COUNTRY_CODE:
        return len(area_code) == 3 and nanp_region(area_code) is not None
    return geocoder_has_prefix(f"{code}{area_code}")


def geocoder_has_prefix(prefix: str) -> bool:
    from phonenumbers.geodata import GEOCODE_DATA

    return prefix in GEOCODE_DATA


def nanp_region(area_code: str) -> str | None:
    """The state or province an NPA belongs to, in the geocoder's own words."""
    from phonenumbers.geodata import GEOCODE_DATA

    entry = GEOCODE_DATA.get(f"1{area_code}")
    if not entry or "en" not in entry:
        return None
    return normalise_region(entry["en"])


def normalise_region(description: str) -> str:
    """Map "Chicago, IL" and "Illinois" to one name, using the geocoder's own data."""
    text = description.strip()
    if ", " in text:
        abbreviation = text.rpartition(", ")[2]
        return _nanp_state_names().get(abbreviation, text)
    if len(text) == 2 and text.isupper():
        return _nanp_state_names().get(text, text)
    return text


def region_abbreviation(region: str) -> str | None:
    """The two-letter code of a NANP state or province named as the geocoder names it."""
    for abbreviation, name in sorted(_nanp_state_names().items()):
        if name == region:
            return abbreviation
    return None


@cache
def _nanp_state_names() -> dict[str, str]:
    """State and province abbreviations mapped to the names the geocoder uses.

    The geocoder describes some NPAs by state ("Illinois") and numbers within them by
    "City, ST"; counting which state name each abbreviation appears under yields the
    mapping from libphonenumber's data instead of a hand-written table.
    """
    from phonenumbers.geodata import GEOCODE_DATA

    npa_names = {
        key[1:4]: value["en"]
        for key, value in GEOCODE_DATA.items()
        if len(key) == 4 and key[0] == "1" and "en" in value and ", " not in value["en"]
    }
    votes: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for key, value in GEOCODE_DATA.items():
        if len(key) > 4 and key[0] == "1" and "en" in value and ", " in value["en"]:
            state = npa_names.get(key[1:4])
            if state is not None:
                votes[value["en"].rpartition(", ")[2]][state] += 1
    return {abbreviation: count.most_common(1)[0][0] for abbreviation, count in votes.items()}
