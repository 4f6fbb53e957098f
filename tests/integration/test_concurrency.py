"""Two processes on one store never exceed a number's daily cap."""

from __future__ import annotations

import multiprocessing
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from callsign.domain.document import parse_document
from callsign.domain.model import OutboundRequest
from callsign.services import calls as calls_service
from callsign.store import orgs as org_store
from callsign.store.db import create_store_engine
from callsign.store.tables import calls, number_usage, numbers
from callsign.store.uow import UnitOfWork

CAP = 25
CALLS_PER_PROCESS = 40
HANG_GUARD = 600  # seconds: a process that never comes breaks the barrier
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ORG = {
    "org": "race", "principal_number": "+12125550100", "local_presence": True,
    "numbers": [{"number": "+13125550101", "daily_cap": CAP}, {"number": "+12125550100"}],
    "users": [{"id": "u1"}, {"id": "u2"}],
}


def _place_calls(url: str, user: str, seed: int, start: Any,
                 days: int = 1) -> tuple[list[str], float, float]:
    engine = create_store_engine(url)
    start.wait(timeout=HANG_GUARD)  # both processes start together
    began = time.time()
    rng = random.Random(seed)
    chosen = []
    for i in range(CALLS_PER_PROCESS):
        request = OutboundRequest(org="race", user=user, to=f"+1312555{1000 + seed * 100 + i}")
        # Each process's calls interleave in time: u1 at even, u2 at odd milliseconds.
        at = START + timedelta(milliseconds=2 * i + seed)
        at += timedelta(days=i % days)  # with days=2: today and tomorrow alternate
        start.wait(timeout=HANG_GUARD)  # call i of each process leaves together: a race
        decision = calls_service.place_call(UnitOfWork(engine), request, now=at, rng=rng)
        chosen.append(decision.caller_id)
    ended = time.time()
    engine.dispose()
    return chosen, began, ended


def test_two_processes_racing_on_one_capped_number_never_exceed_its_cap(db_url: str) -> None:
    """The cap is claimed by one conditional UPDATE: no overshoot, on either store."""
    url = db_url
    engine = create_store_engine(url)
    with UnitOfWork(engine) as uow:
        org_store.apply_document(uow.connection, parse_document(ORG))
        uow.commit()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        start = manager.Barrier(2)
        results = pool.starmap(_place_calls, [(url, "u1", 1, start), (url, "u2", 2, start)])
    presented = [n for chosen, _, _ in results for n in chosen]
    assert presented.count("+13125550101") == CAP
    assert presented.count("+12125550100") == 2 * CALLS_PER_PROCESS - CAP
    with engine.connect() as conn:
        recorded = conn.execute(select(func.count()).select_from(calls)
                                .where(calls.c.caller_id == "+13125550101")).scalar_one()
        usage = conn.execute(select(number_usage.c.used).join_from(number_usage, numbers)
                             .where(numbers.c.e164 == "+13125550101")).scalar_one()
    engine.dispose()
    assert recorded == usage == CAP
    (_, start_1, end_1), (_, start_2, end_2) = results
    overlap = min(end_1, end_2) - max(start_1, start_2)
    assert overlap > 0.5 * min(end_1 - start_1, end_2 - start_2), "the processes did not race"


def test_processes_racing_on_today_and_tomorrow_hold_each_days_cap_exactly(
    db_url: str,
) -> None:
    """Calls dated today and tomorrow interleave on two processes: each day its own cap.

    (A node whose clock is ahead at midnight records tomorrow's calls among today's.)
    """
    engine = create_store_engine(db_url)
    with UnitOfWork(engine) as uow:
        org_store.apply_document(uow.connection, parse_document(ORG))
        uow.commit()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        start = manager.Barrier(2)
        results = pool.starmap(_place_calls, [(db_url, "u1", 1, start, 2),
                                              (db_url, "u2", 2, start, 2)])
    by_day = {day: [chosen[i] for chosen, _, _ in results for i in range(day, len(chosen), 2)]
              for day in (0, 1)}
    with engine.connect() as conn:
        usage = dict(conn.execute(select(number_usage.c.day, number_usage.c.used)
                                  .join_from(number_usage, numbers)
                                  .where(numbers.c.e164 == "+13125550101")).all())
    engine.dispose()
    for day in (0, 1):
        assert by_day[day].count("+13125550101") == CAP
        assert by_day[day].count("+12125550100") == CALLS_PER_PROCESS - CAP
    assert usage == {"2026-03-02": CAP, "2026-03-03": CAP}
