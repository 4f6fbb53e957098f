"""Access: API keys (one organization each, stored hashed, shown once) and the admin's
sign-in sessions (an API key opens one; the cookie holds only its random id)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from callsign.domain.errors import NotFound, Unauthorized
from callsign.store import queries
from callsign.store.sql import Statement, time_value
from callsign.store.tables import admin_sessions, api_keys, orgs
from callsign.store.uow import UnitOfWork

PREFIX = "cs"
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(uow: UnitOfWork, org: str, *, name: str = "", now: datetime) -> str:
    """A new key for ``org``; the only time its secret is ever shown."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    with uow:
        org_id, _ = queries.org_id_and_policy(uow.connection, org)
        uow.connection.execute(insert(api_keys).values(
            id=key_id, org_id=org_id, secret_hash=_hash(secret), name=name, created_at=now))
        uow.commit()
    return f"{PREFIX}_{key_id}_{secret}"


def list_keys(uow: UnitOfWork, org: str) -> list[KeyInfo]:
    with uow:
        org_id, _ = queries.org_id_and_policy(uow.connection, org)
        rows = uow.connection.execute(select(api_keys).where(api_keys.c.org_id == org_id)
                                      .order_by(api_keys.c.created_at)).all()
    return [KeyInfo(r.id, r.name, r.created_at, r.revoked_at) for r in rows]


def revoke_key(uow: UnitOfWork, org: str, key_id: str, *, now: datetime) -> None:
    with uow:
        org_id, _ = queries.org_id_and_policy(uow.connection, org)
        done = uow.connection.execute(
            update(api_keys).where(api_keys.c.org_id == org_id, api_keys.c.id == key_id,
                                   api_keys.c.revoked_at.is_(None)).values(revoked_at=now))
        if not done.rowcount:
            raise NotFound(f"no active key {key_id!r} for organization {org!r}", field="key")
        uow.commit()


_KEY = Statement("""
    SELECT k.secret_hash, k.revoked_at, o.id, o.slug FROM api_keys k
    JOIN orgs o ON o.id = k.org_id WHERE k.id = :id""")


def authenticate(conn: Connection, token: str) -> tuple[int, str]:
    """The (org id, slug) a key belongs to, or Unauthorized."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise Unauthorized("the API key is malformed", field="Authorization")
    row = _KEY.run(conn, {"id": parts[1]}).fetchone()
    if row is None or not hmac.compare_digest(row[0], _hash(parts[2])):
        raise Unauthorized("the API key is not valid", field="Authorization")
    if row[1] is not None:
        raise Unauthorized(f"the API key was revoked on {time_value(row[1]):%Y-%m-%d}",
                           field="Authorization")
    return int(row[2]), str(row[3])


@dataclass(frozen=True)
class Session:
    """An admin's sign-in: its random id (the cookie), organization and CSRF token."""

    id: str
    org: str
    csrf: str


def sign_in(uow: UnitOfWork, token: str, *, now: datetime) -> Session:
    """A new session for the organization of ``token`` (Unauthorized if it is no key)."""
    with uow:
        org_id, slug = authenticate(uow.connection, token.strip())
        session = Session(secrets.token_urlsafe(32), slug, secrets.token_urlsafe(24))
        uow.connection.execute(insert(admin_sessions).values(
            id=session.id, org_id=org_id, key_id=token.strip().split("_")[1],
            csrf=session.csrf, created_at=now, expires_at=now + SESSION_LIFETIME))
        uow.commit()
    return session


def current_session(uow: UnitOfWork, session_id: str | None, *,
                    now: datetime) -> Session | None:
    """The live session with this id, if any (its key must still be valid)."""
    if not session_id:
        return None
    with uow:
        row = uow.connection.execute(
            select(admin_sessions.c.id, admin_sessions.c.csrf, admin_sessions.c.expires_at,
                   orgs.c.slug)
            .join(orgs, orgs.c.id == admin_sessions.c.org_id)
            .join(api_keys, api_keys.c.id == admin_sessions.c.key_id)
            .where(admin_sessions.c.id == session_id,
                   api_keys.c.revoked_at.is_(None))).first()
    if row is None or row.expires_at <= now:
        return None
    return Session(row.id, row.slug, row.csrf)


def sign_out(uow: UnitOfWork, session_id: str) -> None:
    with uow:
        uow.connection.execute(delete(admin_sessions).where(admin_sessions.c.id == session_id))
        uow.commit()
