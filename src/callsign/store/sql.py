"""Statements of the call path, run on the DB-API connection inside SQLAlchemy's transaction.

Measured here (SQLite, one indexed read): SQLAlchemy ``execute(text(...))`` with typed
columns took ~88 µs, ``exec_driver_sql`` ~26 µs, and the DB-API cursor ~5 µs. A decision
runs seven statements, so the call path speaks to the driver directly, with SQL that
SQLite and PostgreSQL both run; everything else (schema, migrations, pooling,
transactions, the admin and config paths) stays with SQLAlchemy.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg import RawCursor
from sqlalchemy import URL, Connection, Engine
from sqlalchemy import exc as sqlalchemy_exc
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from callsign.domain.errors import CallsignError, InvalidInput, StoreUnavailable

_PARAM = re.compile(r"(?<![:\w]):(\w+)")


class Statement:
    """One SQL statement with ``:name`` parameters, adapted to the driver's paramstyle.

    A parameter named in ``lists`` takes a sequence and expands to ``(:v0, :v1, ...)``.

    On PostgreSQL the statement is sent with numbered parameters (``$1``, a name used
    twice is one parameter, as psycopg makes of ``%(name)s``) through a raw cursor: the
    same SQL on the server, the same values adapted alike, without psycopg's rewriting
    of the query and reordering of the values on each call (a fifth of the driver's
    time per statement, profiled on the decision path).
    """

    def __init__(self, sql: str, *, lists: Sequence[str] = ()) -> None:
        self.sql = " ".join(sql.split())
        self.lists = tuple(lists)
        self._rendered: dict[tuple[str, tuple[int, ...]], str] = {}
        self._numbered: dict[tuple[int, ...], tuple[bytes, tuple[str, ...]]] = {}

    def _expanded(self, sizes: tuple[int, ...]) -> str:
        sql = self.sql
        for name, size in zip(self.lists, sizes, strict=True):
            items = ", ".join(f":{name}_{i}" for i in range(size)) or "NULL"
            sql = sql.replace(f":{name}", f"({items})")
        return sql

    def _render(self, paramstyle: str, sizes: tuple[int, ...]) -> str:
        key = (paramstyle, sizes)
        sql = self._rendered.get(key)
        if sql is None:
            sql = self._expanded(sizes)
            if paramstyle == "pyformat":
                sql = _PARAM.sub(r"%(\1)s", sql)
            self._rendered[key] = sql
        return sql

    def _render_numbered(self, sizes: tuple[int, ...]) -> tuple[bytes, tuple[str, ...]]:
        """PostgreSQL: the SQL with ``$n`` parameters, and the name of each n."""
        rendered = self._numbered.get(sizes)
        if rendered is None:
            names: list[str] = []

            def number(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in names:
                    names.append(name)
                return f"${names.index(name) + 1}"

            sql = _PARAM.sub(number, self._expanded(sizes))
            rendered = self._numbered[sizes] = (sql.encode(), tuple(names))
        return rendered

    def run(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Execute on ``conn``'s driver connection; returns the DB-API cursor."""
        values = params
        sizes: tuple[int, ...] = ()
        if self.lists:
            values = dict(params)
            counts = []
            for name in self.lists:
                items = values.pop(name)
                counts.append(len(items))
                values.update({f"{name}_{i}": item for i, item in enumerate(items)})
            sizes = tuple(counts)
        driver = conn.connection.driver_connection
        assert driver is not None
        if conn.dialect.name == "postgresql":
            sql, names = self._render_numbered(sizes)
            return RawCursor(driver).execute(sql, [values[name] for name in names])
        return driver.execute(self._render(conn.dialect.paramstyle, sizes), values)


def time_param(conn: Connection, moment: datetime) -> Any:
    """A timezone-aware time as this backend stores it (SQLite: naive UTC text)."""
    if conn.dialect.name == "sqlite":
        # The same text SQLAlchemy's SQLite DateTime writes, so both read it alike.
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def time_value(value: Any) -> datetime:
    """A stored time as a timezone-aware UTC datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def json_value(value: Any) -> Any:
    """A stored JSON value, decoded (PostgreSQL's driver decodes it already)."""
    return json.loads(value) if isinstance(value, str) else value


def json_param(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def integrity_errors(engine: Engine) -> tuple[type[Exception], ...]:
    """The constraint-violation errors of SQLAlchemy and of the driver under it."""
    dbapi = engine.dialect.dbapi
    driver_error = getattr(dbapi, "IntegrityError", IntegrityError)
    return (IntegrityError, driver_error)


def deadlock_errors(engine: Engine) -> tuple[type[Exception], ...]:
    """Errors after which the whole transaction may simply run again (PostgreSQL chose it
    as a deadlock's victim, or could not serialize it)."""
    if engine.dialect.name != "postgresql":
        return ()
    from psycopg import errors

    return (errors.DeadlockDetected, errors.SerializationFailure)


def lock_wait_errors(engine: Engine) -> tuple[type[Exception], ...]:
    """Errors of a statement that waited longer than ``lock_timeout`` for a row (or other
    lock) another transaction holds; the transaction is then aborted (PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return ()
    from psycopg import errors

    return (errors.LockNotAvailable,)


def describe_store(url: URL) -> str:
    """The store as an operator names it: a SQLite file's path, or PostgreSQL's address."""
    if url.get_backend_name() == "sqlite":
        return f"the SQLite database {url.database or ':memory:'}"
    where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
    return f"PostgreSQL at {where}"


# SQLite's primary result codes (``sqlite_errorname`` up to its first "_" after SQLITE_)
# that say the store cannot serve now, and what the operator should do.
_SQLITE_FAULTS = {
    "SQLITE_BUSY": "stayed locked by another process past the busy timeout; retry shortly",
    "SQLITE_LOCKED": "stayed locked by another process past the busy timeout; retry shortly",
    "SQLITE_READONLY": "is read-only; make the file, its -wal file and its folder writable",
    "SQLITE_FULL": "cannot grow: the disk is full; free space on it",
    "SQLITE_IOERR": "cannot be read or written (disk I/O error); check the disk, that the "
                    "file and its -wal file are writable, and that the file is in place",
    "SQLITE_CANTOPEN": "cannot be opened: the file is missing (deleted or moved?) or its "
                       "folder is not accessible; restore the file",
    "SQLITE_NOTADB": "is not a SQLite database; restore the file from a backup or point "
                     "CALLSIGN_DATABASE_URL (--db) at the right file",
    "SQLITE_CORRUPT": "is damaged; restore the file from a backup",
    "SQLITE_PERM": "may not be accessed; check the file's permissions",
    "SQLITE_NOMEM": "ran out of memory",
}

# PostgreSQL SQLSTATEs (or their class, the first two characters) that say the store cannot
# serve now. (The call path runs a deadlock's victim again before it comes to this.)
_POSTGRES_FAULTS = {
    "55P03": "kept a row this request needs locked by another transaction past lock_timeout "
             "(a long transaction or an open session holds it); retry shortly",
    "57014": "cancelled a statement that ran past statement_timeout; retry shortly",
    "25006": "is read-only (a standby, or default_transaction_read_only); point callsign at "
             "the primary",
    "25P03": "ended a transaction left idle past idle_in_transaction_session_timeout; retry",
    "53": "is out of resources (disk full, out of memory or too many connections); free "
          "space or raise max_connections",
    "57": "is shutting down, starting up or ended the session; retry shortly",
    "08": "cannot be reached; check that it is running and accepts connections",
    "40": "kept choosing this request as a deadlock's victim; retry",
}


def driver_error(error: BaseException, url: URL | str) -> CallsignError | None:
    """What an error of the drivers (sqlite3, psycopg) or of SQLAlchemy means in the
    domain's words, or None when it means a bug.

    The one place that translates them: a value the store refuses (a NUL character, a
    number out of range) is InvalidInput; a store that cannot serve now is StoreUnavailable
    (see ``store_fault``). Units of work raise store faults already; the entrypoints ask
    this for whatever a driver raised outside one.
    """
    if isinstance(error, CallsignError):
        return error
    if _refused_value(error):
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return InvalidInput(f"a value cannot be stored: {reason}", field=None)
    return store_fault(error, make_url(url) if isinstance(url, str) else url)


def _refused_value(error: BaseException) -> bool:
    if isinstance(error, sqlalchemy_exc.DataError):
        return True
    if not type(error).__module__.startswith("psycopg"):
        return False
    import psycopg

    return isinstance(error, psycopg.DataError)


def store_fault(error: BaseException, url: URL) -> StoreUnavailable | None:
    """The StoreUnavailable that a driver error means, or None if it is no store fault.

    The one place where errors of sqlite3, psycopg and SQLAlchemy's pool become the
    domain's: the API answers it with 503, the CLI with its exit code, ``/readyz`` with 503.
    """
    if isinstance(error, StoreUnavailable):
        return error
    where = describe_store(url)
    if isinstance(error, sqlalchemy_exc.TimeoutError):
        return StoreUnavailable(f"{where} has no free connection (all of this worker's are in "
                                "use); retry shortly")
    orig: BaseException = getattr(error, "orig", None) or error
    if isinstance(orig, sqlite3.DatabaseError):
        return _sqlite_fault(orig, where)
    if type(orig).__module__.startswith("psycopg"):
        return _postgres_fault(orig, where)
    return None


def _sqlite_fault(error: sqlite3.DatabaseError, where: str) -> StoreUnavailable | None:
    name = getattr(error, "sqlite_errorname", "") or ""
    primary = "_".join(name.split("_")[:2])
    text = str(error)
    if primary not in _SQLITE_FAULTS:
        if primary in ("", "SQLITE_ERROR") and "no such table" in text:  # another database
            return StoreUnavailable(f"{where} has no callsign tables ({text}): the file was "
                                    "replaced; restore it or run callsign against it once "
                                    "to migrate it")
        if primary:  # a constraint, a bug: not the store's fault
            return None
        for sign, code in (("locked", "SQLITE_BUSY"), ("readonly", "SQLITE_READONLY"),
                           ("disk is full", "SQLITE_FULL"), ("disk I/O", "SQLITE_IOERR"),
                           ("unable to open", "SQLITE_CANTOPEN"),
                           ("not a database", "SQLITE_NOTADB"), ("malformed", "SQLITE_CORRUPT")):
            if sign in text:
                primary = code
                break
        else:
            return None
    return StoreUnavailable(f"{where} {_SQLITE_FAULTS[primary]} ({text})")


def _postgres_fault(error: BaseException, where: str) -> StoreUnavailable | None:
    import psycopg

    state = getattr(error, "sqlstate", None) or ""
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    hint = _POSTGRES_FAULTS.get(state) or _POSTGRES_FAULTS.get(state[:2])
    if hint is None:
        if state or not isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
            return None
        hint = _POSTGRES_FAULTS["08"]  # no SQLSTATE: the connection failed or was lost
    return StoreUnavailable(f"{where} {hint} ({reason})")
