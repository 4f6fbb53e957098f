"""The decision's cost on PostgreSQL with 1M numbers and 10M calls, against 1k and 10k.

    .venv/bin/python bench/pg_scale.py [--numbers 1000000] [--calls 10000000] [--contacts N]
        [--small-numbers 1000] [--small-calls 10000] [--decisions 3000] [--warmup 300]
        [--rounds 3] [--warm-contacts 300] [--pg URL] [--rebuild] [--drop]
        [--explain big|all|none] [--server-options OPTIONS] [--wait-idle SECONDS] [--check]

Data. One PostgreSQL schema per size (``bench_pg_scale_n<numbers>_c<calls>``), migrated
by ``callsign.store.db.create_store_engine`` (so exactly callsign's tables, indexes and
trigger), the organization applied from the org document of ``bench/decisions.py``
(local presence with region fallback, calling hours, five users, two projects with pools
of ten numbers), then bulk-loaded with COPY (psycopg ``cursor.copy``): the numbers,
round-robin over every geographic US/CA area code and each valid for libphonenumber
(area code and region from ``phone.facts_for``, once per area code), one own-area-code
``number_area_codes`` row each (mapped false, active, never presented), ``calls / 6``
contacts by default, and the calls spread uniformly over the contacts and 180 days.
During the load the call-path indexes are dropped and rebuilt afterwards (the same
definitions, checked), foreign-key triggers are off (``session_replication_role``;
the generated rows are consistent), contacts and calls are COPY ... FREEZE; then
VACUUM ANALYZE. A schema is built once and kept: it is reused when its comment names
the same build (sizes, seed, migrations) and its row counts are right.

Work. ``callsign.services.calls.place_call(UnitOfWork(engine), request, now=..., rng=...)`` with
callsign's own PostgreSQL engine, one transaction per decision, for random contacts
(fresh ones every round), users and (20%) projects, after an untimed warm-up. Sizes
alternate round by round; each round starts from the same state (the calls it recorded
deleted, number usage cleared, VACUUM). Rates are the best of the rounds (medians too);
a last "warm" round per size spreads as many decisions over ``--warm-contacts`` of the
last round's contacts, whose pages then stay in shared buffers: it tells the cost of
reading pages from outside shared buffers apart from the work itself. The table
statistics of each round count the sequential scans of the tables (a runtime check that
no decision scanned a big table) and the buffers per decision; every DB-API call is
timed by statement (round trip included), and the prepared statements of the decisions'
session show which plans PostgreSQL's plan cache used (generic or custom).

Plans. On the big data set (``--explain all``: on each) every statement a decision runs
is captured as psycopg receives it (SQL and parameters) from a few real decisions and
shown with EXPLAIN (ANALYZE, BUFFERS): as psycopg first runs it (parameters bound, a
custom plan) and as a prepared statement's generic plan (psycopg prepares a statement
after 5 executions, and PostgreSQL may then keep a generic plan); the reads of a contact
use one no decision read before (cold pages), and the trigger's UPDATE is shown too. A
Seq Scan, or an index scan returning over 1000 rows, on numbers, number_area_codes,
contacts or calls is flagged. One what-if on the big set: a project pool moved to the
newest numbers without refreshed statistics (a 10-row change never triggers autoanalyze).

Target: the rate at the big size within 20% of the rate at the small size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import phonenumbers
import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench` as a package

from bench.decisions import (
    BASE_NOW,
    DOC_NUMBERS,
    HISTORY_DAYS,
    LINE_TYPES,
    LOCAL_TRACE,
    OUTCOMES,
    PROJECT_TRACE,
    SLUG,
    USERS,
    Measure,
    Number,
    daily_cap,
    engine_round,
    nanp_area_codes,
    org_document,
    percentile,
    schema_version,
    status,
)
from callsign.domain import phone
from callsign.domain.document import parse_document
from callsign.domain.model import OutboundRequest
from callsign.services.calls import new_id, place_call
from callsign.store import calls as queries
from callsign.store.db import create_store_engine
from callsign.store.orgs import apply_document
from callsign.store.sql import Statement
from callsign.store.uow import UnitOfWork

BUILD_VERSION = 1  # bump when the generated data changes, to rebuild cached schemas
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
NEVER = "1970-01-01 00:00:00+00"
NULL = "\\N"  # NULL in COPY's text format
BIG_TABLES = ("numbers", "number_area_codes", "contacts", "calls")
TARGET_SCALING = 0.20
CHUNK = 500  # rows per COPY write (~300 kB of calls: psycopg queues up to 1024 writes)


def log(message: str = "") -> None:
    print(message, flush=True)


@dataclass(frozen=True)
class Size:
    numbers: int
    calls: int
    contacts: int

    @property
    def schema(self) -> str:
        return f"bench_pg_scale_n{self.numbers}_c{self.calls}"

    def label(self) -> str:
        return f"{self.numbers:,} numbers / {self.calls:,} calls"


def conninfo(pg: str, schema: str, server_options: str = "") -> str:
    """A libpq URL of ``pg`` with ``schema`` first on the search path (and more options)."""
    options = quote(f"-csearch_path={schema} {server_options}".strip(), safe="")
    return f"{pg}{'&' if '?' in pg else '?'}options={options}"


def engine_url(pg: str, schema: str, server_options: str = "") -> str:
    """The URL of callsign's engine; ``server_options`` only for the decisions' sessions."""
    return conninfo(pg, schema, server_options).replace("postgresql://",
                                                        "postgresql+psycopg://", 1)


@contextlib.contextmanager
def connect(pg: str, schema: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection on ``schema`` (closed, so its statistics are flushed)."""
    with psycopg.connect(conninfo(pg, schema), autocommit=True) as conn:
        yield conn


def one(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row[0]


def build_key(size: Size, seed: int, project_share: float) -> str:
    return json.dumps({"build": BUILD_VERSION, "schema": schema_version(), "seed": seed,
                       "numbers": size.numbers, "calls": size.calls, "contacts": size.contacts,
                       "project_share": project_share}, sort_keys=True)


# -- generated data -----------------------------------------------------------------------

def valid(national: int) -> bool:
    return bool(phonenumbers.is_valid_number(
        phonenumbers.PhoneNumber(country_code=1, national_number=national)))


def area_facts() -> list[tuple[str, str]]:
    """(area code, region) of every geographic US/CA area code, from ``phone.facts_for``."""
    return nanp_area_codes()  # facts_for on one number per area code (region is per NPA)


def make_numbers(count: int, areas: Sequence[tuple[str, str]], seed: int) -> list[Number]:
    """``count`` distinct valid numbers, round-robin over the area codes."""
    rng = random.Random(seed)
    seen: set[int] = set()
    found: list[Number] = []
    i = 0
    while len(found) < count:
        npa, region = areas[i % len(areas)]
        i += 1
        national = int(npa) * 10_000_000 + rng.randrange(2_000_000, 10_000_000)
        if national in seen or not valid(national):
            continue
        seen.add(national)
        found.append(Number(f"+1{national}", npa, region))
    # The area code and region cached per NPA are what facts_for says of each number.
    for number in found[:: max(1, count // 500)]:
        facts = phone.facts_for(number.e164, "US", field="number")
        assert (facts.area_code, facts.region) == (number.area_code, number.region), number
    return found


def make_contacts(count: int, areas: Sequence[tuple[str, str]], seed: int) -> list[str]:
    """``count`` distinct valid numbers in random area codes."""
    rng = random.Random(seed)
    codes = [int(npa) * 10_000_000 for npa, _ in areas]
    found: dict[int, None] = {}
    while len(found) < count:
        national = codes[rng.randrange(len(codes))] + rng.randrange(2_000_000, 10_000_000)
        if national not in found and valid(national):
            found[national] = None
    return [f"+1{national}" for national in found]


def copy_text(value: str) -> str:
    """``value`` escaped for COPY's text format."""
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def number_rows(numbers: Sequence[Number], first_id: int, org_id: int,
                call_path: str) -> Iterator[str]:
    lines = []
    for i, n in enumerate(numbers):
        index = DOC_NUMBERS + i
        cap = daily_cap(index)
        lines.append(f"{first_id + i}\t{org_id}\t{n.e164}\t\t\t{status(index)}\t{n.area_code}\t"
                     f"{copy_text(n.region)}\t{NULL if cap is None else cap}\tmanual\t"
                     f"{call_path}\t{NEVER}\n")
        if len(lines) == CHUNK:
            yield "".join(lines)
            lines.clear()
    yield "".join(lines)


def area_code_rows(numbers: Sequence[Number], first_id: int, org_id: int) -> Iterator[str]:
    lines = []
    for i, n in enumerate(numbers):
        active = "t" if status(DOC_NUMBERS + i) == "active" else "f"
        lines.append(f"{first_id + i}\t{n.area_code}\t{org_id}\tf\t{active}\t{NEVER}\n")
        if len(lines) == CHUNK:
            yield "".join(lines)
            lines.clear()
    yield "".join(lines)


def contact_rows(contacts: Sequence[str], org_id: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    owners = [*USERS, NULL]
    lines = []
    for i, c in enumerate(contacts):
        owner, line_type = owners[rng.randrange(len(owners))], LINE_TYPES[rng.randrange(3)]
        lines.append(f"{i + 1}\t{org_id}\t{c}\t{owner}\t{line_type}\n")
        if len(lines) == CHUNK:
            yield "".join(lines)
            lines.clear()
    yield "".join(lines)


def call_rows(count: int, org_id: int, numbers: Sequence[Number], contacts: Sequence[str],
              pools: dict[str, list[str]], project_share: float, seed: int) -> Iterator[str]:
    """The call history, in time order (as it is appended), ids random like callsign's."""
    rng = random.Random(seed)
    rand, randrange, bits = rng.random, rng.randrange, rng.getrandbits
    by_area: dict[str, list[str]] = {}
    for n in numbers:
        by_area.setdefault(n.area_code, []).append(n.e164)
    everyone = [n.e164 for n in numbers]
    local_of = [by_area.get(c[2:5]) or everyone for c in contacts]
    project_keys = sorted(pools)
    local_trace, project_trace = copy_text(LOCAL_TRACE), copy_text(PROJECT_TRACE)
    span = HISTORY_DAYS * 86400
    start = BASE_NOW.timestamp() - span
    first = int(start) % 86400  # BASE_NOW is on a whole second
    day0 = int(start) - first
    days = [time.strftime("%Y-%m-%d", time.gmtime(day0 + d * 86400))
            for d in range(HISTORY_DAYS + 2)]
    step = span / count
    outcomes = [o or NULL for o in OUTCOMES]
    lines = []
    for i in range(count):
        offset = (i + rand()) * step  # uniform, and in time order
        whole = int(offset)
        day, in_day = divmod(whole + first, 86400)
        hour, rest = divmod(in_day, 3600)
        at = (f"{days[day]} {hour:02d}:{rest // 60:02d}:{rest % 60:02d}."
              f"{int((offset - whole) * 1e6):06d}+00")
        c = randrange(len(contacts))
        to = contacts[c]
        if rand() < project_share:
            project = project_keys[randrange(len(project_keys))]
            pool = pools[project]
            caller = pool[randrange(len(pool))]
            rule, trace = "different_each_attempt", project_trace % (to[2:5], caller)
        else:
            project = NULL
            local = local_of[c]
            caller = local[randrange(len(local))]
            rule, trace = "local_presence", local_trace % (to[2:5], to[2:5], caller)
        outcome = outcomes[randrange(len(outcomes))]
        lines.append(f"call_{bits(96):024x}\t{org_id}\t{at}\t{USERS[randrange(5)]}\t{to}\t"
                     f"{caller}\t{rule}\t{project}\tmanual\t{trace}\t{outcome}\t"
                     f"{NULL if outcome is NULL else at}\n")
        if len(lines) == CHUNK:
            yield "".join(lines)
            lines.clear()
    yield "".join(lines)


# -- build ------------------------------------------------------------------------------

@dataclass
class Data:
    areas: list[tuple[str, str]]
    numbers: list[Number]
    contacts: list[str]


def index_definitions(conn: psycopg.Connection[Any]) -> list[str]:
    return sorted(d for d, in conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()").fetchall())


def drop_indexes(conn: psycopg.Connection[Any], tables: Sequence[str]) -> list[str]:
    """Drop the indexes of ``tables`` that no foreign key needs; the SQL recreating them."""
    rows = conn.execute("""
        SELECT c.relname, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
               con.conname, pg_get_constraintdef(con.oid)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace s ON s.oid = c.relnamespace
        LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')
        WHERE s.nspname = current_schema() AND c.relname = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint f
                          WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
        ORDER BY c.relname, 2""", (list(tables),)).fetchall()
    restore = []
    for table, index, indexdef, constraint, constraintdef in rows:
        if constraint:
            conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(table), sql.Identifier(constraint)))
            restore.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{constraint}" {constraintdef}')
        else:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index)))
            restore.append(indexdef)
    return restore


def copy_in(conn: psycopg.Connection[Any], statement: str, chunks: Iterator[str]) -> None:
    """COPY the text chunks; a psycopg thread sends them while the next ones are made."""
    with conn.cursor() as cursor, cursor.copy(statement,
                                              writer=QueuedLibpqWriter(cursor)) as copy:
        for chunk in chunks:
            copy.write(chunk)


class Timer:
    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()

    def lap(self, what: str) -> None:
        now = time.perf_counter()
        log(f"    {what}: {now - self.last:.1f} s")
        self.last = now

    @property
    def total(self) -> float:
        return time.perf_counter() - self.started


def build(pg: str, size: Size, data: Data, args: argparse.Namespace) -> None:
    schema = size.schema
    timer = Timer()
    with psycopg.connect(pg, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    engine = create_store_engine(engine_url(pg, schema))
    numbers = data.numbers[:size.numbers]
    with engine.begin() as conn:
        apply_document(conn, parse_document(org_document(numbers)))
    engine.dispose()
    timer.lap("schema migrated by create_store_engine, organization applied")
    with psycopg.connect(conninfo(pg, schema), autocommit=True) as conn:
        definitions = index_definitions(conn)
        conn.execute("SET session_replication_role = replica")  # no FK triggers in the load
        conn.execute("SET maintenance_work_mem = '1GB'")
        org_id = one(conn, "SELECT id FROM orgs WHERE slug = %s", (SLUG,))
        path = one(conn, "SELECT call_path::text FROM numbers LIMIT 1")
        pools = {key: [e for e, in conn.execute(
            "SELECT n.e164 FROM numbers n JOIN project_numbers p ON p.number_id = n.id "
            "WHERE p.project_id = %s ORDER BY p.position", (pid,)).fetchall()]
            for key, pid in conn.execute("SELECT key, id FROM projects").fetchall()}
        first_id = one(conn, "SELECT max(id) + 1 FROM numbers")
        rest = numbers[DOC_NUMBERS:]
        with conn.transaction():
            restore = drop_indexes(conn, BIG_TABLES)
            copy_in(conn, "COPY numbers (id, org_id, e164, label, group_name, status, "
                    "area_code, region, daily_cap, provider, call_path, last_presented_at) "
                    "FROM STDIN",
                    number_rows(rest, first_id, org_id, NULL if path is None else path))
            copy_in(conn, "COPY number_area_codes (number_id, area_code, org_id, mapped, "
                    "active, last_presented_at) FROM STDIN",
                    area_code_rows(rest, first_id, org_id))
            timer.lap(f"COPY {len(rest):,} numbers and their area-code rows")
            conn.execute("TRUNCATE contacts, calls CASCADE")  # empty; lets COPY ... FREEZE
            copy_in(conn, "COPY contacts (id, org_id, phone, owner, line_type) FROM STDIN "
                    "(FREEZE)", contact_rows(data.contacts[:size.contacts], org_id, args.seed + 3))
            timer.lap(f"COPY {size.contacts:,} contacts")
            copy_in(conn, "COPY calls (id, org_id, at, user_key, to_number, caller_id, rule, "
                    "project_key, channel, trace, outcome, outcome_at) FROM STDIN (FREEZE)",
                    call_rows(size.calls, org_id, numbers, data.contacts[:size.contacts], pools,
                              args.project_share, args.seed + 2))
            timer.lap(f"COPY {size.calls:,} calls")
            for statement in restore:
                conn.execute(statement)
            for table in ("numbers", "contacts"):
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT max(id) FROM {table}))")
            timer.lap(f"{len(restore)} indexes rebuilt")
        if index_definitions(conn) != definitions:
            raise RuntimeError("the rebuilt indexes differ from the migrated ones")
        conn.execute("SET session_replication_role = DEFAULT")
        conn.execute("VACUUM ANALYZE")
        timer.lap("VACUUM ANALYZE")
        conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
            sql.Identifier(schema), sql.Literal(build_key(size, args.seed, args.project_share))))
    log(f"  built {schema} in {timer.total:.1f} s")


def counts(pg: str, schema: str) -> dict[str, int]:
    with connect(pg, schema) as conn:
        return {t: one(conn, f"SELECT count(*) FROM {t}") for t in BIG_TABLES}


def expected_counts(size: Size) -> dict[str, int]:
    return {"numbers": size.numbers, "number_area_codes": size.numbers,
            "contacts": size.contacts, "calls": size.calls}


def ensure_schema(pg: str, size: Size, data: Callable[[], Data], args: argparse.Namespace) -> None:
    schema = size.schema
    with psycopg.connect(pg, autocommit=True) as admin:
        comment = admin.execute(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
            (schema,)).fetchone()
    if comment is not None and comment[0] == build_key(size, args.seed, args.project_share) \
            and not args.rebuild:
        reset(pg, schema)
        found = counts(pg, schema)
        if found == expected_counts(size):
            log(f"  schema {schema}: cached ({', '.join(f'{t} {n:,}' for t, n in found.items())})")
            return
        log(f"  schema {schema}: row counts {found} differ, rebuilding")
    check_disk(pg, size)
    build(pg, size, data(), args)


def check_disk(pg: str, size: Size) -> None:
    with psycopg.connect(pg) as conn:
        directory = one(conn, "SHOW data_directory")
    estimate = size.calls * 1100 + size.numbers * 500 + size.contacts * 200
    free = shutil.disk_usage(directory).free
    log(f"  disk: {free / 1e9:.1f} GB free under {directory}, the build needs about "
        f"{estimate / 1e9:.1f} GB (with WAL)")
    if free < estimate * 1.5 + 5e9:
        sys.exit(f"not enough free disk for {size.label()}: use --numbers/--calls to scale down")


def table_sizes(pg: str, schema: str) -> list[str]:
    with connect(pg, schema) as conn:
        rows = conn.execute("""
            SELECT c.relname, pg_relation_size(c.oid), pg_indexes_size(c.oid),
                   pg_total_relation_size(c.oid)
            FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
            WHERE s.nspname = current_schema() AND c.relkind = 'r'
            ORDER BY pg_total_relation_size(c.oid) DESC""").fetchall()
    total = sum(r[3] for r in rows)
    lines = [f"    {name:<18} heap {heap / 1e6:>8.1f} MB  indexes {idx / 1e6:>8.1f} MB  "
             f"total {all_ / 1e6:>8.1f} MB" for name, heap, idx, all_ in rows if all_ > 100_000]
    lines.append(f"    {'schema':<18} total {total / 1e9:.2f} GB")
    return lines


# -- rounds -----------------------------------------------------------------------------

def reset(pg: str, schema: str) -> None:
    """Undo what decisions wrote: calls from BASE_NOW on, number usage; then VACUUM."""
    with connect(pg, schema) as conn:
        org_id = one(conn, "SELECT id FROM orgs WHERE slug = %s", (SLUG,))
        with conn.transaction():
            conn.execute("DELETE FROM calls WHERE org_id = %s AND user_key = ANY(%s) "
                         "AND at >= %s", (org_id, list(USERS), BASE_NOW))
            conn.execute("DELETE FROM number_usage")
            conn.execute("UPDATE numbers SET last_presented_at = %s "
                         "WHERE last_presented_at <> %s", (NEVER, NEVER))
        conn.execute("VACUUM calls, numbers, number_area_codes, number_usage")


def make_jobs(pg: str, size: Size, count: int, seed: int,
              project_share: float) -> list[OutboundRequest]:
    rng = random.Random(seed)
    ids = [rng.randint(1, size.contacts) for _ in range(count)]
    with connect(pg, size.schema) as conn:
        phones = dict(conn.execute("SELECT id, phone FROM contacts WHERE id = ANY(%s)",
                                   (sorted(set(ids)),)).fetchall())
    jobs = []
    for contact_id in ids:
        project = rng.choice(("renewals", "outreach")) if rng.random() < project_share else None
        jobs.append(OutboundRequest(org=SLUG, user=rng.choice(USERS), to=phones[contact_id],
                                    project=project))
    return jobs


TableStats = dict[str, tuple[int, int, int, int]]  # table -> seq scans, index scans, hit, read


def table_stats(pg: str, schema: str) -> TableStats:
    with connect(pg, schema) as conn:
        rows = conn.execute("""
            SELECT t.relname, coalesce(t.seq_scan, 0), coalesce(t.idx_scan, 0),
                   coalesce(io.heap_blks_hit, 0) + coalesce(io.idx_blks_hit, 0)
                       + coalesce(io.toast_blks_hit, 0) + coalesce(io.tidx_blks_hit, 0),
                   coalesce(io.heap_blks_read, 0) + coalesce(io.idx_blks_read, 0)
                       + coalesce(io.toast_blks_read, 0) + coalesce(io.tidx_blks_read, 0)
            FROM pg_stat_user_tables t JOIN pg_statio_user_tables io USING (relid)
            WHERE t.schemaname = current_schema()""").fetchall()
    return {name: (seq, idx, hit, read) for name, seq, idx, hit, read in rows}


def settled_stats(pg: str, schema: str) -> TableStats:
    """The table statistics once the backends that just closed have reported theirs."""
    previous = table_stats(pg, schema)
    for _ in range(20):
        time.sleep(0.25)
        current = table_stats(pg, schema)
        if current == previous:
            return current
        previous = current
    return previous


TICK = os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, idle and iowait excluded)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICK


def process_cpu(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_until_idle(limit: float) -> None:
    """Wait (up to ``limit`` s) until the machine is nearly idle for 3 s: others skew rates."""
    deadline = time.monotonic() + limit
    while True:
        busy = machine_busy()
        time.sleep(3)
        cores = (machine_busy() - busy) / 3
        if cores < 0.3:
            return
        if time.monotonic() > deadline:
            log(f"  (the machine is still busy, {cores:.1f} cores by other processes: going on)")
            return
        log(f"  waiting: other processes keep {cores:.1f} cores busy")
        time.sleep(5)


Spent = dict[str, list[float]]  # statement -> [calls, seconds]


@contextlib.contextmanager
def timing(spent: Spent) -> Iterator[None]:
    """Time every DB-API call the decisions make (round trip included), by statement."""
    execute = psycopg.Cursor.execute
    commit, rollback = psycopg.Connection.commit, psycopg.Connection.rollback
    names: dict[str, str] = {}
    clock = time.perf_counter

    def note(key: str, started: float) -> None:
        entry = spent.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += clock() - started

    def timed_execute(self: psycopg.Cursor[Any], query: Any, params: Any = None,
                      **kwargs: Any) -> Any:
        started = clock()
        try:
            return execute(self, query, params, **kwargs)
        finally:
            text = query if isinstance(query, str) else repr(query)
            name = names.get(text)
            if name is None:
                name = names[text] = statement_name(text)
            note(name, started)

    def timed_commit(self: psycopg.Connection[Any]) -> None:
        started = clock()
        try:
            commit(self)
        finally:
            note("COMMIT", started)

    def timed_rollback(self: psycopg.Connection[Any]) -> None:
        started = clock()
        try:
            rollback(self)
        finally:
            note("ROLLBACK", started)

    patches = {(psycopg.Cursor, "execute"): timed_execute,
               (psycopg.Connection, "commit"): timed_commit,
               (psycopg.Connection, "rollback"): timed_rollback}
    originals = {key: getattr(*key) for key in patches}
    for (owner, attribute), replacement in patches.items():
        setattr(owner, attribute, replacement)
    try:
        yield
    finally:
        for (owner, attribute), original in originals.items():
            setattr(owner, attribute, original)


@dataclass
class Round:
    measure: Measure
    seq_scans: dict[str, int]
    index_scans: int
    hit: float  # shared buffers hit per decision
    read: float  # blocks read (OS cache or disk) per decision
    plans: list[tuple[str, int, int]]  # statement, generic plans, custom plans executed
    cores: tuple[float, float, float]  # over the round: this process, its backend, the rest
    spent: Spent  # by statement: calls and seconds over the round's decisions
    decisions: int  # warm-up included


def run_round(pg: str, size: Size, jobs: Sequence[OutboundRequest], warmup: int,
              seed: int, server_options: str) -> Round:
    reset(pg, size.schema)
    before = settled_stats(pg, size.schema)
    engine = create_store_engine(engine_url(pg, size.schema, server_options))
    with engine.connect() as conn:  # the pool's one connection: the decisions' session
        backend = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    spent: Spent = {}
    cpu0 = (time.monotonic(), time.process_time(), process_cpu(backend), machine_busy())
    with timing(spent):
        measure = engine_round(engine, jobs, warmup, seed)
    cpu1 = (time.monotonic(), time.process_time(), process_cpu(backend), machine_busy())
    with engine.connect() as conn:
        if int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()) != backend:
            raise RuntimeError("the decisions used more than one connection")
        plans = [(statement_name(s), g, c) for s, g, c in conn.exec_driver_sql(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
            "ORDER BY generic_plans + custom_plans DESC").fetchall()]
    engine.dispose()
    after = settled_stats(pg, size.schema)
    n = len(jobs)
    span = cpu1[0] - cpu0[0]
    own, served = (cpu1[1] - cpu0[1]) / span, (cpu1[2] - cpu0[2]) / span
    cores = (own, served, (cpu1[3] - cpu0[3]) / span - own - served)
    zero = (0, 0, 0, 0)
    seq = {t: after[t][0] - before.get(t, zero)[0] for t in after}
    return Round(measure, {t: v for t, v in seq.items() if v},
                 sum(after[t][1] - before.get(t, zero)[1] for t in after),
                 sum(after[t][2] - before.get(t, zero)[2] for t in after) / n,
                 sum(after[t][3] - before.get(t, zero)[3] for t in after) / n,
                 plans, cores, spent, n)


def _shape(query: str) -> str:
    """A statement with its parameters (any style) as ? and IN lists of any length alike."""
    text = re.sub(r"\$\d+|%\(\w+\)s|(?<![:\w]):\w+", "?", " ".join(query.split()))
    return re.sub(r"\(\?(?:, \?)*\)", "?", text)


def statement_name(query: str) -> str:
    """The name in store/calls.py of the Statement ``query`` was rendered from, with list sizes."""
    names = {_shape(value.sql): name for name, value in vars(queries).items()
             if isinstance(value, Statement)}
    if query.strip() in (";", "SELECT 1"):
        return "pool_pre_ping (the engine's)"
    name = names.get(_shape(query), " ".join(query.split())[:60])
    lists = [m.count("$") for m in re.findall(r"IN \((\$\d+(?:, \$\d+)*)\)", query)]
    return f"{name} (IN list of {lists[0]})" if lists else name


# -- plans -------------------------------------------------------------------------------

Captured = list[tuple[str, dict[str, Any]]]


@contextlib.contextmanager
def capturing() -> Iterator[Captured]:
    """Record every (SQL, parameters) psycopg's Connection.execute receives meanwhile."""
    captured: Captured = []
    original = psycopg.Connection.execute

    def execute(self: psycopg.Connection[Any], query: Any, params: Any = None,
                **kwargs: Any) -> Any:
        if isinstance(query, str) and isinstance(params, dict):
            captured.append((query, dict(params)))
        return original(self, query, params, **kwargs)

    setattr(psycopg.Connection, "execute", execute)  # noqa: B010 (a method, for mypy)
    try:
        yield captured
    finally:
        setattr(psycopg.Connection, "execute", original)  # noqa: B010


def colon_form(query: str) -> str:
    """psycopg's SQL back in Statement's form: %(name)s -> :name, expanded lists folded."""
    folded = re.sub(r"\(%\((\w+?)_0\)s(?:, %\(\1_\d+\)s)*\)", r":\1", query)
    return re.sub(r"%\((\w+)\)s", r":\1", folded)


def positional(query: str, params: dict[str, Any],
               conn: psycopg.Connection[Any]) -> tuple[str, list[str]]:
    """``query`` with $1, $2... for PREPARE, and the parameters as SQL literals in order."""
    order: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        order.setdefault(name, len(order) + 1)
        return f"${order[name]}"

    text = re.sub(r"%\((\w+)\)s", number, query)
    return text, [sql.Literal(params[name]).as_string(conn) for name in order]


def seq_scans(plan: str) -> set[str]:
    return set(re.findall(r"Seq Scan on (\w+)", plan))


def wide_scans(plan: str) -> list[str]:
    """Scans of a big table that returned more than 1000 rows (an unbounded index range)."""
    found = []
    for line in plan.splitlines():
        scan = re.search(r"Scan(?: Backward)? (?:using \w+ )?on (\w+).*actual time=\S+ "
                         r"rows=(\d+) loops=(\d+)", line)
        if scan and scan.group(1) in BIG_TABLES and int(scan.group(2)) * int(scan.group(3)) > 1000:
            found.append(f"{line.strip().removeprefix('->').strip().split('  (')[0]}: "
                         f"{int(scan.group(2)) * int(scan.group(3)):,} rows")
    return found


def show_plans(conn: psycopg.Connection[Any], name: str, query: str, params: dict[str, Any],
               flagged: list[str]) -> list[str]:
    """Log the custom and the generic plan of one statement; its verdicts."""
    custom = explain(conn, query, params, generic=False)
    generic = explain(conn, query, params, generic=True)
    verdicts = []
    for kind, plan in (("custom plan (parameters bound, as psycopg first runs it)", custom),
                       ("generic plan (a prepared statement after 5 runs, "
                        "plan_cache_mode=force_generic_plan)", generic)):
        log(f"   {kind}:")
        for line in plan.splitlines():
            log(f"     {line}")
        scanned = sorted(seq_scans(plan) & set(BIG_TABLES))
        wide = wide_scans(plan)
        problems = ([f"Seq Scan on {', '.join(scanned)}"] if scanned else []) + wide \
            + (["JIT"] if "JIT:" in plan else [])
        flagged += [f"{name}, {kind.split(' (')[0]}: {p}" for p in problems]
        verdicts.append("SEQ SCAN" if scanned else "WIDE INDEX RANGE" if wide else "indexed")
    return verdicts


def explain_statements(pg: str, size: Size, args: argparse.Namespace, *,
                       big: bool) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement of a few real decisions."""
    reset(pg, size.schema)
    jobs = make_jobs(pg, size, 50, args.seed + 99, 0.0)
    with connect(pg, size.schema) as conn:
        # A contact with history, one without a project and one with; a user with a caller ID.
        org_id = one(conn, "SELECT id FROM orgs WHERE slug = %s", (SLUG,))
        phone_with_calls = one(conn, "SELECT to_number FROM calls WHERE org_id = %s "
                                     "AND to_number = ANY(%s) ORDER BY to_number LIMIT 1",
                               (org_id, [j.to for j in jobs]))
        number_id = one(conn, "SELECT id FROM numbers ORDER BY id DESC LIMIT 1")
    requests = [
        OutboundRequest(org=SLUG, user="dee", to=phone_with_calls),
        OutboundRequest(org=SLUG, user="ava", to=jobs[1].to, project="renewals"),
    ]
    # The decisions above read their contacts' pages: the plans read others, not read before.
    unread = iter([j.to for j in jobs if j.to not in (phone_with_calls, jobs[1].to)])
    engine = create_store_engine(engine_url(pg, size.schema, args.server_options))
    rng = random.Random(args.seed)
    with capturing() as captured:
        for i, request in enumerate(requests):
            place_call(UnitOfWork(engine), request, now=BASE_NOW + timedelta(seconds=i + 1),
                       rng=rng)
    engine.dispose()
    trigger = ("UPDATE number_area_codes SET active = (%(status)s = 'active'), "
               "last_presented_at = %(last)s WHERE number_id = %(id)s")
    captured.append((trigger, {"status": "active", "last": BASE_NOW, "id": number_id}))
    seen: set[str] = set()
    report: list[str] = []
    flagged: list[str] = []
    with connect(pg, size.schema) as conn:
        with contextlib.suppress(psycopg.Error):  # I/O Timings in the plans (a superuser's)
            conn.execute("SET track_io_timing = on")
        for query, params in captured:
            if query in seen:
                continue
            seen.add(query)
            name = ("trigger numbers_mirror_to_area_codes body" if query == trigger
                    else statement_name(query))
            if query.startswith("INSERT INTO calls"):
                params = {**params, "id": new_id("call")}
            if "phone" in params:
                params = {**params, "phone": next(unread)}
            log(f"\n-- {name} ({size.schema})\n   {colon_form(query)}")
            log(f"   parameters: {params}"
                + ("  (a contact no decision read before: the custom plan reads its pages "
                   "cold, the generic plan then finds them cached)" if "phone" in params
                   else ""))
            verdicts = show_plans(conn, name, query, params, flagged)
            report.append(f"{name}: custom plan {verdicts[0]}, generic plan {verdicts[1]}")
        if big:
            report.append(stale_pool_probe(conn, flagged))
    reset(pg, size.schema)
    if not big:
        return [*report, "(a small inventory: a sequential scan of a few pages can be the "
                "planner's right choice, so nothing is flagged)"]
    return report + ([f"FLAGGED: {f}" for f in flagged] or
                     ["no Seq Scan or wide index range on numbers, number_area_codes, "
                      "contacts or calls, no JIT"])


def stale_pool_probe(conn: psycopg.Connection[Any], flagged: list[str]) -> str:
    """_POOL when a pool is moved to the newest numbers and project_numbers is not analyzed.

    Changing a 10-number pool changes 10 rows: below autovacuum's analyze threshold (50
    rows + 10%), so the statistics keep the old number ids for good.
    """
    query = queries._POOL.sql.replace(":project_id", "%(project_id)s")
    project_id, pool = conn.execute(
        "SELECT project_id, count(*) FROM project_numbers GROUP BY project_id "
        "ORDER BY project_id LIMIT 1").fetchone() or (None, 0)
    name = "_POOL, pool moved to the newest numbers, statistics not refreshed"
    log(f"\n-- {name}\n   {colon_form(query)}")
    verdicts = ["not run"]
    try:
        with conn.transaction():
            conn.execute("UPDATE project_numbers p SET number_id = newest.id "
                         "FROM (SELECT id, row_number() OVER (ORDER BY id DESC) AS k "
                         "      FROM numbers ORDER BY id DESC LIMIT %s) newest, "
                         "     (SELECT number_id, row_number() OVER (ORDER BY number_id) AS k "
                         "      FROM project_numbers WHERE project_id = %s) old "
                         "WHERE p.project_id = %s AND p.number_id = old.number_id "
                         "AND old.k = newest.k", (pool, project_id, project_id))
            log(f"   parameters: {{'project_id': {project_id}}}  (pool of {pool} moved to the "
                f"{pool} newest numbers, in a transaction rolled back)")
            verdicts = show_plans(conn, name, query, {"project_id": project_id}, flagged)
            raise psycopg.Rollback
    except psycopg.Error as exc:
        log(f"   (could not probe: {exc})")
    return f"{name}: custom plan {verdicts[0]}, generic plan {verdicts[-1]}"


def explain(conn: psycopg.Connection[Any], query: str, params: dict[str, Any], *,
            generic: bool) -> str:
    """The plan of ``query`` executed with ``params`` in a transaction rolled back."""
    lines: list[str] = []
    try:
        with conn.transaction():
            if generic:
                text, literals = positional(query, params, conn)
                conn.execute(f"PREPARE bench_plan AS {text}")
                conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                rows = conn.execute(
                    f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_plan({', '.join(literals)})"
                ).fetchall()
            else:
                rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query,
                                    params).fetchall()
            lines = [r[0] for r in rows]
            raise psycopg.Rollback
    finally:
        if generic:
            with contextlib.suppress(psycopg.Error):
                conn.execute("DEALLOCATE bench_plan")
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------

def statement_costs(rounds: Sequence[Round]) -> dict[str, tuple[float, float]]:
    """Statement -> (calls per decision, µs per decision), over all ``rounds``."""
    decisions = sum(r.decisions for r in rounds)
    total: dict[str, list[float]] = {}
    for r in rounds:
        for name, (calls, seconds) in r.spent.items():
            entry = total.setdefault(name, [0, 0.0])
            entry[0] += calls
            entry[1] += seconds
    return {name: (calls / decisions, seconds / decisions * 1e6)
            for name, (calls, seconds) in total.items()}


def rate_line(size: Size, rounds: Sequence[Round]) -> str:
    best = max(r.measure.rate for r in rounds)
    median = statistics.median(r.measure.rate for r in rounds)
    latencies = [x for r in rounds for x in r.measure.latencies]
    return (f"{size.numbers:>10,} {size.calls:>11,} {best:>9,.0f} {median:>9,.0f} "
            f"{percentile(latencies, 0.5) * 1e3:>7.2f} {percentile(latencies, 0.99) * 1e3:>7.2f} "
            f"{statistics.mean(r.hit for r in rounds):>8.1f} "
            f"{statistics.mean(r.read for r in rounds):>8.1f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=1_000_000, help="big inventory")
    parser.add_argument("--calls", type=int, default=10_000_000, help="big call history")
    parser.add_argument("--contacts", type=int, help="big: contacts called (calls / 6)")
    parser.add_argument("--small-numbers", type=int, default=1000)
    parser.add_argument("--small-calls", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=3000, help="measured, per round")
    parser.add_argument("--warmup", type=int, default=300, help="decisions before measuring")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--project-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg", default=DEFAULT_PG, help=f"PostgreSQL server ({DEFAULT_PG})")
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached schemas")
    parser.add_argument("--drop", action="store_true", help="drop the schemas at the end")
    parser.add_argument("--explain", choices=("big", "all", "none"), default="big")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    parser.add_argument("--warm-contacts", type=int, default=300,
                        help="distinct contacts of the warm round (default 300)")
    parser.add_argument("--server-options", default="", metavar="OPTIONS",
                        help="libpq options for the decisions' sessions only, e.g. "
                             "'-c plan_cache_mode=force_generic_plan'")
    parser.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                        help="before each round, wait up to SECONDS for other processes to "
                             "go quiet")
    args = parser.parse_args(argv)
    small = Size(args.small_numbers, args.small_calls, max(100, args.small_calls // 6))
    big = Size(args.numbers, args.calls, args.contacts or max(100, args.calls // 6))
    if min(small.numbers, big.numbers) < DOC_NUMBERS + 25:
        parser.error(f"--numbers must be at least {DOC_NUMBERS + 25}")
    sizes = [small, big]
    with psycopg.connect(args.pg) as conn:
        version = one(conn, "SHOW server_version")
        settings: dict[str, str] = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('shared_buffers', "
            "'synchronous_commit', 'jit', 'autovacuum', 'random_page_cost')").fetchall())
    log(f"callsign decisions/s on PostgreSQL {version.split()[0]} by size, in-process; "
        f"{args.decisions:,} decisions x {args.rounds} rounds after {args.warmup} warm-up, "
        f"{args.project_share:.0%} in a project; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; server settings {settings}"
        + (f"; decisions' sessions with {args.server_options!r}" if args.server_options
           else ""))
    cache: list[Data] = []

    def data() -> Data:
        if not cache:
            started = time.perf_counter()
            areas = area_facts()
            cache.append(Data(areas, make_numbers(max(s.numbers for s in sizes), areas,
                                                  args.seed),
                              make_contacts(max(s.contacts for s in sizes), areas,
                                            args.seed + 1)))
            log(f"    generated {len(cache[0].numbers):,} numbers and {len(cache[0].contacts):,} "
                f"contacts over {len(areas)} area codes in {time.perf_counter() - started:.1f} s")
        return cache[0]

    for size in sizes:
        log(f"\n== {size.label()}, {size.contacts:,} contacts: schema {size.schema}")
        ensure_schema(args.pg, size, data, args)
        for line in table_sizes(args.pg, size.schema):
            log(line)
    usage = shutil.disk_usage("/work")
    log(f"  disk /work: {usage.used / 1e9:.1f} GB used, {usage.free / 1e9:.1f} GB free")

    results: dict[Size, list[Round]] = {size: [] for size in sizes}
    warm: dict[Size, Round] = {}
    last_jobs: dict[Size, list[OutboundRequest]] = {}

    def measure(size: Size, jobs: list[OutboundRequest], label: str) -> Round:
        if args.wait_idle:
            wait_until_idle(args.wait_idle)
        result = run_round(args.pg, size, jobs, args.warmup, args.seed, args.server_options)
        seq = ", ".join(f"{t} {n}" for t, n in result.seq_scans.items()
                        if t in BIG_TABLES) or "none"
        own, backend, rest = result.cores
        log(f"  {label:<7} {size.label():>34}: {result.measure.rate:5,.0f} decisions/s  "
            f"buffers/decision hit {result.hit:5.1f} read {result.read:4.1f}  "
            f"cores: bench {own:.2f} + its backend {backend:.2f} + others {rest:.2f}  "
            f"seq scans of big tables: {seq}")
        return result

    log(f"\n== rounds: decisions/s (sizes alternate; fresh random contacts every round), then "
        f"a warm round per size: the same number of decisions over {args.warm_contacts} of "
        f"the last round's contacts, whose pages then stay in shared buffers")
    for r in range(args.rounds):
        for size in sizes if r % 2 == 0 else reversed(sizes):
            last_jobs[size] = make_jobs(args.pg, size, args.warmup + args.decisions,
                                        args.seed + 10 * r, args.project_share)
            results[size].append(measure(size, last_jobs[size], f"round {r + 1}"))
    for size in sizes:
        rng = random.Random(args.seed + 5)
        few = last_jobs[size][:args.warm_contacts]
        warm[size] = measure(size, [rng.choice(few) for _ in last_jobs[size]], "warm")
    for size in sizes:
        rules: Counter[str] = sum((r.measure.rules for r in results[size]), Counter())
        total = sum(rules.values())
        log(f"  {size.label()}: rules " + ", ".join(f"{rule} {n / total:.0%}"
                                                    for rule, n in rules.most_common()))
    log("\n== time per decision by statement, the round trip included (µs, mean over the "
        "rounds; calls per decision in brackets)")
    log(f"{'':<40}" + "".join(f"{f'{s.numbers:,} numbers':>22}" for s in sizes)
        + f"{'big - small':>13}")
    per_size = {size: statement_costs(results[size]) for size in sizes}
    names = sorted({n for costs in per_size.values() for n in costs},
                   key=lambda n: -per_size[big].get(n, (0.0, 0.0))[1])
    for name in names:
        cells = [per_size[size].get(name, (0.0, 0.0)) for size in sizes]
        log(f"{name[:40]:<40}" + "".join(f"{us:>14.0f} ({calls:4.2f})" for calls, us in cells)
            + f"{cells[-1][1] - cells[0][1]:>13.0f}")
    totals = [sum(us for _, us in per_size[size].values()) for size in sizes]
    walls = [statistics.mean(1e6 / r.measure.rate for r in results[size]) for size in sizes]
    log(f"{'all statements':<40}" + "".join(f"{t:>14.0f}       " for t in totals)
        + f"{totals[-1] - totals[0]:>13.0f}")
    log(f"{'the decision (1 / rate)':<40}" + "".join(f"{w:>14.0f}       " for w in walls)
        + f"{walls[-1] - walls[0]:>13.0f}")
    rest = [w - t for w, t in zip(walls, totals, strict=True)]
    log(f"{'the rest: Python (engine, SQLAlchemy)':<40}"
        + "".join(f"{r:>14.0f}       " for r in rest) + f"{rest[-1] - rest[0]:>13.0f}")
    last = results[big][-1]
    log(f"  prepared statements of the decisions' session ({big.label()}, last round): "
        f"generic/custom plans executed")
    for statement, generic, custom in last.plans:
        log(f"    {generic:>5} {custom:>3}  {statement}")

    if args.explain != "none":
        for size in sizes if args.explain == "all" else [big]:
            log(f"\n== EXPLAIN (ANALYZE, BUFFERS) of the decision's statements, "
                f"{size.label()}")
            summary = explain_statements(args.pg, size, args, big=size == big)
            log(f"\n-- plans, {size.label()}:")
            for line in summary:
                log(f"   {line}")

    log("\n== summary: decisions/s best and median of rounds, latency p50/p99 ms over all "
        "rounds, shared buffers hit and blocks read per decision (all tables)")
    log(f"{'numbers':>10} {'calls':>11} {'best/s':>9} {'median/s':>9} {'p50':>7} {'p99':>7} "
        f"{'hit':>8} {'read':>8}")
    for size in sizes:
        log(rate_line(size, results[size]))
    for size in sizes:
        log(rate_line(size, [warm[size]]) + f"   warm: {args.warm_contacts} contacts")
    scaling = (max(r.measure.rate for r in results[big])
               / max(r.measure.rate for r in results[small]))
    warm_scaling = warm[big].measure.rate / warm[small].measure.rate
    median = (statistics.median(r.measure.rate for r in results[big])
              / statistics.median(r.measure.rate for r in results[small]))
    seq_any = Counter[str]()
    for done in results[big]:
        seq_any.update({t: n for t, n in done.seq_scans.items() if t in BIG_TABLES})
    ok = abs(1 - scaling) <= TARGET_SCALING and not seq_any
    log(f"big / small: {scaling:.2f} (medians {median:.2f}; warm {warm_scaling:.2f}); target "
        f"within {TARGET_SCALING:.0%}: {'PASS' if abs(1 - scaling) <= TARGET_SCALING else 'MISS'}")
    log(f"sequential scans of {', '.join(BIG_TABLES)} by the decisions on {big.label()} "
        f"(table statistics over all rounds): {dict(seq_any) if seq_any else 'none'}")
    log(f"load average now {os.getloadavg()[0]:.2f} (other processes skew the figures)")
    if args.drop:
        with psycopg.connect(args.pg, autocommit=True) as admin:
            for size in sizes:
                admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(size.schema)))
        log("schemas dropped")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
