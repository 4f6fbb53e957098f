"""Reputation labels in the store (SPEC 9): each number's readings by the analytics
engines, with their history. Every read and write is scoped by the organization's id."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from callsign.domain.model import NumberStatus
from callsign.domain.reputation import Label, Verdict, engine_key
from callsign.store.sql import Statement, time_param, time_value
from callsign.store.tables import number_labels, numbers

Row = Any


def held(conn: Connection, org_id: int, e164s: Collection[str]) -> dict[str, int]:
    """The ids of those of ``e164s`` the organization holds (not released), by number."""
    found: dict[str, int] = {}
    chosen = sorted(set(e164s))
    for start in range(0, len(chosen), 500):
        found.update({str(e164): int(id_) for id_, e164 in conn.execute(
            select(numbers.c.id, numbers.c.e164).where(
                numbers.c.org_id == org_id, numbers.c.e164.in_(chosen[start:start + 500]),
                numbers.c.status != NumberStatus.RELEASED))})
    return found


def add(conn: Connection, org_id: int, readings: Iterable[tuple[int, Label]],
        *, at: datetime) -> None:
    """Store readings (number id, label); a reading already stored (same number, engine
    and time) takes the new words."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for number_id, label in readings:
        values = {"label": label.verdict.value, "raw": label.raw, "engine": label.engine,
                  "carrier": label.carrier, "source": label.source, "recorded_at": at}
        statement = dialect.insert(number_labels).values(
            org_id=org_id, number_id=number_id, engine_key=label.key,
            checked_at=label.checked_at, **values)
        conn.execute(statement.on_conflict_do_update(
            index_elements=["number_id", "engine_key", "checked_at"],
            set_={k: statement.excluded[k] for k in values}))


_LABELS = Statement("""
    SELECT engine, carrier, label, raw, checked_at, source FROM number_labels
    WHERE org_id = :org AND number_id = :number AND checked_at > :after
    ORDER BY checked_at DESC, id DESC LIMIT :limit""")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def labels(conn: Connection, org_id: int, number_id: int, *,
           after: datetime | None = None, limit: int = 500) -> list[Label]:
    """The number's readings (checked after ``after``, if given), newest first. Plain
    SQL: health reads them on every result."""
    rows = _LABELS.run(conn, {"org": org_id, "number": number_id,
                              "after": time_param(conn, after or _EPOCH), "limit": limit})
    return [Label(engine, carrier, Verdict(label), raw, time_value(checked), source)
            for engine, carrier, label, raw, checked, source in rows.fetchall()]


def current_labels(conn: Connection, org_id: int, number_id: int) -> list[Label]:
    """The latest reading of each engine, by engine."""
    latest: dict[str, Label] = {}
    for label in labels(conn, org_id, number_id):
        latest.setdefault(engine_key(label.engine), label)
    return [latest[key] for key in sorted(latest)]
