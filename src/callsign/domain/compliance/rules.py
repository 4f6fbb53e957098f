"""The rules compliance checks, and the packs that ship them as data with their sources."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from callsign.domain.compliance.caps import FrequencyCap
from callsign.domain.compliance.hours import HolidayCalendar, WeeklyHours
from callsign.domain.compliance.zones import CalleePlace


@dataclass(frozen=True)
class Source:
    """Where a rule comes from: a citation and where to read it."""

    citation: str
    url: str = ""

    def __str__(self) -> str:
        return f"{self.citation} ({self.url})" if self.url else self.citation


ORG_SOURCE = Source("the organization's configuration")
PROJECT_SOURCE = Source("the project's configuration")


@dataclass(frozen=True)
class WindowRule:
    """Calls may start only within these hours, in every candidate zone."""

    id: str
    hours: WeeklyHours
    source: Source
    pack: str | None = None


@dataclass(frozen=True)
class HolidayRule:
    """No call on a public holiday of the callee's local date, in every candidate zone."""

    id: str
    calendar: HolidayCalendar
    source: Source
    pack: str | None = None


@dataclass(frozen=True)
class CapRule:
    """At most so many calls to a person over a rolling window."""

    id: str
    cap: FrequencyCap
    source: Source
    pack: str | None = None


Rule = WindowRule | HolidayRule | CapRule
TimeRule = WindowRule | HolidayRule  # the rules a consented/urgent call passes


@dataclass(frozen=True)
class Applies:
    """Which callees a pack's rules protect."""

    country: str  # the number's country ("US")
    states: tuple[str, ...] = ()  # empty: the whole country
    area_code_presumption: bool = False  # a state area code presumes a resident

    def reason(self, place: CalleePlace) -> str | None:
        """Why the pack applies to a callee at ``place`` in words, or None when it does not."""
        if place.country != self.country:
            return None
        if not self.states:
            return f"the callee's number is in {self.country}"
        if place.state in self.states:
            which = "the contact's address" if place.contact_state else "the number's area code"
            return f"the callee's state is {place.state} (from {which})"
        if self.area_code_presumption and place.area_code_state in self.states:
            return (f"the number's area code is in {place.area_code_state}, which presumes "
                    "the callee a resident")
        return None


@dataclass(frozen=True)
class Pack:
    """A versioned set of rules with their legal sources, applied by the callee's place."""

    id: str
    version: str
    title: str
    applies: Applies
    source: Source
    rules: tuple[Rule, ...]

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def cap_of(calls: int, hours: float | None, days: float | None, per: str,
           across: str) -> FrequencyCap:
    window = timedelta(hours=hours) if hours is not None else timedelta(days=days or 0)
    return FrequencyCap(calls, window, per, across)  # type: ignore[arg-type]
