"""The organization's do-not-call list (SPEC 10): add, remove, list, import; and the
national registry's numbers from the organization's scrub files."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from callsign.store.tables import dnc_registry, do_not_call


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


REGISTRY_BATCH = 5000  # rows per INSERT of a scrub file


def replace_registry(conn: Connection, org_id: int, area_codes: Iterable[str],
                     numbers: Iterable[str], *, source: str, listed_on: date,
                     at: datetime) -> None:
    """The registry's numbers of ``area_codes`` become ``numbers`` (E.164, +1 and 10
    digits): a scrub file lists an area code's numbers in full."""
    codes = sorted(set(area_codes))
    if codes:
        conn.execute(delete(dnc_registry).where(dnc_registry.c.org_id == org_id,
                                                dnc_registry.c.area_code.in_(codes)))
    batch: list[dict[str, Any]] = []
    for number in numbers:
        batch.append({"org_id": org_id, "number": number, "area_code": number[2:5],
                      "source": source, "listed_on": listed_on, "imported_at": at})
        if len(batch) == REGISTRY_BATCH:
            conn.execute(insert(dnc_registry), batch)
            batch = []
    if batch:
        conn.execute(insert(dnc_registry), batch)


def registry_summary(conn: Connection, org_id: int) -> dict[str, Any]:
    """How many numbers the registry lists, over how many area codes, and the oldest
    download's date (the scrub to renew first)."""
    size, codes, oldest = conn.execute(
        select(func.count(), func.count(func.distinct(dnc_registry.c.area_code)),
               func.min(dnc_registry.c.listed_on))
        .where(dnc_registry.c.org_id == org_id)).one()
    return {"size": int(size or 0), "area_codes": int(codes or 0),
            "oldest_listed_on": oldest.isoformat() if oldest else None}
