"""How fast a worker starts, and whether `serve --workers N` holds on a busy host.

    .venv/bin/python bench/worker_start.py                      # all three measures
    .venv/bin/python bench/worker_start.py --only imports --repeat 5
    .venv/bin/python bench/worker_start.py --only busy --workers 4 --busy 2 --timeout 5

imports: the best of ``--repeat`` fresh interpreters importing ``callsign.api.app`` (wall
and CPU seconds), and how many modules that loads. first-answer: a fresh one-worker server
on a migrated SQLite store; seconds from its start to its first ``/healthz``, then the
first and the second decision. busy: ``--busy`` processes that each spin a core (a bounded
loop) while ``serve --workers N --timeout-worker-healthcheck T`` starts; the supervisor's
children are sampled ``--samples`` times, and every worker pid seen beyond the first N is a
worker the supervisor killed and replaced. The load average is printed with each run.
Every wait is bounded by a count of attempts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

PYTHON = sys.executable
KEY = re.compile(r"^API key for 'acme': (cs_\S+)$", re.MULTILINE)
SPIN = "for _ in range({n}): pass"  # a core kept busy for a bounded number of steps
SPIN_STEPS = 20_000_000_000  # far longer than a run: the spinners are stopped at its end
POLL_SECONDS = 0.05
HANG_GUARD = 600.0  # seconds: reached only by a hung process


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def imports(repeat: int) -> dict[str, object]:
    """Best wall and CPU time of a fresh interpreter importing the app."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([PYTHON, "-c", "import callsign.api.app"], check=True,
                       timeout=HANG_GUARD)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    count = subprocess.run(
        [PYTHON, "-c", "import sys, callsign.api.app; print(len(sys.modules))"],
        check=True, capture_output=True, text=True, timeout=HANG_GUARD).stdout.strip()
    return {"best_wall_s": round(min(walls), 3), "best_cpu_s": round(min(cpus), 3),
            "modules": int(count), "load": load()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def server(db_url: str, *args: str, workdir: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    env = {**os.environ, "CALLSIGN_ACCESS_LOG": "0", "XDG_DATA_HOME": str(workdir)}
    log = (workdir / f"serve-{port}.log").open("w+")
    process = subprocess.Popen(
        [PYTHON, "-m", "callsign", "--db", db_url, "serve", "--port", str(port), *args],
        stdout=log, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(HANG_GUARD)
        log.close()


def until_healthy(process: subprocess.Popen[str], url: str, attempts: int) -> bool:
    for _ in range(attempts):
        if process.poll() is not None:
            return False
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=5.0).status_code == 200:
                return True
        time.sleep(POLL_SECONDS)
    return False


def demo_store(workdir: Path) -> tuple[str, str]:
    """A migrated SQLite store with the demo organization; its URL and API key."""
    db_url = f"sqlite:///{workdir / 'bench.db'}"
    with server(db_url, "--demo", workdir=workdir) as (process, url):
        assert until_healthy(process, url, 4000), "the demo server did not start"
        text = next(workdir.glob("serve-*.log")).read_text()
        found = KEY.search(text)
        assert found, text
        key = found.group(1)
        hours = httpx.patch(f"{url}/v1/org", json={"calling_hours": None},  # any hour
                            headers={"Authorization": f"Bearer {key}"}, timeout=HANG_GUARD)
        assert hours.status_code == 200, hours.text
    return db_url, key


def first_answer(workdir: Path, db_url: str, key: str) -> dict[str, object]:
    """A fresh one-worker server: start to /healthz, then its first two decisions."""
    body = {"user": "alice", "to": "+12125550123"}
    headers = {"Authorization": f"Bearer {key}"}
    started = time.perf_counter()
    with server(db_url, workdir=workdir) as (process, url):
        assert until_healthy(process, url, 4000), "the server did not start"
        healthy = time.perf_counter() - started
        timings = []
        for _ in range(2):
            begun = time.perf_counter()
            answer = httpx.post(f"{url}/v1/calls", json=body, headers=headers,
                                timeout=HANG_GUARD)
            assert answer.status_code == 201, answer.text
            timings.append(time.perf_counter() - begun)
    return {"to_healthz_s": round(healthy, 3), "first_decision_s": round(timings[0], 3),
            "second_decision_s": round(timings[1], 3), "load": load()}


def workers_of(supervisor: int) -> set[int]:
    """The live `spawn` children of the supervisor (its workers, not the tracker)."""
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == supervisor and fields[0] != "Z" \
                    and b"spawn_main" in (entry / "cmdline").read_bytes():
                found.add(int(entry.name))
    return found


def busy_start(workdir: Path, db_url: str, *, workers: int, busy: int, timeout: int,
               samples: int, interval: float) -> dict[str, object]:
    """Start N workers while ``busy`` cores spin; count the workers replaced."""
    spinners = [subprocess.Popen([PYTHON, "-c", SPIN.format(n=SPIN_STEPS)])
                for _ in range(busy)]
    try:
        time.sleep(1.0)  # the spinners running before the server starts
        started = time.perf_counter()
        with server(db_url, "--workers", str(workers), "--timeout-worker-healthcheck",
                    str(timeout), workdir=workdir) as (process, url):
            seen: set[int] = set()
            healthy_at = None
            for _ in range(samples):
                seen |= workers_of(process.pid)
                if healthy_at is None:
                    with contextlib.suppress(httpx.TransportError):
                        if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                            healthy_at = time.perf_counter() - started
                time.sleep(interval)
            alive = workers_of(process.pid)
            ended = process.poll()
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait(HANG_GUARD)
    return {"workers": workers, "busy": busy, "timeout_s": timeout,
            "workers_seen": len(seen), "restarts": max(0, len(seen) - workers),
            "alive_at_end": len(alive), "exited": ended,
            "first_healthz_s": None if healthy_at is None else round(healthy_at, 2),
            "load": load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["imports", "first-answer", "busy"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--busy", type=int, default=2)
    parser.add_argument("--timeout", type=int, nargs="+", default=[5, 30],
                        help="health-ping timeouts to start with, one run each")
    parser.add_argument("--samples", type=int, default=240)
    parser.add_argument("--interval", type=float, default=0.25)
    args = parser.parse_args()
    results: dict[str, object] = {}
    if args.only in (None, "imports"):
        results["imports"] = imports(args.repeat)
        print(json.dumps({"imports": results["imports"]}), flush=True)
    if args.only in (None, "first-answer", "busy"):
        with tempfile.TemporaryDirectory(prefix="callsign-start-") as folder:
            workdir = Path(folder)
            db_url, key = demo_store(workdir)
            if args.only in (None, "first-answer"):
                print(json.dumps({"first_answer": first_answer(workdir, db_url, key)}),
                      flush=True)
            if args.only in (None, "busy"):
                for timeout in args.timeout:
                    print(json.dumps({"busy": busy_start(
                        workdir, db_url, workers=args.workers, busy=args.busy,
                        timeout=timeout, samples=args.samples, interval=args.interval)}),
                        flush=True)


if __name__ == "__main__":
    main()
