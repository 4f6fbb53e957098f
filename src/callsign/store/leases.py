"""Leases on periodic work one process at a time may do, on either store.

A lease is one row, taken by one conditional statement: on PostgreSQL ``ON CONFLICT DO
UPDATE`` locks the row and tests its WHERE on the latest committed version, and SQLite
serializes writers, so two processes can never both take it. It is free once it
expired (its holder died) or was given back, and only ``every`` after the last run ended.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from callsign.store.sql import Statement, time_param
from callsign.store.tables import orgs

_TAKE = Statement("""
    INSERT INTO leases (name, holder, expires_at, done_at)
    VALUES (:name, :holder, :until, NULL)
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                                     expires_at = excluded.expires_at
    WHERE leases.expires_at <= :now
      AND (leases.done_at IS NULL OR leases.done_at <= :due)
    RETURNING name""")
_RENEW = Statement("""
    UPDATE leases SET expires_at = :until WHERE name = :name AND holder = :holder
    RETURNING name""")
_GIVE_BACK = Statement("""
    UPDATE leases SET expires_at = :now, done_at = :now
    WHERE name = :name AND holder = :holder""")


def take(conn: Connection, name: str, holder: str, *, now: datetime, until: datetime,
         due: datetime) -> bool:
    """Take the lease ``name`` for ``holder`` until ``until``, if it is free at ``now``
    and its last run ended at or before ``due``; whether it was taken."""
    return _TAKE.run(conn, {
        "name": name, "holder": holder, "until": time_param(conn, until),
        "now": time_param(conn, now), "due": time_param(conn, due)}).fetchone() is not None


def renew(conn: Connection, name: str, holder: str, *, until: datetime) -> bool:
    """Keep the lease longer; False if ``holder`` no longer has it."""
    return _RENEW.run(conn, {"name": name, "holder": holder,
                             "until": time_param(conn, until)}).fetchone() is not None


def give_back(conn: Connection, name: str, holder: str, *, now: datetime) -> None:
    """End ``holder``'s run: the lease is free, and the next run is due ``every`` later."""
    _GIVE_BACK.run(conn, {"name": name, "holder": holder, "now": time_param(conn, now)})


def org_slugs(conn: Connection) -> list[str]:
    """Every organization's id (slug), in order: what a sweep of all of them walks."""
    return [str(slug) for slug in conn.execute(select(orgs.c.slug).order_by(orgs.c.slug))
            .scalars()]
