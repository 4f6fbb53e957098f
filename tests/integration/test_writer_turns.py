"""Workers writing one SQLite file through their decision lanes take turns, batch by batch.

Two processes (spawned, as uvicorn's workers are) each run a WriterLane on one file. The
order of events is fixed by events between the processes, never by time: the first
process's first unit holds its batch open until the second process's writer waits for
its turn, each with units waiting behind. Each unit inserts (worker, seq) rows, so the
rows' order is the order of the commits.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from callsign.store.db import create_store_engine
from callsign.store.lane import WriterLane
from callsign.store.uow import UnitOfWork

pytestmark = pytest.mark.sqlite_only

HANG_GUARD = 600.0  # seconds: bounds a hung process, never a slow one
BATCH = 2
UNITS = 6  # units each process has waiting behind the first one's


def _insert(worker: str, seq: int) -> Callable[[UnitOfWork], None]:
    def unit(uow: UnitOfWork) -> None:
        uow.connection.exec_driver_sql("INSERT INTO turns (worker, seq) VALUES (?, ?)",
                                       (worker, seq))

    return unit


def _serve(url: str, main: Callable[[WriterLane], Awaitable[None]], opened: Any,
           before_turn: Callable[[], None] | None = None) -> None:
    """``main(lane)`` in this process, on a WriterLane of its own on ``url`` (``opened``
    is set once the store is open: opening it waits for a write lock held)."""
    engine = create_store_engine(url)
    opened.set()
    lane = WriterLane(engine, batch=BATCH, before_turn=before_turn)

    async def whole() -> None:
        try:
            await main(lane)
        finally:
            await lane.close()

    try:
        asyncio.run(whole())
    finally:
        engine.dispose()


def _first(url: str, opened: Any, running: Any, queued: Any, go: Any) -> None:
    """Worker A: its first unit holds its batch until ``go``; UNITS more wait behind it."""

    def hold(uow: UnitOfWork) -> None:
        _insert("A", 0)(uow)
        running.set()
        assert go.wait(HANG_GUARD)

    async def main(lane: WriterLane) -> None:
        holding = asyncio.ensure_future(lane.run(hold))
        assert await asyncio.to_thread(running.wait, HANG_GUARD)
        rest = [asyncio.ensure_future(lane.run(_insert("A", i))) for i in range(1, UNITS + 1)]
        await asyncio.sleep(0)  # each task runs up to its await: its unit is handed in
        assert lane.queued == UNITS
        queued.set()
        await asyncio.gather(holding, *rest)

    _serve(url, main, opened)


def _second(url: str, opened: Any, start: Any, waiting: Any, queued: Any) -> None:
    """Worker B: UNITS units, handed in at ``start`` (while A's batch is open);
    ``waiting`` is set as its writer is about to wait for its turn."""

    async def main(lane: WriterLane) -> None:
        assert await asyncio.to_thread(start.wait, HANG_GUARD)
        tasks = [asyncio.ensure_future(lane.run(_insert("B", i))) for i in range(UNITS)]
        await asyncio.sleep(0)  # all handed in; the writer waits for its turn meanwhile
        queued.set()
        await asyncio.gather(*tasks)

    _serve(url, main, opened, before_turn=waiting.set)


def _wait(event: Any, *processes: Any) -> bool:
    """Whether ``event`` came; False as soon as one of ``processes`` failed instead."""
    for _ in range(int(HANG_GUARD)):
        if event.wait(1.0):
            return True
        if any(p.exitcode not in (None, 0) for p in processes):
            return False
    return False


def test_two_busy_workers_on_one_sqlite_file_commit_batches_in_turn(
        db_url: str, engine: Engine) -> None:
    """While both have units waiting, A's and B's writers alternate whole batches: A's
    writer, done with its batch, never takes the write lock back ahead of B's."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE turns (worker TEXT NOT NULL, seq INTEGER NOT NULL)")
    context = multiprocessing.get_context("spawn")
    a_opened, running, a_queued, go = (context.Event() for _ in range(4))
    b_opened, start, b_waiting, b_queued = (context.Event() for _ in range(4))
    b = context.Process(target=_second, args=(db_url, b_opened, start, b_waiting, b_queued))
    a = context.Process(target=_first, args=(db_url, a_opened, running, a_queued, go))
    try:
        b.start()
        assert _wait(b_opened, b)  # before A holds the write lock
        a.start()
        for event in (a_opened, running, a_queued):
            assert _wait(event, a, b)
        start.set()
        for event in (b_waiting, b_queued):
            assert _wait(event, a, b)
        go.set()
        a.join(HANG_GUARD)
        b.join(HANG_GUARD)
        assert (a.exitcode, b.exitcode) == (0, 0)
    finally:
        for process in (a, b):
            if process.is_alive():
                process.kill()
    with engine.connect() as conn:
        rows = [(str(w), int(s)) for w, s in conn.exec_driver_sql(
            "SELECT worker, seq FROM turns ORDER BY rowid")]
    # A's held batch, then B's batch of two (B waited for MAIN holding GATE, so A, which
    # had its next batch ready, had to let B go first; without turns A took the write lock
    # straight back), and every unit of both, once. Later batches alternate too while both
    # writers wait, but on a loaded machine a writer may not be waiting yet when the other
    # finishes a batch: their later order is the scheduler's.
    expected = [("A", 0)]
    for i in range(0, UNITS, BATCH):
        expected += [("B", i), ("B", i + 1), ("A", i + 1), ("A", i + 2)]
    assert rows[:3] == expected[:3]
    assert sorted(rows) == sorted(expected)
