"""SPEC 9: volume shaping holds under concurrency, on SQLite and PostgreSQL.

Two processes race decisions for callees in one area code served by one number (and the
principal, the last resort). The per-minute, per-hour and per-day limits and a warming
number's ramp are tested by the claim's one conditional statement on the number's rows:
however the calls interleave, the number is presented exactly up to the binding limit,
never past it, and the rest go to the principal. Counts, not time.
"""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from callsign.domain.document import parse_document
from callsign.domain.model import OutboundRequest
from callsign.domain.results import ResultSource
from callsign.services import calls as calls_service
from callsign.services import results
from callsign.store import health as health_store
from callsign.store import orgs as org_store
from callsign.store.db import create_store_engine
from callsign.store.tables import calls, numbers
from callsign.store.uow import UnitOfWork

HANG_GUARD = 600  # seconds: a process that never comes breaks the barrier
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
LOCAL = "+13125550101"
PRINCIPAL = "+12125550100"
CALLS_PER_PROCESS = 16


def org(*, rotation: bool = True, **health: Any) -> dict[str, Any]:
    """LOCAL serves the callees' area code (local presence, rotation), or without
    ``rotation`` is both users' caller ID (a plain claim, no turn to lose)."""
    users = [{"id": u} if rotation else {"id": u, "caller_id": LOCAL} for u in ("u1", "u2")]
    return {"org": "race", "principal_number": PRINCIPAL, "local_presence": rotation,
            "numbers": [{"number": LOCAL}, {"number": PRINCIPAL}], "users": users,
            "health": {"shaping": True, **health}}


def _place_calls(url: str, user: str, seed: int, start: Any,
                 offsets: Sequence[float]) -> list[tuple[str, str]]:
    engine = create_store_engine(url)
    rng = random.Random(seed)
    chosen = []
    for i, offset in enumerate(offsets):
        request = OutboundRequest(org="race", user=user, to=f"+1312555{1000 + seed * 100 + i}")
        at = START + timedelta(seconds=offset, milliseconds=seed)
        start.wait(timeout=HANG_GUARD)  # call i of each process leaves together: a race
        decision = calls_service.place_call(UnitOfWork(engine), request, now=at, rng=rng)
        chosen.append((decision.caller_id, at.isoformat()))
    engine.dispose()
    return chosen


def race(url: str, offsets: Sequence[float]) -> list[tuple[str, datetime]]:
    """Two processes place one call each at every offset (seconds after START), in step."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        start = manager.Barrier(2)
        results = pool.starmap(_place_calls, [(url, "u1", 1, start, offsets),
                                              (url, "u2", 2, start, offsets)])
    return [(number, datetime.fromisoformat(at)) for chosen in results for number, at in chosen]


def setup(engine: Engine, document: dict[str, Any], *, warming_since: datetime | None = None
          ) -> None:
    with UnitOfWork(engine) as uow:
        org_store.apply_document(uow.connection, parse_document(document))
        if warming_since is not None:
            conn = uow.connection
            number_id, org_id = conn.execute(select(numbers.c.id, numbers.c.org_id).where(
                numbers.c.e164 == LOCAL)).one()
            health_store.save(conn, org_id, number_id, {
                "state": "warming", "score": None, "reasons": ["a new number warms up"],
                "since": warming_since, "window_since": warming_since, "rest_until": None,
                "updated_at": warming_since})
        uow.commit()


def most_in_any(times: list[datetime], span: timedelta) -> int:
    """The most of ``times`` within any span of that length (a presentation counts while
    less than ``span`` has passed since it)."""
    ordered = sorted(times)
    return max((sum(t <= u < t + span for u in ordered) for t in ordered), default=0)


def recorded(engine: Engine, number: str) -> list[datetime]:
    with engine.connect() as conn:
        return list(conn.execute(select(calls.c.at).where(calls.c.caller_id == number))
                    .scalars())


@pytest.mark.parametrize("rotation", [pytest.param(True, id="rotation"),
                                      pytest.param(False, id="caller-id")])
@pytest.mark.parametrize(("health", "warming", "offsets", "expected"), [
    pytest.param({"per_minute": 3, "per_hour": 100}, False,
                 [0.0] * CALLS_PER_PROCESS, 3, id="per-minute"),
    pytest.param({"per_minute": 3, "per_hour": 7}, False,
                 [i * 20.0 for i in range(CALLS_PER_PROCESS)], 7, id="per-hour"),
    pytest.param({"per_minute": 100, "per_hour": 1000, "per_day": 9}, False,
                 [0.0] * CALLS_PER_PROCESS, 9, id="per-day"),
    pytest.param({"per_minute": 100, "per_hour": 1000}, True,
                 [0.0] * CALLS_PER_PROCESS, 20, id="warming-ramp"),
])
def test_racing_processes_never_present_a_number_past_its_limits(
    db_url: str, health: dict[str, Any], warming: bool, offsets: list[float], expected: int,
    rotation: bool,
) -> None:
    """Per minute: 32 calls at one instant present the number 3 times. Per hour: calls
    every 20 s stop at 7 in the hour, and never 4 within a minute. Per day (32 at once,
    the minute's limit far off): 9. Warming on day 8 of its ramp (20 a day): 20. The
    principal takes every other call. Through local presence (a claim in turn) and the
    user's caller ID (a plain claim). (Without the claim's own test of the limits,
    PostgreSQL's racing claims overshoot: 4 in the minute.)"""
    engine = create_store_engine(db_url)
    try:
        setup(engine, org(rotation=rotation, **health),
              warming_since=START - timedelta(days=7, hours=1) if warming else None)
        presented = race(db_url, offsets)
        stored = recorded(engine, LOCAL)
    finally:
        engine.dispose()

    on_number = [at for number, at in presented if number == LOCAL]
    assert len(on_number) == expected
    assert sorted(stored) == sorted(on_number)
    assert len(presented) - expected == sum(n == PRINCIPAL for n, _ in presented)
    assert most_in_any(on_number, timedelta(minutes=1)) <= health["per_minute"]
    assert most_in_any(on_number, timedelta(hours=1)) <= health["per_hour"]


def test_a_number_is_presented_again_once_its_minute_has_passed(engine: Engine,
                                                                apply_org: Any) -> None:
    """The minute is a sliding one: the 3 presentations of 15:00:00 leave the window at
    15:01:00, not at the top of a clock minute; the hour likewise."""
    apply_org(org(per_minute=3, per_hour=5))

    def place(at: datetime) -> str:
        request = OutboundRequest(org="race", user="u1", to="+13125551999")
        return calls_service.place_call(UnitOfWork(engine), request, now=at,
                                        rng=random.Random(0)).caller_id

    assert [place(START) for _ in range(4)] == [LOCAL] * 3 + [PRINCIPAL]
    assert place(START + timedelta(seconds=59.9)) == PRINCIPAL
    assert [place(START + timedelta(minutes=1)) for _ in range(3)] == [LOCAL] * 2 + [PRINCIPAL]
    assert place(START + timedelta(minutes=59, seconds=59)) == PRINCIPAL  # 5 in the hour
    assert place(START + timedelta(hours=1)) == LOCAL  # the first three left the hour


def test_with_shaping_off_nothing_is_paced_but_presentations_are_kept(
        engine: Engine, apply_org: Any) -> None:
    """The default: no limit applies (the daily cap still does), and turning shaping on
    later counts the presentations made meanwhile."""
    document = org()
    document["health"] = {"per_minute": 2}
    apply_org(document)

    def place() -> str:
        request = OutboundRequest(org="race", user="u1", to="+13125551999")
        return calls_service.place_call(UnitOfWork(engine), request, now=START,
                                        rng=random.Random(0)).caller_id

    assert [place() for _ in range(5)] == [LOCAL] * 5
    document["health"] = {"per_minute": 2, "shaping": True}
    apply_org(document)
    decision = calls_service.place_call(
        UnitOfWork(engine), OutboundRequest(org="race", user="u1", to="+13125551999"),
        now=START, rng=random.Random(0))
    assert decision.caller_id == PRINCIPAL
    assert ("local_presence", "passed", "is throttled: 5 calls in the last minute, "
            "limit 2/min", LOCAL) in [(s.step, s.result, s.detail, s.number)
                                      for s in decision.trace]


def test_a_number_health_rested_is_named_in_the_trace_with_its_reason(
        engine: Engine, apply_org: Any) -> None:
    """A 608 rests the number (the decision's candidate read then returns it with its
    health): the next call to its area code passes it over saying since when and why,
    and presents the other local number. Shaping off: health rests whatever the limits."""
    document = org()
    document["numbers"].append({"number": "+13125550102"})
    document["health"] = {}
    apply_org(document)

    def place(to: str) -> Any:
        request = OutboundRequest(org="race", user="u1", to=to)
        return calls_service.place_call(UnitOfWork(engine), request, now=START,
                                        rng=random.Random(0))

    first = place("+13125551999")
    results.record_result(UnitOfWork(engine), "race", first.call_id, source=ResultSource.API,
                          now=START, sip_code=608)
    rested = first.caller_id
    decision = place("+13125551998")  # another contact: the rested number is in no history

    assert decision.caller_id not in (rested, PRINCIPAL)
    assert ("local_presence", "passed", "is resting since 03-02: 608 Rejected on 03-02 (an "
            "analytics engine rejected the call)", rested) in [
        (s.step, s.result, s.detail, s.number) for s in decision.trace]
