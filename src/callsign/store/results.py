"""Calls' results and agents' spam reports: the writes of number health's inputs.

Each write is scoped by the organization's id, so an organization can only ever report on
its own calls, and each is idempotent: a result is set (not added), a spam report is one
row per call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from callsign.store.sql import Statement, time_param
from callsign.store.tables import calls, spam_reports

# The result columns a report may set (store/tables.py), in one order for the statements.
RESULT_COLUMNS = ("answered", "duration_s", "sip_code", "failure_class", "result_at",
                  "result_source")
_SET_RESULT: dict[tuple[str, ...], Statement] = {}
_ORG_ID = Statement("SELECT id FROM orgs WHERE slug = :slug")


def org_id(conn: Connection, slug: str) -> int | None:
    """The organization's id, or None (a result's only read of the organization)."""
    found = _ORG_ID.run(conn, {"slug": slug}).fetchone()
    return None if found is None else int(found[0])


_END_LIVE = Statement("""
    UPDATE numbers SET live_since = NULL
    WHERE org_id = :org_id AND e164 = :e164 AND live_since IS NOT NULL
      AND live_since <= (SELECT at FROM calls WHERE org_id = :org_id AND id = :call_id)""")


def end_live_call(conn: Connection, org_id: int, call_id: str, e164: str) -> None:
    """The call's result is in: the number it presented has no live call any more, unless
    a later call presented it since (one live call per number, SPEC 9)."""
    _END_LIVE.run(conn, {"org_id": org_id, "e164": e164, "call_id": call_id})


def set_result(conn: Connection, org_id: int, call_id: str,
               values: dict[str, Any]) -> str | None:
    """Store a call's result columns (and duration): the number the call presented, or
    None if the org has no such call. Plain SQL: this runs once per call."""
    columns = tuple(name for name in RESULT_COLUMNS if name in values)
    unknown = set(values) - set(columns)
    if unknown:
        raise ValueError(f"not result columns: {sorted(unknown)}")
    statement = _SET_RESULT.get(columns)
    if statement is None:
        statement = _SET_RESULT[columns] = Statement(
            f"UPDATE calls SET {', '.join(f'{name} = :{name}' for name in columns)} "
            "WHERE org_id = :org_id AND id = :call_id RETURNING caller_id")
    params = {name: time_param(conn, value) if name == "result_at" else value
              for name, value in values.items()}
    found = statement.run(conn, {**params, "org_id": org_id, "call_id": call_id}).fetchone()
    return None if found is None else str(found[0])


def add_spam_report(conn: Connection, org_id: int, call_id: str, *, reported_by: str,
                    note: str, at: datetime) -> bool:
    """Record that the call showed as spam; False if it was reported already (the first
    report stands). The number reported is the caller ID the call presented."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    source = select(calls.c.caller_id).where(calls.c.org_id == org_id, calls.c.id == call_id)
    row = conn.execute(source).first()
    if row is None:
        return False
    inserted = conn.execute(dialect.insert(spam_reports).values(
        org_id=org_id, call_id=call_id, number=row.caller_id, reported_by=reported_by,
        note=note, at=at).on_conflict_do_nothing(index_elements=["call_id"])
        .returning(spam_reports.c.id))
    # RETURNING, not rowcount: the PostgreSQL driver's count is not always known here.
    return inserted.first() is not None


def spam_report(conn: Connection, org_id: int, call_id: str) -> Any:
    """The call's spam report row, or None."""
    return conn.execute(select(spam_reports).where(
        spam_reports.c.org_id == org_id, spam_reports.c.call_id == call_id)).first()


def spam_reports_of(conn: Connection, org_id: int, number: str, *,
                    since: datetime) -> list[Any]:
    """A number's spam reports since ``since``, oldest first (one index range)."""
    return list(conn.execute(select(spam_reports).where(
        spam_reports.c.org_id == org_id, spam_reports.c.number == number,
        spam_reports.c.at >= since).order_by(spam_reports.c.at)).all())



def call_org(conn: Connection, call_id: str) -> int | None:
    """The id of the organization that made the call (for the operator's command line)."""
    org_id = conn.execute(select(calls.c.org_id).where(calls.c.id == call_id)).scalar()
    return int(org_id) if org_id is not None else None
