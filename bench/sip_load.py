"""SIP load: calls/s and post-dial delay through Kamailio with callsign deciding the caller ID,
beside the same Kamailio answering from a static in-memory htable.

For each call rate, sipp's dialer (deploy/kamailio/sipp/dialer_uac.xml) places --calls
calls (a count, 4000 by default: 20 s at 200 calls/s) at that rate through Kamailio to
sipp's carrier (carrier_uas.xml, which checks every call presents an E.164 caller ID and
that no X-Callsign-* header leaks), first through the static variant (kamailio.cfg with
-A WITH_STATIC_DECISIONS: the same routes and JSON parsing, no HTTP) and then through the
callsign variant (http_connect GET /v1/kamailio/outbound on every INVITE, over the
connection each Kamailio worker keeps open). The difference between the two is what
callsign adds to each call's post-dial delay.

    .venv/bin/python bench/sip_load.py [--rates 200] [--calls 4000] [--rounds 1]
        [--children 16] [--workers 1] [--store sqlite|postgresql] [--pg URL] [--keep]

Post-dial delay is INVITE -> 200, measured by the dialer two ways: sipp's response-time
distribution (-trace_rtt, RTD 1; whole milliseconds on a ~4 ms clock here) and the
microsecond timestamps of sipp's message trace (-trace_shortmsg), from which the
percentiles are computed. A rate is sustained when every call succeeded, none failed open
(Kamailio's log counts "callsign fail-open"), and sipp kept up with the rate. Beside it,
callsign's own time per decision (the "ms" of its JSON access log, from the request's
arrival in the app to its answer), and the TCP connections from Kamailio to callsign
sampled with `ss` during the step: with keep-alive at most --children, each worker's own
(tests/e2e/test_kamailio.py counts every connection opened exactly).

Target: callsign adds under 5 ms at p99 at 200 calls/s: the p99 post-dial delay of the
callsign variant less the static one's, PASS/MISS. Needs kamailio and sipp
(scripts/install-sip). Loopback only; every process started here is stopped by its pid.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
CFG = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
SCENARIOS = ROOT / "deploy" / "kamailio" / "sipp"
LOOPBACK = "127.0.0.1"
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
AREA_CODES = ("312", "415", "212", "646", "201", "305", "213", "617", "206", "512")
AGENTS = 8
PRINCIPAL = "+12125550100"
TARGET_RATE = 200
TARGET_ADDED_P99_MS = 5.0
WARMUP_CALLS = 100
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_sip_load"


def bench_org() -> dict[str, object]:
    """Local presence over ten area codes, ten numbers each; agents with no caller ID."""
    numbers = [{"number": f"+1{code}5550{i:03d}", "label": f"{code}-{i}"}
               for code in AREA_CODES for i in range(100, 110)]
    return {
        "org": "sipbench", "default_country": "US", "principal_number": PRINCIPAL,
        "local_presence": True, "local_presence_fallback": "region", "numbers": numbers,
        "users": [{"id": f"agent{i}", "work_phone": f"+1312555{9000 + i}"}
                  for i in range(AGENTS)],
    }


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by the processes of one process group (a server and its
    workers: each is started in a session of its own)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def options_ok(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        own = sock.getsockname()[1]
        sock.settimeout(0.3)
        sock.sendto((f"OPTIONS sip:{LOOPBACK}:{port} SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP {LOOPBACK}:{own};branch=z9hG4bK-bench{own}\r\n"
                     f"From: <sip:bench@{LOOPBACK}>;tag=b\r\nTo: <sip:{LOOPBACK}>\r\n"
                     f"Call-ID: bench-{own}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                     "Content-Length: 0\r\n\r\n").encode(), (LOOPBACK, port))
        try:
            return sock.recv(4096).startswith(b"SIP/2.0 200")
        except OSError:
            return False


@dataclass
class Kamailio:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def fail_opens(self) -> int:
        return self.log.read_bytes().count(b"callsign fail-open")


def start_kamailio(folder: Path, name: str, children: int, defines: dict[str, str]) -> Kamailio:
    kamailio = shutil.which("kamailio", path=SBIN)
    assert kamailio
    port = free_port()
    run = folder / name
    run.mkdir()
    args = [kamailio, "-f", str(CFG), "-DD", "-E", "-Y", str(run), "-P", str(run / "pid"),
            "-n", str(children), "-m", "128", "-A", f"LISTEN=udp:{LOOPBACK}:{port}"]
    for define, value in defines.items():
        args += ["-A", f"{define}={value}" if value else define]
    log = run / "kamailio.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=run,
                                   start_new_session=True)
    for _ in range(100):
        if options_ok(port):
            return Kamailio(name, port, process, log)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stop(process)
    sys.exit(f"kamailio ({name}) did not start:\n{log.read_text(errors='replace')[-3000:]}")


@dataclass
class Step:
    """One variant at one rate: what the dialer and the carrier saw."""

    variant: str
    rate: int
    calls: int
    dialer_rc: int
    carrier_rc: int
    successful: int
    failed: int
    fail_open: int
    achieved: float
    server_ms: list[float]  # callsign's own time per decision (access log)
    connections: tuple[int, int]  # Kamailio -> callsign: most open at once, client ends seen
    rtd_ms: list[float]  # sipp -trace_rtt, whole ms
    pdd_ms: list[float]  # INVITE -> 200 from -trace_shortmsg timestamps (µs)
    trying_ms: list[float]  # INVITE -> 100 Trying: the proxy before any decision
    kamailio_cpu_ms: float  # per call
    callsign_cpu_ms: float  # per call (0 for the static variant)

    @property
    def sustained(self) -> bool:
        return (self.dialer_rc == 0 and self.carrier_rc == 0 and self.failed == 0
                and self.fail_open == 0 and self.successful == self.calls
                and self.achieved >= 0.95 * self.rate)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def parse_shortmsg(path: Path) -> tuple[list[float], list[float], float]:
    """INVITE->200 and INVITE->100 per call (ms), and the achieved INVITE rate (calls/s)."""
    invite: dict[str, float] = {}
    ok: dict[str, float] = {}
    trying: dict[str, float] = {}
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 7 or parts[5] != "CSeq:1 INVITE":
            continue
        stamp, direction, call, first = float(parts[2]), parts[3], parts[4], parts[6]
        if direction == "S" and first.startswith("INVITE"):
            invite.setdefault(call, stamp)
        elif direction == "R" and first.startswith("SIP/2.0 200"):
            ok.setdefault(call, stamp)
        elif direction == "R" and first.startswith("SIP/2.0 100"):
            trying.setdefault(call, stamp)
    pdd = [(ok[c] - t) * 1000 for c, t in invite.items() if c in ok]
    first_to_100 = [(trying[c] - t) * 1000 for c, t in invite.items() if c in trying]
    starts = sorted(invite.values())
    span = starts[-1] - starts[0] if len(starts) > 1 else 0.0
    achieved = (len(starts) - 1) / span if span > 0 else 0.0
    return pdd, first_to_100, achieved


def last_stat(path: Path, column: str) -> int:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    header, last = lines[0].split(";"), lines[-1].split(";")
    return int(float(last[header.index(column)]))


def access_ms(log: Path, offset: int) -> list[float]:
    """callsign's own milliseconds per Kamailio decision logged after ``offset``."""
    found = []
    with log.open("rb") as f:
        f.seek(offset)
        for line in f.read().decode(errors="replace").splitlines():
            start = line.find("{")
            if start < 0 or "/v1/kamailio/" not in line:
                continue
            with contextlib.suppress(ValueError):
                entry = json.loads(line[start:])
                found.append(float(entry["ms"]))
    return found


def established(port: int) -> set[str]:
    """The client ends of the TCP connections to 127.0.0.1:port established now."""
    ss = shutil.which("ss", path=SBIN)
    if ss is None:
        return set()
    out = subprocess.run([ss, "-Htn", "state", "established", f"( dport = :{port} )"],
                         capture_output=True, text=True, check=False).stdout
    return {line.split()[2] for line in out.splitlines() if len(line.split()) >= 4}


class ConnectionSampler(threading.Thread):
    """Samples the connections to callsign while a step runs (every 0.2 s, a figure for
    the report, not a count: tests/e2e/test_kamailio.py counts them exactly): the most
    open at once and every client end seen."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.done = threading.Event()
        self.most = 0
        self.seen: set[str] = set()

    def run(self) -> None:
        while not self.done.wait(0.2):
            now = established(self.port)
            self.most = max(self.most, len(now))
            self.seen |= now

    def stop(self) -> tuple[int, int]:
        self.done.set()
        self.join()
        return self.most, len(self.seen)


@dataclass
class Server:
    pgid: int
    port: int
    log: Path


def run_step(folder: Path, kamailio: Kamailio, rate: int, calls: int, callees: Path,
             ports: tuple[int, int], server: Server | None = None) -> Step:
    sipp = shutil.which("sipp", path=SBIN)
    assert sipp
    seconds = calls / rate
    work = folder / f"{kamailio.name}-{rate}"
    work.mkdir(parents=True)
    dialer_port, carrier_port = ports
    common = ["-i", LOOPBACK, "-mi", LOOPBACK, "-ci", LOOPBACK, "-m", str(calls), "-nostdin",
              "-timeout", f"{int(seconds) + 60}s", "-timeout_error", "-trace_err"]
    with (work / "carrier.out").open("wb") as out:
        carrier = subprocess.Popen(
            [sipp, "-sf", str(SCENARIOS / "carrier_uas.xml"), "-p", str(carrier_port), *common,
             "-set", "expected_caller_id", "*", "-error_file", str(work / "carrier.errors")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=work,
            start_new_session=True)
    time.sleep(0.3)
    fail_open_before = kamailio.fail_opens()
    kamailio_cpu = group_cpu(kamailio.process.pid)
    callsign_cpu = group_cpu(server.pgid) if server else 0.0
    log_offset = server.log.stat().st_size if server else 0
    sampler = ConnectionSampler(server.port) if server else None
    if sampler:
        sampler.start()
    with (work / "dialer.out").open("wb") as out:
        dialer = subprocess.Popen(
            [sipp, f"{LOOPBACK}:{kamailio.port}", "-sf", str(SCENARIOS / "dialer_uac.xml"),
             "-p", str(dialer_port), *common, "-r", str(rate), "-l", str(max(1000, rate * 4)),
             "-inf", str(callees), "-error_file", str(work / "dialer.errors"),
             "-trace_rtt", "-rtt_freq", "1", "-trace_shortmsg",
             "-shortmessage_file", str(work / "dialer.short"),
             "-trace_stat", "-stf", str(work / "dialer.stat"), "-fd", "1"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=work,
            start_new_session=True)
    limit = seconds + 90
    try:
        dialer_rc = dialer.wait(limit)
        carrier_rc = carrier.wait(30)
    except subprocess.TimeoutExpired:
        stop(dialer)
        stop(carrier)
        dialer_rc = dialer.returncode if dialer.returncode is not None else -1
        carrier_rc = carrier.returncode if carrier.returncode is not None else -1
    rtd: list[float] = []
    for rtt in work.glob("dialer_uac_*_rtt.csv"):
        rtd += [float(line.split(";")[1]) for line in rtt.read_text().splitlines()[1:]
                if line.count(";") >= 2]
    kamailio_cpu = group_cpu(kamailio.process.pid) - kamailio_cpu
    callsign_cpu = group_cpu(server.pgid) - callsign_cpu if server else 0.0
    server_ms = access_ms(server.log, log_offset) if server else []
    connections = sampler.stop() if sampler else (0, 0)
    pdd, trying, achieved = parse_shortmsg(work / "dialer.short")
    stat = work / "dialer.stat"
    successful = last_stat(stat, "SuccessfulCall(C)") if stat.exists() else 0
    failed = last_stat(stat, "FailedCall(C)") if stat.exists() else calls
    return Step(kamailio.name, rate, calls, dialer_rc, carrier_rc, successful, failed,
                kamailio.fail_opens() - fail_open_before, achieved, server_ms, connections,
                rtd, pdd, trying,
                kamailio_cpu * 1000 / calls, callsign_cpu * 1000 / calls)


def callees_file(folder: Path, count: int, seed: int) -> Path:
    """Random agents calling random numbers over the org's area codes, one call per row."""
    rng = random.Random(seed)
    rows = ["SEQUENTIAL"] + [
        f"agent{rng.randrange(AGENTS)};+1{rng.choice(AREA_CODES)}555{rng.randrange(10000):04d};"
        for _ in range(count)]
    path = folder / "calls.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def callsign(db: str, *args: str) -> str:
    command = [str(Path(sys.executable).parent / "callsign"), "--db", db, *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def start_callsign(db: str, workers: int, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port(socket.SOCK_STREAM)
    env = {**os.environ, "CALLSIGN_ACCESS_LOG": "1"}  # callsign's own time per request
    with (folder / "callsign.err").open("wb") as err:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "callsign"), "--db", db, "serve", "--host",
             LOOPBACK, "--port", str(port), "--workers", str(workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    url = f"http://{LOOPBACK}:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.1)
    stop(server)
    sys.exit(f"callsign did not start:\n{(folder / 'callsign.err').read_text()[-3000:]}")


def row(step: Step) -> str:
    def p(values: list[float], q: float) -> str:
        return f"{percentile(values, q):7.2f}"

    rtd = f"{percentile(step.rtd_ms, 50):4.0f} {percentile(step.rtd_ms, 99):4.0f}"
    return (f"{step.rate:>5} {step.variant:<9} {step.successful:>5}/{step.calls:<5} "
            f"{step.failed:>4} {step.fail_open:>4} {step.achieved:>8.1f}  {rtd}  "
            f"{p(step.pdd_ms, 50)} {p(step.pdd_ms, 90)} {p(step.pdd_ms, 99)} "
            f"{max(step.pdd_ms, default=float('nan')):7.2f}  {p(step.trying_ms, 50)}  "
            f"{step.kamailio_cpu_ms:5.2f} {step.callsign_cpu_ms:5.2f}  "
            f"{p(step.server_ms, 50)[1:]} {p(step.server_ms, 99)[1:]} "
            f"{step.connections[0]:>4} {step.connections[1]:>5}  "
            f"{'yes' if step.sustained else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[TARGET_RATE])
    parser.add_argument("--calls", type=int, default=4000, help="calls per step (a count)")
    parser.add_argument("--children", type=int, default=16, help="Kamailio workers")
    parser.add_argument("--workers", type=int, default=1, help="callsign worker processes")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg", default=DEFAULT_PG,
                        help=f"PostgreSQL server for --store postgresql ({DEFAULT_PG}); the "
                             f"bench works in a schema {PG_SCHEMA} it creates and drops")
    parser.add_argument("--rounds", type=int, default=1,
                        help="runs per variant and rate; the one with the lowest p99 is kept "
                             "(other processes on the machine can only slow a run down)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs)")
    args = parser.parse_args()
    if not (shutil.which("kamailio", path=SBIN) and shutil.which("sipp", path=SBIN)):
        sys.exit("kamailio and sipp are needed: scripts/install-sip")

    folder = Path(tempfile.mkdtemp(prefix="callsign-sip-"))
    with store(args, folder) as db:
        bench(args, folder, db)
    if args.keep:
        print(f"logs kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def store(args: argparse.Namespace, folder: Path) -> Iterator[str]:
    """A SQLite file in the run's folder, or a PostgreSQL schema of the bench's own."""
    if args.store == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    import psycopg

    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        admin.execute(f"CREATE SCHEMA {PG_SCHEMA}")
    try:
        yield f"{args.pg}?options=-csearch_path%3D{PG_SCHEMA}"
    finally:
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")


def bench(args: argparse.Namespace, folder: Path, db: str) -> None:
    org_file = folder / "org.yaml"
    org_file.write_text(yaml.safe_dump(bench_org()))
    callsign(db, "apply", str(org_file))
    key = callsign(db, "keys", "create", "--org", "sipbench").strip()
    server, url = start_callsign(db, args.workers, folder)
    live_server = Server(server.pid, int(url.rsplit(":", 1)[1]), folder / "callsign.err")
    dialer_port, carrier_port = free_port(), free_port()
    common = {"DIALER_PORT": str(dialer_port), "CARRIER_ADDR": f'"{LOOPBACK}:{carrier_port}"',
              "FALLBACK_CALLER_ID": f'"{PRINCIPAL}"'}
    started: list[Kamailio] = []
    try:
        static = start_kamailio(folder, "static", args.children,
                                {**common, "WITH_STATIC_DECISIONS": ""})
        started.append(static)
        live = start_kamailio(folder, "callsign", args.children,
                              {**common, "CALLSIGN_URL": f'"{url}"', "CALLSIGN_KEY": f'"{key}"'})
        started.append(live)
        callees = callees_file(folder, args.calls + WARMUP_CALLS, args.seed)
        ports = (dialer_port, carrier_port)
        warmup = folder / "warmup"
        warmup.mkdir()
        servers = {"static": None, "callsign": live_server}
        for kamailio in (static, live):  # caches, the store, the first connections
            run_step(warmup, kamailio, 50, WARMUP_CALLS, callees, ports, servers[kamailio.name])
        load_before = os.getloadavg()
        print(f"Kamailio children={args.children}, callsign workers={args.workers} "
              f"({args.store}), {args.calls} calls per step, best of {args.rounds} round(s), "
              f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} {load_before[1]:.2f} "
              f"{load_before[2]:.2f}")
        print("post-dial delay = INVITE->200 at the dialer; rtd = sipp -trace_rtt (whole ms); "
              "p50/p90/p99/max from -trace_shortmsg (ms); 100 = INVITE->100 Trying;\n"
              "kam / cs = CPU ms per call used by Kamailio / by callsign; srv = callsign's "
              "own time per decision p50/p99 (ms, access log);\ntcp / seen = connections "
              "Kamailio->callsign: most open at once / client ends seen (ss every 0.2 s)")
        print(f"{'cps':>5} {'variant':<9} {'ok/calls':>11} {'fail':>4} {'open':>4} "
              f"{'achieved':>8}  {'rtd50':>4} {'rtd99':>4}  {'p50':>7} {'p90':>7} {'p99':>7} "
              f"{'max':>7}  {'100 p50':>7}  {'kam':>5} {'cs':>5}  {'srv50':>6} {'srv99':>6} "
              f"{'tcp':>4} {'seen':>5}  sustained")
        results: dict[tuple[str, int], Step] = {}
        for rate in args.rates:
            for kamailio in (static, live):
                runs = [run_step(folder / f"round{n}", kamailio, rate, args.calls, callees,
                                 ports, servers[kamailio.name]) for n in range(args.rounds)]
                step = min(runs, key=lambda run: (not run.sustained,
                                                  percentile(run.pdd_ms, 99)))
                results[(kamailio.name, rate)] = step
                print(row(step), flush=True)
        report(results, args.rates)
        after = os.getloadavg()
        print(f"load average after: {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}")
    finally:
        for kamailio in started:
            stop(kamailio.process)
        stop(server)


def report(results: dict[tuple[str, int], Step], rates: list[int]) -> None:
    print("\nwhat callsign adds to the post-dial delay (callsign - static, ms):")
    print(f"{'cps':>5} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7}")
    for rate in rates:
        live, static = results[("callsign", rate)], results[("static", rate)]
        added = [percentile(live.pdd_ms, q) - percentile(static.pdd_ms, q) for q in (50, 90, 99)]
        mean = (statistics.fmean(live.pdd_ms) - statistics.fmean(static.pdd_ms)
                if live.pdd_ms and static.pdd_ms else float("nan"))
        print(f"{rate:>5} {added[0]:7.2f} {added[1]:7.2f} {added[2]:7.2f} {mean:7.2f}")
    for name in ("static", "callsign"):
        held = [rate for rate in rates if results[(name, rate)].sustained]
        print(f"{name}: sustained without failures up to "
              f"{max(held) if held else 0} calls/s of those tried ({', '.join(map(str, rates))})")
    if TARGET_RATE in rates:
        live, static = results[("callsign", TARGET_RATE)], results[("static", TARGET_RATE)]
        added_p99 = percentile(live.pdd_ms, 99) - percentile(static.pdd_ms, 99)
        verdict = "PASS" if added_p99 < TARGET_ADDED_P99_MS and live.sustained else "MISS"
        print(f"target: callsign adds < {TARGET_ADDED_P99_MS:g} ms at p99 at {TARGET_RATE} "
              f"calls/s: {added_p99:.2f} ms (added p50 "
              f"{percentile(live.pdd_ms, 50) - percentile(static.pdd_ms, 50):.2f} ms; "
              f"callsign's own p50/p99 {percentile(live.server_ms, 50):.2f}/"
              f"{percentile(live.server_ms, 99):.2f} ms; {live.connections[1]} connections "
              f"seen for {live.calls} calls): {verdict}")


if __name__ == "__main__":
    main()
