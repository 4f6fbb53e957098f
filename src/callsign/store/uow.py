"""A unit of work: one connection, one transaction; rollback unless committed.

Store faults (unreachable, read-only, full, locked past the timeouts, the SQLite file
deleted or replaced) leave it as StoreUnavailable, so every entrypoint answers them alike.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import TypeVar

from sqlalchemy import Connection as Connection  # the services' type of a unit's connection
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from callsign.domain.errors import CallsignError, StoreUnavailable
from callsign.store.calls import SqlCalls
from callsign.store.db import create_store_engine, store_problem, verify_store_file
from callsign.store.health_views import SqlHealthReads
from callsign.store.sql import (
    deadlock_errors,
    describe_store,
    driver_error,
    integrity_errors,
    lock_wait_errors,
    store_fault,
)

DRIVER_ERRORS: tuple[type[BaseException], ...] = (DBAPIError, SQLAlchemyTimeoutError,
                                                   sqlite3.Error)
try:  # the PostgreSQL driver is there whenever a PostgreSQL store is
    import psycopg

    DRIVER_ERRORS += (psycopg.Error,)
except ImportError:  # pragma: no cover
    pass


def _dropped(error: BaseException) -> bool:
    """Whether ``error`` says the server ended the session or the connection broke."""
    orig = getattr(error, "orig", None) or error
    if not type(orig).__module__.startswith("psycopg"):
        return False
    import psycopg

    state = getattr(orig, "sqlstate", None) or ""
    return state[:2] == "08" or state.startswith("57P") or (
        not state and isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError))


class UnitOfWork:
    """``with UnitOfWork(engine) as uow: ...; uow.commit()``: nothing lands without commit.

    The services' ``UnitOfWork`` (``services/ports.py``): ``calls`` is the call path's
    repository; ``connection`` is there for the services that still speak to the store's
    functions directly.
    """

    connection: Connection
    calls: SqlCalls
    health_reads: SqlHealthReads

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.raced = integrity_errors(engine)
        self.deadlocked = deadlock_errors(engine)
        self.lock_waited = lock_wait_errors(engine)
        self.dropped = False
        self._committing = False

    def describe(self) -> str:
        return describe_store(self.engine.url)

    def __enter__(self) -> UnitOfWork:
        self._committing = False
        self.dropped = False
        try:
            self.connection = self.engine.connect()
        except DRIVER_ERRORS as error:
            raise self._translated(error) from error
        try:
            self._transaction = self.connection.begin()
        except DRIVER_ERRORS as error:
            self.connection.close()
            raise self._translated(error) from error
        self.calls = SqlCalls(self.connection)
        self.health_reads = SqlHealthReads(self.connection)
        return self

    def commit(self) -> None:
        # A SQLite file deleted or replaced meanwhile: answer that, never commit into it.
        verify_store_file(self.connection)
        self._committing = True  # from here a lost connection may have committed
        self.calls.commit()  # PostgreSQL: the writes kept for it, with the COMMIT
        self._transaction.commit()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
            self.connection.close()
        except DRIVER_ERRORS as failed:
            if error is None:
                raise self._translated(failed) from failed
            # Failing already: the rollback on a lost connection changes nothing.
            with contextlib.suppress(*DRIVER_ERRORS):
                self.connection.invalidate()
        if isinstance(error, DRIVER_ERRORS) and not isinstance(
                error, self.deadlocked):  # the call path runs those again
            fault = store_fault(error, self.engine.url)
            if fault is not None and not self._committing and _dropped(error):
                # Nothing landed. The pool's other connections are most likely gone too
                # (a restart): open new ones from here on.
                self.engine.dispose()
                self.dropped = True
            if fault is not None:
                raise fault from error

    def _translated(self, error: BaseException) -> BaseException:
        return store_fault(error, self.engine.url) or error


T = TypeVar("T")


class Store:
    """An opened store: units of work, reads outside a transaction, readiness, and what a
    driver's error means. Built once per process by ``callsign.bootstrap``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, database_url: str, environ: Mapping[str, str] | None = None) -> Store:
        """The store at ``database_url``, migrated (StoreUnavailable if it cannot be);
        ``environ``: the CALLSIGN_PG_* settings of a PostgreSQL store."""
        return cls(create_store_engine(database_url, environ=environ))

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads that need no transaction (no write lock on SQLite)."""
        with self.engine.connect() as conn:
            yield conn

    def read(self, work: Callable[[Connection], T]) -> T:
        """``work`` on a connection for reads (no transaction); run once more, on a new
        connection, when the server had dropped the pooled one (none is pinged first)."""
        try:
            with self.engine.connect() as conn:
                return work(conn)
        except DRIVER_ERRORS as error:
            if not _dropped(error):
                raise
            self.engine.dispose()
        with self.engine.connect() as conn:
            return work(conn)

    def problem(self) -> StoreUnavailable | None:
        """Why the store cannot serve writes now (readiness), or None."""
        return store_problem(self.engine)

    def translated(self, error: BaseException) -> CallsignError | None:
        """``error`` in the domain's words if a driver raised it (see ``driver_error``)."""
        return driver_error(error, self.engine.url)

    def close(self) -> None:
        self.engine.dispose()
