"""HTTP load: decisions/s and latency of POST /v1/calls beside GET /healthz.

Starts `callsign serve` on 127.0.0.1 with a bench organization (numbers in ten area
codes, local presence on) and loads it with wrk from a second process at 1, 8 and 32
connections. The trivial /healthz of the same server is the framework's ceiling.

    .venv/bin/python bench/http_load.py [--seconds 10] [--connections 1 8 32] [--workers 1]
        [--db URL]   (default: a new SQLite file; a postgresql+psycopg:// URL works too)

Needs wrk (Debian package `wrk`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

AREA_CODES = ("312", "415", "212", "646", "201", "305", "213", "617", "206", "512")
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
local codes = {%(codes)s}
local n = 0
request = function()
  n = n + 1
  local code = codes[(n %% #codes) + 1]
  local body = string.format('{"user":"agent%%d","to":"+1%%s555%%04d"}',
                             n %% 8, code, 100 + (n * 7919) %% 9800)
  return wrk.format(nil, "/v1/calls", nil, body)
end
"""


def bench_org() -> dict[str, object]:
    numbers = [{"number": f"+1{code}5550{i:03d}", "label": f"{code}-{i}"}
               for code in AREA_CODES for i in range(100, 110)]
    return {
        "org": "bench", "principal_number": "+12125550100", "local_presence": True,
        "local_presence_fallback": "region", "numbers": numbers,
        "users": [{"id": f"agent{i}", "work_phone": f"+1312555{9000 + i}"} for i in range(8)],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def callsign(db: str, *args: str) -> str:
    command = [str(Path(sys.executable).parent / "callsign"), "--db", db, *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def wrk(url: str, connections: int, seconds: int, script: str | None) -> dict[str, float]:
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", script]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> dict[str, float]:
    """Rate, p50 and p99 latency (ms) and non-2xx responses from wrk's --latency report."""

    def ms(label: str) -> float:
        found = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)\b", out)
        assert found, out
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert rate, out
    return {"rate": float(rate.group(1)), "p50": ms("50"), "p99": ms("99"),
            "errors": float(errors.group(1)) if errors else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    folder = Path(tempfile.mkdtemp(prefix="callsign-http-"))
    db = args.db or f"sqlite:///{folder / 'bench.db'}"
    org_file = folder / "bench.yaml"
    org_file.write_text(yaml.safe_dump(bench_org()))
    callsign(db, "apply", str(org_file))
    key = callsign(db, "keys", "create", "--org", "bench").strip()
    script = folder / "calls.lua"
    codes = ", ".join(f'"{c}"' for c in AREA_CODES)
    script.write_text(LUA % {"key": key, "codes": codes})
    port = free_port()
    env = {**os.environ, "CALLSIGN_ACCESS_LOG": "0"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "callsign"), "--db", db, "serve", "--port", str(port),
         "--workers", str(args.workers)], env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"store {db.split(':')[0]}, {args.workers} worker(s), wrk {args.seconds}s per run")
        print(f"{'conns':>5} {'healthz/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'ratio':>6}")
        for connections in args.connections:
            health = wrk(f"{base}/healthz", connections, args.seconds, None)
            calls = wrk(base, connections, args.seconds, str(script))
            print(f"{connections:>5} {health['rate']:>10.0f} {health['p50']:>7.2f} "
                  f"{health['p99']:>7.2f} {calls['rate']:>8.0f} {calls['p50']:>7.2f} "
                  f"{calls['p99']:>7.2f} {calls['errors']:>6.0f} "
                  f"{calls['rate'] / health['rate']:>6.0%}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
