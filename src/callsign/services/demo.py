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
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from callsign.domain.document import parse_document
from callsign.domain.errors import Conflict, NotFound, Unauthorized
from callsign.domain.model import Decision, OutboundRequest, Route
from callsign.orgfile import load_yaml
from callsign.services import access, calls
from callsign.store import orgs as org_store
from callsign.store.db import database_file, shown_url
from callsign.store.uow import Store, UnitOfWork

ORG = "acme"
KEY_NAME = "demo"
# `callsign demo`'s sample calls: (user, callee, project, what the call shows)
SAMPLE_CALLS = (
    ("alice", "(773) 555-0150", None, "a Chicago mobile: agent's own number serves 773"),
    ("bob", "312-555-0188", None, "Chicago: local presence"),
    ("carol", "+1 217 555 0123", None, "Springfield IL: no 217 number, same-state fallback"),
    ("carol", "+1 907 555 0100", None, "Alaska: nothing local, principal number"),
    ("carol", "+1 201 555 0177", "renewals", "a renewals project call"),
)
SAMPLE_CALLBACK = ("+14155550123", "+13125550101")  # (caller, called)
SAMPLE_TIME = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)  # 14:00 in New York


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


@dataclass(frozen=True)
class SampleCall:
    """One of the demo's sample calls and its decision."""

    user: str
    to: str
    why: str
    decision: Decision


@dataclass(frozen=True)
class DemoRun:
    """The demo organization applied, its sample calls decided and a call-back routed."""

    org: str
    calls: list[SampleCall]
    caller: str
    called: str
    callback: Route


def run_demo(uow: Callable[[], UnitOfWork], *, reset: bool) -> DemoRun:
    """Apply the demo document (as ``apply_demo_text``), then decide its sample calls and
    route a call-back, recording nothing."""
    org = apply_demo_text(uow(), demo_text(), reset=reset)
    samples = [
        SampleCall(user, to, why, calls.place_call(
            uow(), OutboundRequest(org=org, user=user, to=to, project=project),
            now=SAMPLE_TIME, rng=random.Random(7), dry_run=True))
        for user, to, project, why in SAMPLE_CALLS]
    caller, called = SAMPLE_CALLBACK
    route = calls.route_call(uow(), called, caller, now=SAMPLE_TIME, dry_run=True)
    return DemoRun(org, samples, caller, called, route)


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
