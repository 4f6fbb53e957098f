"""Purchases: each written down (pending) before the provider is asked, then settled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, update

from callsign.store.tables import purchases


def add_purchase(conn: Connection, org_id: int, *, provider: str, area_code: str, e164: str,
                 at: datetime) -> int:
    """Write a pending purchase down; returns its id."""
    return int(conn.execute(insert(purchases).values(
        org_id=org_id, provider=provider, area_code=area_code, e164=e164, state="pending",
        created_at=at).returning(purchases.c.id)).scalar_one())


def settle_purchase(conn: Connection, purchase_id: int, state: str,
                    detail: str | None = None) -> None:
    """Mark a purchase bought or failed (``detail``: why, at most 500 characters)."""
    values: dict[str, str] = {"state": state}
    if detail is not None:
        values["detail"] = detail[:500]
    conn.execute(update(purchases).where(purchases.c.id == purchase_id).values(**values))
