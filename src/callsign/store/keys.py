"""API keys (stored hashed) and the admin's sign-in sessions they open."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from callsign.store.sql import Statement, time_value
from callsign.store.tables import admin_sessions, api_keys, change_markers, orgs

KEYS_MARKER = "api_keys"  # the change marker every key created or revoked bumps


def add_key(conn: Connection, org_id: int, key_id: str, secret_hash: str, *, name: str,
            at: datetime, scopes: str = "admin") -> None:
    conn.execute(insert(api_keys).values(id=key_id, org_id=org_id, secret_hash=secret_hash,
                                         name=name, created_at=at, scopes=scopes))
    _bump_keys_version(conn)


def keys_of(conn: Connection, org_id: int) -> list[Any]:
    """The organization's keys (id, name, created_at, revoked_at, ...), oldest first."""
    return list(conn.execute(select(api_keys).where(api_keys.c.org_id == org_id)
                             .order_by(api_keys.c.created_at)).all())


def revoke_key(conn: Connection, org_id: int, key_id: str, at: datetime) -> bool:
    """Revoke an active key; False if the organization has no such active key."""
    done = conn.execute(update(api_keys).where(
        api_keys.c.org_id == org_id, api_keys.c.id == key_id,
        api_keys.c.revoked_at.is_(None)).values(revoked_at=at))
    if not done.rowcount:
        return False
    _bump_keys_version(conn)
    return True


def set_scopes(conn: Connection, org_id: int, key_id: str, scopes: str) -> bool:
    """Give an active key these scopes; False if the organization has no such active key.
    Every worker sees the change as it sees a revocation (the marker moves)."""
    done = conn.execute(update(api_keys).where(
        api_keys.c.org_id == org_id, api_keys.c.id == key_id,
        api_keys.c.revoked_at.is_(None)).values(scopes=scopes))
    if not done.rowcount:
        return False
    _bump_keys_version(conn)
    return True


def _bump_keys_version(conn: Connection) -> None:
    """In the change's own transaction: the workers' copies of the keys are out of date."""
    conn.execute(update(change_markers).where(change_markers.c.name == KEYS_MARKER)
                 .values(version=change_markers.c.version + 1))


_KEY = Statement("""
    SELECT k.secret_hash, k.revoked_at, o.id, o.slug, k.scopes FROM api_keys k
    JOIN orgs o ON o.id = k.org_id WHERE k.id = :id""")

KeyRow = tuple[str, datetime | None, int, str, str]


def key_by_id(conn: Connection, key_id: str) -> KeyRow | None:
    """(secret hash, revoked at, org id, org slug, scopes) of a key."""
    row = _KEY.run(conn, {"id": key_id}).fetchone()
    if row is None:
        return None
    return (str(row[0]), None if row[1] is None else time_value(row[1]), int(row[2]),
            str(row[3]), str(row[4]))


_VERSION = Statement("SELECT version FROM change_markers WHERE name = :name")

_EVERY_KEY = Statement("""
    SELECT k.id, k.secret_hash, k.revoked_at, o.id, o.slug, k.scopes FROM api_keys k
    JOIN orgs o ON o.id = k.org_id""")


def keys_version(conn: Connection) -> int:
    """The keys' change marker: it grows with every key created or revoked."""
    row = _VERSION.run(conn, {"name": KEYS_MARKER}).fetchone()
    return 0 if row is None else int(row[0])


def every_key(conn: Connection) -> list[tuple[str, str, datetime | None, int, str, str]]:
    """(id, secret hash, revoked at, org id, org slug, scopes) of every key, revoked ones
    too."""
    return [(str(r[0]), str(r[1]), None if r[2] is None else time_value(r[2]), int(r[3]),
             str(r[4]), str(r[5])) for r in _EVERY_KEY.run(conn, {}).fetchall()]


def add_session(conn: Connection, session_id: str, org_id: int, key_id: str, csrf: str, *,
                at: datetime, expires_at: datetime) -> None:
    conn.execute(insert(admin_sessions).values(
        id=session_id, org_id=org_id, key_id=key_id, csrf=csrf, created_at=at,
        expires_at=expires_at))


def session_by_id(conn: Connection, session_id: str
                  ) -> tuple[str, str, datetime, str, str] | None:
    """(id, csrf, expires at, org slug, its key's scopes) of a session whose key is not
    revoked."""
    row = conn.execute(
        select(admin_sessions.c.id, admin_sessions.c.csrf, admin_sessions.c.expires_at,
               orgs.c.slug, api_keys.c.scopes)
        .join(orgs, orgs.c.id == admin_sessions.c.org_id)
        .join(api_keys, api_keys.c.id == admin_sessions.c.key_id)
        .where(admin_sessions.c.id == session_id, api_keys.c.revoked_at.is_(None))).first()
    return None if row is None else (row.id, row.csrf, row.expires_at, row.slug, row.scopes)


def delete_session(conn: Connection, session_id: str) -> None:
    conn.execute(delete(admin_sessions).where(admin_sessions.c.id == session_id))
