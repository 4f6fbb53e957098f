"""SPEC 9: the periodic health sweep of `callsign serve`, on SQLite and PostgreSQL.

One sweeper at a time, across workers and processes, by a lease in the store; at most
one sweep per interval in all; the sweep runs off the event loop. Counts, not time: the
loops are bounded by ticks, and waits are hang guards only.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from sqlalchemy import Engine, select, update

from callsign.config import HEALTH_SWEEP, Settings, health_sweep_seconds
from callsign.domain.errors import InvalidInput
from callsign.services.health_sweep import Sweeper, keep_sweeping
from callsign.store import health as health_store
from callsign.store import leases
from callsign.store.db import create_store_engine
from callsign.store.tables import number_health, numbers
from callsign.store.uow import UnitOfWork

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EVERY = timedelta(minutes=10)
HANG_GUARD = 300  # seconds
LOCAL = "+13125550101"


def doc() -> dict[str, Any]:
    return {"org": "sweepy", "principal_number": "+12125550100",
            "numbers": [{"number": "+12125550100"}, {"number": LOCAL},
                        {"number": "+13125550102"}], "users": [{"id": "u1"}]}


def take(engine: Engine, holder: str, now: datetime) -> bool:
    with UnitOfWork(engine) as work:
        taken = leases.take(work.connection, "health_sweep", holder, now=now,
                            until=now + timedelta(minutes=15), due=now - EVERY)
        work.commit()
    return taken


def give_back(engine: Engine, holder: str, now: datetime) -> None:
    with UnitOfWork(engine) as work:
        leases.give_back(work.connection, "health_sweep", holder, now=now)
        work.commit()


def test_the_lease_lets_one_holder_at_a_time_and_one_run_per_interval(engine: Engine) -> None:
    assert take(engine, "a", NOW)
    assert not take(engine, "b", NOW + timedelta(seconds=1))  # a holds it
    give_back(engine, "a", NOW + timedelta(minutes=1))
    assert not take(engine, "b", NOW + timedelta(minutes=2))  # not due: ran a minute ago
    assert take(engine, "b", NOW + timedelta(minutes=11))  # 10 minutes after a's run ended
    # b dies holding it: the lease frees itself after 15 minutes.
    assert not take(engine, "a", NOW + timedelta(minutes=25))
    assert take(engine, "a", NOW + timedelta(minutes=26))


def test_a_sweep_restores_a_number_whose_rest_is_over(engine: Engine, apply_org: Any) -> None:
    apply_org(doc())
    rested = NOW - timedelta(days=8)
    with UnitOfWork(engine) as work:
        conn = work.connection
        number_id, org_id = conn.execute(select(numbers.c.id, numbers.c.org_id).where(
            numbers.c.e164 == LOCAL)).one()
        conn.execute(update(numbers).where(numbers.c.id == number_id).values(status="resting"))
        health_store.save(conn, org_id, number_id, {
            "state": "resting", "score": 20, "reasons": ["608 Rejected on 11-23"],
            "since": rested, "window_since": rested, "rest_until": rested + timedelta(days=7),
            "updated_at": rested})
        work.commit()
    sweeper = Sweeper(lambda: UnitOfWork(engine), every=EVERY, clock=lambda: NOW)
    assert sweeper.run_once() == ["sweepy"]
    with engine.connect() as conn:
        state = conn.execute(select(number_health.c.state).where(
            number_health.c.number_id == number_id)).scalar()
        status = conn.execute(select(numbers.c.status).where(numbers.c.id == number_id)).scalar()
    assert (state, status) == ("warming", "active")
    assert sweeper.run_once() is None  # not due again for 10 minutes


def test_workers_in_separate_processes_never_sweep_at_once_and_the_loop_stays_free(
        db_url: str, apply_org: Any) -> None:
    """Three sweepers (each on its own engine, as three workers) tick 20 times each
    with a zero interval: sweeps happen, one at a time. Each sweep waits until the event
    loop of its worker has run another task: were the sweep on the loop, it would hang
    (to the guard)."""
    apply_org(doc())
    engines = [create_store_engine(db_url) for _ in range(3)]
    active, most, swept = [0], [0], [0]
    guard = threading.Lock()

    def sweeper(engine: Engine, loop_ran: threading.Event) -> Sweeper:
        def sweep(_uow: UnitOfWork, _org: str, _now: datetime) -> object:
            with guard:
                active[0] += 1
                most[0] = max(most[0], active[0])
            try:
                loop_ran.clear()
                assert loop_ran.wait(HANG_GUARD), "the event loop was blocked"
            finally:
                with guard:
                    active[0] -= 1
                    swept[0] += 1
            return None

        return Sweeper(lambda: UnitOfWork(engine), every=timedelta(0),
                       clock=lambda: datetime.now(UTC), sweep=sweep)

    async def worker(engine: Engine) -> None:
        loop_ran = threading.Event()
        done = anyio.Event()

        async def beat() -> None:
            while not done.is_set():
                loop_ran.set()
                await anyio.sleep(0.001)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(beat)
            await keep_sweeping(sweeper(engine, loop_ran), ticks=20, poll_seconds=0.001)
            done.set()

    async def main() -> None:
        with anyio.fail_after(HANG_GUARD):
            async with anyio.create_task_group() as tasks:
                for engine in engines:
                    tasks.start_soon(worker, engine)

    try:
        anyio.run(main)
    finally:
        for engine in engines:
            engine.dispose()
    assert swept[0] >= 1
    assert most[0] == 1


def test_the_interval_is_configured_with_its_variable_named_when_wrong() -> None:
    assert health_sweep_seconds("") == 600
    assert health_sweep_seconds("0") == 0
    assert Settings.load("sqlite://", environ={HEALTH_SWEEP: "30"}).health_sweep_seconds == 30
    with pytest.raises(InvalidInput) as refused:
        health_sweep_seconds("ten")
    assert refused.value.field == HEALTH_SWEEP
