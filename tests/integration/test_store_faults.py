"""Store faults become StoreUnavailable in one place; nothing commits into a lost file."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine, func, make_url, select

from callsign.domain.document import parse_document
from callsign.domain.errors import StoreUnavailable
from callsign.store import orgs as org_store
from callsign.store.db import create_store_engine, store_problem
from callsign.store.sql import store_fault
from callsign.store.tables import orgs
from callsign.store.uow import UnitOfWork

pytestmark = pytest.mark.sqlite_only

URL_OF_FILE: URL = make_url("sqlite:////data/callsign.db")


@pytest.mark.parametrize(("error", "says"), [
    (sqlite3.OperationalError("database is locked"), "locked"),
    (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
    (sqlite3.OperationalError("database or disk is full"), "disk is full"),
    (sqlite3.OperationalError("disk I/O error"), "disk I/O error"),
    (sqlite3.OperationalError("unable to open database file"), "missing"),
    (sqlite3.DatabaseError("file is not a database"), "not a SQLite database"),
    (sqlite3.DatabaseError("database disk image is malformed"), "damaged"),
])
def test_sqlite_errors_are_store_faults_naming_the_file(error: Exception, says: str) -> None:
    fault = store_fault(error, URL_OF_FILE)
    assert isinstance(fault, StoreUnavailable)
    assert fault.code == "store_unavailable"
    assert "/data/callsign.db" in fault.message
    assert says in fault.message


def test_other_errors_are_not_store_faults() -> None:
    assert store_fault(sqlite3.IntegrityError("UNIQUE constraint failed"), URL_OF_FILE) is None
    assert store_fault(ValueError("no"), URL_OF_FILE) is None


def test_postgresql_refusing_connections_is_a_store_fault() -> None:
    import psycopg

    error = psycopg.OperationalError('connection to server at "127.0.0.1", port 1 failed: '
                                     "Connection refused")
    fault = store_fault(error, make_url("postgresql+psycopg://u:secret@db.example:6543/calls"))
    assert fault is not None
    assert "PostgreSQL at db.example:6543/calls cannot be reached" in fault.message
    assert "secret" not in fault.message


def insert_org(engine: Engine, slug: str) -> UnitOfWork:
    uow = UnitOfWork(engine).__enter__()
    org_store.apply_document(uow.connection, parse_document(
        {"org": slug, "principal_number": "+12125550100",
         "numbers": [{"number": "+12125550100"}]}))
    return uow


def count_orgs(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM orgs").fetchone()[0])


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "callsign.db"
    create_store_engine(f"sqlite:///{path}").dispose()
    return path


def test_nothing_is_committed_into_a_file_deleted_during_the_transaction(
        sqlite_file: Path) -> None:
    engine = create_store_engine(f"sqlite:///{sqlite_file}")
    uow = insert_org(engine, "lost")
    sqlite_file.unlink()
    with pytest.raises(StoreUnavailable, match="deleted"):
        uow.commit()
    uow.__exit__(None, None, None)
    assert isinstance(store_problem(engine), StoreUnavailable)
    assert not sqlite_file.exists()
    engine.dispose()


def test_nothing_is_committed_into_a_file_replaced_during_the_transaction(
        sqlite_file: Path, tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{sqlite_file}")
    assert store_problem(engine) is None
    uow = insert_org(engine, "lost")
    copy = tmp_path / "copy.db"
    with contextlib.closing(sqlite3.connect(sqlite_file)) as source, \
            contextlib.closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    os.replace(copy, sqlite_file)
    with pytest.raises(StoreUnavailable, match="replaced"):
        uow.commit()
    uow.__exit__(None, None, None)
    engine.dispose()
    for leftover in ("-wal", "-shm"):  # the old file's, left by SQLite
        Path(f"{sqlite_file}{leftover}").unlink(missing_ok=True)

    assert count_orgs(sqlite_file) == 0
    engine = create_store_engine(f"sqlite:///{sqlite_file}")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(orgs)).scalar_one() == 0
    engine.dispose()


def test_a_store_that_cannot_be_created_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        create_store_engine(f"sqlite:///{tmp_path}/missing-folder/callsign.db")
    assert raised.value.field == "database_url"
    assert "missing-folder/callsign.db" in str(raised.value)
    assert "\n" not in str(raised.value)
