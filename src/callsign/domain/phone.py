"""Phone facts from libphonenumber: E.164 form, area code, region, time zones, line type.

Parsing is a real cost on the hot path (tens of microseconds), so everything derived
from a number is computed once per number and cached, and a NANP number written plainly
("+12125550100", "12125550100", "2125550100") is not parsed at all: its verdict is the
one libphonenumber gave the first number sharing its decisive prefix (nanp_prefixes).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Generic, Literal, TypeVar, overload

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, shortnumberinfo
from phonenumbers import timezone as phone_timezone

from callsign.domain.errors import InvalidInput, InvalidNumber
from callsign.domain.nanp_prefixes import NANP_COUNTRY_CODE, NATIONAL_LENGTH, decisive_length

LineType = Literal["landline", "mobile", "unknown"]
LINE_TYPES: tuple[LineType, ...] = ("landline", "mobile", "unknown")

_NANP_COUNTRY_CODE = NANP_COUNTRY_CODE
_UNKNOWN_ZONE = "Etc/Unknown"


_T = TypeVar("_T")


class _lazy(Generic[_T]):  # a decorator, named like functools.cached_property
    """functools.cached_property without its lock: Python 3.11's takes an RLock on every
    first read, which costs more than the NANP fast path itself. A race computes the same
    pure value twice, which is harmless."""

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _lazy[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> _T | _lazy[_T]:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


@dataclass(frozen=True)
class PhoneFacts:
    """What libphonenumber knows about one valid number; derived values are lazy."""

    e164: str
    country: str
    _parsed: phonenumbers.PhoneNumber

    @property
    def is_nanp(self) -> bool:
        return self._parsed.country_code == _NANP_COUNTRY_CODE

    @_lazy
    def _npa(self) -> str:
        if self.is_nanp:
            return self.e164[2:5]  # "+1" and the NPA
        return phonenumbers.national_significant_number(self._parsed)[:3]

    @_lazy
    def area_code(self) -> str | None:
        """The NANP NPA, or elsewhere the geographic area code; None where there is none.

        A toll-free or premium-rate NPA (800, 888, 900) names no place: such a number
        has no area code, so it never serves (nor is matched by) a local area code.
        """
        if self.is_nanp:
            return self._npa if self.is_geographic else None
        national = phonenumbers.national_significant_number(self._parsed)
        length = phonenumbers.length_of_geographical_area_code(self._parsed)
        return national[:length] if length else None

    @_lazy
    def region(self) -> str | None:
        """The state or province for US and Canadian numbers, the country for other NANP
        numbers, else the geocoder's area."""
        if self.is_nanp:
            return nanp_region(self.area_code) if self.area_code is not None else None
        from phonenumbers import geocoder  # its data takes a second to load: on first use

        description = geocoder.description_for_number(self._parsed, "en")
        return normalise_region(description) if description else None

    @_lazy
    def timezones(self) -> tuple[str, ...]:
        if self.is_nanp:
            # Share the zones of every number their data and number type cannot tell apart.
            return _zones_of(self._parsed, self.e164[:2 + _nanp_zone_length(self._npa)])
        return _zones_of(self._parsed, self.e164)

    @_lazy
    def _type(self) -> int:
        if self.is_nanp:
            # Within one NPA every valid number has the same type (geographic, toll-free).
            return _nanp_type_of(self._parsed, self._npa)
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


@cache
def _nanp_zone_length(npa: str) -> int:
    """How many national digits decide a NANP number's time zones: its number type's
    (nanp_prefixes) and the longest prefix of ``npa`` in libphonenumber's zone data."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    country_npa = f"{_NANP_COUNTRY_CODE}{npa}"
    zone_length = max((len(key) - 1 for key in TIMEZONE_DATA if key.startswith(country_npa)),
                      default=len(npa))
    return max(zone_length, decisive_length(npa))


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
    nanp = _nanp_form(raw, default_country)
    if nanp is not None:
        prefix, national = nanp
        verdict = _nanp_verdict(prefix, national, default_country)
        if verdict != _PARSE:
            return _nanp_facts(national, verdict) if verdict else None
    return _parsed_facts(raw, default_country)


def _parsed_facts(raw: str, default_country: str) -> PhoneFacts | None:
    try:
        parsed = phonenumbers.parse(raw, default_country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    country = phonenumbers.region_code_for_number(parsed) or default_country
    return PhoneFacts(e164=e164, country=country, _parsed=parsed)


# The NANP fast path. A bare "NPANXXXXXX" (or "1NPANXXXXXX") under a NANP default
# country, or "+1NPANXXXXXX" under any, is judged by its leading digits: how many of them
# libphonenumber's NANP patterns look at is read from those patterns (nanp_prefixes), and
# the verdict for each such prefix comes from one full parse of a number that has it.
_NANP_REGIONS = frozenset(phonenumbers.region_codes_for_country_code(_NANP_COUNTRY_CODE))
_NPA_FIRST_DIGITS = frozenset("23456789")
_PARSE = "parse"  # the verdict of a prefix whose sample libphonenumber did not read as itself
_nanp_verdicts: dict[tuple[str, str, str], str | None] = {}


def _nanp_form(raw: str, default_country: str) -> tuple[str, str] | None:
    """The dialled prefix ("+1", "1" or "") and the national number of a NANP number
    written in one of the plain forms, else None."""
    if len(raw) == 12 and raw.startswith("+1"):
        prefix, national = "+1", raw[2:]
    elif default_country not in _NANP_REGIONS:
        return None
    elif len(raw) == 11 and raw[0] == "1":
        prefix, national = "1", raw[1:]
    elif len(raw) == 10:
        prefix, national = "", raw
    else:
        return None
    if national[0] in _NPA_FIRST_DIGITS and national.isascii() and national.isdigit():
        return prefix, national
    return None


def _nanp_verdict(prefix: str, national: str, default_country: str) -> str | None:
    """The country of every valid number sharing ``national``'s decisive prefix, None when
    they are all invalid, or _PARSE when only a full parse can tell."""
    decisive = national[:decisive_length(national[:3])]
    key = (prefix, default_country, decisive)
    try:
        return _nanp_verdicts[key]
    except KeyError:
        pass
    sample = decisive.ljust(NATIONAL_LENGTH, "0")
    facts = _parsed_facts(prefix + sample, default_country)
    if facts is None:
        verdict = None
    elif facts.e164 == f"+1{sample}" and facts._parsed == _nanp_number(sample):
        verdict = facts.country
    else:
        verdict = _PARSE
    _nanp_verdicts[key] = verdict
    return verdict


def _nanp_number(national: str) -> phonenumbers.PhoneNumber:
    return phonenumbers.PhoneNumber(country_code=_NANP_COUNTRY_CODE, national_number=int(national))


def _nanp_facts(national: str, country: str) -> PhoneFacts:
    return PhoneFacts(e164=f"+1{national}", country=country, _parsed=_nanp_number(national))


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
        return area_code in _nanp_areas()
    return geocoder_has_prefix(f"{code}{area_code}")


def geocoder_has_prefix(prefix: str) -> bool:
    from phonenumbers.geodata import GEOCODE_DATA

    return prefix in GEOCODE_DATA


def nanp_region(area_code: str) -> str | None:
    """The state or province of a US or Canadian NPA, or the country of another NANP NPA
    (e.g. "Bahamas"); None for an NPA that names no place (toll-free, unassigned)."""
    area = _nanp_areas().get(area_code)
    return area[1] if area else None


def nanp_country(area_code: str) -> str | None:
    """The ISO region code of a geographic NANP NPA ("US", "CA", "BS", ...), else None."""
    area = _nanp_areas().get(area_code)
    return area[0] if area else None


def nanp_area_codes() -> dict[str, tuple[str, str]]:
    """Every geographic NANP NPA with its country and region, from libphonenumber's data."""
    return dict(_nanp_areas())


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


_FIRST_NXX_DIGITS = "23456789"
_GEOGRAPHIC_TYPES = (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE,
                     PhoneNumberType.FIXED_LINE_OR_MOBILE)


@cache
def _nanp_areas() -> dict[str, tuple[str, str]]:
    """Each geographic NPA with its ISO region code and its region's name.

    Which NPAs are geographic comes from libphonenumber's metadata: for the US and
    Canada, the NPAs of their fixed-line and mobile patterns; every other NANP country
    lists its NPAs as its leading digits. A US or Canadian NPA's state or province is
    the one the geocoder names most often over all its prefixes (many NPAs, e.g. 203 or
    905, are described only on longer prefixes). Computed once, on first use.
    """
    areas: dict[str, tuple[str, str]] = {}
    descriptions = _nanp_descriptions()
    states = set(_nanp_state_names().values())
    for npa, country in _geographic_npas().items():
        if country in ("US", "CA"):
            votes = Counter(normalise_region(text) for text in descriptions.get(npa, ()))
            if votes:
                name = max(votes, key=lambda n: (votes[n], n in states, n))
                areas[npa] = (country, _spelled_as_a_state(name, states))
        else:
            areas[npa] = (country, _country_name(country))
    return areas


def _spelled_as_a_state(name: str, states: set[str]) -> str:
    """The state or province ``name`` misspells ("British Colombia"), else ``name``."""
    if name in states:
        return name
    close = difflib.get_close_matches(name, sorted(states), n=1, cutoff=0.9)
    return close[0] if close else name


def _geographic_npas() -> dict[str, str]:
    found: dict[str, str] = {}
    for country in phonenumbers.region_codes_for_country_code(_NANP_COUNTRY_CODE):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(country)
        if metadata is None:
            continue
        if metadata.leading_digits:
            leading = re.compile(f"(?:{metadata.leading_digits})")
            for npa in map(str, range(200, 1000)):
                if leading.fullmatch(npa):
                    found.setdefault(npa, country)
            continue
        for npa in map(str, range(200, 1000)):
            if _has_geographic_numbers(npa, country):
                found.setdefault(npa, country)
    return found


def _has_geographic_numbers(npa: str, country: str) -> bool:
    for digit in _FIRST_NXX_DIGITS:
        sample = phonenumbers.PhoneNumber(country_code=_NANP_COUNTRY_CODE,
                                          national_number=int(f"{npa}{digit}555555"))
        if phonenumbers.is_valid_number_for_region(sample, country):
            return phonenumbers.number_type(sample) in _GEOGRAPHIC_TYPES
    return False


def _country_name(country: str) -> str:
    example = phonenumbers.example_number_for_type(country, PhoneNumberType.FIXED_LINE)
    from phonenumbers import geocoder

    name = geocoder.country_name_for_number(example, "en") if example else ""
    return name or country


@cache
def _nanp_descriptions() -> dict[str, list[str]]:
    """The geocoder's English descriptions of NANP prefixes, by NPA, shortest prefix first."""
    from phonenumbers.geodata import GEOCODE_DATA

    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for key, value in GEOCODE_DATA.items():
        if key[0] == "1" and len(key) >= 4 and "en" in value:
            found[key[1:4]].append((len(key), value["en"]))
    return {npa: [text for _, text in sorted(entries, key=lambda e: e[0])]
            for npa, entries in found.items()}


@cache
def _nanp_state_names() -> dict[str, str]:
    """State and province abbreviations mapped to the names the geocoder uses.

    The geocoder describes an NPA's broadest prefix by state ("Illinois", "Connecticut")
    and longer prefixes by "City, ST"; counting which broad name each abbreviation
    appears under yields the mapping from libphonenumber's data instead of a
    hand-written table.
    """
    votes: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for texts in _nanp_descriptions().values():
        broad = next((t for t in texts if ", " not in t), None)  # the shortest prefix's
        if broad is None:
            continue
        for text in texts:
            if ", " in text:
                votes[text.rpartition(", ")[2]][broad] += 1
    return {abbreviation: max(count, key=lambda n: (count[n], n))
            for abbreviation, count in votes.items()}
