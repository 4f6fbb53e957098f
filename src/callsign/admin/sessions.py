"""Admin sign-in: an API key opens a session; the cookie holds only its random id."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select

from callsign import keys
from callsign.store.tables import admin_sessions, api_keys, orgs
from callsign.store.uow import UnitOfWork

LIFETIME = timedelta(hours=12)
COOKIE = "callsign_admin"


@dataclass(frozen=True)
class Session:
    id: str
    org: str
    csrf: str


def sign_in(uow: UnitOfWork, token: str, *, now: datetime) -> Session:
    """A new session for the organization of ``token`` (Unauthorized if it is no key)."""
    with uow:
        org_id, slug = keys.authenticate(uow.connection, token.strip())
        session = Session(secrets.token_urlsafe(32), slug, secrets.token_urlsafe(24))
        uow.connection.execute(insert(admin_sessions).values(
            id=session.id, org_id=org_id, key_id=token.strip().split("_")[1],
            csrf=session.csrf, created_at=now, expires_at=now + LIFETIME))
        uow.commit()
    return session


def current(uow: UnitOfWork, session_id: str | None, *, now: datetime) -> Session | None:
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


def csrf_ok(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf, token or "")


def sign_out(uow: UnitOfWork, session_id: str) -> None:
    with uow:
        uow.connection.execute(delete(admin_sessions).where(admin_sessions.c.id == session_id))
        uow.commit()
