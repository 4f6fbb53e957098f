"""Where a callee is: the candidate time zones of a call and the callee's state.

The contact's own record speaks first: its ``timezone``, else its ZIP code's zone (from
the ``zipcodes`` package's data), else its state's zones (from the ``us`` package's
state metadata: Florida is both Eastern and Central). The number adds the zones of its
area code (libphonenumber's time-zone data). A call is judged in every candidate zone:
when the contact's address and the number disagree, or an area code spans zones, the
call must be allowed in each ("safe window"). A number that says nothing of a place
(toll-free) with no contact address leaves the organization's own zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import us

from callsign.domain import phone
from callsign.domain.errors import InvalidInput

_ZIP = re.compile(r"^\d{5}(-\d{4})?$")


@dataclass(frozen=True)
class ContactAddress:
    """What the contact's record says of where the person lives; each part optional."""

    timezone: str | None = None
    state: str | None = None  # a US state's code or name ("FL", "Florida")
    postal_code: str | None = None  # a US ZIP code


@dataclass(frozen=True)
class CalleePlace:
    """The callee's candidate zones (each with why), state and country."""

    zones: tuple[str, ...]
    reasons: tuple[str, ...]  # one per zone: where it came from, in words
    state: str | None  # the callee's state: the contact's address first, else the number's
    area_code_state: str | None  # the state or province of the number's area code (US, CA)
    country: str | None  # ISO code of the number's country
    contact_state: str | None = None

    def describe(self) -> str:
        return "; ".join(f"{zone} ({why})" for zone, why in zip(self.zones, self.reasons,
                                                              strict=True))


def place_of(number: str, default_country: str, contact: ContactAddress | None,
             fallback_zone: str) -> CalleePlace:
    """The candidate zones and state of a callee at ``number`` (E.164, already valid)."""
    facts = phone.facts_for(number, default_country, field="to")
    area_state = None
    if facts.is_nanp and facts.area_code is not None and facts.country in ("US", "CA"):
        region = phone.nanp_region(facts.area_code)
        area_state = phone.region_abbreviation(region) if region else None
    found: dict[str, str] = {}
    contact_state = None
    if contact is not None:
        contact_state = _contact_zones(contact, found)
    number_zones = facts.timezones if facts.is_geographic else ()
    for zone in number_zones:
        found.setdefault(zone, f"the number's area code {facts.area_code or ''}".rstrip())
    if not found:
        found[fallback_zone] = "the organization's zone: nothing places the callee"
    return CalleePlace(zones=tuple(found), reasons=tuple(found.values()),
                       state=contact_state or area_state, area_code_state=area_state,
                       country=facts.country, contact_state=contact_state)


def _contact_zones(contact: ContactAddress, found: dict[str, str]) -> str | None:
    """Add the contact's zones to ``found``; return the contact's state code."""
    state = state_code(contact.state) if contact.state else None
    if contact.timezone:
        if not known_zone(contact.timezone):
            raise InvalidInput(f"{contact.timezone!r} is not a time zone (e.g. "
                               "America/New_York)", field="contact.timezone")
        found[contact.timezone] = "the contact's time zone"
        return state
    if contact.postal_code:
        zip_state, zone = zip_place(contact.postal_code)
        if zone is not None:
            found[zone] = f"the contact's ZIP code {contact.postal_code}"
            return state or zip_state
    if state is not None:
        for zone in state_zones(state):
            found.setdefault(zone, f"the contact's state {state}")
    return state


def state_code(text: str) -> str | None:
    """The two-letter code of a US state or territory given by code or name, else None."""
    found = us.states.lookup(text.strip(), field="abbr" if len(text.strip()) == 2 else None)
    return found.abbr if found is not None else None


@lru_cache(maxsize=128)
def state_zones(code: str) -> tuple[str, ...]:
    """A state's zones from the ``us`` package, less the older aliases that zoneinfo knows
    by a canonical name too (America/Indianapolis beside America/Indiana/Indianapolis)."""
    found = us.states.lookup(code, field="abbr")
    zones = tuple(found.time_zones) if found is not None else ()
    canonical = [z for z in zones if known_zone(z)]
    return tuple(z for z in canonical if not _alias_of_another(z, canonical))


_ALIASES = {"America/Indianapolis": "America/Indiana/Indianapolis",
            "America/Knox_IN": "America/Indiana/Knox"}


def _alias_of_another(zone: str, zones: list[str]) -> bool:
    return _ALIASES.get(zone) in zones


def known_zone(zone: str) -> bool:
    """Whether ``zone`` names an IANA time zone that zoneinfo can read."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


PRELOAD_ZIP = "10001"  # any ZIP code: its lookup makes the package read all its data


def preload() -> None:
    """Read the ZIP code and state data now: the ``zipcodes`` package reads its data on
    its first lookup (seconds here), which a server does at startup (``api.app``) rather
    than in the first decision that places a contact by ZIP code."""
    zip_place(PRELOAD_ZIP)
    state_zones("FL")


@lru_cache(maxsize=4096)
def zip_place(postal_code: str) -> tuple[str | None, str | None]:
    """A US ZIP code's state and zone from the ``zipcodes`` package (None, None if unknown).

    The package reads its data on first use (seconds here), hence the import inside: a
    process that never looks up a ZIP code (a CLI command) never pays for it; a server
    reads it at startup (``preload``)."""
    if not _ZIP.match(postal_code.strip()):
        return None, None
    import zipcodes

    matches = zipcodes.matching(postal_code.strip()[:5])  # type: ignore[no-untyped-call]
    if not matches:
        return None, None
    first = matches[0]
    zone = first.get("timezone") or None
    return first.get("state") or None, zone if zone and known_zone(zone) else None
