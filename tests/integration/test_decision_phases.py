"""A decision in two phases on SQLite: reads and the pure decision outside the write lock,
then checks, the conditional claim and the writes inside it.

Each test runs the first phase (``CallPlacement.read`` on a unit that only reads), makes
the change it is about between the phases (as another worker would, committed), then runs
the second phase. When the change touched what the decision read, the placement runs the
whole decision again inside the lock; its answer is then the one a dry run gives on the
store as it is now (same seed, same time), and every guarantee holds.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from callsign.domain.model import Claim, Decision, OutboundRequest
from callsign.services import calls
from callsign.store.lane import ReadingUnit, WriterLane
from callsign.store.uow import UnitOfWork

pytestmark = pytest.mark.sqlite_only

HANG_GUARD = 600.0  # seconds: bounds a hung lane, never a slow one
AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 09:00 in Chicago
PRINCIPAL = "+12125550100"
LOCAL_1, LOCAL_2 = "+13125550101", "+13125550102"  # serve 312
POOL = ["+16465550111", "+16465550112", "+16465550113"]  # the project's, not local
CONTACT, OTHER = "+13125552001", "+13125552002"


def org(**settings: Any) -> dict[str, Any]:
    return {"org": "acme", "timezone": "America/Chicago", "principal_number": PRINCIPAL,
            "local_presence": True,
            "numbers": [{"number": PRINCIPAL}, {"number": LOCAL_1}, {"number": LOCAL_2},
                        *({"number": n} for n in POOL)],
            "users": [{"id": "alice"}],
            "projects": [{"id": "renewals", "numbers": POOL, "first_call": POOL[0],
                          "next_calls": "different_each_attempt"}],
            **settings}


def request(to: str, project: str | None = None) -> OutboundRequest:
    return OutboundRequest(org="acme", user="alice", to=to, project=project)


def placement(to: str, *, project: str | None = None, seed: int = 0, key: str | None = None,
              at: datetime = AT) -> calls.CallPlacement:
    return calls.CallPlacement(request(to, project), clock=lambda: at,
                               rng=random.Random(seed), idempotency_key=key)


def place(engine: Engine, to: str, *, project: str | None = None, seed: int = 0,
          key: str | None = None, at: datetime = AT) -> Decision:
    """A whole decision, committed (another worker's)."""
    return calls.place_call(UnitOfWork(engine), request(to, project), now=at,
                            rng=random.Random(seed), idempotency_key=key)


def dry_run(engine: Engine, to: str, *, project: str | None = None, seed: int = 0,
            at: datetime = AT) -> Decision:
    """What the whole decision would answer on the store as it is now."""
    return calls.place_call(UnitOfWork(engine), request(to, project), now=at,
                            rng=random.Random(seed), dry_run=True)


def first_phase(engine: Engine, placed: calls.CallPlacement) -> Decision:
    """Run the first phase; the decision it made, to be checked and claimed."""
    assert placed.read(ReadingUnit(engine)) is None
    assert placed.foreseen is not None
    return placed.foreseen.decision


def used(engine: Engine, e164: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT coalesce(sum(u.used), 0) FROM number_usage u JOIN numbers n "
            "ON n.id = u.number_id WHERE n.e164 = :n"), {"n": e164}).scalar_one())


def presented_to(engine: Engine, to: str) -> list[str]:
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(text(
            "SELECT caller_id FROM calls WHERE to_number = :to ORDER BY rowid"), {"to": to})]


def test_nothing_changed_between_the_phases_claims_and_records_the_first_decision(
        apply_org: Callable[[dict[str, Any]], None], engine: Engine) -> None:
    """The decision made outside the lock is the one recorded, without running again."""
    apply_org(org())
    expected = dry_run(engine, CONTACT)
    placed = placement(CONTACT)
    foreseen = first_phase(engine, placed)
    decision = placed(UnitOfWork(engine))
    assert not placed.fell_back
    assert foreseen.caller_id in (LOCAL_1, LOCAL_2)
    assert foreseen.claim is Claim.TURN
    assert (decision.caller_id, decision.trace) == (expected.caller_id, expected.trace)
    assert presented_to(engine, CONTACT) == [foreseen.caller_id]
    assert used(engine, foreseen.caller_id) == 1


def test_a_configuration_change_between_the_phases_decides_again_on_the_new_one(
        apply_org: Callable[[dict[str, Any]], None], engine: Engine) -> None:
    """Local presence turned off meanwhile: the call presents the principal number."""
    apply_org(org())
    placed = placement(CONTACT)
    chosen = first_phase(engine, placed).caller_id
    assert chosen in (LOCAL_1, LOCAL_2)
    apply_org(org(local_presence=False))
    decision = placed(UnitOfWork(engine))
    assert placed.fell_back
    assert decision.caller_id == dry_run(engine, CONTACT).caller_id == PRINCIPAL
    assert presented_to(engine, CONTACT) == [PRINCIPAL]
    assert used(engine, chosen) == 0


def test_a_call_to_the_same_contact_between_the_phases_makes_each_attempt_differ(
        apply_org: Callable[[dict[str, Any]], None], engine: Engine) -> None:
    """Different number each attempt: another call to the contact took the pool number the
    first phase chose; the second phase sees the contact's calls changed and picks the one
    left (the claim alone would have let it through: the pool has no caps or turns)."""
    apply_org(org())
    assert place(engine, CONTACT, project="renewals").caller_id == POOL[0]  # first call
    placed = placement(CONTACT, project="renewals")
    chosen = first_phase(engine, placed)
    assert chosen.claim is Claim.CAP
    assert place(engine, CONTACT, project="renewals").caller_id == chosen.caller_id
    expected = dry_run(engine, CONTACT, project="renewals")
    decision = placed(UnitOfWork(engine))
    assert placed.fell_back
    assert decision.caller_id == expected.caller_id != chosen.caller_id
    assert sorted(presented_to(engine, CONTACT)) == sorted(POOL)


def test_a_cap_filled_between_the_phases_is_never_exceeded(
        apply_org: Callable[[dict[str, Any]], None], engine: Engine) -> None:
    """The first phase chose the only local number, one use left of its cap; another call
    (to another contact) used it meanwhile: the claim fails, the call goes to the
    principal, and the cap holds exactly."""
    apply_org(org(numbers=[{"number": PRINCIPAL}, {"number": LOCAL_1, "daily_cap": 1}],
                  projects=[]))
    placed = placement(CONTACT)
    assert first_phase(engine, placed).caller_id == LOCAL_1
    assert place(engine, OTHER).caller_id == LOCAL_1
    decision = placed(UnitOfWork(engine))
    assert placed.fell_back
    assert decision.caller_id == dry_run(engine, CONTACT).caller_id == PRINCIPAL
    assert used(engine, LOCAL_1) == 1


def test_a_turn_taken_between_the_phases_passes_to_the_next_number_in_turn(
        apply_org: Callable[[dict[str, Any]], None], engine: Engine) -> None:
    """Rotation: another call presented the least recently presented number meanwhile; the
    call presents the next one, in turn."""
    apply_org(org())
    oldest = place(engine, "+13125552101", at=AT - timedelta(seconds=2)).caller_id
    newer = place(engine, "+13125552102", at=AT - timedelta(seconds=1)).caller_id
    assert {oldest, newer} == {LOCAL_1, LOCAL_2}
    placed = placement(CONTACT)
    assert first_phase(engine, placed).caller_id == oldest
    assert place(engine, OTHER).caller_id == oldest
    decision = placed(UnitOfWork(engine))
    assert placed.fell_back
    assert decision.caller_id == newer
    assert "out of turn" not in str(decision.trace)
    assert (used(engine, oldest), used(engine, newer)) == (2, 2)


def test_decisions_read_beside_each_other_take_the_numbers_in_turn_without_running_again(
        apply_org: Callable[[dict[str, Any]], None], engine: Engine) -> None:
    """Two calls read before either claims (as beside a writer's batch): the second reads
    the number the first is claiming as presented, so it takes the next one in turn,
    and both are claimed as decided, without a run in the lock."""
    apply_org(org())
    first, second = placement(CONTACT), placement(OTHER, at=AT + timedelta(seconds=1))
    taken = first_phase(engine, first).caller_id
    following = first_phase(engine, second).caller_id
    assert {taken, following} == {LOCAL_1, LOCAL_2}
    assert (first(UnitOfWork(engine)).caller_id, second(UnitOfWork(engine)).caller_id) \
        == (taken, following)
    assert not first.fell_back
    assert not second.fell_back
    assert (used(engine, LOCAL_1), used(engine, LOCAL_2)) == (1, 1)
    # Seen committed, the claims are read from the store again: the rotation goes on.
    assert place(engine, "+13125552101", at=AT + timedelta(seconds=2)).caller_id == taken


def test_a_key_used_between_the_phases_answers_the_first_decision_and_records_nothing(
        apply_org: Callable[[dict[str, Any]], None], engine: Engine) -> None:
    """Idempotency: the same request with the same key was decided meanwhile (a retry
    that reached another worker); this one answers that decision, recording nothing."""
    apply_org(org())
    placed = placement(CONTACT, key="k-1")
    first_phase(engine, placed)
    first = place(engine, CONTACT, key="k-1")
    decision = placed(UnitOfWork(engine))
    assert placed.fell_back
    assert decision == first
    assert presented_to(engine, CONTACT) == [first.caller_id]
    assert used(engine, first.caller_id) == 1


def test_a_retry_and_a_dry_run_are_answered_by_the_first_phase(
        apply_org: Callable[[dict[str, Any]], None], engine: Engine) -> None:
    """Nothing to write: the reads answer, and the writer never sees the call."""
    apply_org(org())
    first = place(engine, CONTACT, key="k-1")
    assert placement(CONTACT, key="k-1").read(ReadingUnit(engine)) == first
    dry = calls.CallPlacement(request(OTHER), clock=lambda: AT, rng=random.Random(0),
                              dry_run=True)
    answer = dry.read(ReadingUnit(engine))
    assert answer is not None
    assert answer.caller_id == dry_run(engine, OTHER).caller_id
    assert presented_to(engine, OTHER) == []


def test_the_lane_reads_and_decides_while_its_writer_holds_the_write_lock(
        apply_org: Callable[[dict[str, Any]], None], engine: Engine) -> None:
    """A unit holds the writer's transaction open (BEGIN IMMEDIATE taken); a call handed
    in meanwhile does its first phase beside it, and is recorded once the writer is free."""
    apply_org(org())
    lane = WriterLane(engine)
    started, release, read = threading.Event(), threading.Event(), threading.Event()

    class Watched(calls.CallPlacement):
        def read(self, uow: Any) -> Decision | None:
            answer = super().read(uow)
            read.set()
            return answer

    def hold(_uow: UnitOfWork) -> None:
        started.set()
        assert release.wait(HANG_GUARD)

    async def main() -> Decision:
        try:
            holding = asyncio.ensure_future(lane.run(hold))
            assert await asyncio.to_thread(started.wait, HANG_GUARD)
            placed = Watched(request(CONTACT), clock=lambda: AT, rng=random.Random(0))
            deciding = asyncio.ensure_future(lane.run(placed))
            assert await asyncio.to_thread(read.wait, HANG_GUARD)  # the writer still held
            assert not deciding.done()
            release.set()
            await holding
            decision = await deciding
            assert not placed.fell_back
            return decision
        finally:
            release.set()
            await lane.close()

    decision = asyncio.run(main())
    assert decision.caller_id in (LOCAL_1, LOCAL_2)
    assert presented_to(engine, CONTACT) == [decision.caller_id]
