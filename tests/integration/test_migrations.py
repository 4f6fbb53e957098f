"""The Alembic migrations build exactly the tables the code declares."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from callsign.store.db import MIGRATIONS, _alembic_config, create_store_engine, newest_revision
from callsign.store.tables import metadata
from tests.conftest import postgres_schema


def test_migrations_match_the_declared_tables(db_url: str) -> None:
    """A fresh database migrated to head has no difference from tables.py."""
    engine = create_store_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_the_newest_revision_is_read_from_the_files_as_alembic_reads_it() -> None:
    """A migrated store is told without Alembic, by the head its files name."""
    assert newest_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()


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


def test_migration_0006_moves_each_numbers_usage_to_its_own_day(tmp_path: Path,
                                                                store_kind: str) -> None:
    """The day's count of a number moves to its (number, day) row, and back on downgrade."""
    with ExitStack() as stack:
        if store_kind == "postgresql":
            url = stack.enter_context(postgres_schema())
        else:
            url = f"sqlite:///{tmp_path / 'm.db'}"
        engine = create_engine(url, poolclass=NullPool)
        stack.callback(engine.dispose)

        def migrate_to(revision: str, *, down: bool = False) -> None:
            with engine.begin() as conn:
                step = command.downgrade if down else command.upgrade
                step(_alembic_config(conn), revision)

        migrate_to("0005")
        with engine.begin() as conn:
            conn.execute(text("""
                INSERT INTO orgs (id, slug, default_country, timezone, principal_number,
                    local_presence, local_presence_fallback, restrict_caller_ids, call_path,
                    last_caller_days)
                VALUES (1, 'acme', 'US', 'UTC', '+12125550100', TRUE, 'none', FALSE, '[]',
                        30)"""))
            conn.execute(text("""
                INSERT INTO numbers (id, org_id, e164, status, daily_cap, usage_day,
                                     usage_count, last_presented_at)
                VALUES (:id, 1, :e164, 'active', 20, :day, :count,
                        '2026-03-02 15:00:00+00:00')"""),
                [{"id": 1, "e164": "+13125550101", "day": "2026-03-02", "count": 7},
                 {"id": 2, "e164": "+13125550102", "day": None, "count": 0}])
        migrate_to("0006")
        with engine.connect() as conn:
            moved = conn.execute(text("SELECT number_id, day, used FROM number_usage")).all()
            columns = {c["name"] for c in inspect(conn).get_columns("numbers")}
        assert [tuple(row) for row in moved] == [(1, "2026-03-02", 7)]
        assert not {"usage_day", "usage_count"} & columns

        migrate_to("0005", down=True)
        with engine.connect() as conn:
            back = conn.execute(text(
                "SELECT id, usage_day, usage_count FROM numbers ORDER BY id")).all()
        assert [tuple(row) for row in back] == [(1, "2026-03-02", 7), (2, None, 0)]
