"""HTTP load on PostgreSQL: decisions/s with 1, 2 and 4 server workers, and SQLite beside it.

Runs the load of ``bench/http_load.py`` (the same bench organization, the same wrk
script, the same /healthz ceiling) against ``callsign serve --workers N`` on a
PostgreSQL schema of its own, for each worker count and connection count, then once
against a single-worker server on a new SQLite file for comparison.

    .venv/bin/python bench/pg_workers.py [--seconds 6] [--connections 8 32]
        [--workers 1 2 4] [--pg URL] [--schema bench_pg] [--keep] [--no-sqlite]
        [--wait-idle SECONDS]

``--pg`` is the server (default ``postgresql://postgres@127.0.0.1:5432/test``); the
schema is dropped and created at the start and dropped at the end unless ``--keep``.
Between worker counts the recorded calls are truncated and number usage cleared, so
every configuration starts from the same store. Each server gets an untimed 1 s warm-up.

Scaling is the rate at N workers over the rate at one worker; efficiency is that over N.
On a 2-core machine wrk, the server workers and the PostgreSQL backends share the two
cores, so each calls run also shows who used them: cores busy over the run, split into
the server's processes, the PostgreSQL backends serving it (by application_name), wrk,
and everything else (other work on the machine, which skews the figures); and, per
server worker, its cores and the wrk connections it holds (from ``ss`` mid-run): wrk
opens its connections at once and keeps them, and a uvicorn worker accepts every
connection pending when it wakes, so one worker may hold them all.

Needs wrk (Debian package `wrk`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import yaml
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench` as a package

from bench.http_load import AREA_CODES, LUA, bench_org, callsign, free_port, wrk

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
WARMUP_SECONDS = 1
TICK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(message, flush=True)


# -- CPU accounting -------------------------------------------------------------------

APP_NAME = "callsign-bench-workers"  # the application_name of the server's connections


@dataclass(frozen=True)
class CpuSample:
    at: float
    busy: float  # seconds of busy CPU, all cores
    processes: dict[int, tuple[int, float]]  # pid -> (ppid, CPU seconds)
    children: float  # CPU seconds of our waited-for children (wrk)


def cpu_sample() -> CpuSample:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    busy = (sum(values[:8]) - idle) / TICK
    processes = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        processes[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSample(time.monotonic(), busy, processes, usage.ru_utime + usage.ru_stime)


def wait_until_idle(limit: float) -> None:
    """Wait (up to ``limit`` s) until the machine is nearly idle for 3 s: others skew rates."""
    deadline = time.monotonic() + limit
    while True:
        before = cpu_sample()
        time.sleep(3)
        cores = (cpu_sample().busy - before.busy) / 3
        if cores < 0.3:
            return
        if time.monotonic() > deadline:
            log(f"  (the machine is still busy, {cores:.1f} cores by other processes: going on)")
            return
        log(f"  waiting: other processes keep {cores:.1f} cores busy")
        time.sleep(5)


def backend_pids(pg: str, app_name: str = APP_NAME) -> set[int]:
    """The PostgreSQL backends serving the callsign server (by application_name)."""
    with psycopg.connect(pg, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                            (app_name,)).fetchall()
    return {int(pid) for pid, in rows}


def worker_pids(after: CpuSample, server_pid: int) -> list[int]:
    """The processes serving requests: uvicorn's workers, or the server itself alone."""
    def serves(pid: int) -> bool:  # not multiprocessing's resource tracker
        try:
            return b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    children = sorted(p for p, (parent, _) in after.processes.items()
                      if parent == server_pid and serves(p))
    return children or [server_pid]


def per_worker(before: CpuSample, after: CpuSample, server_pid: int,
               connections: Counter[int]) -> str:
    """Each worker's cores and wrk connections, busiest first: how evenly the load spread."""
    span = after.at - before.at
    shares = [((after.processes[p][1] - before.processes.get(p, (0, 0.0))[1]) / span,
               connections.get(p, 0)) for p in worker_pids(after, server_pid)]
    return " ".join(f"{cores:.2f}/{conns}" for cores, conns in sorted(shares, reverse=True))


def connections_by_process(port: int) -> Counter[int]:
    """Established connections to ``port`` by the pid holding them (from ss)."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=False).stdout
    return Counter(int(pid) for pid in re.findall(r"pid=(\d+)", out))


def cores_used(before: CpuSample, after: CpuSample, server_pid: int, backends: set[int]) -> str:
    """Cores busy over the interval: all = the server's + its backends' + wrk's + others'."""
    span = after.at - before.at

    def spent(pids: set[int]) -> float:
        return sum(after.processes[p][1] - before.processes.get(p, (0, 0.0))[1]
                   for p in pids if p in after.processes) / span

    def in_server(pid: int) -> bool:
        while pid > 1:
            if pid == server_pid:
                return True
            pid = after.processes[pid][0] if pid in after.processes else 0
        return False

    busy = (after.busy - before.busy) / span
    server = spent({p for p in after.processes if in_server(p)})
    postgres = spent(backends)
    wrk_cores = (after.children - before.children) / span
    other = busy - server - postgres - wrk_cores
    return f"{busy:.2f} = {server:.2f} + {postgres:.2f} + {wrk_cores:.2f} + {other:.2f}"


# -- stores and servers -----------------------------------------------------------------

def pg_url(server: str, schema: str, app_name: str = APP_NAME) -> str:
    """The SQLAlchemy URL of ``schema`` on ``server`` (a libpq URL)."""
    base = server.replace("postgresql://", "postgresql+psycopg://", 1)
    options = quote(f"-csearch_path={schema}", safe="")
    return f"{base}{'&' if '?' in base else '?'}options={options}&application_name={app_name}"


def recreate_schema(server: str, schema: str, *, create: bool = True) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        if create:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))


def reset_pg(server: str, schema: str) -> None:
    """Forget the calls of earlier runs and the numbers' usage (between server runs)."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
        conn.execute("TRUNCATE calls CASCADE")  # and the spam reports that name them
        conn.execute("TRUNCATE number_usage")
        conn.execute("UPDATE numbers SET last_presented_at = '1970-01-01 00:00:00+00'")
        conn.execute("VACUUM ANALYZE calls, numbers, number_area_codes, number_usage")


def prepare(db: str, folder: Path) -> Path:
    """Apply the bench organization to ``db``; the wrk script with a new API key."""
    org_file = folder / "bench.yaml"
    org_file.write_text(yaml.safe_dump(bench_org()))
    try:
        callsign(db, "apply", str(org_file))
        key = callsign(db, "keys", "create", "--org", "bench").strip()
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{' '.join(exc.cmd)}: {exc.stderr.strip()}") from exc
    script = folder / "calls.lua"
    codes = ", ".join(f'"{c}"' for c in AREA_CODES)
    script.write_text(LUA % {"key": key, "codes": codes})
    return script


@contextlib.contextmanager
def server(db: str, workers: int, start_seconds: float = 30) -> Iterator[tuple[str, int]]:
    """``callsign serve --workers N`` on a free port: (base URL, server pid)."""
    port = free_port()
    env = {**os.environ, "CALLSIGN_ACCESS_LOG": "0"}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "callsign"), "--db", db, "serve", "--port", str(port),
         "--workers", str(workers)], env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"callsign serve --workers {workers} did not start")
            time.sleep(0.1)
        if workers > 1:
            time.sleep(1.0)  # let every worker finish starting (and open its pool)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


# -- runs -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    store: str
    workers: int
    connections: int
    health: dict[str, float]
    calls: dict[str, float]
    cpu: str
    workers_load: str  # per worker: cores/connections


def load(store: str, db: str, workers: int, connections: list[int], seconds: int,
         script: Path, pg: str, wait_idle: float) -> list[Run]:
    runs = []
    if wait_idle:
        wait_until_idle(wait_idle)
    with server(db, workers) as (base, pid):
        wrk(base, max(connections), WARMUP_SECONDS, str(script))  # untimed: pools, caches
        port = int(base.rsplit(":", 1)[1])
        for conns in connections:
            health = wrk(f"{base}/healthz", conns, seconds, None)
            sampled: list[Counter[int]] = []  # wrk's connections per process, mid-run
            timer = threading.Timer(min(2.0, seconds / 2), lambda into=sampled: into.append(
                connections_by_process(port)))
            before = cpu_sample()
            timer.start()
            calls = wrk(base, conns, seconds, str(script))
            timer.join()
            after = cpu_sample()
            backends = backend_pids(pg) if store == "postgresql" else set()
            run = Run(store, workers, conns, health, calls,
                      cores_used(before, after, pid, backends),
                      per_worker(before, after, pid, sampled[0] if sampled else Counter()))
            log(row(run))
            runs.append(run)
    return runs


HEADER = (f"{'store':<10} {'workers':>7} {'conns':>5} {'healthz/s':>9} {'p50 ms':>6} "
          f"{'p99 ms':>6} {'calls/s':>8} {'p50 ms':>6} {'p99 ms':>6} {'errors':>6} "
          f"{'calls/healthz':>13}  cores busy = server + its pg backends + wrk + others   "
          f"per worker: cores/wrk connections")


def row(run: Run) -> str:
    h, c = run.health, run.calls
    return (f"{run.store:<10} {run.workers:>7} {run.connections:>5} {h['rate']:>9.0f} "
            f"{h['p50']:>6.2f} {h['p99']:>6.2f} {c['rate']:>8.0f} {c['p50']:>6.2f} "
            f"{c['p99']:>6.2f} {c['errors']:>6.0f} {c['rate'] / h['rate']:>13.0%}  {run.cpu}"
            f"   {run.workers_load}")


def scaling_table(runs: list[Run], workers: list[int], connections: list[int],
                  key: str) -> list[str]:
    """Rate at N workers, its ratio to one worker, and that ratio over N (efficiency)."""
    rates = {(r.workers, r.connections): r.calls["rate"] if key == "calls" else r.health["rate"]
             for r in runs if r.store == "postgresql"}
    lines = [f"{'conns':>5}  " + "  ".join(f"{f'{n} worker(s)':>26}" for n in workers)]
    for conns in connections:
        one = rates[(workers[0], conns)] / workers[0]  # the rate of one worker
        cells = []
        for n in workers:
            rate = rates[(n, conns)]
            cells.append(f"{rate:>8.0f}/s x{rate / one:>4.2f} eff {rate / one / n:>4.0%}")
        lines.append(f"{conns:>5}  " + "  ".join(f"{c:>26}" for c in cells))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=6, help="per wrk run (default 6)")
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--pg", default=DEFAULT_PG,
                        help=f"PostgreSQL server (default {DEFAULT_PG})")
    parser.add_argument("--schema", default="bench_pg", help="schema to use (dropped first)")
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite comparison")
    parser.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                        help="before each server, wait up to SECONDS for other processes to "
                             "go quiet")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    workers = sorted(set(args.workers))
    connections = sorted(set(args.connections))
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="callsign-pg-workers-"))
    with psycopg.connect(args.pg) as conn:
        version = conn.execute("SHOW server_version").fetchone()
    log(f"callsign HTTP load: PostgreSQL {version[0] if version else '?'} schema "
        f"{args.schema}, workers {workers}, wrk -t1 {args.seconds}s per run at {connections} "
        f"connections; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    log("cores busy: over each calls run, the whole machine = the callsign server's "
        "processes + the PostgreSQL backends serving them + wrk + every other process "
        "(other work on the machine skews the figures)\n")
    runs: list[Run] = []
    try:
        recreate_schema(args.pg, args.schema)
        db = pg_url(args.pg, args.schema)
        script = prepare(db, folder)
        log(HEADER)
        for n in workers:
            reset_pg(args.pg, args.schema)
            runs += load("postgresql", db, n, connections, args.seconds, script, args.pg,
                         args.wait_idle)
        if not args.no_sqlite:
            sqlite_folder = folder / "sqlite"
            sqlite_folder.mkdir()
            sqlite_db = f"sqlite:///{sqlite_folder / 'bench.db'}"
            runs += load("sqlite", sqlite_db, 1, connections, args.seconds,
                         prepare(sqlite_db, sqlite_folder), args.pg, args.wait_idle)
    finally:
        if not args.keep:
            recreate_schema(args.pg, args.schema, create=False)
        shutil.rmtree(folder, ignore_errors=True)

    log("\n== PostgreSQL scaling per worker: decisions/s, x = rate / rate at 1 worker, "
        "eff = x / workers")
    for line in scaling_table(runs, workers, connections, "calls"):
        log(line)
    log("-- the healthz ceiling, the same way")
    for line in scaling_table(runs, workers, connections, "health"):
        log(line)
    sqlite_runs = {r.connections: r for r in runs if r.store == "sqlite"}
    if sqlite_runs:
        log("\n== PostgreSQL against SQLite, one worker each: decisions/s and p50/p99 ms")
        one = min(workers)
        for conns in connections:
            pg = next(r for r in runs if r.store == "postgresql" and r.workers == one
                      and r.connections == conns)
            lite = sqlite_runs[conns]
            log(f"{conns:>5} conns: PostgreSQL ({one} worker) {pg.calls['rate']:>6.0f}/s "
                f"{pg.calls['p50']:.2f}/{pg.calls['p99']:.2f}   "
                f"SQLite {lite.calls['rate']:>6.0f}/s "
                f"{lite.calls['p50']:.2f}/{lite.calls['p99']:.2f}   PostgreSQL/SQLite "
                f"{pg.calls['rate'] / lite.calls['rate']:.2f}")
    errors = sum(r.calls["errors"] for r in runs)
    log(f"\nnon-2xx responses: {errors:.0f}; load average now {os.getloadavg()[0]:.2f}; "
        f"took {time.monotonic() - started:.0f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
