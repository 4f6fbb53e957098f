"""Requests that may be sent again: their keys, reserved first, answered once done."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from callsign.store.tables import idempotent_requests


def _row(org_id: int, route: str, key: str) -> tuple[Any, ...]:
    return (idempotent_requests.c.org_id == org_id, idempotent_requests.c.route == route,
            idempotent_requests.c.key == key)


def reserve_key(conn: Connection, org_id: int, route: str, key: str, request_hash: str,
                at: datetime) -> None:
    """Reserve the key for a first request (IntegrityError if one reserved it already)."""
    conn.execute(insert(idempotent_requests).values(
        org_id=org_id, route=route, key=key, request_hash=request_hash, status_code=None,
        response=None, created_at=at))


def reserved_key(conn: Connection, org_id: int, route: str,
                 key: str) -> tuple[str, int | None, Any] | None:
    """(request hash, status, body) stored on the key; the status None while at work."""
    row = conn.execute(select(idempotent_requests.c.request_hash,
                              idempotent_requests.c.status_code,
                              idempotent_requests.c.response)
                       .where(*_row(org_id, route, key))).first()
    if row is None:
        return None
    return (str(row.request_hash), None if row.status_code is None else int(row.status_code),
            row.response)


def answer_key(conn: Connection, org_id: int, route: str, key: str, status: int,
               body: Any) -> None:
    conn.execute(update(idempotent_requests).where(*_row(org_id, route, key))
                 .values(status_code=status, response=body))


def forget_key(conn: Connection, org_id: int, route: str, key: str) -> None:
    conn.execute(delete(idempotent_requests).where(*_row(org_id, route, key)))
