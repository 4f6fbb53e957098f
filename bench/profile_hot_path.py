"""Where a decision's CPU goes, in-process: cProfile over every thread of one worker.

    .venv/bin/python bench/profile_hot_path.py [--decisions 3000] [--concurrency 8]
        [--top 30] [--sort tottime|cumulative] [--out FILE.pstats]

Builds the app of ``callsign serve`` (``create_app``) on a fresh SQLite file holding the
bench organization of ``bench/http_load.py`` (100 numbers in ten area codes, eight users,
local presence), runs its lifespan, then sends ``POST /v1/calls`` straight to the ASGI
app from ``--concurrency`` tasks on the event loop (the bodies of ``bench/hot_path.py``'s
wrk script; no HTTP parsing, which is uvicorn's share), for ``--decisions`` decisions in
all. Every thread is profiled: the event loop, the lane's reader threads and its
writer. Prints the decisions per second under the profiler (slowed by it; compare only
runs of this script), CPU per decision (the process's, under the profiler), and the top
entries of the merged profile.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench` as a package

from bench.http_load import AREA_CODES, bench_org, callsign


def bodies(count: int) -> list[bytes]:
    """The request bodies of bench/hot_path.py's wrk script, in its order."""
    out = []
    for n in range(1, count + 1):
        code = AREA_CODES[n % len(AREA_CODES)]
        out.append(json.dumps({"user": f"agent{n % 8}",
                               "to": f"+1{code}555{100 + (n * 7919) % 9800:04d}"}).encode())
    return out


async def post(app: Any, key: str, body: bytes) -> int:
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": "POST", "scheme": "http", "path": "/v1/calls",
        "raw_path": b"/v1/calls", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {key}".encode()),
                    (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def drive(app: Any, key: str, work: list[bytes], concurrency: int) -> list[int]:
    queue = list(reversed(work))
    statuses: list[int] = []

    async def client() -> None:
        while queue:
            statuses.append(await post(app, key, queue.pop()))

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return statuses


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads, by name (summed over threads of one name)."""
    ticks = os.sysconf("SC_CLK_TCK")
    names = {t.native_id: t.name.rstrip("_0123456789") for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = names.get(int(task.name), "other")
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--decisions", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    parser.add_argument("--out", help="also write the merged profile here (pstats)")
    parser.add_argument("--no-profile", action="store_true",
                        help="time only (CPU per decision without the profiler's cost)")
    args = parser.parse_args(argv)

    from litestar.testing import AsyncTestClient

    from callsign.api.app import create_app
    from callsign.config import Settings

    folder = Path(tempfile.mkdtemp(prefix="callsign-profile-"))
    db = f"sqlite:///{folder / 'bench.db'}"
    org_file = folder / "bench.yaml"
    org_file.write_text(yaml.safe_dump(bench_org()))
    callsign(db, "apply", str(org_file))
    key = callsign(db, "keys", "create", "--org", "bench").strip()
    work = bodies(args.warmup + args.decisions)

    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def profile_thread(*_: Any) -> None:  # the first event of each new thread
        profile = cProfile.Profile()
        with lock:
            profiles.append(profile)
        profile.enable()

    batches: list[str] = []
    from callsign.services import calls as call_service

    whole = [0]
    place_call = call_service.place_call

    def counted(*args: Any, **kwargs: Any) -> Any:  # a decision run whole, in the lock
        whole[0] += 1
        return place_call(*args, **kwargs)

    call_service.place_call = counted  # type: ignore[assignment]

    async def run() -> tuple[float, float, int]:
        if not args.no_profile:  # the lane's threads start on its first decisions
            threading.setprofile(profile_thread)
        app = create_app(Settings(database_url=db, access_log=False))
        async with AsyncTestClient(app):  # the lifespan: the lane and the key cache
            statuses = await drive(app, key, work[:args.warmup], args.concurrency)
            whole[0] = 0
            if not args.no_profile:
                with lock:
                    for profile in profiles:  # the warm-up's
                        profile.clear()
                main_profile = cProfile.Profile()
                profiles.append(main_profile)
                main_profile.enable()
            threads = thread_cpu()
            wall, cpu = time.perf_counter(), time.process_time()
            statuses = await drive(app, key, work[args.warmup:], args.concurrency)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            after = thread_cpu()
            split = ", ".join(
                f"{name} {(after[name] - threads.get(name, 0.0)) / args.decisions * 1000:.2f}"
                for name in sorted(after) if after[name] - threads.get(name, 0.0) > 0)
            batches.append(f"; CPU ms per decision by thread: {split}")
            lane = app.state.runtime.lane
            batches.append(f"; {whole[0]} of them run whole in the writer (first phase lost)")
            batches.append(f", {lane.units / max(lane.commits, 1):.1f} decisions per commit")
            if not args.no_profile:
                main_profile.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
        failed = sum(1 for s in statuses if s != 201)
        return wall, cpu, failed

    wall, cpu, failed = asyncio.run(run())
    print(f"{args.decisions} decisions at concurrency {args.concurrency}: "
          f"{args.decisions / wall:.0f}/s, CPU {cpu / args.decisions * 1000:.2f} ms per "
          f"decision{' (under the profiler)' if not args.no_profile else ''}, "
          f"{failed} failed{''.join(batches)}")
    if args.no_profile:
        return 1 if failed else 0
    for profile in profiles:
        profile.create_stats()
    kept = [profile for profile in profiles if profile.stats]  # type: ignore[attr-defined]
    stats = pstats.Stats(*kept)
    if args.out:
        stats.dump_stats(args.out)
    stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
