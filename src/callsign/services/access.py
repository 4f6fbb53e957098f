"""Access: API keys (one organization each, stored hashed, shown once) and the admin's
sign-in sessions (an API key opens one; the cookie holds only its random id)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from callsign.domain.errors import NotFound, Unauthorized
from callsign.store import keys as key_store
from callsign.store.calls import org_id_and_policy
from callsign.store.uow import Connection, UnitOfWork

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
        org_id, _ = org_id_and_policy(uow.connection, org)
        key_store.add_key(uow.connection, org_id, key_id, _hash(secret), name=name, at=now)
        uow.commit()
    return f"{PREFIX}_{key_id}_{secret}"


def list_keys(uow: UnitOfWork, org: str) -> list[KeyInfo]:
    with uow:
        org_id, _ = org_id_and_policy(uow.connection, org)
        rows = key_store.keys_of(uow.connection, org_id)
    return [KeyInfo(r.id, r.name, r.created_at, r.revoked_at) for r in rows]


def revoke_key(uow: UnitOfWork, org: str, key_id: str, *, now: datetime) -> None:
    with uow:
        org_id, _ = org_id_and_policy(uow.connection, org)
        if not key_store.revoke_key(uow.connection, org_id, key_id, now):
            raise NotFound(f"no active key {key_id!r} for organization {org!r}", field="key")
        uow.commit()


def authenticate(conn: Connection, token: str) -> tuple[int, str]:
    """The (org id, slug) a key belongs to, or Unauthorized."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise Unauthorized("the API key is malformed", field="Authorization")
    row = key_store.key_by_id(conn, parts[1])
    if row is None or not hmac.compare_digest(row[0], _hash(parts[2])):
        raise Unauthorized("the API key is not valid", field="Authorization")
    if row[1] is not None:
        raise Unauthorized(f"the API key was revoked on {row[1]:%Y-%m-%d}",
                           field="Authorization")
    return row[2], row[3]


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
        key_store.add_session(uow.connection, session.id, org_id, token.strip().split("_")[1],
                              session.csrf, at=now, expires_at=now + SESSION_LIFETIME)
        uow.commit()
    return session


def current_session(uow: UnitOfWork, session_id: str | None, *,
                    now: datetime) -> Session | None:
    """The live session with this id, if any (its key must still be valid)."""
    if not session_id:
        return None
    with uow:
        row = key_store.session_by_id(uow.connection, session_id)
    if row is None or row[2] <= now:
        return None
    return Session(row[0], row[3], row[1])


def sign_out(uow: UnitOfWork, session_id: str) -> None:
    with uow:
        key_store.delete_session(uow.connection, session_id)
        uow.commit()
