"""Access: API keys (one organization each, stored hashed, shown once) and the admin's
sign-in sessions (an API key opens one; the cookie holds only its random id)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from callsign.domain import roles
from callsign.domain.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from callsign.domain.roles import Scope
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
    scopes: frozenset[Scope] = roles.FULL_ACCESS


@dataclass(frozen=True)
class ApiKey:
    """An API key as a client holds it: ``cs_<id>_<secret>``; only the id is public."""

    id: str
    secret: str

    def __str__(self) -> str:
        return f"{PREFIX}_{self.id}_{self.secret}"

    @classmethod
    def parse(cls, text: str) -> ApiKey:
        """The key written in ``text``, or Unauthorized if it has not a key's shape."""
        parts = text.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise Unauthorized("the API key is malformed", field="Authorization")
        return cls(parts[1], parts[2])


def key_in_header(authorization: str) -> str:
    """The API key an ``Authorization`` header carries, or Unauthorized.

    ``Bearer KEY``; or the key as a Basic password, what clients that keep connections
    open with fixed credentials can send (Kamailio's named http_client connections).
    """
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            token = base64.b64decode(token.strip(), validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            token = ""
        scheme = "bearer"
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer KEY' with an organization's API key",
                           field="Authorization")
    return token.strip()


def key_id(text: str) -> str:
    """The id of a key given as its id or as the whole key (``cs_<id>_<secret>``)."""
    return text.split("_")[1] if "_" in text else text


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(uow: UnitOfWork, org: str, *, name: str = "", now: datetime,
               scopes: frozenset[Scope] = roles.FULL_ACCESS) -> str:
    """A new key for ``org`` holding ``scopes``; the only time its secret is ever shown."""
    if not scopes:
        raise InvalidInput("a key needs at least one scope", field="scope")
    key = ApiKey(secrets.token_hex(6), secrets.token_urlsafe(24))
    with uow:
        org_id, _ = org_id_and_policy(uow.connection, org)
        key_store.add_key(uow.connection, org_id, key.id, _hash(key.secret), name=name,
                          at=now, scopes=roles.stored(scopes))
        uow.commit()
    return str(key)


def list_keys(uow: UnitOfWork, org: str) -> list[KeyInfo]:
    with uow:
        org_id, _ = org_id_and_policy(uow.connection, org)
        rows = key_store.keys_of(uow.connection, org_id)
    return [KeyInfo(r.id, r.name, r.created_at, r.revoked_at, roles.from_store(r.scopes))
            for r in rows]


def set_scopes(uow: UnitOfWork, org: str, key: str, scopes: frozenset[Scope]) -> None:
    """Give an active key (named by its id, or given whole) these scopes instead of its
    own; every worker sees the change within a second, as it sees a revocation."""
    if not scopes:
        raise InvalidInput("a key needs at least one scope", field="scope")
    named = key_id(key)
    with uow:
        org_id, _ = org_id_and_policy(uow.connection, org)
        if not key_store.set_scopes(uow.connection, org_id, named, roles.stored(scopes)):
            raise NotFound(f"no active key {named!r} for organization {org!r}", field="key")
        uow.commit()


def revoke_key(uow: UnitOfWork, org: str, key: str, *, now: datetime) -> None:
    """Revoke a key named by its id (or given whole); it stops working at once."""
    named = key_id(key)
    with uow:
        org_id, _ = org_id_and_policy(uow.connection, org)
        if not key_store.revoke_key(uow.connection, org_id, named, now):
            raise NotFound(f"no active key {named!r} for organization {org!r}", field="key")
        uow.commit()


@dataclass(frozen=True)
class KnownKey:
    """What authenticating a key needs to know of it (``key_cache`` keeps these)."""

    org_id: int
    org: str
    secret_hash: str
    revoked_at: datetime | None
    scopes: frozenset[Scope] = roles.FULL_ACCESS


def known_key(row: key_store.KeyRow | None) -> KnownKey | None:
    """A stored key as authenticating it needs it."""
    if row is None:
        return None
    return KnownKey(row[2], row[3], row[0], row[1], roles.from_store(row[4]))


def authenticate(conn: Connection, token: str) -> tuple[int, str]:
    """The (org id, slug) a key belongs to, or Unauthorized."""
    known = valid_key(conn, token)
    return known.org_id, known.org


def valid_key(conn: Connection, token: str) -> KnownKey:
    """What the store knows of a valid key, or Unauthorized."""
    key = ApiKey.parse(token)
    return checked(known_key(key_store.key_by_id(conn, key.id)), key)


def checked_key(known: KnownKey | None, key: ApiKey) -> tuple[int, str]:
    """The (org id, slug) of ``key`` if ``known`` says it is valid, or Unauthorized."""
    valid = checked(known, key)
    return valid.org_id, valid.org


def checked(known: KnownKey | None, key: ApiKey) -> KnownKey:
    """``known`` if it says ``key`` is valid, or Unauthorized."""
    if known is None or not hmac.compare_digest(known.secret_hash, _hash(key.secret)):
        raise Unauthorized("the API key is not valid", field="Authorization")
    if known.revoked_at is not None:
        raise Unauthorized(f"the API key was revoked on {known.revoked_at:%Y-%m-%d}",
                           field="Authorization")
    return known


@dataclass(frozen=True)
class Session:
    """An admin's sign-in: its random id (the cookie), organization and CSRF token."""

    id: str
    org: str
    csrf: str


def sign_in(uow: UnitOfWork, token: str, *, now: datetime) -> Session:
    """A new session for the organization of ``token`` (Unauthorized if it is no key;
    Forbidden if it lacks the ``admin`` scope, which the web admin needs)."""
    with uow:
        known = valid_key(uow.connection, token.strip())
        if Scope.ADMIN not in known.scopes:
            raise Forbidden("the web admin needs a key with the 'admin' scope; this key "
                            f"holds {roles.describe(known.scopes)}", field="key")
        org_id, slug = known.org_id, known.org
        session = Session(secrets.token_urlsafe(32), slug, secrets.token_urlsafe(24))
        key_store.add_session(uow.connection, session.id, org_id,
                              ApiKey.parse(token.strip()).id, session.csrf, at=now,
                              expires_at=now + SESSION_LIFETIME)
        uow.commit()
    return session


def current_session(uow: UnitOfWork, session_id: str | None, *,
                    now: datetime) -> Session | None:
    """The live session with this id, if any (its key must still be valid)."""
    if not session_id:
        return None
    with uow:
        row = key_store.session_by_id(uow.connection, session_id)
    # A session lasts while its key holds the admin scope (a key's scopes can change).
    if row is None or row[2] <= now or Scope.ADMIN not in roles.from_store(row[4]):
        return None
    return Session(row[0], row[3], row[1])


def sign_out(uow: UnitOfWork, session_id: str) -> None:
    with uow:
        key_store.delete_session(uow.connection, session_id)
        uow.commit()
