"""Number health in the store (SPEC 9): the policy, each number's window of results, its
stored health and the history of its changes.

Every read is scoped by the organization's id. A number's window is one index range of
``ix_calls_org_id_caller_id_at`` (its last calls, newest first, limited); its spam
reports one of ``ix_spam_reports_org_id_number_at``.

What runs once per call's result (the policy, the number, its window and spam reports,
the saved health) is plain SQL on the driver (``Statement``), like the decision's
statements: building SQLAlchemy expressions cost more than the queries themselves.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, func, insert, select, update

from callsign.domain.model import NumberStatus
from callsign.store.sql import Statement, json_param, json_value, time_param, time_value
from callsign.store.tables import (
    number_area_codes,
    number_health,
    number_health_events,
    numbers,
)

Row = Any  # a row of the joined number and health columns


_POLICY = Statement("SELECT health, principal_number FROM orgs WHERE id = :org")


def policy_of(conn: Connection, org_id: int) -> tuple[dict[str, Any] | None, str]:
    """The organization's stored ``health:`` mapping (None: the defaults) and its
    principal number."""
    health, principal = _POLICY.run(conn, {"org": org_id}).fetchone()
    stored = json_value(health)
    return (dict(stored) if stored else None), str(principal)


_NUMBER_COLUMNS = (numbers.c.id, numbers.c.e164, numbers.c.status, number_health.c.state,
                   number_health.c.score, number_health.c.reasons, number_health.c.since,
                   number_health.c.window_since, number_health.c.rest_until,
                   number_health.c.updated_at, numbers.c.added_at)


def _numbers_with_health() -> Any:
    return select(*_NUMBER_COLUMNS).select_from(
        numbers.outerjoin(number_health, number_health.c.number_id == numbers.c.id))


class HealthRow(NamedTuple):
    """A held number with its stored health (the columns of ``_NUMBER_COLUMNS``)."""

    id: int
    e164: str
    status: str
    state: str | None
    score: int | None
    reasons: Any
    since: datetime | None
    window_since: datetime | None
    rest_until: datetime | None
    updated_at: datetime | None
    added_at: datetime | None = None


_NUMBER = Statement("""
    SELECT n.id, n.e164, n.status, h.state, h.score, h.reasons, h.since, h.window_since,
           h.rest_until, h.updated_at, n.added_at
    FROM numbers n LEFT JOIN number_health h ON h.number_id = n.id
    WHERE n.org_id = :org AND n.e164 = :e164 AND n.status != :released""")


def _moment(value: Any) -> datetime | None:
    return None if value is None else time_value(value)


def number(conn: Connection, org_id: int, e164: str) -> HealthRow | None:
    """A held number of the organization with its health (state NULL: never judged)."""
    found = _NUMBER.run(conn, {"org": org_id, "e164": e164,
                               "released": NumberStatus.RELEASED.value}).fetchone()
    if found is None:
        return None
    (id_, e164, status, state, score, reasons, since, window_since, rest_until, updated,
     added) = found
    return HealthRow(int(id_), e164, status, state, score, json_value(reasons), _moment(since),
                     _moment(window_since), _moment(rest_until), _moment(updated),
                     _moment(added))


def number_ids(conn: Connection, org_id: int) -> list[int]:
    """The ids of the organization's held numbers, in id order."""
    return [int(i) for i in conn.execute(select(numbers.c.id).where(
        numbers.c.org_id == org_id, numbers.c.status != NumberStatus.RELEASED)
        .order_by(numbers.c.id)).scalars()]


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


_CALLER_ID = Statement("SELECT caller_id FROM calls WHERE org_id = :org AND id = :call")
_WINDOW = Statement("""
    SELECT at, answered, duration_s, sip_code, failure_class FROM calls
    WHERE org_id = :org AND caller_id = :e164 AND at > :after AND answered IS NOT NULL
    ORDER BY at DESC LIMIT :limit""")
_SPAM_TIMES = Statement("""
    SELECT at FROM spam_reports WHERE org_id = :org AND number = :e164 AND at > :after
    ORDER BY at""")


class WindowRow(NamedTuple):
    at: datetime
    answered: bool
    duration_s: int | None
    sip_code: int | None
    failure_class: str | None


def caller_id_of(conn: Connection, org_id: int, call_id: str) -> str | None:
    """The number a call presented."""
    found = _CALLER_ID.run(conn, {"org": org_id, "call": call_id}).fetchone()
    return None if found is None else str(found[0])


def window(conn: Connection, org_id: int, e164: str, *, after: datetime,
           limit: int) -> list[WindowRow]:
    """The number's last ``limit`` calls with a known result placed after ``after``,
    oldest first: at, answered, duration_s, sip_code, failure_class."""
    rows = _WINDOW.run(conn, {"org": org_id, "e164": e164, "after": time_param(conn, after),
                              "limit": limit}).fetchall()
    return [WindowRow(time_value(at), bool(answered), duration, sip, failure)
            for at, answered, duration, sip, failure in reversed(rows)]


def spam_times(conn: Connection, org_id: int, e164: str, *, after: datetime) -> list[datetime]:
    """When the number's calls were reported as spam, after ``after``."""
    rows = _SPAM_TIMES.run(conn, {"org": org_id, "e164": e164,
                                  "after": time_param(conn, after)}).fetchall()
    return [time_value(at) for (at,) in rows]


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


_SAVED = ("state", "score", "reasons", "since", "window_since", "rest_until", "updated_at")
_SAVE = Statement(f"""
    INSERT INTO number_health (number_id, org_id, {", ".join(_SAVED)})
    VALUES (:number_id, :org_id, {", ".join(":" + name for name in _SAVED)})
    ON CONFLICT (number_id) DO UPDATE SET
    {", ".join(f"{name} = excluded.{name}" for name in _SAVED)}""")


def save(conn: Connection, org_id: int, number_id: int, values: dict[str, Any]) -> None:
    """Insert or replace the number's health: every column of ``_SAVED``."""
    params: dict[str, Any] = {"number_id": number_id, "org_id": org_id}
    for name in _SAVED:
        value = values[name]
        if name == "reasons":
            value = json_param(value)
        elif isinstance(value, datetime):
            value = time_param(conn, value)
        params[name] = value
    _SAVE.run(conn, params)


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
