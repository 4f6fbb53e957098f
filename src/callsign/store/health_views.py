"""The health surfaces' reads (``services.ports.HealthReads``): call results tallied per
day, rule and caller ID, resting numbers, coverage per area code, state changes.

Read only, every query scoped by the organization's id. Days are the organization's own
(local midnights, passed in as instants): a call is put in its day by one CASE over the
day starts, so SQLite and PostgreSQL count alike whatever the time zone.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from callsign.domain.health_report import (
    HealthOrg,
    NumberHealthFacts,
    ReputationLabel,
    StateChange,
    Tally,
)
from callsign.domain.model import NumberStatus
from callsign.domain.reputation import Verdict
from callsign.store import reputation as reputation_store
from callsign.store.orgs import org_row
from callsign.store.tables import (
    calls,
    number_area_codes,
    number_health,
    number_health_events,
    numbers,
)


def _tally_columns(source: Any, short_seconds: int) -> list[Any]:
    answered = source.c.answered.is_(True)
    return [
        func.count(),
        func.count(source.c.answered),
        func.coalesce(func.sum(case((answered, 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(answered, source.c.duration_s < short_seconds), 1),
                                    else_=0)), 0),
    ]


def _tally(row: Any) -> Tally:
    return Tally(int(row[-4]), int(row[-3]), int(row[-2]), int(row[-1]))


class SqlHealthReads:
    """``HealthReads`` on one connection (of a unit of work)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def org(self, slug: str) -> HealthOrg:
        row = org_row(self.conn, slug)
        return HealthOrg(row.id, row.slug, row.timezone or "UTC", row.default_country,
                         dict(row.health) if row.health else None)

    def number(self, org_id: int, e164: str) -> NumberHealthFacts | None:
        found = self.conn.execute(_numbers_with_health().where(
            numbers.c.org_id == org_id, numbers.c.e164 == e164,
            numbers.c.status != NumberStatus.RELEASED)).first()
        return None if found is None else _facts(found)

    def daily(self, org_id: int, starts: Sequence[datetime], *, short_seconds: int,
              caller_id: str | None = None) -> list[Tally]:
        """One tally per day: calls placed from ``starts[i]`` up to ``starts[i + 1]``."""
        day = case(*((calls.c.at < end, i) for i, end in enumerate(starts[1:])))
        inner = select(day.label("day"), calls.c.answered, calls.c.duration_s).where(
            calls.c.org_id == org_id, calls.c.at >= starts[0], calls.c.at < starts[-1])
        if caller_id is not None:
            inner = inner.where(calls.c.caller_id == caller_id)
        placed = inner.subquery()
        query = select(placed.c.day, *_tally_columns(placed, short_seconds)) \
            .group_by(placed.c.day)
        found = {int(row.day): _tally(row) for row in self.conn.execute(query)}
        return [found.get(i, Tally()) for i in range(len(starts) - 1)]

    def by_rule(self, org_id: int, *, after: datetime, before: datetime,
                short_seconds: int) -> dict[str, Tally]:
        return self._grouped(calls.c.rule, org_id, after, before, short_seconds)

    def by_caller_id(self, org_id: int, *, after: datetime, before: datetime,
                     short_seconds: int) -> dict[str, Tally]:
        return self._grouped(calls.c.caller_id, org_id, after, before, short_seconds)

    def _grouped(self, column: Any, org_id: int, after: datetime, before: datetime,
                 short_seconds: int) -> dict[str, Tally]:
        query = select(column, *_tally_columns(calls, short_seconds)).where(
            calls.c.org_id == org_id, calls.c.at >= after, calls.c.at < before) \
            .group_by(column)
        return {str(row[0]): _tally(row) for row in self.conn.execute(query)}

    def own_area_codes(self, org_id: int, e164s: Collection[str]) -> dict[str, str]:
        """Each number's own area code, held or once held by the organization."""
        query = select(numbers.c.e164, numbers.c.area_code).where(
            numbers.c.org_id == org_id, numbers.c.e164.in_(sorted(set(e164s))),
            numbers.c.area_code.is_not(None)).order_by(numbers.c.id)
        return {str(e164): str(code) for e164, code in self.conn.execute(query)}

    def changes(self, org_id: int, number_id: int, *,
                after: datetime) -> tuple[str | None, list[StateChange]]:
        """The number's state as of ``after`` (None: not judged then) and its changes
        since, oldest first."""
        events = number_health_events
        scoped = and_(events.c.org_id == org_id, events.c.number_id == number_id)
        before = self.conn.execute(select(events.c.to_state).where(scoped, events.c.at <= after)
                                   .order_by(events.c.at.desc(), events.c.id.desc())
                                   .limit(1)).scalar()
        rows = self.conn.execute(select(events).where(scoped, events.c.at > after)
                                 .order_by(events.c.at, events.c.id)).all()
        return before, [StateChange(r.at, r.from_state, r.to_state, r.reason, r.source)
                        for r in rows]

    def resting(self, org_id: int) -> list[NumberHealthFacts]:
        """The numbers resting: by health, longest resting first; then by hand."""
        rows = self.conn.execute(_numbers_with_health().where(
            numbers.c.org_id == org_id, numbers.c.status == NumberStatus.RESTING)
            .order_by(number_health.c.since.asc().nulls_last(), numbers.c.e164)).all()
        return [_facts(r) for r in rows]

    def coverage_counts(self, org_id: int) -> dict[str, tuple[int, int]]:
        """Per area code: the numbers serving it (own and mapped; paused ones serve
        nobody) and how many of them rest, as the coverage guard counts them."""
        resting = func.sum(case((numbers.c.status == NumberStatus.RESTING, 1), else_=0))
        query = select(number_area_codes.c.area_code, func.count(), resting).select_from(
            number_area_codes.join(numbers, numbers.c.id == number_area_codes.c.number_id)
        ).where(number_area_codes.c.org_id == org_id,
                numbers.c.status.in_([NumberStatus.ACTIVE, NumberStatus.RESTING])) \
            .group_by(number_area_codes.c.area_code)
        return {str(code): (int(serving), int(rested or 0))
                for code, serving, rested in self.conn.execute(query)}

    def area_code_states(self, org_id: int) -> dict[str, dict[str, int]]:
        """Per area code served (own and mapped; paused numbers serve nobody): how many
        of its numbers are in each health state (never judged: healthy; rested by hand:
        resting)."""
        state = case((numbers.c.status == NumberStatus.RESTING, "resting"),
                     else_=func.coalesce(number_health.c.state, "healthy"))
        query = select(number_area_codes.c.area_code, state, func.count()).select_from(
            number_area_codes.join(numbers, numbers.c.id == number_area_codes.c.number_id)
            .outerjoin(number_health, number_health.c.number_id == numbers.c.id)
        ).where(number_area_codes.c.org_id == org_id,
                numbers.c.status.in_([NumberStatus.ACTIVE, NumberStatus.RESTING])) \
            .group_by(number_area_codes.c.area_code, state)
        found: dict[str, dict[str, int]] = {}
        for code, named, count in self.conn.execute(query):
            found.setdefault(str(code), {})[str(named)] = int(count)
        return found

    def reputation(self, org_id: int, number_id: int) -> list[ReputationLabel]:
        """The number's latest label per engine (its words as the engine shows them);
        flagged: anything but clean, whether or not the policy rests on it."""
        return [ReputationLabel(engine=label.by(), label=label.shown(),
                                flagged=label.verdict is not Verdict.CLEAN,
                                checked_at=label.checked_at)
                for label in reputation_store.current_labels(self.conn, org_id, number_id)]


def _numbers_with_health() -> Any:
    return select(numbers.c.id, numbers.c.e164, numbers.c.label, numbers.c.status,
                  numbers.c.area_code, number_health.c.state, number_health.c.score,
                  number_health.c.reasons, number_health.c.since,
                  number_health.c.rest_until).select_from(
        numbers.outerjoin(number_health, number_health.c.number_id == numbers.c.id))


def _facts(row: Any) -> NumberHealthFacts:
    return NumberHealthFacts(row.id, row.e164, row.label, str(row.status), row.area_code,
                             row.state, row.score, tuple(row.reasons or ()), row.since,
                             row.rest_until)
