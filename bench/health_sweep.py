"""Number health's costs on SQLite: a whole organization's sweep, and judging one number
after each ingested result (SPEC 9).

    .venv/bin/python bench/health_sweep.py [--numbers 2000] [--calls-per-number 60]
        [--results 2000] [--check]

Data. A fresh SQLite file (callsign's migrations), one organization (local presence) with
``--numbers`` numbers over the geographic area codes of ``bench/decisions.py``'s kind
(four numbers per area code), and ``--calls-per-number`` calls each over the last 5 days,
every one with a result (45% answered), bulk-inserted. One in 50 numbers burns: its last
calls are 608s.

Work. ``services.health.sweep_org`` once (every number judged; the burned ones rest,
coverage allowing), then ``services.results.record_result`` for ``--results`` new calls
(one transaction each: the result and the judgement of its number), against the same
result use case with health's judgement taken out.

Targets: the sweep at most 2 ms a number; a result's judgement at most 3 ms on top of
storing the result. The issue's scale: ``--numbers 100000 --calls-per-number 100``
(10M calls, a ~5 GB file built in minutes). The sweep reads each number's window by its
own index range, so it grows with the numbers, not the calls; it runs in transactions of
``SWEEP_CHUNK`` numbers, so decisions never wait for a whole sweep.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select

from callsign.domain.document import parse_document
from callsign.domain.results import ResultSource
from callsign.services import health, results
from callsign.store import orgs as org_store
from callsign.store.db import create_store_engine
from callsign.store.tables import calls, numbers, orgs
from callsign.store.uow import UnitOfWork

NOW = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
APPLIED = 2000  # numbers written through the org file; the rest through the driver
AREA_CODES = ["201", "202", "203", "205", "206", "207", "208", "209", "210", "212", "213",
              "214", "215", "216", "217", "218", "219", "224", "225", "228", "229", "231",
              "234", "239", "240", "248", "251", "252", "253", "254", "256", "260", "262",
              "267", "269", "270", "276", "281", "301", "302", "303", "304", "305", "307",
              "308", "309", "310", "312", "313", "314", "315", "316", "317", "318", "319"]


def build(count: int, per_number: int, seed: int) -> tuple[Any, list[str]]:
    path = Path(tempfile.mkdtemp()) / "health.db"
    engine = create_store_engine(f"sqlite:///{path}")
    codes = len(AREA_CODES)  # four numbers an area code, then round again
    pool = [f"+1{AREA_CODES[i // 4 % codes]}555{1000 + i // (4 * codes) * 4 + i % 4:04d}"
            for i in range(count)]
    # The org file path validates and writes a number at a time: the organization comes
    # from a document of its first numbers, the rest are inserted through the driver
    # (with their area code rows, as the store writes them).
    applied = pool[:APPLIED]
    document = {"org": "bench", "principal_number": "+12125550100", "local_presence": True,
                "numbers": [{"number": "+12125550100"}, *({"number": n} for n in applied)],
                "users": [{"id": "alice"}]}
    with UnitOfWork(engine) as uow:
        org_store.apply_document(uow.connection, parse_document(document))
        uow.commit()
    with engine.begin() as conn:
        org_id = conn.execute(select(orgs.c.id)).scalar_one()
        regions = dict(conn.execute(select(numbers.c.area_code, numbers.c.region)).all())
    never = "1970-01-01 00:00:00.000000"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        cursor.executemany(
            "INSERT INTO numbers (org_id, e164, status, area_code, region, last_presented_at)"
            " VALUES (?, ?, 'active', ?, ?, ?)",
            [(org_id, n, n[2:5], regions.get(n[2:5]), never) for n in pool[APPLIED:]])
        cursor.execute(
            "INSERT INTO number_area_codes (number_id, area_code, org_id, mapped, active, "
            "last_presented_at) SELECT id, area_code, org_id, 0, 1, last_presented_at "
            "FROM numbers WHERE org_id = ? AND id NOT IN (SELECT number_id FROM "
            "number_area_codes)", (org_id,))
        raw.commit()
    finally:
        raw.close()
    rng = random.Random(seed)
    columns = ("id", "org_id", "at", "user_key", "to_number", "caller_id", "rule", "channel",
               "trace", "answered", "duration_s", "sip_code", "failure_class", "result_at",
               "result_source")
    statement = (f"INSERT INTO calls ({', '.join(columns)}) "
                 f"VALUES ({', '.join('?' for _ in columns)})")
    raw = engine.raw_connection()  # the driver's executemany: millions of rows in minutes
    try:
        raw.cursor().execute("BEGIN IMMEDIATE")  # the driver commits each row otherwise
        rows: list[tuple[Any, ...]] = []
        for i, number in enumerate(pool):
            burned = i % 50 == 0
            for j in range(per_number):
                at = NOW - timedelta(days=5) + timedelta(minutes=j * 5 * 24 * 60 // per_number)
                answered = not burned and rng.random() < 0.45
                sip = 200 if answered else (608 if burned and j > per_number - 5 else 480)
                stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f")
                rows.append((uuid.uuid4().hex, org_id, stamp, "alice", "+13125550188", number,
                             "local_presence", "manual", "[]", answered,
                             60 if answered else 0, sip,
                             "answered" if answered else "no_answer", stamp, "api"))
            if len(rows) >= 50_000:
                raw.cursor().executemany(statement, rows)
                rows = []
        if rows:
            raw.cursor().executemany(statement, rows)
        raw.commit()
    finally:
        raw.close()
    return engine, pool


def new_calls(engine: Any, pool: list[str], count: int) -> list[str]:
    ids = []
    with engine.begin() as conn:
        org_id = conn.execute(select(orgs.c.id)).scalar_one()
        for i in range(count):
            ids.append(uuid.uuid4().hex)
            conn.execute(insert(calls).values(
                id=ids[-1], org_id=org_id, at=NOW + timedelta(seconds=i),
                user_key="alice", to_number="+13125550188", caller_id=pool[i % len(pool)],
                rule="local_presence", channel="manual", trace=[]))
    return ids


def ingest(engine: Any, ids: list[str]) -> tuple[float, float]:
    """Each call's result stored (and judged): wall ms and CPU ms a result."""
    began, cpu = time.perf_counter(), time.process_time()
    for i, call_id in enumerate(ids):
        results.record_result(UnitOfWork(engine), "bench", call_id, source=ResultSource.API,
                              now=NOW + timedelta(seconds=i + 60), was_answered=i % 2 == 0,
                              duration_s=30)
    return ((time.perf_counter() - began) / len(ids) * 1000,
            (time.process_time() - cpu) / len(ids) * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=2000)
    parser.add_argument("--calls-per-number", type=int, default=60)
    parser.add_argument("--results", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    began = time.perf_counter()
    engine, pool = build(args.numbers, args.calls_per_number, args.seed)
    print(f"built {args.numbers} numbers, {args.numbers * args.calls_per_number} calls "
          f"in {time.perf_counter() - began:.1f} s")

    began, cpu = time.perf_counter(), time.process_time()
    swept = health.sweep_org(UnitOfWork(engine), "bench", now=NOW)
    sweep_ms = (time.perf_counter() - began) * 1000 / swept.judged
    sweep_cpu = (time.process_time() - cpu) * 1000 / swept.judged
    rested = sum(c.to_state == "resting" for c in swept.changes)
    print(f"sweep: {swept.judged} numbers in {sweep_ms * swept.judged / 1000:.2f} s "
          f"({sweep_ms:.2f} ms a number, CPU {sweep_cpu:.2f} ms); {rested} rested")

    with_health, with_cpu = ingest(engine, new_calls(engine, pool, args.results))
    judge, health.after_result = health.after_result, lambda *_a, **_k: None
    try:
        without, without_cpu = ingest(engine, new_calls(engine, pool, args.results))
    finally:
        health.after_result = judge
    extra = with_health - without
    print(f"a result: {with_health:.2f} ms with health's judgement, {without:.2f} ms "
          f"without ({extra:.2f} ms for health); CPU {with_cpu:.2f} ms against "
          f"{without_cpu:.2f} ms ({with_cpu - without_cpu:.2f} ms for health)")

    missed = [name for name, ok in (("sweep", sweep_ms <= 2.0), ("result", extra <= 3.0))
              if not ok]
    print("PASS" if not missed else f"MISS: {', '.join(missed)}")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
