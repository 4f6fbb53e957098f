"""Decisions per second in-process on SQLite, against the plain store floor.

    .venv/bin/python bench/decisions.py [--numbers 1000 100000] [--calls 1000000]
        [--decisions 5000] [--db-dir DIR] [--rounds 5] [--profile] [--check] [-v]

For each inventory size it builds once, and caches in ``--db-dir``, a SQLite database:
the schema from callsign's migrations, one organization applied from an org document
(local presence on, region fallback, calling hours, five users, two projects with pools
of ten numbers), then bulk-loaded with ``sqlite3``: N numbers round-robin over every
geographic US/CA area code (each valid for libphonenumber, area code and region from
``phone.facts_for``) with their own-area-code rows, ``--contacts`` contacts, and
``--calls`` recorded calls spread uniformly over the contacts and 180 days.

Then, on that file:

* engine: ``callsign.services.calls.place_call(UnitOfWork(engine), request, now=..., rng=...)``
  for random contacts, users and (for ``--project-share`` of them) projects, each decision
  its own transaction; ``--warmup`` decisions first, untimed.
* floor: the same decisions with the engine taken out. One extra engine pass records
  every DB-API call each decision makes (a recording ``sqlite3.Connection`` factory
  under the engine's own connections: exact SQL, bound parameters, BEGIN IMMEDIATE and
  commit); the floor replays them with a plain ``sqlite3`` connection on the same file,
  fetching every row. Same indexed reads, same claim UPDATE ... RETURNING, same INSERT,
  same commits; no parsing, no rules, no SQLAlchemy. It follows the engine's SQL as the
  engine changes, so the ratio is the engine's own overhead over its own store work.

Engine and floor alternate for ``--rounds`` rounds, each starting from the same state
(``reset`` deletes the calls a round recorded and clears number usage); figures are the
best of the rounds (other processes can only slow a round down; medians shown too).
Targets (the issue): the engine at >= 50% of the floor, and the engine's rate at the
largest inventory within 20% of its rate at the smallest; ``--check`` exits 1 when one
is missed. ``--profile`` adds a cProfile of the engine on the largest inventory.

``--chain-only`` (and a last line of every run): the pure decision's cost with the
proximity chain (exchange, overlay, adjacent, 50-mile radius; SPEC 3.3) over its cost
without, on the same facts: callees whose area code has a number (the chain adds the
exchange step) and callees whose area code has none (it walks overlay, adjacent and
radius). The pure decision is a small part of a decision's cost (the store's reads and
the commit are most of it), so its ratio overstates the chain's share: the line also
gives the microseconds the chain adds per decision, to set beside the engine's latency.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import json
import os
import pstats
import random
import re
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
from alembic.script import ScriptDirectory
from phonenumbers.geodata import GEOCODE_DATA
from sqlalchemy import Engine

from callsign.domain import phone
from callsign.domain.document import parse_document
from callsign.domain.errors import InvalidNumber
from callsign.domain.geography import geography
from callsign.domain.model import (
    Agent,
    Callee,
    NumberState,
    OrgPolicy,
    OutboundFacts,
    OutboundRequest,
    Proximity,
)
from callsign.domain.outbound import decide_outbound, nearby_area_codes
from callsign.services.calls import place_call
from callsign.store import db as store_db
from callsign.store.db import MIGRATIONS, create_store_engine
from callsign.store.orgs import apply_document
from callsign.store.uow import UnitOfWork

BUILD_VERSION = 1  # bump when the generated data changes, to rebuild cached databases
SLUG = "bench"
ORG_TZ = "America/New_York"
# 15:00 in New York, 09:00 in Honolulu: every NANP callee is within calling hours.
BASE_NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
STEP = timedelta(milliseconds=20)  # between consecutive decisions
HISTORY_DAYS = 180
DOC_NUMBERS = 25  # numbers applied through the org document; the rest are bulk-loaded
USERS = ("ava", "ben", "cai", "dee", "eli")
POOL_SIZE = 10
LINE_TYPES = ("landline", "mobile", "unknown")
OUTCOMES = (None, None, "no_answer", "voicemail", "asked_callback", "connected")
TARGET_RATIO = 0.50
TARGET_SCALING = 0.20

Row = tuple[Any, ...]


def log(message: str) -> None:
    print(message, flush=True)


def db_time(moment: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite dialect stores it (UTC, no zone)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def daily_cap(index: int) -> int | None:
    return 200 if index % 2 else None


def status(index: int) -> str:
    return "paused" if index >= DOC_NUMBERS and index % 50 == 49 else "active"


@contextlib.contextmanager
def sqlite(path: Path, *, bulk: bool = False) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection: callsign's pragmas, or fast unsafe ones for a build."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        if bulk:
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA cache_size=-1000000")
        else:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        yield conn
    finally:
        conn.close()


# -- generated data -----------------------------------------------------------------------

@dataclass(frozen=True)
class Number:
    e164: str
    area_code: str
    region: str


def nanp_area_codes() -> list[tuple[str, str]]:
    """(area code, region) of every geographic US/CA area code libphonenumber names."""
    found = []
    for key in sorted(GEOCODE_DATA):
        if len(key) != 4 or key[0] != "1":
            continue
        try:
            facts = phone.facts_for(f"+1{key[1:]}2345678", "US", field="number")
        except InvalidNumber:
            continue
        if facts.country in ("US", "CA") and facts.is_geographic and facts.area_code \
                and facts.region:
            found.append((facts.area_code, facts.region))
    return found


def org_numbers(count: int, area_codes: Sequence[tuple[str, str]], seed: int) -> list[Number]:
    """``count`` valid numbers, round-robin over the area codes; a prefix of any larger set."""
    rng = random.Random(seed)
    seen: set[str] = set()
    found: list[Number] = []
    i = 0
    while len(found) < count:
        npa = area_codes[i % len(area_codes)][0]
        i += 1
        raw = f"+1{npa}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        if raw in seen:
            continue
        try:
            facts = phone.facts_for(raw, "US", field="number")
        except InvalidNumber:
            continue
        seen.add(raw)
        found.append(Number(facts.e164, facts.area_code or "", facts.region or ""))
    return found


def contact_numbers(count: int, area_codes: Sequence[tuple[str, str]], seed: int) -> list[str]:
    """``count`` distinct valid numbers in random area codes (validated without parsing)."""
    rng = random.Random(seed)
    found: dict[str, None] = {}
    while len(found) < count:
        npa = rng.choice(area_codes)[0]
        national = int(f"{npa}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}")
        if phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=1,
                                                                 national_number=national)):
            found[f"+1{national}"] = None
    return list(found)


def _trace(*steps: tuple[str, str, str, bool]) -> str:
    """A trace as the engine records it, with %s for the area code and the number."""
    return json.dumps([{"step": step, "result": result, "detail": detail,
                        "number": "%s" if numbered else None}
                       for step, result, detail, numbered in steps])


HOURS = ("calling_hours", "checked",
         "callee's local time 11:00 America/Chicago is within 08:00–21:00", False)
LOCAL_TRACE = _trace(
    HOURS,
    ("agent_area_code", "passed", "the user's caller ID does not serve area code %s", False),
    ("local_presence", "chosen", "least recently presented of 32 presentable numbers serving "
     "area code %s (last presented 2026-02-11 16:42)", True),
)
PROJECT_TRACE = _trace(
    HOURS,
    ("agent_number", "passed", "project renewals uses the project's numbers", False),
    ("outcome_number", "passed", "the last call's outcome (voicemail) names no number", False),
    ("different_each_attempt", "chosen", "next_calls: 4 of 10 pool numbers unused for this "
     "contact (area code %s)", True),
)


# -- build ------------------------------------------------------------------------------

def schema_version() -> str:
    """The migrations' head and a digest of their text (a migration may be edited in place)."""
    digest = hashlib.sha256()
    for script in sorted((MIGRATIONS / "versions").glob("*.py")):
        digest.update(script.read_bytes())
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head() or "none"
    return f"{head}-{digest.hexdigest()[:8]}"


def db_path(db_dir: Path, args: argparse.Namespace, size: int) -> Path:
    return db_dir / (f"callsign-n{size}-c{args.calls}-k{args.contacts}-s{args.seed}"
                     f"-r{schema_version()}-v{BUILD_VERSION}.db")


def org_document(numbers: Sequence[Number]) -> dict[str, Any]:
    e164 = [n.e164 for n in numbers[:DOC_NUMBERS]]
    renewals, outreach = e164[1:1 + POOL_SIZE], e164[1 + POOL_SIZE:1 + 2 * POOL_SIZE]
    ava, ben, eli, eli_direct = e164[21:25]
    return {
        "org": SLUG, "default_country": "US", "timezone": ORG_TZ, "principal_number": e164[0],
        "local_presence": True, "local_presence_fallback": "region",
        "calling_hours": {"start": "08:00", "end": "21:00"},
        "numbers": [{"number": n, "daily_cap": daily_cap(i), "group": "bench"}
                    for i, n in enumerate(e164)],
        "users": [
            {"id": "ava", "caller_id": ava, "direct_number": ava},
            {"id": "ben", "caller_id": ben},
            {"id": "cai", "caller_id": e164[0]},
            {"id": "dee"},
            {"id": "eli", "caller_id": eli, "direct_number": eli_direct},
        ],
        "projects": [
            {"id": "renewals", "numbers": renewals, "first_call": "regionally_random",
             "next_calls": "different_each_attempt",
             "outcome_numbers": {"asked_callback": renewals[0]}},
            {"id": "outreach", "numbers": outreach, "first_call": "random",
             "keep_previous_number": True, "next_calls": "random"},
        ],
    }


def build(path: Path, size: int, args: argparse.Namespace, data: BuildData) -> None:
    """Create the schema with callsign's migrations, apply the org, bulk-load the rest."""
    building = path.with_suffix(".building")
    for leftover in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
        leftover.unlink(missing_ok=True)
    numbers = data.numbers[:size]
    engine = create_store_engine(f"sqlite:///{building}")
    with engine.begin() as conn:
        apply_document(conn, parse_document(org_document(numbers)))
    engine.dispose()
    with sqlite(building, bulk=True) as conn:
        org_id, = conn.execute("SELECT id FROM orgs WHERE slug = ?", (SLUG,)).fetchone()
        never, = conn.execute("SELECT last_presented_at FROM numbers LIMIT 1").fetchone()
        projects = dict(conn.execute("SELECT key, id FROM projects").fetchall())
        pools = {key: [e164 for e164, in conn.execute(
            "SELECT numbers.e164 FROM numbers JOIN project_numbers ON number_id = numbers.id "
            "WHERE project_id = ? ORDER BY position", (pid,))] for key, pid in projects.items()}
        first_id = conn.execute("SELECT max(id) + 1 FROM numbers").fetchone()[0]
        conn.execute("BEGIN")
        bulk = [(first_id + i, org_id, n.e164, "", "", status(DOC_NUMBERS + i), n.area_code,
                 n.region, daily_cap(DOC_NUMBERS + i), "manual", "null", never)
                for i, n in enumerate(numbers[DOC_NUMBERS:])]
        conn.executemany(
            "INSERT INTO numbers (id, org_id, e164, label, group_name, status, area_code, "
            "region, daily_cap, provider, call_path, last_presented_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", bulk)
        conn.executemany(
            "INSERT INTO number_area_codes (number_id, area_code, org_id, mapped, active, "
            "last_presented_at) VALUES (?, ?, ?, 0, ?, ?)",
            [(row[0], row[6], org_id, int(row[5] == "active"), never) for row in bulk])
        rng = random.Random(args.seed + 3)
        conn.executemany(
            "INSERT INTO contacts (org_id, phone, owner, line_type) VALUES (?, ?, ?, ?)",
            [(org_id, c, rng.choice((*USERS, None)), rng.choice(LINE_TYPES))
             for c in data.contacts])
        indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                               "AND tbl_name = 'calls' AND sql IS NOT NULL").fetchall()
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        conn.executemany(
            "INSERT INTO calls (id, org_id, at, user_key, to_number, caller_id, rule, "
            "project_key, channel, trace, outcome, outcome_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            call_rows(args, org_id, numbers, data.contacts, pools))
        for _, sql in indexes:
            conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
    building.rename(path)


def call_rows(args: argparse.Namespace, org_id: int, numbers: Sequence[Number],
              contacts: Sequence[str], pools: dict[str, list[str]]) -> Iterator[Row]:
    """The call history: uniform over contacts and time, ids random but inserted in order."""
    rng = random.Random(args.seed + 2)
    by_area: dict[str, list[str]] = {}
    for n in numbers:
        by_area.setdefault(n.area_code, []).append(n.e164)
    everyone = [n.e164 for n in numbers]
    span = HISTORY_DAYS * 86400
    start = BASE_NOW - timedelta(seconds=span)
    days = [(start + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(HISTORY_DAYS + 1)]
    seconds = sorted(rng.random() * span for _ in range(args.calls))
    ids = sorted(f"call_{rng.getrandbits(96):024x}" for _ in range(args.calls))
    first = start.hour * 3600 + start.minute * 60  # BASE_NOW is on a whole minute
    project_keys = sorted(pools)
    for call_id, offset in zip(ids, seconds, strict=True):
        whole = int(offset) + first
        day, in_day = divmod(whole, 86400)
        hour, rest = divmod(in_day, 3600)
        at = f"{days[day]} {hour:02d}:{rest // 60:02d}:{rest % 60:02d}.{int(offset % 1 * 1e6):06d}"
        to = contacts[rng.randrange(len(contacts))]
        area = to[2:5]
        if rng.random() < args.project_share:
            key = project_keys[rng.randrange(len(project_keys))]
            project: str | None = key
            caller = rng.choice(pools[key])
            rule, trace = "different_each_attempt", PROJECT_TRACE % (area, caller)
        else:
            project = None
            local = by_area.get(area)
            caller = rng.choice(local) if local else rng.choice(everyone)
            rule, trace = "local_presence", LOCAL_TRACE % (area, area, caller)
        outcome = OUTCOMES[rng.randrange(len(OUTCOMES))]
        yield (call_id, org_id, at, USERS[rng.randrange(len(USERS))], to, caller, rule,
               project, "manual", trace, outcome, at if outcome else None)


@dataclass
class BuildData:
    numbers: list[Number]
    contacts: list[str]


def ensure_database(path: Path, size: int, args: argparse.Namespace,
                    data: Callable[[], BuildData]) -> None:
    if path.exists():
        log(f"  database: {path} (cached, {path.stat().st_size / 1e6:.0f} MB)")
        return
    stem = path.name.partition("-r")[0]  # the same data for an older schema: stale
    for stale in path.parent.glob(f"{stem}-r*.db"):
        log(f"  removing {stale.name} (another schema or generator version)")
        stale.unlink()
    started = time.perf_counter()
    build(path, size, args, data())
    log(f"  database: {path} built in {time.perf_counter() - started:.1f} s "
        f"({path.stat().st_size / 1e6:.0f} MB)")


def warm_page_cache(path: Path) -> None:
    with path.open("rb") as f:
        while f.read(16 << 20):
            pass


def reset(path: Path) -> dict[str, int]:
    """Undo what a run wrote: calls from BASE_NOW on, number usage and presentation times.

    Returns the row count of every table, to notice writes this does not undo.
    """
    with sqlite(path) as conn:
        org_id, = conn.execute("SELECT id FROM orgs WHERE slug = ?", (SLUG,)).fetchone()
        never, = conn.execute("SELECT min(last_presented_at) FROM numbers").fetchone()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"DELETE FROM calls WHERE org_id = ? AND user_key IN "
                     f"({', '.join('?' * len(USERS))}) AND at >= ?",
                     (org_id, *USERS, db_time(BASE_NOW)))
        conn.execute("DELETE FROM number_usage")
        conn.execute("UPDATE numbers SET last_presented_at = ? WHERE last_presented_at != ?",
                     (never, never))
        conn.execute("UPDATE number_area_codes SET last_presented_at = ? "
                     "WHERE last_presented_at != ?", (never, never))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables = [t for t, in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


# -- the work ---------------------------------------------------------------------------

def make_jobs(path: Path, count: int, args: argparse.Namespace) -> list[OutboundRequest]:
    """Random contacts, users and projects: the same list for the engine every round."""
    with sqlite(path) as conn:
        contacts = [c for c, in conn.execute("SELECT phone FROM contacts ORDER BY id")]
    rng = random.Random(args.seed + 4)
    jobs = []
    for _ in range(count):
        project = rng.choice(("renewals", "outreach")) \
            if rng.random() < args.project_share else None
        jobs.append(OutboundRequest(org=SLUG, user=rng.choice(USERS), to=rng.choice(contacts),
                                    project=project))
    return jobs


@dataclass
class Measure:
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    rules: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed


def engine_round(engine: Engine, jobs: Sequence[OutboundRequest], warmup: int, seed: int, *,
                 profiler: cProfile.Profile | None = None,
                 recorder: Recorder | None = None) -> Measure:
    """``place_call`` for every job, each its own transaction; the first ``warmup`` untimed."""
    measure = Measure()
    rng = random.Random(seed)
    nows = [BASE_NOW + STEP * i for i in range(len(jobs))]
    parse_cache = getattr(phone, "_cached_facts", None)
    if parse_cache is not None:
        parse_cache.cache_clear()  # every round starts from the same (empty) parse cache
    for i in range(warmup):
        if recorder is not None:
            recorder.start()
        place_call(UnitOfWork(engine), jobs[i], now=nows[i], rng=rng)
    latencies = measure.latencies
    clock = time.perf_counter
    if profiler is not None:
        profiler.enable()
    started = clock()
    for i in range(warmup, len(jobs)):
        if recorder is not None:
            recorder.start()
        t0 = clock()
        decision = place_call(UnitOfWork(engine), jobs[i], now=nows[i], rng=rng)
        latencies.append(clock() - t0)
        measure.rules[decision.rule] += 1
    measure.elapsed = clock() - started
    if profiler is not None:
        profiler.disable()
    if recorder is not None:
        recorder.stop()
    return measure


# -- the floor: the engine's own driver calls, replayed ---------------------------------

COMMIT = "COMMIT"
ROLLBACK = "ROLLBACK"
Op = tuple[str, Any, bool]  # SQL, parameters as given to the driver, executemany


class Recorder:
    """The DB-API calls of each decision, in order, with the exact SQL and parameters."""

    def __init__(self) -> None:
        self.decisions: list[list[Op]] = []
        self._current: list[Op] | None = None

    def start(self) -> None:
        self._current = []
        self.decisions.append(self._current)

    def stop(self) -> None:
        self._current = None

    def note(self, sql: str, params: Any, many: bool) -> None:
        if self._current is not None:
            self._current.append((sql, params, many))


RECORDER = Recorder()


class _RecordingCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> _RecordingCursor:
        RECORDER.note(sql, parameters, False)
        super().execute(sql, parameters)
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _RecordingCursor:
        rows = list(seq_of_parameters)
        RECORDER.note(sql, rows, True)
        super().executemany(sql, rows)
        return self


class _RecordingConnection(store_db._FileConnection):
    def cursor(self, factory: Any = _RecordingCursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, parameters)

    def commit(self) -> None:
        if self.in_transaction:
            RECORDER.note(COMMIT, None, False)
        super().commit()

    def rollback(self) -> None:
        if self.in_transaction:
            RECORDER.note(ROLLBACK, None, False)
        super().rollback()


def record_engine(path: Path, jobs: Sequence[OutboundRequest], warmup: int,
                  seed: int) -> list[list[Op]]:
    """Run the engine once with its driver connections recording every call."""
    engine = create_store_engine(f"sqlite:///{path}")
    engine.dispose()  # later connections are made by the recording factory
    # The store opens its file connections as this class (it checks which file it opened):
    # a subclass of it that records is what the engine opens while recording.
    opened_as = store_db._FileConnection
    store_db._FileConnection = _RecordingConnection  # type: ignore[misc]
    try:
        engine.connect().close()  # connect (and its pragmas) before recording starts
        RECORDER.decisions.clear()
        engine_round(engine, jobs, warmup, seed, recorder=RECORDER)
        engine.dispose()
    finally:
        store_db._FileConnection = opened_as  # type: ignore[misc]
    recorded = list(RECORDER.decisions)
    RECORDER.decisions.clear()
    return recorded


def floor_round(conn: sqlite3.Connection, recorded: Sequence[Sequence[Op]],
                warmup: int) -> Measure:
    """Replay each decision's statements (fetching every row), its commit included."""
    def replay(ops: Sequence[Op]) -> None:
        for sql, params, many in ops:
            if sql is COMMIT:
                commit()
            elif sql is ROLLBACK:
                rollback()
            elif many:
                executemany(sql, params)
            else:
                execute(sql, params).fetchall()

    execute, executemany, commit, rollback = (conn.execute, conn.executemany, conn.commit,
                                              conn.rollback)
    for ops in recorded[:warmup]:
        replay(ops)
    measure = Measure()
    latencies = measure.latencies
    clock = time.perf_counter
    started = clock()
    for ops in recorded[warmup:]:
        t0 = clock()
        replay(ops)
        latencies.append(clock() - t0)
    measure.elapsed = clock() - started
    return measure


def _shape(sql: str) -> str:
    """A statement with IN lists of any length alike, on one line."""
    text = " ".join(sql.split())
    return re.sub(r"IN \((?:\?|:\w+)(?:, (?:\?|:\w+))*\)", "IN (…)", text)


def statement_costs(conn: sqlite3.Connection, recorded: Sequence[Sequence[Op]],
                    warmup: int) -> list[str]:
    """Replay once more, timing each statement: calls and µs per decision, by statement."""
    calls: Counter[str] = Counter()
    spent: dict[str, float] = {}
    clock = time.perf_counter
    for i, ops in enumerate(recorded):
        for sql, params, many in ops:
            t0 = clock()
            if sql is COMMIT:
                conn.commit()
            elif sql is ROLLBACK:
                conn.rollback()
            elif many:
                conn.executemany(sql, params)
            else:
                conn.execute(sql, params).fetchall()
            if i >= warmup:
                shape = _shape(sql)
                calls[shape] += 1
                spent[shape] = spent.get(shape, 0.0) + clock() - t0
    n = len(recorded) - warmup
    return [f"{calls[sql] / n:4.2f}x {spent[sql] / n * 1e6:7.1f} µs  {sql[:100]}"
            for sql in sorted(spent, key=spent.__getitem__, reverse=True)]


# -- main -------------------------------------------------------------------------------

@dataclass
class Result:
    size: int
    engine: list[Measure]
    floor: list[Measure]

    # Best of rounds: other processes on the machine can only slow a round down.
    @property
    def engine_rate(self) -> float:
        return max(m.rate for m in self.engine)

    @property
    def floor_rate(self) -> float:
        return max(m.rate for m in self.floor)

    @property
    def ratio(self) -> float:
        return self.engine_rate / self.floor_rate

    @property
    def median_ratio(self) -> float:
        return (statistics.median(m.rate for m in self.engine)
                / statistics.median(m.rate for m in self.floor))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_ms(measures: Sequence[Measure]) -> str:
    values = [x for m in measures for x in m.latencies]
    return f"{percentile(values, 0.5) * 1e3:.2f}/{percentile(values, 0.99) * 1e3:.2f}"


def run_size(size: int, args: argparse.Namespace, data: Callable[[], BuildData]) -> Result:
    log(f"\n== {size:,} numbers, {args.calls:,} calls, {args.contacts:,} contacts")
    path = db_path(args.db_dir, args, size)
    ensure_database(path, size, args, data)
    warm_page_cache(path)
    jobs = make_jobs(path, args.warmup + args.decisions, args)
    baseline = reset(path)
    recorded = record_engine(path, jobs, args.warmup, args.seed)
    if len(recorded) != len(jobs):
        raise RuntimeError(f"recorded {len(recorded)} decisions of {len(jobs)}")
    engine = create_store_engine(f"sqlite:///{path}")
    result = Result(size, [], [])
    with sqlite(path) as conn:
        for r in range(args.rounds):
            for side in ("engine", "floor") if r % 2 == 0 else ("floor", "engine"):
                counts = reset(path)
                if counts != baseline:
                    log(f"  WARNING: a round wrote rows reset() does not undo: "
                        f"{ {t: n - baseline.get(t, 0) for t, n in counts.items()} }")
                if side == "engine":
                    result.engine.append(engine_round(engine, jobs, args.warmup, args.seed))
                else:
                    result.floor.append(floor_round(conn, recorded, args.warmup))
            log(f"  round {r + 1}: engine {result.engine[-1].rate:8,.0f} decisions/s   "
                f"floor {result.floor[-1].rate:8,.0f}/s   "
                f"engine/floor {result.engine[-1].rate / result.floor[-1].rate:.2f}")
    engine.dispose()
    rules = sum((m.rules for m in result.engine), Counter())
    total = sum(rules.values())
    log("  rules chosen: " + ", ".join(f"{rule} {n / total:.0%}"
                                       for rule, n in rules.most_common()))
    per = sum(len(ops) for ops in recorded) / len(recorded)
    log(f"  driver calls per decision: {per:.2f} (the floor replays exactly these)")
    if args.verbose:
        reset(path)
        log("  floor, per decision, by statement (one more replay, timed per statement):")
        with sqlite(path) as conn:
            for line in statement_costs(conn, recorded, args.warmup):
                log(f"    {line}")
    log(f"  best of rounds: engine {result.engine_rate:,.0f} decisions/s, floor "
        f"{result.floor_rate:,.0f}/s, engine/floor {result.ratio:.2f} "
        f"(medians: {result.median_ratio:.2f})")
    reset(path)
    return result


def profile(args: argparse.Namespace, size: int, data: Callable[[], BuildData]) -> None:
    path = db_path(args.db_dir, args, size)
    ensure_database(path, size, args, data)
    jobs = make_jobs(path, args.warmup + args.decisions, args)
    engine = create_store_engine(f"sqlite:///{path}")
    reset(path)
    profiler = cProfile.Profile()
    measure = engine_round(engine, jobs, args.warmup, args.seed, profiler=profiler)
    reset(path)
    engine.dispose()
    log(f"\n== cProfile: engine on {size:,} numbers, {args.decisions:,} decisions "
        f"({measure.rate:,.0f}/s under the profiler)")
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    for order in ("cumulative", "tottime"):
        log(f"-- top {args.profile_top} by {order} time")
        stats.sort_stats(order).print_stats(args.profile_top)


CHAIN = Proximity(exchange=True, overlay=True, adjacent=True, radius_miles=50)


def chain_cost(decisions: int, seed: int) -> dict[str, tuple[float, float]]:
    """Per pure decision, the cost with the proximity chain over without (a ratio) and
    the microseconds it adds, for callees served in their area code and for callees
    reached only by proximity."""
    rng = random.Random(seed)
    area_codes = [code for code, _ in nanp_area_codes()]
    inventory = [f"+1{code}{rng.randrange(200, 1000)}{rng.randrange(10_000):04d}"
                 for code in area_codes for _ in range(2)]
    states = {n: NumberState(n, region="R") for n in inventory}
    served = sorted({n[2:5] for n in inventory})
    geo = geography()
    unserved_codes = [c for c in geo.area_codes if c not in set(served)] or served
    ratios: dict[str, tuple[float, float]] = {}
    for label, codes in (("area code decides", served), ("proximity decides", unserved_codes)):
        callees = [Callee(f"+1{rng.choice(codes)}5550{i % 1000:03d}"[:12], area_code=None)
                   for i in range(decisions)]
        callees = [replace(c, area_code=c.number[2:5], region="R") for c in callees]
        timings = []
        for proximity in (Proximity(), CHAIN):
            org = OrgPolicy(slug="bench", principal_number=inventory[0], local_presence=True,
                            proximity=proximity)
            facts = []
            for callee in callees:
                serving = frozenset(n for n in inventory if n[2:5] == callee.area_code)
                nearby = {code: frozenset(n for n in inventory if n[2:5] == code)
                          for code in nearby_area_codes(callee.area_code, proximity)}
                read = serving.union(*nearby.values(), {inventory[0]})  # as the service
                numbers = {n: states[n] for n in read}
                facts.append(OutboundFacts(org, Agent("ava"), callee, numbers, serving,
                                           nearby=nearby))
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                for fact in facts:
                    decide_outbound(REQUEST, fact, random.Random(1), BASE_NOW)
                best = min(best, time.perf_counter() - started)
            timings.append(best)
        ratios[label] = (timings[1] / timings[0],
                         (timings[1] - timings[0]) / decisions * 1e6)
    return ratios


REQUEST = OutboundRequest(org="bench", user="ava", to="+13125550100")


def report_chain(decisions: int, seed: int) -> None:
    """The proximity chain's line: pure decision with / without, and the time it adds."""
    for label, (ratio, added) in chain_cost(decisions, seed).items():
        log(f"pure decision with the proximity chain / without ({label}): {ratio:.2f}, "
            f"{added:+.1f} us per decision")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--numbers", type=int, nargs="+", default=[1000, 100_000],
                        help="inventory sizes (default: 1000 100000)")
    parser.add_argument("--calls", type=int, default=1_000_000, help="recorded calls")
    parser.add_argument("--contacts", type=int, default=200_000, help="contacts called")
    parser.add_argument("--decisions", type=int, default=5000, help="measured, per round")
    parser.add_argument("--warmup", type=int, default=500, help="decisions before measuring")
    parser.add_argument("--rounds", type=int, default=5, help="engine/floor rounds (median)")
    parser.add_argument("--project-share", type=float, default=0.2,
                        help="share of calls in a project (default 0.2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db-dir", type=Path,
                        default=Path(os.environ.get("CALLSIGN_BENCH_DIR", "/tmp/callsign-bench")))
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the engine on the largest inventory")
    parser.add_argument("--profile-top", type=int, default=15)
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="list the statements of a decision")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--chain-only", action="store_true",
                        help="only the proximity chain's cost on the pure decision")
    args = parser.parse_args(argv)
    if args.chain_only:
        report_chain(args.decisions, args.seed)
        return 0
    sizes = sorted(set(args.numbers))
    if sizes[0] < DOC_NUMBERS + 25 or args.contacts < 1 or args.calls < 1:
        parser.error(f"--numbers must be at least {DOC_NUMBERS + 25}; calls and contacts >= 1")
    args.db_dir.mkdir(parents=True, exist_ok=True)
    cache: list[BuildData] = []

    def data() -> BuildData:  # generated once, and only when a database must be built
        if not cache:
            started = time.perf_counter()
            area_codes = nanp_area_codes()
            cache.append(BuildData(org_numbers(sizes[-1], area_codes, args.seed),
                                   contact_numbers(args.contacts, area_codes, args.seed + 1)))
            log(f"  generated {sizes[-1]:,} numbers and {args.contacts:,} contacts over "
                f"{len(area_codes)} area codes in {time.perf_counter() - started:.1f} s")
        return cache[0]

    log(f"callsign decisions/s, in-process, SQLite {sqlite3.sqlite_version}, Python "
        f"{sys.version.split()[0]}: {args.decisions:,} decisions x {args.rounds} rounds "
        f"after {args.warmup} warm-up, {args.project_share:.0%} in a project; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    results = [run_size(size, args, data) for size in sizes]

    small, large = results[0], results[-1]
    scaling = large.engine_rate / small.engine_rate
    ok_ratio = all(r.ratio >= TARGET_RATIO for r in results)
    ok_scaling = abs(1 - scaling) <= TARGET_SCALING
    log("\n== summary: best of rounds; latency p50/p99 in ms over all rounds; engine/floor is "
        "the ratio of rates (p50: of median latencies)")
    log(f"{'numbers':>9}  {'engine/s':>9}  {'latency':>11}  {'floor/s':>9}  {'latency':>11}  "
        f"{'engine/floor':>12}  {'(p50)':>5}  target >= {TARGET_RATIO:.0%}")
    for r in results:
        p50 = percentile([x for m in r.floor for x in m.latencies], 0.5) / percentile(
            [x for m in r.engine for x in m.latencies], 0.5)
        log(f"{r.size:>9,}  {r.engine_rate:>9,.0f}  {latency_ms(r.engine):>11}  "
            f"{r.floor_rate:>9,.0f}  {latency_ms(r.floor):>11}  {r.ratio:>12.2f}  "
            f"{p50:>5.2f}  {'ok' if r.ratio >= TARGET_RATIO else 'MISSED'}")
    log(f"load average now {os.getloadavg()[0]:.2f} (other processes skew the figures)")
    if len(results) > 1:
        log(f"engine at {large.size:,} / at {small.size:,} numbers: {scaling:.2f} "
            f"(target within {TARGET_SCALING:.0%}): {'ok' if ok_scaling else 'MISSED'}")
    if args.profile:
        profile(args, sizes[-1], data)
    report_chain(args.decisions, args.seed)
    return 1 if args.check and not (ok_ratio and ok_scaling) else 0


if __name__ == "__main__":
    sys.exit(main())
