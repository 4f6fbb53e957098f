"""Two transactions resting two numbers of one area code at once never both pass the
coverage guard (SPEC 9: at most max_resting_share of an area code's numbers rest), on
either store: SQLite's BEGIN IMMEDIATE serializes, PostgreSQL locks the area code's
numbers."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select

from callsign.domain.results import ResultSource
from callsign.services import results
from callsign.store.tables import calls, numbers, orgs
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CODES = ["312", "415", "646", "201", "213", "305", "404", "503", "617", "702",
         "206", "303", "512", "602", "615", "713", "714", "718", "773", "818"]
HANG_GUARD = 600  # seconds: a thread that never comes breaks the barrier


def test_racing_608s_on_both_numbers_of_an_area_code_rest_only_one(
        engine: Engine, apply_org: ApplyOrg) -> None:
    pairs = [(f"+1{code}5550101", f"+1{code}5550102") for code in CODES]
    apply_org({"org": "acme", "principal_number": "+12125550100", "local_presence": True,
               "numbers": [{"number": "+12125550100"},
                           *({"number": n} for pair in pairs for n in pair)],
               "users": [{"id": "alice"}]})
    call_ids: dict[str, str] = {}
    with engine.begin() as conn:
        org_id = conn.execute(select(orgs.c.id)).scalar_one()
        for number in (n for pair in pairs for n in pair):
            call_ids[number] = uuid.uuid4().hex
            conn.execute(insert(calls).values(
                id=call_ids[number], org_id=org_id, at=NOW, user_key="alice",
                to_number="+13125550188", caller_id=number, rule="local_presence",
                channel="manual", trace=[]))
    barrier = threading.Barrier(2)

    def report(side: int) -> None:
        for pair in pairs:
            barrier.wait(timeout=HANG_GUARD)  # the two 608s of one area code race
            results.record_result(UnitOfWork(engine), "acme", call_ids[pair[side]],
                                  source=ResultSource.API, now=NOW + timedelta(minutes=1),
                                  sip_code=608)

    with ThreadPoolExecutor(2) as threads:
        for done in [threads.submit(report, 0), threads.submit(report, 1)]:
            done.result(timeout=HANG_GUARD)

    with engine.connect() as conn:
        resting = list(conn.execute(select(numbers.c.e164)
                                    .where(numbers.c.status == "resting")).scalars())
    assert sorted(n[2:5] for n in resting) == sorted(CODES)  # one of each pair
