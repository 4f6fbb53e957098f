"""Number health in the store (SPEC 9): the policy, each number's window of results, its
stored health and the history of its changes.

Every read is scoped by the organization's id. A number's window is one index range of
``ix_calls_org_id_caller_id_at`` (its last calls, newest first, limited); its spam
reports one of ``ix_spam_reports_org_id_number_at``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callsign.domain.model import NumberStatus
from callsign.store.tables import (
    calls,
    number_area_codes,
    number_health,
    number_health_events,
    numbers,
    orgs,
    spam_reports,
)

Row = Any  # a row of the joined number and health columns


def policy_of(conn: Connection, org_id: int) -> tuple[dict[str, Any] | None, str]:
    """The organization's stored ``health:`` mapping (None: the defaults) and its
    principal number."""
    health, principal = conn.execute(select(orgs.c.health, orgs.c.principal_number)
                                     .where(orgs.c.id == org_id)).one()
    return (dict(health) if health else None), str(principal)


_NUMBER_COLUMNS = (numbers.c.id, numbers.c.e164, numbers.c.status, number_health.c.state,
                   number_health.c.score, number_health.c.reasons, number_health.c.since,
                   number_health.c.window_since, number_health.c.rest_until,
                   number_health.c.updated_at)


def _numbers_with_health() -> Any:
    return select(*_NUMBER_COLUMNS).select_from(
        numbers.outerjoin(number_health, number_health.c.number_id == numbers.c.id))


def number(conn: Connection, org_id: int, e164: str) -> Row | None:
    """A held number of the organization with its health (state NULL: never judged)."""
    return conn.execute(_numbers_with_health().where(
        numbers.c.org_id == org_id, numbers.c.e164 == e164,
        numbers.c.status != NumberStatus.RELEASED)).first()


def numbers_of(conn: Connection, org_id: int, *, ids: Collection[int] | None = None,
               state: str | None = None) -> list[Row]:
    """The organization's held numbers (or those of ``ids``) with their health."""
    query = _numbers_with_health().where(numbers.c.org_id == org_id,
                                         numbers.c.status != NumberStatus.RELEASED)
    if ids is not None:
        query = query.where(numbers.c.id.in_(sorted(ids)))
    if state is not None:
        query = query.where(number_health.c.state == state)
    return list(conn.execute(query.order_by(numbers.c.e164)).all())


def health_of(conn: Connection, org_id: int, e164s: Collection[str]) -> list[Row]:
    """Those of the held numbers ``e164s`` that have a health, with it."""
    return list(conn.execute(_numbers_with_health().where(
        numbers.c.org_id == org_id, numbers.c.e164.in_(sorted(set(e164s))),
        numbers.c.status != NumberStatus.RELEASED, number_health.c.state.is_not(None))).all())


def caller_id_of(conn: Connection, org_id: int, call_id: str) -> str | None:
    """The number a call presented."""
    found = conn.execute(select(calls.c.caller_id).where(
        calls.c.org_id == org_id, calls.c.id == call_id)).scalar()
    return None if found is None else str(found)


def window(conn: Connection, org_id: int, e164: str, *, after: datetime,
           limit: int) -> list[Row]:
    """The number's last ``limit`` calls with a known result placed after ``after``,
    oldest first: at, answered, duration_s, sip_code, failure_class."""
    rows = conn.execute(select(calls.c.at, calls.c.answered, calls.c.duration_s,
                               calls.c.sip_code, calls.c.failure_class).where(
        calls.c.org_id == org_id, calls.c.caller_id == e164, calls.c.at > after,
        calls.c.answered.is_not(None)).order_by(calls.c.at.desc()).limit(limit)).all()
    return list(reversed(rows))


def spam_times(conn: Connection, org_id: int, e164: str, *, after: datetime) -> list[datetime]:
    """When the number's calls were reported as spam, after ``after``."""
    return list(conn.execute(select(spam_reports.c.at).where(
        spam_reports.c.org_id == org_id, spam_reports.c.number == e164,
        spam_reports.c.at > after).order_by(spam_reports.c.at)).scalars())


def area_codes(conn: Connection, number_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """The area codes each number serves (its own and mapped)."""
    codes: dict[int, set[str]] = {}
    for number_id, code in conn.execute(
            select(number_area_codes.c.number_id, number_area_codes.c.area_code)
            .where(number_area_codes.c.number_id.in_(sorted(set(number_ids))))):
        codes.setdefault(int(number_id), set()).add(str(code))
    return {k: frozenset(v) for k, v in codes.items()}


def serving(conn: Connection, org_id: int, codes: Collection[str]) -> list[Row]:
    """The held numbers (with their health) that serve any of ``codes``, locked until the
    transaction ends: two numbers of one area code rested at once by two transactions
    must not both pass the coverage guard. (SQLite's BEGIN IMMEDIATE serializes already;
    PostgreSQL locks the rows in number order, then reads them afresh.)"""
    ids = select(number_area_codes.c.number_id).where(
        number_area_codes.c.org_id == org_id, number_area_codes.c.area_code.in_(sorted(codes)))
    found = set(conn.execute(ids).scalars())
    if conn.dialect.name == "postgresql" and found:
        conn.execute(select(numbers.c.id).where(numbers.c.id.in_(sorted(found)))
                     .order_by(numbers.c.id).with_for_update())
    return numbers_of(conn, org_id, ids=found)


def save(conn: Connection, org_id: int, number_id: int, values: dict[str, Any]) -> None:
    """Insert or replace the number's health (state, score, reasons, since, ...)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(number_health).values(org_id=org_id, number_id=number_id,
                                                     **values)
    conn.execute(statement.on_conflict_do_update(
        index_elements=["number_id"], set_={k: statement.excluded[k] for k in values}))


def set_status(conn: Connection, number_id: int, status: NumberStatus, *,
               only_while: NumberStatus) -> bool:
    """Change the number's status if it is still ``only_while`` (a pause made meanwhile
    wins); a trigger keeps its area codes' ``active`` in step."""
    done = conn.execute(update(numbers).where(numbers.c.id == number_id,
                                              numbers.c.status == only_while)
                        .values(status=status))
    return bool(done.rowcount)


def add_event(conn: Connection, org_id: int, number_id: int, *, from_state: str | None,
              to_state: str, reason: str, at: datetime, source: str) -> None:
    conn.execute(insert(number_health_events).values(
        org_id=org_id, number_id=number_id, from_state=from_state, to_state=to_state,
        reason=reason[:1000], at=at, source=source))


def events(conn: Connection, org_id: int, number_id: int, *, limit: int = 50) -> list[Row]:
    """The number's last health changes, newest first."""
    return list(conn.execute(select(number_health_events).where(
        number_health_events.c.org_id == org_id,
        number_health_events.c.number_id == number_id)
        .order_by(number_health_events.c.at.desc(), number_health_events.c.id.desc())
        .limit(limit)).all())


def counts_by_state(conn: Connection, org_id: int) -> dict[str | None, int]:
    """How many held numbers are in each health state (None: never judged)."""
    query = select(number_health.c.state, func.count()).select_from(
        numbers.outerjoin(number_health, and_(number_health.c.number_id == numbers.c.id))
    ).where(numbers.c.org_id == org_id, numbers.c.status != NumberStatus.RELEASED) \
        .group_by(number_health.c.state)
    return {state: int(count) for state, count in conn.execute(query).all()}
