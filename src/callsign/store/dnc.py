"""The organization's do-not-call list (SPEC 10): add, remove, list, import."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from callsign.store.tables import do_not_call


def entries(conn: Connection, org_id: int, *, limit: int, after: str | None = None
            ) -> list[dict[str, Any]]:
    """The list's entries in number order (``after``: a page's last number)."""
    query = select(do_not_call).where(do_not_call.c.org_id == org_id)
    if after is not None:
        query = query.where(do_not_call.c.number > after)
    return [_entry(row) for row in conn.execute(
        query.order_by(do_not_call.c.number).limit(limit))]


def entry(conn: Connection, org_id: int, number: str) -> dict[str, Any] | None:
    row = conn.execute(select(do_not_call).where(
        do_not_call.c.org_id == org_id, do_not_call.c.number == number)).first()
    return None if row is None else _entry(row)


def size(conn: Connection, org_id: int) -> int:
    return int(conn.execute(select(func.count()).select_from(do_not_call).where(
        do_not_call.c.org_id == org_id)).scalar() or 0)


def _entry(row: Any) -> dict[str, Any]:
    return {"number": row.number, "source": row.source, "note": row.note,
            "added_at": row.added_at.isoformat()}


def put(conn: Connection, org_id: int, rows: Iterable[tuple[str, str, str]],
        at: datetime) -> int:
    """Add (number, source, note) rows; a number listed already keeps its first date and
    takes the new source and note. Returns how many rows were given."""
    count = 0
    for number, source, note in rows:
        done = conn.execute(update(do_not_call).where(
            do_not_call.c.org_id == org_id, do_not_call.c.number == number)
            .values(source=source, note=note))
        if not done.rowcount:
            conn.execute(insert(do_not_call).values(org_id=org_id, number=number,
                                                    source=source, note=note, added_at=at))
        count += 1
    return count


def remove(conn: Connection, org_id: int, number: str) -> bool:
    done = conn.execute(delete(do_not_call).where(
        do_not_call.c.org_id == org_id, do_not_call.c.number == number))
    return bool(done.rowcount)
