"""Decision lanes: where a worker runs the call path's units of work, off its event loop.

The API's handlers on the call path are ``async``: each hands its work (a function of a
unit of work, e.g. ``lambda uow: place_call(uow, request, ...)``) to its process's lane
and awaits the answer, so the event loop never waits for the store.

- SQLite (``WriterLane``): one writer thread per process, holding one connection, commits
  the units waiting for it in groups (group commit): it takes up to ``BATCH`` of them,
  sends ``BEGIN IMMEDIATE``, runs each inside a SAVEPOINT of its own (a unit that raises,
  or does not commit, is rolled back to it and only its caller gets the error), then ONE
  ``COMMIT``. Each caller is answered once that COMMIT succeeded; when BEGIN or COMMIT
  fails, every caller of the batch gets StoreUnavailable and none of the batch landed.
  One fsync then serves a whole batch, which makes ``synchronous=FULL`` (durable on power
  loss) affordable. Before each batch the writer waits for its process's turn at the
  file (``store/turns.py``): the writers of several workers alternate batches instead of
  one starving the others in SQLite's busy handler; the units handed in meanwhile join
  the batch. Work that reads first (``ReadsFirst``: the call path's ``CallPlacement``)
  does its reads and its pure decision on a reader thread first, in a read transaction
  of its own (WAL lets it run beside any writer, of this worker or another), so only
  its checks, its claim and its writes take the writer's time.
- PostgreSQL (``PooledLane``): a bounded pool of threads (THREADS, within the engine's pool),
  each running units as before: a ``UnitOfWork`` per unit on a pooled connection, with
  the read-ahead path of ``store/calls.py`` unchanged. An async driver would let one
  thread keep several decisions in flight; threads were chosen instead to keep ONE
  implementation of the decision path (synchronous, the same on both stores), and
  psycopg releases the GIL while it waits for the server, so the worker's other threads
  and its event loop run meanwhile.

Both are bounded: past ``WAITING`` units waiting, ``run`` refuses at once with
StoreUnavailable (503, retry), never a hang.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, RootTransaction

from callsign.domain.errors import CallsignError, StoreUnavailable
from callsign.store.calls import SqlCalls
from callsign.store.db import database_file, note_store_file, verify_store_file
from callsign.store.sql import describe_store, store_fault
from callsign.store.turns import writer_turns
from callsign.store.uow import DRIVER_ERRORS, UnitOfWork

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Work = Callable[[UnitOfWork], T]

BATCH = 64  # units committed together at most (SQLite)
WAITING = 1024  # units a worker lets wait for its lane before it answers 503
# PostgreSQL decisions in flight per worker. With 4, tests/e2e/test_crash_safety.py
# answered one to three 503s in each of three runs; the two logged were all "kept
# choosing this request as a deadlock's victim".
# A claim that fails (a turn lost, a cap full) keeps the row it locked to the end of its
# transaction, which goes on to claim another number; two such calls each hold the
# number the other wants next. Even taking the number's row first with FOR UPDATE does
# not help: a row that fails the re-check after the wait stays locked. Letting go needs
# ROLLBACK TO a savepoint taken before the claim (measured: it releases the row).
THREADS = 2
# A unit still waiting for its writer's turn this long gives up (503, nothing of it
# stored): another process holds the turn and does not let go (stopped, or stuck), as
# SQLite's busy timeout gave up before there were turns.
TURN_WAIT = 30.0
READERS = 2  # SQLite: reader threads per worker (each decision's reads and pure decision)


class ReadsFirst(Protocol[T_co]):
    """Work that can do its reads outside the write lock first: ``read`` on a unit that
    only reads gives the answer (not None) if the reads suffice, else the work is then
    called in a writer's batch as any other (and runs whole if ``read`` was not called)."""

    def read(self, uow: UnitOfWork) -> T_co | None:
        ...

    def __call__(self, uow: UnitOfWork) -> T_co:
        ...


class DecisionLane(Protocol):
    """Runs units of work for the event loop; ``run`` answers once the unit is durable."""

    async def run(self, work: Work[T]) -> T:
        """``work(uow)``'s result (or its error), run off the event loop."""
        ...

    async def close(self) -> None:
        """Refuse new work, finish what was handed in, and let the threads go."""
        ...


def decision_lane(engine: Engine, *, batch: int = BATCH, waiting: int = WAITING,
                  threads: int | None = None) -> DecisionLane:
    """The lane for ``engine``'s store: a writer on SQLite, a pool of threads otherwise
    (``threads``: THREADS unless given, never more than the engine's pool size)."""
    if engine.dialect.name == "sqlite":
        return WriterLane(engine, batch=batch, waiting=waiting)
    size = _pool_size(engine)
    return PooledLane(engine, threads=min(threads or THREADS, size), waiting=waiting)


def _pool_size(engine: Engine) -> int:
    size = getattr(engine.pool, "size", None)
    return max(1, int(size())) if callable(size) else 4


def _busy(waiting: int) -> StoreUnavailable:
    return StoreUnavailable(f"this server has {waiting} calls waiting for the store "
                            "already; retry shortly (or on another server)")


def _closed() -> StoreUnavailable:
    return StoreUnavailable("this server is shutting down; retry on another")


@dataclass
class _Pending:
    work: Work[Any]
    answer: concurrent.futures.Future[Any]


class WriterLane:
    """SQLite: one writer thread, one connection, group commit (see the module)."""

    def __init__(self, engine: Engine, *, batch: int = BATCH, waiting: int = WAITING,
                 before_turn: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.batch = batch
        self.waiting = waiting
        self._turns = writer_turns(engine, before_turn)
        self.commits = 0  # batches committed
        self.units = 0  # units answered after a commit
        self._pending: deque[_Pending] = deque()
        self._ready = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None
        # Readers beside the writer need a file in WAL mode (a database in memory is one
        # per connection).
        self._readers = concurrent.futures.ThreadPoolExecutor(
            max_workers=READERS, thread_name_prefix="callsign-reader") \
            if database_file(engine.url.render_as_string(hide_password=False)) else None
        self._local = threading.local()  # a reader thread's own connection
        self._reading: list[Connection] = []  # the readers' connections, closed at close

    @property
    def queued(self) -> int:
        """Units handed in and not taken by the writer yet."""
        with self._ready:
            return len(self._pending)

    async def run(self, work: Work[T]) -> T:
        answer: concurrent.futures.Future[T] = concurrent.futures.Future()
        read = getattr(work, "read", None)  # ReadsFirst
        if read is not None and self._readers is not None:
            with self._ready:
                if self._closing:
                    raise _closed()
                if len(self._pending) >= self.waiting:
                    raise _busy(len(self._pending))
            # The reader hands the work on to the writer itself (the event loop is woken
            # once per decision, by its answer, not also between the two phases).
            try:
                self._readers.submit(self._read_then_queue, read, work, answer)
            except RuntimeError as error:  # closed meanwhile
                raise _closed() from error
        else:
            self._queue(work, answer)
        return await self._answer(answer)

    def _queue(self, work: Work[Any], answer: concurrent.futures.Future[Any]) -> None:
        """Hand ``work`` to the writer (any thread); StoreUnavailable when closing or full."""
        with self._ready:
            if self._closing:
                raise _closed()
            if len(self._pending) >= self.waiting:
                raise _busy(len(self._pending))
            self._pending.append(_Pending(work, answer))
            if self._thread is None:
                self._thread = threading.Thread(target=self._write, daemon=True,
                                                name="callsign-writer")
                self._thread.start()
            self._ready.notify()

    async def _answer(self, answer: concurrent.futures.Future[T]) -> T:
        """The lane's answer; StoreUnavailable if the writer has not started the unit
        within TURN_WAIT (the unit is then never run). The caller's cancellation leaves
        the unit to run: it may be in a batch already."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def settle() -> None:
            if not done.done():
                done.set_result(None)

        def finished(_: concurrent.futures.Future[T]) -> None:  # the answering thread
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle)

        answer.add_done_callback(finished)
        # Not started by then: given up (if the writer has it already, its answer comes).
        timer = loop.call_later(TURN_WAIT, answer.cancel)
        try:
            await done
        finally:
            timer.cancel()
        if answer.cancelled():
            raise StoreUnavailable(
                f"{self._describe()} was not free to write for {TURN_WAIT:g} s (another "
                "callsign process holds its write turn: stopped or stuck); nothing of this "
                "call was stored: retry")
        return answer.result()

    async def close(self) -> None:
        with self._ready:
            self._closing = True
            thread = self._thread
            self._ready.notify()
        if self._readers is not None:
            await asyncio.to_thread(self._readers.shutdown, True)
            for conn in self._reading:
                with contextlib.suppress(Exception):
                    conn.close()
            self._reading.clear()
        if thread is not None:
            await asyncio.to_thread(thread.join)

    def _read_then_queue(self, read: Callable[[UnitOfWork], Any], work: Work[Any],
                         answer: concurrent.futures.Future[Any]) -> None:
        """A reader thread: ``read``, then the answer it gives, or ``work`` handed to the
        writer (an answer given up on meanwhile is left alone)."""
        if answer.cancelled():
            return
        try:
            answered = self._read(read)
            if answered is None:
                self._queue(work, answer)
                return
        except BaseException as error:  # the call's own answer, or the lane refusing it
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                answer.set_exception(error)
            return
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            answer.set_result(answered)

    def _read(self, read: Callable[[UnitOfWork], Any]) -> Any:
        """``read`` on a unit that only reads: its answer, or None when the work is to be
        run in a batch (its reads failed on the store: the batch runs it whole, and the
        reader opens a new connection for the next)."""
        try:
            return read(ReadingUnit(self.engine, self._reading_connection()))
        except StoreUnavailable:
            self._drop_reading_connection()
            return None
        except CallsignError:  # the call's own answer (not found, invalid, a conflict)
            raise
        except DRIVER_ERRORS:
            self._drop_reading_connection()
            return None

    def _reading_connection(self) -> Connection:
        """This reader thread's connection, kept open between reads."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.engine.connect()
            self._local.conn = conn
            with self._ready:
                self._reading.append(conn)
        return conn

    def _drop_reading_connection(self) -> None:
        conn: Connection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is None:
            return
        with self._ready:
            if conn in self._reading:
                self._reading.remove(conn)
        with contextlib.suppress(Exception):
            conn.invalidate()
        with contextlib.suppress(Exception):
            conn.close()

    def _write(self) -> None:
        """The writer thread: a batch at a time until closed and drained."""
        try:
            while True:
                with self._ready:
                    while not self._pending and not self._closing:
                        self._ready.wait()
                    if not self._pending:
                        return
                # Units handed in while the writer waits for its turn join its batch.
                with self._turns.turn():
                    with self._ready:
                        taken = min(len(self._pending), self.batch)
                        batch = [self._pending.popleft() for _ in range(taken)]
                    try:
                        self._commit(batch)
                    except Exception as error:  # a fault of the lane's own: nobody waits
                        self._drop()
                        for pending in batch:
                            if not pending.answer.done():
                                pending.answer.set_exception(self._fault(error, "failed"))
        finally:
            self._drop()

    def _commit(self, batch: list[_Pending]) -> None:
        """Run ``batch`` in one transaction, each unit in its savepoint; answer everyone."""
        started = [p for p in batch if p.answer.set_running_or_notify_cancel()]
        if not started:
            return
        try:
            conn = self._connection()
            transaction = conn.begin()  # BEGIN IMMEDIATE (store/db.py)
        except Exception as error:  # every caller hears of it
            self._drop()
            self._fail(started, self._fault(error, "could not start"))
            return
        outcomes: list[tuple[bool, Any]] = []
        for pending in started:
            outcomes.append(self._unit(conn, pending.work))
            if not _in_transaction(conn):  # an error the store ended the transaction for
                self._abandon(transaction)
                self._fail(started, StoreUnavailable(
                    f"{self._describe()} ended a transaction on an error; nothing of "
                    "this call was stored: retry"), own=outcomes)
                return
        try:
            verify_store_file(conn)  # never commit into a file deleted or replaced
            transaction.commit()
        except Exception as error:  # the whole batch failed
            self._abandon(transaction)
            self._fail(started, self._fault(error, "could not commit"))
            return
        note_store_file(conn)
        self.commits += 1
        self.units += len(started)
        for pending, (ok, value) in zip(started, outcomes, strict=True):
            if ok:
                pending.answer.set_result(value)
            else:
                pending.answer.set_exception(value)

    def _unit(self, conn: Connection, work: Work[Any]) -> tuple[bool, Any]:
        """Run one unit in a savepoint: (True, its result) or (False, its error)."""
        driver = _driver(conn)
        try:
            driver.execute("SAVEPOINT lane_work")
        except DRIVER_ERRORS as error:
            return False, self._fault(error, "could not start")
        try:
            value = work(_BatchedUnit(self.engine, conn))
        except BaseException as error:  # the caller's, handed back to it
            with contextlib.suppress(*DRIVER_ERRORS):  # a failed transaction is told above
                driver.execute("ROLLBACK TO SAVEPOINT lane_work")
                driver.execute("RELEASE SAVEPOINT lane_work")
            return False, error
        try:
            driver.execute("RELEASE SAVEPOINT lane_work")
        except DRIVER_ERRORS as error:
            return False, self._fault(error, "could not keep")
        return True, value

    def _fail(self, started: list[_Pending], error: StoreUnavailable,
              own: list[tuple[bool, Any]] | None = None) -> None:
        """Every caller of a failed batch hears ``error`` (or its unit's own store fault)."""
        own = own or []
        for i, pending in enumerate(started):
            mine = own[i][1] if i < len(own) and not own[i][0] else None
            pending.answer.set_exception(mine if isinstance(mine, StoreUnavailable)
                                         else error)

    def _connection(self) -> Connection:
        """The writer's connection, opened anew when its file was deleted or replaced."""
        if self._conn is not None:
            try:
                verify_store_file(self._conn)
            except StoreUnavailable:
                self._drop()
        if self._conn is None:
            self._conn = self.engine.connect()
        return self._conn

    def _abandon(self, transaction: RootTransaction) -> None:
        """Roll the batch back; the connection stays (a file deleted or replaced is found
        before the next batch), unless the rollback fails too. Closing it might be the
        last connection's close, which checkpoints and deletes the -wal file: a full disk
        would then look writable again to readiness, though decisions still fail."""
        conn = self._conn
        try:
            with contextlib.suppress(*DRIVER_ERRORS):
                transaction.rollback()
            # A failed COMMIT leaves SQLite's transaction open, unbeknown to SQLAlchemy.
            if conn is not None and _in_transaction(conn):
                _driver(conn).rollback()
        except Exception:  # whatever it was, the connection goes
            self._drop()

    def _drop(self) -> None:
        """Close the connection (rolling back whatever it had begun); the next batch opens
        a new one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
            with contextlib.suppress(Exception):
                conn.close()

    def _fault(self, error: BaseException, doing: str) -> StoreUnavailable:
        if isinstance(error, StoreUnavailable):
            return error
        fault = store_fault(error, self.engine.url)
        if fault is not None:
            return fault
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[:1]
        return StoreUnavailable(f"{self._describe()} {doing} the transaction of this call "
                                f"and the others written with it ({''.join(reason)}); "
                                "nothing was stored: retry")

    def _describe(self) -> str:
        return describe_store(self.engine.url)


def _driver(conn: Connection) -> Any:
    driver = conn.connection.driver_connection
    assert driver is not None
    return driver


def _in_transaction(conn: Connection) -> bool:
    return bool(_driver(conn).in_transaction)


class _BatchedUnit(UnitOfWork):
    """A unit inside the writer's transaction: ``with`` is a savepoint, ``commit()``
    releases it (the batch's COMMIT makes it durable), leaving ``with`` without commit
    rolls back to it. Entered again (a call run once more), it opens a new savepoint."""

    def __init__(self, engine: Engine, connection: Connection) -> None:
        super().__init__(engine)
        self.connection = connection
        self._savepoints: list[list[Any]] = []  # [name, released] from the outermost

    def __enter__(self) -> _BatchedUnit:
        self.dropped = False
        name = f"lane_unit_{len(self._savepoints)}"
        try:
            _driver(self.connection).execute(f"SAVEPOINT {name}")
        except DRIVER_ERRORS as error:
            raise self._translated(error) from error
        self._savepoints.append([name, False])
        self.calls = SqlCalls(self.connection)
        return self

    def commit(self) -> None:
        # The batch checks the file once, before its COMMIT (not a stat per unit).
        self.calls.commit()
        savepoint = self._savepoints[-1]
        _driver(self.connection).execute(f"RELEASE SAVEPOINT {savepoint[0]}")
        savepoint[1] = True

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        name, released = self._savepoints.pop()
        if not released:
            try:
                driver = _driver(self.connection)
                driver.execute(f"ROLLBACK TO SAVEPOINT {name}")
                driver.execute(f"RELEASE SAVEPOINT {name}")
            except DRIVER_ERRORS as failed:
                if error is None:
                    raise self._translated(failed) from failed
        if isinstance(error, DRIVER_ERRORS) and not isinstance(error, self.deadlocked):
            fault = store_fault(error, self.engine.url)
            if fault is not None:
                raise fault from error


class ReadingUnit(UnitOfWork):
    """A unit that only reads, in a read transaction (a deferred BEGIN: no write lock),
    on a pooled connection, or on ``connection`` when given (a reader thread's own, kept
    open between units: checked to be on the file at the path, not taken from the pool
    and given back each time); it commits nothing."""

    def __init__(self, engine: Engine, connection: Connection | None = None) -> None:
        super().__init__(engine)
        self._held = connection

    def __enter__(self) -> ReadingUnit:
        self._committing = False
        self.dropped = False
        try:
            if self._held is not None:
                verify_store_file(self._held)
                self.connection = self._held
            else:
                self.connection = self.engine.connect()
            _driver(self.connection).execute("BEGIN")
        except DRIVER_ERRORS as error:
            raise self._translated(error) from error
        self.calls = SqlCalls(self.connection)
        return self

    def commit(self) -> None:
        raise RuntimeError("a reading unit of work commits nothing")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            driver = _driver(self.connection)
            if driver.in_transaction:
                driver.execute("ROLLBACK")
        finally:
            if self._held is None:
                self.connection.close()


class PooledLane:
    """PostgreSQL: units on a bounded pool of threads, each its own pooled connection."""

    def __init__(self, engine: Engine, *, threads: int, waiting: int = WAITING) -> None:
        self.engine = engine
        self.threads = threads
        self.waiting = waiting
        self.units = 0
        self._count = threading.Lock()
        self._handed = 0  # units handed in and not answered (touched on the event loop)
        self._closing = False
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="callsign-lane")

    async def run(self, work: Work[T]) -> T:
        if self._closing:
            raise _closed()
        if self._handed >= self.threads + self.waiting:
            raise _busy(self._handed - self.threads)
        self._handed += 1
        try:
            return await asyncio.wrap_future(self._executor.submit(self._one, work))
        finally:
            self._handed -= 1

    def _one(self, work: Work[T]) -> T:
        value = work(UnitOfWork(self.engine))
        with self._count:
            self.units += 1
        return value

    async def close(self) -> None:
        self._closing = True
        await asyncio.to_thread(self._executor.shutdown, True)
