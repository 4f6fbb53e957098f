"""The Alembic migrations build exactly the tables the code declares."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from callsign.store.db import MIGRATIONS, create_store_engine
from callsign.store.tables import metadata


def test_migrations_match_the_declared_tables(db_url: str) -> None:
    """A fresh database migrated to head has no difference from tables.py."""
    engine = create_store_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


@pytest.mark.sqlite_only
def test_migrations_run_once_on_first_use_and_the_store_is_in_wal_mode(tmp_path: Path) -> None:
    """Opening the store twice migrates once; SQLite runs in WAL mode."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    create_store_engine(url).dispose()
    engine = create_store_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        revisions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    engine.dispose()
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert [r[0] for r in revisions] == [head]
    assert "calls" in inspect(engine).get_table_names()
