"""Engines for SQLite (the embedded default) and PostgreSQL, and migrations on first use."""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import msgspec
from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InvalidatePoolError,
    NoSuchModuleError,
)
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from callsign.domain.errors import CallsignError, InvalidInput, StoreUnavailable
from callsign.store.sql import describe_store, store_fault

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def database_file(database_url: str) -> str | None:
    """The file of a SQLite database URL, or None (another store, in memory, a URI)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file:"):
        return url.database
    return None


def shown_url(database_url: str) -> str:
    """A database URL as it may be shown: without its password."""
    return make_url(database_url).render_as_string(hide_password=True)


@dataclass(frozen=True)
class Timeouts:
    """How long a PostgreSQL session may wait or run, in seconds (0 turns a limit off).

    ``lock``: a statement waiting for a row (or any lock) another transaction holds gives
    up after this long; the call path then passes that number over. ``statement``: any
    statement. ``idle_in_transaction``: PostgreSQL ends a session whose transaction sat
    idle this long (a stuck client no longer holds its rows forever). ``connect``: opening
    a connection.
    """

    lock: float = 2.0
    statement: float = 5.0
    idle_in_transaction: float = 30.0
    connect: float = 5.0

    ENVIRONMENT: ClassVar[dict[str, str]] = {
        "lock": "CALLSIGN_PG_LOCK_TIMEOUT", "statement": "CALLSIGN_PG_STATEMENT_TIMEOUT",
        "idle_in_transaction": "CALLSIGN_PG_IDLE_IN_TRANSACTION_TIMEOUT",
        "connect": "CALLSIGN_PG_CONNECT_TIMEOUT",
    }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Timeouts:
        """The timeouts ``environ``'s CALLSIGN_PG_* variables set (callsign.config reads
        them), the defaults for the others."""
        values: dict[str, float] = {}
        for name, variable in cls.ENVIRONMENT.items():
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            try:
                value = float(raw)
            except ValueError:
                value = -1.0
            if not 0 <= value <= 86_400:
                raise InvalidInput(f"{raw!r} is not a number of seconds from 0 to 86400",
                                   field=variable)
            values[name] = value
        return cls(**values)

    def session_settings(self) -> str:
        """The SET statements of a new PostgreSQL session."""
        return "; ".join(
            f"SET {setting} = {round(seconds * 1000)}" for setting, seconds in (
                ("lock_timeout", self.lock), ("statement_timeout", self.statement),
                ("idle_in_transaction_session_timeout", self.idle_in_transaction)))


def create_store_engine(url: str, *, timeouts: Timeouts | None = None,
                        environ: Mapping[str, str] | None = None) -> Engine:
    """An engine for ``url`` with the settings callsign relies on, migrated to head;
    a PostgreSQL one with ``timeouts``, or those ``environ``'s variables set.

    A store that cannot be opened (unreachable, damaged, not a database) raises
    StoreUnavailable, whose message names the store and what to do.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInput(f"{url!r} is not a database URL", field="database_url") from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(parsed)
        else:
            engine = _server_engine(parsed, timeouts or Timeouts.from_environment(environ or {}))
    except NoSuchModuleError as exc:
        raise InvalidInput(f"{parsed.drivername!r} is not a database callsign can use "
                           "(sqlite or postgresql+psycopg)", field="database_url") from exc
    except (DBAPIError, sqlite3.Error) as exc:
        raise _fault(exc, parsed) from exc
    try:
        migrate(engine)
    except (DBAPIError, sqlite3.Error) as exc:
        engine.dispose()
        raise _fault(exc, parsed) from exc
    return engine


def _fault(error: BaseException, url: URL) -> CallsignError:
    """A store that cannot be opened, as one line naming it and what to do."""
    fault = store_fault(error, url)
    if fault is None:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        fault = StoreUnavailable(f"cannot open {describe_store(url)}: {reason}")
    return StoreUnavailable(fault.message, field="database_url")


def _server_engine(url: URL, timeouts: Timeouts) -> Engine:
    """PostgreSQL: a pool per process sized for a busy worker.

    Connections are not pinged before use (a round trip per request): a connection the
    server dropped (a terminated backend, a restart) fails on use instead, the unit of
    work recycles the pool and says so (``ConnectionDropped``), and the call path runs
    once more on a new connection.
    """
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query and timeouts.connect:
        connect_args["connect_timeout"] = max(1, round(timeouts.connect))
    # JSON columns (a decision's gathered reads come as JSON arrays) decoded by msgspec:
    # the same values as the standard library's in half its time (measured here).
    engine = create_engine(url, pool_size=10, max_overflow=20,
                           pool_recycle=1800, connect_args=connect_args,
                           json_deserializer=msgspec.json.decode)
    session = timeouts.session_settings()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The call path's statements are prepared by the driver; PostgreSQL kept
        # re-planning the candidates query for each call (0.75 ms against 0.24 ms with
        # the generic plan, measured on 1M numbers), so use generic plans throughout.
        dbapi_connection.execute("SET plan_cache_mode = force_generic_plan")
        # No request waits on another transaction's rows, or runs, without limit.
        dbapi_connection.execute(session)
        dbapi_connection.commit()

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        # The call path sends its own BEGIN (with its reads, ``calls.SqlCalls.read_ahead``)
        # in autocommit mode; a connection goes back to the pool as it came out, rolled
        # back, or not at all.
        if dbapi_connection is None or not dbapi_connection.autocommit:
            return
        try:
            dbapi_connection.rollback()
            dbapi_connection.autocommit = False
        except Exception as error:  # whatever it was, the connection goes
            record.invalidate(error)

    return engine


_FILE = "callsign_sqlite_file"  # a pooled connection's (path, identity of its file)
_WAL = "callsign_sqlite_wal"  # the identity of its -wal file


class _FileConnection(sqlite3.Connection):
    """A connection to a SQLite file that knows which file (device, inode) it opened."""

    identity: tuple[int, int] | None = None


# This process's open connections, by path. A file replaced under open connections must
# not be opened until they are all closed: a new connection would otherwise read the old
# file's -wal and -shm files, which keep their names, as if they were the new file's.
_OPEN: dict[str, weakref.WeakSet[_FileConnection]] = {}
_OPEN_LOCK = threading.Lock()
# Which file each -wal file this process used belonged to, by path. SQLite leaves the -wal
# of a file deleted or replaced under open connections in place, and would read it as the
# new file's -wal: the new file must not be opened while it is there.
_WAL_OWNERS: dict[str, dict[tuple[int, int], tuple[int, int] | None]] = {}
# The file this process last opened at each path. When another file has taken its place,
# a -wal written before that file appeared is the old file's, whoever else opened it.
_SEEN: dict[str, tuple[int, int] | None] = {}
# Paths whose file was noticed deleted or replaced and not opened since. A file restored
# at the path may even get the old one's inode number back, so this is remembered apart.
_MOVED: set[str] = set()


def _noticed_moved(path: str) -> None:
    with _OPEN_LOCK:
        _MOVED.add(path)


def _written_before(wal: str, database: str) -> bool:
    """Whether ``wal`` was last written before ``database`` came to be (or changed)."""
    try:
        return os.stat(wal).st_mtime_ns <= os.stat(database).st_ctime_ns
    except OSError:
        return False


def _open_file(path: str) -> sqlite3.Connection:
    before = _identity(path)
    wal = _identity(f"{path}-wal")
    with _OPEN_LOCK:
        stale = sum(1 for c in _OPEN.get(path, ()) if c.identity != before)
        owner = _WAL_OWNERS.get(path, {}).get(wal, before) if wal else before
        seen = _SEEN.get(path, before)
        moved = before is not None and (seen != before or path in _MOVED)
    if before is not None and (owner != before or (
            moved and wal is not None and _written_before(f"{path}-wal", path))):
        raise StoreUnavailable(
            f"the SQLite database {path} was deleted or replaced while in use, and the old "
            f"file's {path}-wal and {path}-shm files are still there: SQLite would read them "
            "as the new file's and damage it. Stop every other process using the file, "
            "delete those two files, and callsign reopens the database by itself")
    if before is not None and stale:
        raise StoreUnavailable(f"the SQLite database {path} was replaced while in use; it is "
                               f"reopened once this worker's {stale} connection(s) to the old "
                               "file are closed: retry shortly")
    # mode=rw: a file deleted while serving is never silently created again, empty.
    conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=30,
                           check_same_thread=False, factory=_FileConnection)
    conn.identity = _identity(path)
    if conn.identity != before:
        conn.close()
        raise StoreUnavailable(f"the SQLite database {path} was replaced while being opened; "
                               "retry")
    with _OPEN_LOCK:
        _OPEN.setdefault(path, weakref.WeakSet()).add(conn)
        _SEEN[path] = conn.identity
        _MOVED.discard(path)
    return conn


def _forget(dbapi_connection: Any, _record: Any = None) -> None:
    if isinstance(dbapi_connection, _FileConnection):
        with _OPEN_LOCK:
            for connections in _OPEN.values():
                connections.discard(dbapi_connection)


def _sqlite_engine(url: URL) -> Engine:
    path = _file_path(url)
    if path is None:  # in memory, or a URI of the caller's own: taken as given
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    else:
        if not os.path.exists(path):
            sqlite3.connect(path).close()  # a new store: the only time the file is created
        engine = create_engine(url, creator=functools.partial(_open_file, path))
        event.listen(engine, "close", _forget)
        event.listen(engine, "close_detached", _forget)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on the disk before it is acknowledged, and survives power loss
        # (NORMAL survives a crash of callsign only); the decision lane commits decisions
        # in groups, so one fsync serves many (store/lane.py).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        if isinstance(dbapi_connection, _FileConnection) and path is not None:
            record.info[_FILE] = (path, dbapi_connection.identity)

    if path is not None:
        _watch_the_file(engine, path)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred BEGIN that reads then writes fails with "database is locked" when
        # another process wrote in between; taking the write lock up front cannot.
        # Sent to the driver directly: through exec_driver_sql it cost ~50 µs a call.
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute("BEGIN IMMEDIATE")

    return engine


def _watch_the_file(engine: Engine, path: str) -> None:
    """Pooled connections to the SQLite file at ``path`` notice it deleted or replaced."""

    @event.listens_for(engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # A file deleted or replaced under a pooled connection: drop every pooled
        # connection and open the file now at the path (or fail: it is gone).
        if _identity(path) != record.info[_FILE][1]:
            _noticed_moved(path)
            raise InvalidatePoolError(f"{path} was deleted or replaced")

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        _note_wal(dbapi_connection, record.info, path)


def _note_wal(dbapi_connection: Any, info: dict[str, Any], path: str) -> None:
    # The -wal file exists once the connection has read; note once whose it is.
    if info.get(_WAL) is None and isinstance(dbapi_connection, _FileConnection):
        wal = _identity(f"{path}-wal")
        if wal is not None and _identity(path) == dbapi_connection.identity:
            info[_WAL] = wal
            with _OPEN_LOCK:
                _WAL_OWNERS.setdefault(path, {})[wal] = dbapi_connection.identity


def note_store_file(connection: Connection) -> None:
    """What a pooled connection notes at checkin, for one held out of the pool (the
    decision lane's writer): whose -wal file it uses, once it has used one."""
    known = connection.connection.info.get(_FILE)
    if known is not None:
        _note_wal(connection.connection.dbapi_connection, connection.connection.info,
                  known[0])


def _file_path(url: URL) -> str | None:
    """The absolute path of a SQLite file URL, or None (memory, URI filenames, options)."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:") or url.query:
        return None
    return os.path.abspath(database)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


def verify_store_file(connection: Connection) -> None:
    """StoreUnavailable if the SQLite file under ``connection`` was deleted or replaced
    since it was opened: what would be committed would land in a file nobody reads."""
    known = connection.connection.info.get(_FILE)
    if known is None:
        return
    path, identity = known
    if _identity(path) != identity:
        _noticed_moved(path)
        state = "deleted" if _identity(path) is None else "replaced by another file"
        raise StoreUnavailable(f"the SQLite database {path} was {state} while in use; "
                               "nothing was stored. Restore the file: callsign reopens it "
                               "by itself")


def store_problem(engine: Engine) -> StoreUnavailable | None:
    """Why the store cannot serve writes now (readiness), or None: a real write on SQLite
    (catches a deleted, replaced, read-only or full file), and on PostgreSQL a read that
    also tells a read-only server."""
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                try:
                    with conn.begin():
                        driver = conn.connection.driver_connection
                        assert driver is not None
                        version = int(driver.execute("PRAGMA user_version").fetchone()[0])
                        driver.execute(f"PRAGMA user_version = {version}")  # the header
                        verify_store_file(conn)
                except (sqlite3.Error, DBAPIError, StoreUnavailable):
                    # A connection opened while the file was read-only stays read-only:
                    # the next check opens a new one, to see the file as it is then.
                    conn.invalidate()
                    raise
            else:
                row = conn.exec_driver_sql(
                    "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')"
                ).one()
                if row[0] or row[1] == "on":
                    return StoreUnavailable(f"{describe_store(engine.url)} is read-only (a "
                                            "standby, or default_transaction_read_only); "
                                            "point callsign at the primary")
    except (DBAPIError, sqlite3.Error, SQLAlchemyTimeoutError, StoreUnavailable) as exc:
        fault = store_fault(exc, engine.url)
        if fault is None:
            raise
        return fault
    return None


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache
def newest_revision() -> str | None:
    """The head of the migrations, read from their files without Alembic (None if they do
    not read as one line of revisions: Alembic then says)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revisions.update(re.findall(r"^revision\b[^=\n]*=\s*['\"]([^'\"]+)['\"]", text, re.M))
        parents.update(re.findall(r"^down_revision\b[^=\n]*=\s*['\"]([^'\"]+)['\"]", text,
                                  re.M))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _current_revisions(engine: Engine) -> list[str]:
    """The revisions the store's schema is at (none before the first migration)."""
    with engine.connect() as probe:
        if not inspect(probe).has_table("alembic_version"):
            return []
        return [str(row[0]) for row in
                probe.exec_driver_sql("SELECT version_num FROM alembic_version")]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration, inside one locked transaction. A store
    already there is told by one read, without Alembic: a worker starting on a migrated
    store never imports it."""
    newest = newest_revision()
    if newest is not None and _current_revisions(engine) == [newest]:
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    with engine.connect() as probe:
        if MigrationContext.configure(probe).get_current_revision() == head:
            return
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Several servers may start at once; one migrates, the others wait for it
            # (however long it takes: the session's timeouts do not apply here).
            connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(72451)")
        command.upgrade(_alembic_config(connection), "head")
