"""The hot path's targets: decisions against the same server's /healthz, in one run.

    .venv/bin/python bench/hot_path.py [--store sqlite|postgresql|both] [--connections 8 32]
        [--requests 2000] [--healthz-requests N] [--rounds 3] [--pg URL] [--check]

Starts ``callsign serve`` (1 worker, then 2) on the bench organization of
``bench/http_load.py`` (100 numbers in ten area codes, eight users, local presence), and
loads it with wrk from a second process over keep-alive connections: ``GET /healthz``
(the framework's own speed, the ceiling) and ``POST /v1/calls`` (a decision) one after
the other, at each connection count, for ``--rounds`` rounds. Every wrk run is bounded
by a count of responses (wrk stops itself after exactly that many), not by a duration.

Each server starts from the same store: SQLite, a fresh copy of a file prepared once;
PostgreSQL, the schema ``bench_hot_path`` of its own (dropped at the end) with the calls
of earlier servers truncated. Servers alternate (1 then 2 workers, 2 then 1 in the next
round) so drift on a shared machine falls on both.

Per run: rate, latency p50/p99, failed responses, CPU per request (the server's
processes, i.e. uvicorn's supervisor and workers, and for PostgreSQL the backends that
serve them, found by application_name: utime + stime from /proc/<pid>/stat before and
after, over the decisions the store recorded), the cores that other processes used
meanwhile, and the load average before and after.

Every ratio is taken within a round, between runs next to each other (decisions over the
/healthz run just before them; 2 workers over 1 at the same connection count), and is
reported as the best and the median over the rounds; p99 and CPU per decision likewise
(best: the lowest). Targets (issue 12), judged on the best round, since other work on
the machine can only slow a round down:

* SQLite, 1 worker: decisions >= 35% of /healthz at 8 and 32 connections; p99 <= 10 ms
  at 8 connections.
* PostgreSQL, 2 workers, 32 connections: decisions >= 15% of /healthz; server + backend
  CPU per decision <= 1.5 ms.
* Workers scale: 2 workers >= 1.6x one worker on both stores (needs a free core).

``--check`` exits 1 when a target is missed or a response failed. Needs wrk (Debian
package ``wrk``, built with LuaJIT) and, for PostgreSQL, a server (default
``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench` as a package

from bench.http_load import parse_wrk
from bench.pg_workers import (
    DEFAULT_PG,
    CpuSample,
    backend_pids,
    connections_by_process,
    cpu_sample,
    per_worker,
    pg_url,
    prepare,
    recreate_schema,
    reset_pg,
    server,
)

SQLITE_SHARE = 0.35  # decisions/s over /healthz per second, 1 worker
SQLITE_P99_MS = 10.0  # at the smallest connection count (8)
PG_SHARE = 0.15  # 2 workers, the largest connection count (32)
PG_CPU_MS = 1.5  # server + PostgreSQL backend CPU per decision
SCALE = 1.6  # 2 workers over 1
WORKERS = (1, 2)
SCHEMA = "bench_hot_path"
APP_NAME = "callsign-bench-hot-path"  # the application_name of the server's connections
START_SECONDS = 120  # for a server to answer /healthz (workers start slowly on a busy host)
MAX_SECONDS = 300  # a wrk run that has not seen its count by then stops anyway
STOP_LUA = """
-- Bounded by a count: after %(limit)d responses the thread stops, and SIGINT to wrk
-- ends its main thread's wait, so the run ends then (and its rate covers the responses).
local ffi = require("ffi")
ffi.cdef[[ int kill(int pid, int sig); int getpid(void); ]]
local limit, seen = %(limit)d, 0
response = function(status, headers, body)
  seen = seen + 1
  if seen == limit then
    wrk.thread:stop()
    ffi.C.kill(ffi.C.getpid(), 2)
  end
end
"""


def log(message: str = "") -> None:
    print(message, flush=True)


def load_average() -> float:
    return os.getloadavg()[0]


# -- stores ---------------------------------------------------------------------------

class Store:
    """A store the servers run on: its URL, wrk scripts, reset and counters."""

    name: str
    db: str
    calls_script: Path  # the decisions' wrk script (without a stop)

    def reset(self) -> None:
        """Put the store back in the state it was prepared in (before each server)."""
        raise NotImplementedError

    def decisions(self) -> int:
        """Calls recorded so far."""
        raise NotImplementedError

    def backends(self) -> set[int]:
        """Processes of the store serving the server (PostgreSQL backends), if any."""
        return set()

    def close(self) -> None:
        """Drop what the store made."""


class SqliteStore(Store):
    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.name = "SQLite"
        self.template = folder / "prepared.db"
        self.calls_script = prepare(f"sqlite:///{self.template}", folder)
        self.path = folder / "run.db"
        self.db = f"sqlite:///{self.path}"

    def reset(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        source, target = sqlite3.connect(self.template), sqlite3.connect(self.path)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()

    def decisions(self) -> int:
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            return int(conn.execute("SELECT count(*) FROM calls").fetchone()[0])
        finally:
            conn.close()


class PostgresStore(Store):
    def __init__(self, pg: str, folder: Path) -> None:
        folder.mkdir()
        self.name = "PostgreSQL"
        self.pg = pg
        self.monitor: psycopg.Connection[Any] = psycopg.connect(pg, autocommit=True)
        recreate_schema(pg, SCHEMA)
        self.db = pg_url(pg, SCHEMA, APP_NAME)
        self.calls_script = prepare(self.db, folder)

    def settings(self) -> str:
        shown = []
        for name in ("server_version", "synchronous_commit", "shared_buffers"):
            row = self.monitor.execute(sql.SQL("SHOW {}").format(sql.Identifier(name)))
            value = row.fetchone()
            shown.append(f"{name} {value[0] if value else '?'}")
        return ", ".join(shown)

    def reset(self) -> None:
        reset_pg(self.pg, SCHEMA)

    def decisions(self) -> int:
        row = self.monitor.execute(
            sql.SQL("SELECT count(*) FROM {}.calls").format(sql.Identifier(SCHEMA))).fetchone()
        return int(row[0]) if row else 0

    def backends(self) -> set[int]:
        return backend_pids(self.pg, APP_NAME)

    def close(self) -> None:
        self.monitor.close()
        recreate_schema(self.pg, SCHEMA, create=False)


# -- one wrk run ----------------------------------------------------------------------

@dataclass(frozen=True)
class Measure:
    store: str
    workers: int
    connections: int
    kind: str  # "healthz" or "calls"
    rate: float
    p50: float
    p99: float
    failed: int  # non-2xx responses and socket errors
    served: int  # decisions recorded (calls) or responses (healthz)
    server_cpu: float  # CPU seconds of the server's processes
    backend_cpu: float  # CPU seconds of the PostgreSQL backends serving it
    others: float  # cores used by other processes (not the server, its backends or wrk)
    load: tuple[float, float]  # load average before and after
    spread: str  # per worker: cores/connections (2 workers, calls)

    @property
    def cpu_ms(self) -> float:
        """Server and backend CPU per request served, in ms."""
        cpu = self.server_cpu + self.backend_cpu
        return cpu / self.served * 1000 if self.served else float("nan")

    @property
    def backend_ms(self) -> float:
        return self.backend_cpu / self.served * 1000 if self.served else float("nan")


def stop_script(folder: Path, name: str, limit: int, base: Path | None = None) -> Path:
    """A wrk script that stops after ``limit`` responses (after ``base``'s requests)."""
    script = folder / f"{name}-{limit}.lua"
    script.write_text((base.read_text() if base else "") + STOP_LUA % {"limit": limit})
    return script


def run_wrk(url: str, connections: int, script: Path) -> dict[str, float]:
    """wrk's figures, with ``requests`` (responses) and ``failed`` (non-2xx, socket errors)."""
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{MAX_SECONDS}s",
               "--timeout", "10s", "--latency", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    responses = re.search(r"(\d+) requests in", out)
    assert responses, out
    figures = parse_wrk(out)
    figures["requests"] = float(responses.group(1))
    figures["failed"] = figures["errors"] + (
        sum(int(n) for n in socket_errors.groups()) if socket_errors else 0)
    return figures


def in_tree(sample: CpuSample, root: int) -> set[int]:
    """``root`` and its descendants."""
    def descends(pid: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = sample.processes[pid][0] if pid in sample.processes else 0
        return False

    return {pid for pid in sample.processes if descends(pid)}


def cpu_between(before: CpuSample, after: CpuSample, pids: set[int]) -> float:
    return sum(after.processes[p][1] - before.processes.get(p, (0, 0.0))[1]
               for p in pids if p in after.processes)


def settle(store: Store) -> int:
    """Wait until the decisions in flight when wrk stopped are recorded; their count."""
    count = store.decisions()
    for _ in range(50):
        time.sleep(0.1)
        now = store.decisions()
        if now == count:
            break
        count = now
    return count


def measure(store: Store, base_url: str, server_pid: int, workers: int, connections: int,
            kind: str, script: Path) -> Measure:
    load_before = load_average()
    port = int(base_url.rsplit(":", 1)[1])
    calls = kind == "calls"
    backends = store.backends()
    recorded = store.decisions() if calls else 0
    sampled: list[Counter[int]] = []
    timer = threading.Timer(0.3, lambda: sampled.append(connections_by_process(port)))
    before = cpu_sample()
    if calls and workers > 1:
        timer.start()
    figures = run_wrk(base_url if calls else f"{base_url}/healthz", connections, script)
    timer.cancel()
    if calls:
        served = settle(store) - recorded
    else:
        time.sleep(0.1)  # the requests in flight when wrk stopped
        served = int(figures["requests"])
    after = cpu_sample()
    backends |= store.backends()
    server_cpu = cpu_between(before, after, in_tree(after, server_pid))
    backend_cpu = cpu_between(before, after, backends)
    span = after.at - before.at
    others = (after.busy - before.busy - server_cpu - backend_cpu
              - (after.children - before.children)) / span
    spread = (per_worker(before, after, server_pid, sampled[0] if sampled else Counter())
              if calls and workers > 1 else "")
    return Measure(store.name, workers, connections, kind, figures["rate"], figures["p50"],
                   figures["p99"], int(figures["failed"]), served,
                   server_cpu, backend_cpu, others, (load_before, load_average()), spread)


HEADER = (f"{'round':>5} {'store':<10} {'workers':>7} {'conns':>5} {'kind':<7} {'req/s':>7} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'failed':>6} {'CPU ms/req':>10} {'(backends)':>10} "
          f"{'calls/healthz':>13} "
          f"{'others':>6}  {'load before>after':<17}  per worker: cores/conns")


def row(round_no: int, m: Measure, health: Measure | None) -> str:
    share = f"{m.rate / health.rate:.1%}" if health else ""
    return (f"{round_no:>5} {m.store:<10} {m.workers:>7} {m.connections:>5} {m.kind:<7} "
            f"{m.rate:>7.0f} {m.p50:>7.2f} {m.p99:>7.2f} {m.failed:>6} {m.cpu_ms:>10.2f} "
            f"{f'({m.backend_ms:.2f})' if m.backend_cpu else '':>10} "
            f"{share:>13} {m.others:>6.2f}  {m.load[0]:>7.2f} > {m.load[1]:<7.2f}  {m.spread}")


def all_workers_answer(base_url: str, workers: int, limit: float) -> bool:
    """Wait (up to ``limit`` s) until connections to the server are held by every worker."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        held: set[int] = set()
        sockets = [socket.create_connection((host, int(port)), timeout=10)
                   for _ in range(4 * workers)]
        try:
            for conn in sockets:  # a request on each: every connection is accepted
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
            for conn in sockets:
                conn.recv(4096)
            held = set(connections_by_process(int(port)))
        finally:
            for conn in sockets:
                conn.close()
        if len(held) >= workers:
            return True
        time.sleep(0.5)
    return False


def serve_round(store: Store, workers: int, args: argparse.Namespace, folder: Path,
                round_no: int) -> list[Measure]:
    """One server from a reset store: warm-up, then healthz and calls at each count."""
    warm = max(100, args.requests // 10)
    health_script = stop_script(folder, "healthz", args.healthz_requests)
    calls_script = stop_script(folder, f"calls-{store.name}", args.requests, store.calls_script)
    store.reset()
    measures = []
    with server(store.db, workers, START_SECONDS) as (base_url, pid):
        if workers > 1 and not all_workers_answer(base_url, workers, START_SECONDS):
            log(f"  (not every one of the {workers} workers answered within {START_SECONDS} s: "
                "going on)")
        top = max(args.connections)
        run_wrk(f"{base_url}/healthz", top, stop_script(folder, "healthz", warm))
        run_wrk(base_url, top, stop_script(folder, f"calls-{store.name}", warm,
                                           store.calls_script))
        settle(store)  # no warm-up decision left in flight in the first measured run
        for connections in args.connections:
            health = measure(store, base_url, pid, workers, connections, "healthz",
                             health_script)
            log(row(round_no, health, None))
            calls = measure(store, base_url, pid, workers, connections, "calls", calls_script)
            log(row(round_no, calls, health))
            measures += [health, calls]
    return measures


# -- targets --------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    label: str
    best: str
    median: str
    target: str
    ok: bool

    def line(self, *, judged: bool = True) -> str:
        figures = f"{self.label:<64} best {self.best:>8}  median {self.median:>8}"
        if not judged:
            return figures
        return f"{figures}  target {self.target:<9} {'PASS' if self.ok else 'MISS'}"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def pick(measures: Sequence[Measure], store: str, workers: int, connections: int,
         kind: str) -> list[Measure]:
    return [m for m in measures if (m.store, m.workers, m.connections, m.kind)
            == (store, workers, connections, kind)]


def share(measures: Sequence[Measure], store: str, workers: int, connections: int,
          target: float) -> Verdict:
    ratios = [calls.rate / health.rate for calls, health in zip(
        pick(measures, store, workers, connections, "calls"),
        pick(measures, store, workers, connections, "healthz"), strict=True)]
    best, median = max(ratios), statistics.median(ratios)
    return Verdict(f"{store}, {plural(workers, 'worker')}, {connections} conns: "
                   "decisions/s over /healthz per s",
                   f"{best:.1%}", f"{median:.1%}", f">= {target:.0%}", best >= target)


def lowest(measures: Sequence[Measure], store: str, workers: int, connections: int,
           label: str, value: Callable[[Measure], float], target: float) -> Verdict:
    values = [value(m) for m in pick(measures, store, workers, connections, "calls")]
    best = min(values)
    return Verdict(f"{store}, {plural(workers, 'worker')}, {connections} conns: {label}",
                   f"{best:.2f} ms", f"{statistics.median(values):.2f} ms",
                   f"<= {target:g} ms", best <= target)


def scale(measures: Sequence[Measure], store: str, connections: int, kind: str) -> Verdict:
    ratios = [two.rate / one.rate for one, two in zip(
        pick(measures, store, 1, connections, kind), pick(measures, store, 2, connections, kind),
        strict=True)]
    best, median = max(ratios), statistics.median(ratios)
    what = "decisions" if kind == "calls" else "healthz (context)"
    return Verdict(f"{store}, {connections} conns: {what} 2 workers / 1",
                   f"x{best:.2f}", f"x{median:.2f}", f">= x{SCALE}", best >= SCALE)


def report(measures: Sequence[Measure], stores: Sequence[str], args: argparse.Namespace,
           start_load: float) -> bool:
    few, many = min(args.connections), max(args.connections)
    log(f"\n== targets: each ratio within a round; the best of {args.rounds} round(s) (the "
        "lowest p99 and CPU) and the median of the rounds")
    verdicts: list[Verdict] = []
    if "SQLite" in stores:
        verdicts += [share(measures, "SQLite", 1, n, SQLITE_SHARE) for n in args.connections]
        verdicts.append(lowest(measures, "SQLite", 1, few, "p99 of decisions",
                               lambda m: m.p99, SQLITE_P99_MS))
    if "PostgreSQL" in stores:
        verdicts.append(share(measures, "PostgreSQL", 2, many, PG_SHARE))
        verdicts.append(lowest(measures, "PostgreSQL", 2, many,
                               "CPU per decision (server + backends)", lambda m: m.cpu_ms,
                               PG_CPU_MS))
    verdicts += [scale(measures, store, n, "calls") for store in stores
                 for n in args.connections]
    for verdict in verdicts:
        log(verdict.line())
    failed = sum(m.failed for m in measures)
    log(f"{'failed responses (non-2xx, socket errors), all runs':<64} {failed:>13}"
        f"{'':>17}  target {'0':<9} {'PASS' if failed == 0 else 'MISS'}")
    log("\n-- context")
    for store in stores:
        for n in args.connections:
            calls = pick(measures, store, 1, n, "calls")
            health = pick(measures, store, 1, n, "healthz")
            decision = min(m.cpu_ms for m in calls)
            ceiling = min(m.cpu_ms for m in health)
            log(f"{store}, 1 worker, {n} conns: CPU per decision {decision:.2f} ms, per "
                f"/healthz {ceiling:.2f} ms (x{decision / ceiling:.1f}); decisions p50/p99 "
                f"{min(m.p50 for m in calls):.2f}/{min(m.p99 for m in calls):.2f} ms")
        for n in args.connections:
            log(scale(measures, store, n, "healthz").line(judged=False))
    two_worker_others = [m.others for m in measures if m.workers == 2]
    log(f"\nWorkers scale needs a free core for the second worker: {os.cpu_count()} CPUs; "
        f"load average {start_load:.2f} at the start, {load_average():.2f} now; other "
        f"processes used {statistics.median(two_worker_others):.2f} cores (median, up to "
        f"{max(two_worker_others):.2f}) during the 2-worker runs, beside wrk and the "
        "server's own processes.")
    if (os.cpu_count() or 1) < 3 or max(two_worker_others) > 0.25:
        log("WARNING: no core was free for the second worker (two workers, wrk and, on "
            "PostgreSQL, its backends share the cores): the scaling figures understate it.")
    return failed == 0 and all(v.ok for v in verdicts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 32],
                        help="keep-alive connections (default 8 32)")
    parser.add_argument("--requests", type=int, default=2000,
                        help="decisions per run (default 2000)")
    parser.add_argument("--healthz-requests", type=int,
                        help="/healthz requests per run (default 4 x --requests)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--pg", default=DEFAULT_PG,
                        help=f"PostgreSQL server (default {DEFAULT_PG})")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target is missed or a response failed")
    args = parser.parse_args(argv)
    args.connections = sorted(set(args.connections))
    args.healthz_requests = args.healthz_requests or 4 * args.requests
    if args.requests < 1 or args.healthz_requests < 1 or args.rounds < 1:
        parser.error("--requests, --healthz-requests and --rounds must be at least 1")
    if min(args.connections) < 1:
        parser.error("--connections must be at least 1")
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    started, start_load = time.monotonic(), load_average()
    folder = Path(tempfile.mkdtemp(prefix="callsign-hot-path-"))
    stores: list[Store] = []
    measures: list[Measure] = []
    try:
        if args.store in ("sqlite", "both"):
            stores.append(SqliteStore(folder / "sqlite"))
        if args.store in ("postgresql", "both"):
            stores.append(PostgresStore(args.pg, folder / "postgresql"))
        log(f"callsign hot path: {', '.join(s.name for s in stores)}; {args.requests} "
            f"decisions and {args.healthz_requests} /healthz per run, at "
            f"{args.connections} keep-alive connections (wrk -t1), {args.rounds} round(s); "
            f"{os.cpu_count()} CPUs, load average {start_load:.2f}")
        for store in stores:
            if isinstance(store, PostgresStore):
                log(f"PostgreSQL: {store.settings()}; schema {SCHEMA}")
        log("CPU ms/req: the server's processes (+ PostgreSQL backends) per decision "
            "recorded or /healthz answered; others: cores other processes used meanwhile\n")
        log(HEADER)
        for round_no in range(1, args.rounds + 1):
            order = WORKERS if round_no % 2 else WORKERS[::-1]
            for store in stores:
                for workers in order:
                    measures += serve_round(store, workers, args, folder, round_no)
    finally:
        for store in stores:
            store.close()
        shutil.rmtree(folder, ignore_errors=True)
    ok = report(measures, [s.name for s in stores], args, start_load)
    log(f"took {time.monotonic() - started:.0f} s")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
