"""What the health surfaces show (SPEC 9): tallies of call results, days in the
organization's clock, the state timeline, and area codes whose coverage is at risk.

Pure: the store counts, the services gather, and these say what the counts mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from callsign.domain.errors import InvalidInput
from callsign.domain.health_states import HealthState

# Each state in words, for filters, legends and charts (best first).
STATE_WORDS: dict[HealthState, str] = {
    HealthState.HEALTHY: "healthy: presented as usual",
    HealthState.WATCH: "watch: its signals are slipping; still presented",
    HealthState.WARMING: "warming: back from rest or new; presented at a ramped pace",
    HealthState.RESTING: "resting: not presented until its rest is over",
}
# The timeline's levels: the higher, the better.
STATE_LEVELS: dict[HealthState, int] = {
    HealthState.RESTING: 0, HealthState.WARMING: 1, HealthState.WATCH: 2,
    HealthState.HEALTHY: 3,
}


def health_state(value: str, *, field: str) -> HealthState:
    """A state named by a person (a filter); InvalidInput naming ``field`` otherwise."""
    try:
        return HealthState(value)
    except ValueError:
        choices = ", ".join(s.value for s in STATE_WORDS)
        raise InvalidInput(f"must be one of {choices} (got {value[:40]!r})",
                           field=field) from None


@dataclass(frozen=True)
class Tally:
    """Calls counted over some span: how many, how many with a known result, answered,
    and answered but shorter than the short-call bound."""

    calls: int = 0
    known: int = 0
    answered: int = 0
    short: int = 0

    @property
    def answer_rate(self) -> float | None:
        """Answered / calls with a known result (None: no result known)."""
        return self.answered / self.known if self.known else None

    @property
    def short_share(self) -> float | None:
        """Short answered calls / answered calls (None: none answered)."""
        return self.short / self.answered if self.answered else None

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.calls + other.calls, self.known + other.known,
                     self.answered + other.answered, self.short + other.short)


def day_starts(now: datetime, zone: str, days: int) -> list[datetime]:
    """The starts of the last ``days`` days in ``zone`` (today the last), and the end of
    today: ``days + 1`` UTC instants, each a local midnight (DST changes included)."""
    tz = _zone(zone)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    return [_midnight(first + timedelta(days=i), tz) for i in range(days + 1)]


def days_of(starts: list[datetime], zone: str) -> list[date]:
    """The local dates the starts open."""
    tz = _zone(zone)
    return [start.astimezone(tz).date() for start in starts[:-1]]


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    """The local midnight as a UTC instant (arithmetic on aware times of one zone is
    wall-clock arithmetic in Python: a DST day would measure 24 hours)."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def _zone(zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(zone)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class StateChange:
    """One change of a number's health state (``number_health_events``)."""

    at: datetime
    from_state: str | None
    to_state: str
    reason: str
    source: str


def timeline(changes: list[StateChange], start: datetime, now: datetime,
             before: str | None) -> list[tuple[datetime, HealthState | None]]:
    """The number's state from ``start`` to ``now`` as steps: (from when, state). The
    first step is the state it had at ``start`` (``before``; None: not judged yet);
    ``changes`` are those after ``start``, oldest first. The last step repeats the
    current state at ``now`` so the line reaches today."""
    steps: list[tuple[datetime, HealthState | None]] = [
        (start, HealthState(before) if before else None)]
    for change in changes:
        steps.append((change.at, HealthState(change.to_state)))
    steps.append((now, steps[-1][1]))
    return steps


@dataclass(frozen=True)
class CoverageRisk:
    """An area code whose resting share is at or one number from the coverage bound."""

    area_code: str
    serving: int  # numbers serving it (own and mapped), paused ones not counted
    resting: int
    allowed: int  # how many may rest at once (the guard's bound)

    @property
    def share(self) -> float:
        return self.resting / self.serving if self.serving else 0.0

    @property
    def at_bound(self) -> bool:
        return self.resting >= self.allowed

    def words(self, max_share: int) -> str:
        if self.at_bound:
            return (f"{self.resting} of {self.serving} numbers resting, at the bound "
                    f"({max_share}%): the next number to burn stays in service")
        return (f"{self.resting} of {self.serving} numbers resting: one more rest reaches "
                f"the bound ({max_share}%)")


def coverage_risk(area_code: str, serving: int, resting: int,
                  max_share: int) -> CoverageRisk | None:
    """The area code's risk, when one of its numbers rests and resting one more would
    reach or pass the bound the coverage guard keeps (``guard_coverage``); else None."""
    allowed = serving * max_share // 100
    if resting < 1 or resting + 1 < allowed:
        return None
    return CoverageRisk(area_code, serving, resting, allowed)


@dataclass(frozen=True)
class NumberHealthFacts:
    """A held number with its stored health (state None: never judged)."""

    id: int
    e164: str
    label: str
    status: str
    area_code: str | None
    state: str | None
    score: int | None
    reasons: tuple[str, ...]
    since: datetime | None
    rest_until: datetime | None


@dataclass(frozen=True)
class ReputationLabel:
    """What one analytics engine (or carrier) labels a number, as of a check."""

    engine: str
    label: str
    flagged: bool
    checked_at: datetime


@dataclass(frozen=True)
class HealthOrg:
    """What the health views need of an organization."""

    id: int
    slug: str
    timezone: str
    default_country: str
    policy: dict[str, object] | None  # the stored ``health:`` mapping (None: defaults)
