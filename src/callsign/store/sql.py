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
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

_PARAM = re.compile(r"(?<![:\w]):(\w+)")


class Statement:
    """One SQL statement with ``:name`` parameters, adapted to the driver's paramstyle.

    A parameter named in ``lists`` takes a sequence and expands to ``(:v0, :v1, ...)``.
    """

    def __init__(self, sql: str, *, lists: Sequence[str] = ()) -> None:
        self.sql = " ".join(sql.split())
        self.lists = tuple(lists)
        self._rendered: dict[tuple[str, tuple[int, ...]], str] = {}

    def _render(self, paramstyle: str, sizes: tuple[int, ...]) -> str:
        key = (paramstyle, sizes)
        sql = self._rendered.get(key)
        if sql is None:
            sql = self.sql
            for name, size in zip(self.lists, sizes, strict=True):
                items = ", ".join(f":{name}_{i}" for i in range(size)) or "NULL"
                sql = sql.replace(f":{name}", f"({items})")
            if paramstyle == "pyformat":
                sql = _PARAM.sub(r"%(\1)s", sql)
            self._rendered[key] = sql
        return sql

    def run(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Execute on ``conn``'s driver connection; returns the DB-API cursor."""
        values = dict(params)
        sizes = []
        for name in self.lists:
            items = values.pop(name)
            sizes.append(len(items))
            values.update({f"{name}_{i}": item for i, item in enumerate(items)})
        sql = self._render(conn.dialect.paramstyle, tuple(sizes))
        driver = conn.connection.driver_connection
        assert driver is not None
        return driver.execute(sql, values)


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
