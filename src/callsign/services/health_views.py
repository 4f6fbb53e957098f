"""The health surfaces' read-only views (SPEC 9): one number's last days and state
timeline, and the organization's dashboard. Each reads the store through the
``HealthReads`` port, scoped to one organization, and commits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from callsign.domain import phone
from callsign.domain.document import HealthDoc
from callsign.domain.errors import InvalidInput, NotFound
from callsign.domain.health_policy import HealthPolicy
from callsign.domain.health_report import (
    CoverageRisk,
    HealthOrg,
    NumberHealthFacts,
    ReputationLabel,
    StateChange,
    Tally,
    coverage_risk,
    day_starts,
    days_of,
    timeline,
)
from callsign.domain.health_states import Health, HealthState
from callsign.domain.model import NumberStatus
from callsign.services.ports import HealthReadsUnit

DAYS = 30  # the views' span: the last 30 days, today included
MAX_DAYS = 90
OTHER_AREA_CODE = "other"  # calls from a caller ID with no known area code


def _policy(org: HealthOrg) -> HealthPolicy:
    return (HealthDoc.model_validate(org.policy) if org.policy else HealthDoc()).policy()


def _days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"must be between 1 and {MAX_DAYS}", field="days")
    return days


def summary_of(found: NumberHealthFacts) -> str:
    """The number's health in one line, as a trace says it."""
    if found.status == NumberStatus.RESTING and found.state != HealthState.RESTING:
        return "resting: rested by hand (health leaves it alone)"
    if found.status == NumberStatus.PAUSED:
        return "paused by hand (health leaves it alone)"
    if found.state is None or found.since is None:
        return "not judged yet (read as healthy)"
    return Health(HealthState(found.state), found.since, found.score, found.reasons).summary()


@dataclass(frozen=True)
class NumberHealthPage:
    """One number: its health now, its last days, its state timeline."""

    number: NumberHealthFacts
    summary: str
    starts: list[datetime]  # the days' starts (local midnights) and the last day's end
    days: list[date]
    daily: list[Tally]  # one per day, oldest first
    steps: list[tuple[datetime, HealthState | None]]  # the state timeline, oldest first
    changes: list[StateChange]  # within the span, newest first
    reputation: list[ReputationLabel]  # empty until reputation feeds store labels
    policy: HealthPolicy

    @property
    def total(self) -> Tally:
        return sum(self.daily, Tally())


def number_page(uow: HealthReadsUnit, org: str, raw: str, *, now: datetime,
                days: int = DAYS) -> NumberHealthPage:
    """A number of the organization over its last ``days`` days (NotFound naming
    ``number`` if the organization holds no such number)."""
    days = _days(days)
    with uow:
        reads = uow.health_reads
        found_org = reads.org(org)
        e164 = phone.parse_number(raw, found_org.default_country, field="number")
        found = reads.number(found_org.id, e164)
        if found is None:
            raise NotFound(f"{e164} is not a number of organization {org!r}", field="number")
        policy = _policy(found_org)
        starts = day_starts(now, found_org.timezone, days)
        daily = reads.daily(found_org.id, starts, short_seconds=policy.short_call_seconds,
                            caller_id=e164)
        before, changes = reads.changes(found_org.id, found.id, after=starts[0])
        reputation = reads.reputation(found_org.id, found.id)
    return NumberHealthPage(
        found, summary_of(found), starts, days_of(starts, found_org.timezone), daily,
        timeline(changes, starts[0], min(now, starts[-1]), before), changes[::-1],
        reputation, policy)


@dataclass(frozen=True)
class RestingNumber:
    number: NumberHealthFacts
    why: str
    by_hand: bool


@dataclass(frozen=True)
class HealthDashboard:
    """The organization's health: answer rates by area code, rule and day; the numbers
    resting; the area codes whose coverage is at risk."""

    days: list[date]
    daily: list[Tally]
    by_area_code: list[tuple[str, Tally]]  # by the caller ID's own area code
    by_rule: list[tuple[str, Tally]]
    resting: list[RestingNumber]
    at_risk: list[CoverageRisk]
    policy: HealthPolicy

    @property
    def total(self) -> Tally:
        return sum(self.daily, Tally())


def dashboard(uow: HealthReadsUnit, org: str, *, now: datetime,
              days: int = DAYS) -> HealthDashboard:
    """The organization's health over its last ``days`` days."""
    days = _days(days)
    with uow:
        reads = uow.health_reads
        found_org = reads.org(org)
        policy = _policy(found_org)
        short = policy.short_call_seconds
        starts = day_starts(now, found_org.timezone, days)
        after, before = starts[0], starts[-1]
        daily = reads.daily(found_org.id, starts, short_seconds=short)
        by_rule = reads.by_rule(found_org.id, after=after, before=before, short_seconds=short)
        by_caller = reads.by_caller_id(found_org.id, after=after, before=before,
                                       short_seconds=short)
        codes = reads.own_area_codes(found_org.id, list(by_caller))
        resting = reads.resting(found_org.id)
        counts = reads.coverage_counts(found_org.id)
    by_code: dict[str, Tally] = {}
    for caller_id, tally in by_caller.items():
        code = codes.get(caller_id, OTHER_AREA_CODE)
        by_code[code] = by_code.get(code, Tally()) + tally
    risks = [coverage_risk(code, serving, rested, policy.max_resting_share)
             for code, (serving, rested) in sorted(counts.items())]
    return HealthDashboard(
        days_of(starts, found_org.timezone), daily, sorted(by_code.items()),
        sorted(by_rule.items()),
        [RestingNumber(n, summary_of(n), n.state != HealthState.RESTING) for n in resting],
        [risk for risk in risks if risk is not None], policy)
