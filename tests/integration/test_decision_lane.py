"""The decision lane: the call path's units of work run off the event loop.

On SQLite one writer commits the units waiting for it together (group commit), each in a
savepoint of its own; on PostgreSQL a bounded pool of threads runs them, each its own
transaction. Batches are made deterministic by a unit that holds the writer until the
test has handed in the others (counted, never timed).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, text

from callsign.domain.errors import StoreUnavailable
from callsign.domain.model import Decision, OutboundRequest
from callsign.services import calls
from callsign.store import lane as lane_module
from callsign.store.lane import DecisionLane, WriterLane, decision_lane
from callsign.store.turns import writer_turns
from callsign.store.uow import UnitOfWork

T = TypeVar("T")
HANG_GUARD = 600.0  # seconds: bounds a hung lane, never a slow one
AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 09:00 in Chicago
PRINCIPAL = "+12125550100"
CAPPED = "+13125550101"
CAP = 10


def org() -> dict[str, Any]:
    return {"org": "acme", "timezone": "America/Chicago", "principal_number": PRINCIPAL,
            "local_presence": True,
            "numbers": [{"number": PRINCIPAL}, {"number": CAPPED, "daily_cap": CAP}],
            "users": [{"id": "alice"}]}


def decide(to: str, *, key: str | None = None, seed: int = 0,
           at: datetime = AT) -> Callable[[UnitOfWork], Decision]:
    request = OutboundRequest(org="acme", user="alice", to=to)
    return lambda uow: calls.place_call(uow, request, now=at, rng=random.Random(seed),
                                        idempotency_key=key)


def callee(i: int) -> str:
    return f"+1312555{2000 + i:04d}"


def run(lane: DecisionLane, main: Callable[[], Awaitable[T]]) -> T:
    """``main()`` on an event loop of its own; the lane closed afterwards."""

    async def whole() -> T:
        try:
            return await main()
        finally:
            await lane.close()

    return asyncio.run(whole())


async def held(lane: DecisionLane, works: Sequence[Callable[[UnitOfWork], Any]]
               ) -> list[Any]:
    """Hand ``works`` in while a first unit holds the lane, then let it go: on SQLite the
    writer then finds them all waiting, and takes them as one batch. Their results, or
    their errors."""
    started, release = threading.Event(), threading.Event()

    def hold(_uow: UnitOfWork) -> None:
        started.set()
        assert release.wait(HANG_GUARD)

    holding = asyncio.ensure_future(lane.run(hold))
    assert await asyncio.to_thread(started.wait, HANG_GUARD)
    tasks = [asyncio.ensure_future(lane.run(work)) for work in works]
    await asyncio.sleep(0)  # each task runs up to its await: its unit is handed in
    if isinstance(lane, WriterLane):
        assert lane.queued == len(works)
    release.set()
    await holding
    return list(await asyncio.gather(*tasks, return_exceptions=True))


def calls_to(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(str(row[0]) for row in conn.exec_driver_sql(
            "SELECT caller_id FROM calls"))


def test_a_unit_that_raises_leaves_nothing_and_the_others_of_its_batch_land(
        apply_org: Any, engine: Engine) -> None:
    """Eight units in one batch; one fails inside its ``with``, one after its commit:
    the six decisions are stored, the two failing units left nothing and only they fail."""
    apply_org(org())
    lane = decision_lane(engine)

    def fails_inside(uow: UnitOfWork) -> None:
        with uow:
            uow.connection.exec_driver_sql("UPDATE orgs SET forwarding_number = 'changed'")
            raise RuntimeError("inside")

    def fails_after(uow: UnitOfWork) -> None:
        decide(callee(91))(uow)  # decided, recorded and committed (its savepoint)
        raise RuntimeError("after")

    works = [decide(callee(i), seed=i) for i in range(6)]
    results = run(lane, lambda: held(lane, [*works[:3], fails_inside, fails_after,
                                            *works[3:]]))

    assert [str(r) for r in results[3:5]] == ["inside", "after"]
    assert sum(isinstance(r, Decision) for r in results) == 6
    stored = calls_to(engine)
    # SQLite: a unit is all or nothing (its work's savepoint); PostgreSQL: each ``with``
    # is a transaction of its own, and what one committed before the work raised stays.
    assert sum(stored.values()) == (6 if engine.dialect.name == "sqlite" else 7)
    assert used(engine, CAPPED) == stored[CAPPED]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT forwarding_number FROM orgs").scalar_one() != "changed"


def used(engine: Engine, e164: str) -> int:
    """How many presentations of ``e164`` its usage rows count, every day together."""
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT coalesce(sum(u.used), 0) FROM number_usage u JOIN numbers n "
            "ON n.id = u.number_id WHERE n.e164 = :n"), {"n": e164}).scalar_one())


@pytest.mark.sqlite_only
def test_a_batch_whose_commit_fails_fails_every_caller_and_stores_nothing(
        apply_org: Any, engine: Engine) -> None:
    """A unit that makes the COMMIT impossible (a foreign key checked only at commit):
    every caller of its batch gets StoreUnavailable, none of the batch landed, and the
    next batch is stored again."""
    apply_org(org())
    lane = decision_lane(engine)

    def breaks_the_commit(uow: UnitOfWork) -> None:
        with uow:
            driver = uow.connection.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            driver.execute("PRAGMA defer_foreign_keys = ON")
            driver.execute(
                "INSERT INTO number_area_codes (number_id, area_code, org_id, mapped, "
                "active, last_presented_at) VALUES (999999, '999', 999999, 0, 1, "
                "'2026-01-01 00:00:00.000000')")
            uow.commit()

    async def main() -> tuple[list[Any], Decision]:
        results = await held(lane, [decide(callee(0)), breaks_the_commit,
                                    decide(callee(1))])
        return results, await lane.run(decide(callee(2)))

    results, after = run(lane, main)

    assert all(isinstance(r, StoreUnavailable) for r in results), results
    assert "nothing was stored" in str(results[0])
    assert sum(calls_to(engine).values()) == 1
    assert after.to == callee(2)
    assert used(engine, CAPPED) + used(engine, PRINCIPAL) == 1


@pytest.mark.sqlite_only
def test_an_idempotency_key_used_twice_in_one_batch_records_one_call(
        apply_org: Any, engine: Engine) -> None:
    """The second unit sees the first's savepoint: the same decision, one call stored."""
    apply_org(org())
    lane = decision_lane(engine)
    first, second = run(lane, lambda: held(lane, [decide(callee(0), key="k-1", seed=1),
                                                 decide(callee(0), key="k-1", seed=2)]))
    assert isinstance(first, Decision)
    assert isinstance(second, Decision)
    assert first == second
    assert sum(calls_to(engine).values()) == 1


def test_many_concurrent_decisions_through_one_lane_keep_the_daily_cap_exact(
        apply_org: Any, engine: Engine) -> None:
    """50 decisions at once on a number capped at 10: exactly 10 present it."""
    apply_org(org())
    lane = decision_lane(engine)

    async def main() -> list[Decision]:
        return list(await asyncio.gather(*(lane.run(decide(callee(i), seed=i))
                                           for i in range(50))))

    decided = run(lane, main)
    assert Counter(d.caller_id for d in decided) == {CAPPED: CAP, PRINCIPAL: 50 - CAP}
    assert calls_to(engine) == {CAPPED: CAP, PRINCIPAL: 50 - CAP}
    assert used(engine, CAPPED) == CAP


@pytest.mark.sqlite_only
def test_units_waiting_together_are_committed_together(apply_org: Any,
                                                       engine: Engine) -> None:
    """64 units handed in at once: 2 commits (the unit holding the writer, then the 63
    found waiting), not 64."""
    apply_org(org())
    lane = decision_lane(engine)
    assert isinstance(lane, WriterLane)
    results = run(lane, lambda: held(lane, [decide(callee(i), seed=i) for i in range(63)]))
    assert all(isinstance(r, Decision) for r in results)
    assert (lane.units, lane.commits) == (64, 2)
    assert sum(calls_to(engine).values()) == 63


@pytest.mark.sqlite_only
def test_a_batch_is_at_most_its_bound(apply_org: Any, engine: Engine) -> None:
    """Ten units waiting for a writer that takes four at a time: three batches."""
    apply_org(org())
    lane = decision_lane(engine, batch=4)
    assert isinstance(lane, WriterLane)
    run(lane, lambda: held(lane, [decide(callee(i), seed=i) for i in range(10)]))
    assert (lane.units, lane.commits) == (11, 1 + 3)


@pytest.mark.sqlite_only
def test_a_full_lane_refuses_at_once_with_503s_error(apply_org: Any,
                                                      engine: Engine) -> None:
    """Past its bound of waiting units the lane says so (StoreUnavailable), never hangs."""
    apply_org(org())
    lane = decision_lane(engine, waiting=3)
    assert isinstance(lane, WriterLane)

    async def main() -> list[Any]:
        started, release = threading.Event(), threading.Event()

        def hold(_uow: UnitOfWork) -> None:
            started.set()
            assert release.wait(HANG_GUARD)

        holding = asyncio.ensure_future(lane.run(hold))
        assert await asyncio.to_thread(started.wait, HANG_GUARD)
        waiting = [asyncio.ensure_future(lane.run(decide(callee(i)))) for i in range(3)]
        await asyncio.sleep(0)
        assert lane.queued == 3
        with pytest.raises(StoreUnavailable, match="3 calls waiting for the store"):
            await lane.run(decide(callee(9)))
        release.set()
        await holding
        return list(await asyncio.gather(*waiting))

    assert len(run(lane, main)) == 3
    assert sum(calls_to(engine).values()) == 3


@pytest.mark.sqlite_only
def test_a_unit_entered_again_rolls_back_what_it_did_not_commit(
        apply_org: Any, engine: Engine) -> None:
    """``with uow`` twice in one unit: the first, left without commit, left nothing."""
    apply_org(org())
    lane = decision_lane(engine)

    def twice(uow: UnitOfWork) -> None:
        with uow:
            uow.connection.exec_driver_sql("UPDATE orgs SET forwarding_number = 'first'")
        with uow, uow:  # nested: the inner commit releases the inner savepoint only
            uow.connection.exec_driver_sql("UPDATE orgs SET timezone = 'UTC'")
            uow.commit()
        with uow:
            uow.connection.exec_driver_sql("UPDATE orgs SET default_country = 'GB'")
            uow.commit()

    run(lane, lambda: lane.run(twice))
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT forwarding_number, timezone, default_country FROM orgs").one()
    assert row[0] != "first"
    assert tuple(row[1:]) == ("America/Chicago", "GB")


@pytest.mark.sqlite_only
def test_sqlite_acknowledges_only_what_survives_power_loss(engine: Engine) -> None:
    """synchronous=FULL (2) on the writer's connection and on the pool's."""
    lane = decision_lane(engine)

    def synchronous(uow: UnitOfWork) -> int:
        with uow:
            return int(uow.connection.exec_driver_sql("PRAGMA synchronous").scalar_one())

    assert run(lane, lambda: lane.run(synchronous)) == 2
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2


def test_closing_answers_every_unit_handed_in_then_refuses(apply_org: Any,
                                                           engine: Engine) -> None:
    apply_org(org())
    lane = decision_lane(engine)

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(lane.run(decide(callee(i), seed=i)))
                 for i in range(5)]
        await asyncio.sleep(0)
        await lane.close()
        with pytest.raises(StoreUnavailable, match="shutting down"):
            await lane.run(decide(callee(9)))
        return list(await asyncio.gather(*tasks))

    decided = run(lane, main)
    assert len(decided) == 5
    assert sum(calls_to(engine).values()) == 5


def test_the_decisions_of_tomorrow_count_apart(apply_org: Any, engine: Engine) -> None:
    """Through the lane as directly: today and tomorrow keep their own caps."""
    apply_org(org())
    lane = decision_lane(engine)

    async def main() -> list[Decision]:
        return list(await asyncio.gather(*(
            lane.run(decide(callee(i), seed=i, at=AT + timedelta(days=i % 2)))
            for i in range(2 * CAP + 4))))

    decided = run(lane, main)
    assert Counter(d.caller_id for d in decided)[CAPPED] == 2 * CAP
    with engine.connect() as conn:
        used = conn.execute(text("SELECT used FROM number_usage u JOIN numbers n "
                                 "ON n.id = u.number_id WHERE n.e164 = :n"),
                            {"n": CAPPED}).scalars().all()
    assert sorted(int(u) for u in used) == [CAP, CAP]


@pytest.mark.sqlite_only
def test_a_unit_waiting_past_the_turn_wait_gives_up_and_nothing_of_it_is_written(
        apply_org: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer of the same file holds the write turn and never lets go (a stopped
    worker): a decision waiting for it is answered StoreUnavailable after TURN_WAIT and
    never runs, even once the turn is free; the next one lands."""
    apply_org(org())
    monkeypatch.setattr(lane_module, "TURN_WAIT", 0.2)  # the subject here, not a guard
    lane = decision_lane(engine)
    other = writer_turns(engine)
    holding, release = threading.Event(), threading.Event()

    def hold_the_turn() -> None:
        with other.turn():
            holding.set()
            assert release.wait(HANG_GUARD)

    holder = threading.Thread(target=hold_the_turn)
    holder.start()
    assert holding.wait(HANG_GUARD)
    ran: list[str] = []

    def marked(to: str) -> Callable[[UnitOfWork], Decision]:
        def work(uow: UnitOfWork) -> Decision:
            ran.append(to)
            return decide(to)(uow)
        return work

    async def main() -> Decision:
        with pytest.raises(StoreUnavailable, match="not free to write"):
            await lane.run(marked(callee(1)))
        release.set()
        await asyncio.to_thread(holder.join, HANG_GUARD)
        return await lane.run(marked(callee(2)))

    decision = run(lane, main)
    assert decision.caller_id == CAPPED
    assert ran == [callee(2)]
    assert sum(calls_to(engine).values()) == 1
