"""The demo organization 'acme' for `callsign serve --demo`: set up once, never reapplied.

The demo document is applied only when no organization 'acme' exists, so whatever was
built in it since survives every restart. Its API key is kept too: keys are stored
hashed, so the key itself is written to a file only its owner can read (beside a SQLite
database, else in the user data directory) and printed again on the next start. A kept
key that no longer works (revoked, or the store was replaced) is replaced by a new one,
and earlier demo keys are revoked then, so the organization has one demo key at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from callsign.domain.document import parse_document
from callsign.domain.errors import Conflict, NotFound, Unauthorized
from callsign.orgfile import load_yaml
from callsign.services import access
from callsign.store import orgs as org_store
from callsign.store.db import database_file, shown_url
from callsign.store.uow import Store, UnitOfWork

ORG = "acme"
KEY_NAME = "demo"


@dataclass(frozen=True)
class DemoSetup:
    """What `ensure_demo` found and did."""

    org: str
    created: bool  # the demo organization was absent and is applied now
    key: str
    key_file: Path
    key_kept: bool  # False: the file could not be written; the key is printed only
    new_key: bool  # False: the key of an earlier start, read back from key_file
    revoked: int  # earlier demo keys revoked when a new one was made


def demo_text() -> str:
    """The demo organization file shipped with callsign."""
    return resources.files("callsign").joinpath("demo/acme.yaml").read_text(encoding="utf-8")


def key_file_for(database_url: str) -> Path:
    """Where the demo key of this store is kept.

    Beside a SQLite database file (``callsign.db`` → ``callsign.demo-key``); for any other
    store, in the user data directory, named after the store's URL (without password).
    """
    file = database_file(database_url)
    if file is not None:
        database = Path(file)
        return database.with_name(f"{database.stem}.demo-key")
    from platformdirs import user_data_dir

    digest = hashlib.sha256(shown_url(database_url).encode()).hexdigest()
    return Path(user_data_dir("callsign", appauthor=False)) / f"demo-key-{digest[:16]}"


def ensure_demo(store: Store, database_url: str, *, now: datetime) -> DemoSetup:
    """Apply the demo organization if it is absent; its one demo key, kept across starts."""
    created = _apply_if_absent(store.uow())
    key_file = key_file_for(database_url)
    kept = _read_key(key_file)
    if kept is not None and _works(store, kept):
        return DemoSetup(ORG, created, kept, key_file, key_kept=True, new_key=False,
                         revoked=0)
    revoked = 0
    for info in access.list_keys(store.uow(), ORG):
        if info.name == KEY_NAME and info.revoked_at is None:
            access.revoke_key(store.uow(), ORG, info.id, now=now)
            revoked += 1
    key = access.create_key(store.uow(), ORG, name=KEY_NAME, now=now)
    written = _write_key(key_file, key)
    return DemoSetup(ORG, created, key, key_file, key_kept=written, new_key=True,
                     revoked=revoked)


def _apply_if_absent(uow: UnitOfWork) -> bool:
    with uow:
        if org_store.org_exists(uow.connection, ORG):
            return False
        document = parse_document(load_yaml(demo_text(), source="demo/acme.yaml"))
        org_store.apply_document(uow.connection, document)
        uow.commit()
    return True


def _works(store: Store, key: str) -> bool:
    """Whether ``key`` authenticates as the demo organization."""
    with store.reading() as conn:
        try:
            _, slug = access.authenticate(conn, key)
        except Unauthorized:
            return False
    return slug == ORG


def apply_demo_text(uow: UnitOfWork, text: str, *, reset: bool) -> str:
    """Apply the demo document unless its organization exists and differs (then Conflict,
    unless ``reset``); returns the organization's id."""
    document = parse_document(load_yaml(text, source="demo/acme.yaml"))
    with uow:
        try:
            current = org_store.export_document(uow.connection, document.org)
        except NotFound:
            current = None
        if current is not None and current != document and not reset:
            raise Conflict(f"organization {document.org!r} differs from the demo (it was "
                           "changed since); `callsign demo --reset` replaces it with the demo",
                           field="org")
        org_store.apply_document(uow.connection, document)
        uow.commit()
    return document.org


def _read_key(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def _write_key(path: Path, key: str) -> bool:
    """Write ``key`` to ``path``, readable by its owner only; False if it cannot be."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(f"{key}\n")
        os.chmod(temporary, 0o600)  # whatever the umask
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        return False
    return True
