"""Which ASGI framework and server serve callsign's decision endpoint fastest?

Runs the same two endpoints (GET /healthz and POST /v1/calls calling
callsign.services.calls.place_call on SQLite) on FastAPI+uvicorn, Litestar+uvicorn and
Litestar+granian, one worker each, and loads each with wrk from a second process.

    .venv/bin/python bench/frameworks.py [--seconds 8] [--connections 8 64]

Needs wrk (Debian package `wrk`).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

STACKS = ("fastapi+uvicorn", "litestar+uvicorn", "litestar+granian")
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"user":"bob","to":"+1312555%04d"}', counter % 9000 + 1000)
  return wrk.format(nil, "/v1/calls", nil, body)
end
"""


def _place(engine: Any, body: dict[str, Any]) -> dict[str, Any]:
    from callsign.domain.model import OutboundRequest
    from callsign.services import calls as calls_service
    from callsign.store.uow import UnitOfWork

    decision = calls_service.place_call(
        UnitOfWork(engine), OutboundRequest(org="acme", user=body["user"], to=body["to"]),
        now=datetime(2026, 3, 2, 19, 0, tzinfo=UTC), rng=random.Random(),
    )
    return decision.as_dict()


def fastapi_app() -> Any:
    from fastapi import FastAPI

    from callsign.store.db import create_store_engine

    engine = create_store_engine(os.environ["CALLSIGN_DATABASE_URL"])
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/calls", status_code=201)
    def calls(body: dict[str, Any]) -> dict[str, Any]:
        return _place(engine, body)

    return app


def litestar_app() -> Any:
    from litestar import Litestar, get, post

    from callsign.store.db import create_store_engine

    engine = create_store_engine(os.environ["CALLSIGN_DATABASE_URL"])

    @get("/healthz", sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @post("/v1/calls", sync_to_thread=False)
    def calls(data: dict[str, Any]) -> dict[str, Any]:
        return _place(engine, data)

    return Litestar([healthz, calls])


def _serve(stack: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    factory = "bench.frameworks:fastapi_app" if stack.startswith("fastapi") \
        else "bench.frameworks:litestar_app"
    python = sys.executable
    if stack.endswith("granian"):
        command = [python, "-m", "granian", "--interface", "asgi", "--factory", "--workers", "1",
                   "--port", str(port), "--log-level", "warning", factory]
    else:
        command = [python, "-m", "uvicorn", "--factory", "--workers", "1", "--port", str(port),
                   "--log-level", "warning", "--no-access-log", factory]
    server = subprocess.Popen(command, env=env, cwd=Path(__file__).parent.parent)
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"{stack} did not start")


def _wrk(url: str, connections: int, seconds: int, script: str | None) -> tuple[float, str]:
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", script]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rate, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 64])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    folder = Path(tempfile.mkdtemp(prefix="callsign-frameworks-"))
    script = folder / "calls.lua"
    script.write_text(LUA)
    print(f"{'stack':<18} {'conns':>5} {'healthz/s':>10} {'p99':>8} {'calls/s':>9} {'p99':>8} "
          f"{'ratio':>6}")
    for i, stack in enumerate(STACKS):
        db = folder / f"{i}.db"
        env = {**os.environ, "CALLSIGN_DATABASE_URL": f"sqlite:///{db}"}
        subprocess.run([sys.executable, "-m", "callsign", "demo"], env=env, check=True,
                       capture_output=True)
        port = 8700 + i
        server = _serve(stack, port, env)
        try:
            for connections in args.connections:
                base = f"http://127.0.0.1:{port}"
                health, health_p99 = _wrk(f"{base}/healthz", connections, args.seconds, None)
                calls, calls_p99 = _wrk(base, connections, args.seconds, str(script))
                print(f"{stack:<18} {connections:>5} {health:>10.0f} {health_p99:>8} "
                      f"{calls:>9.0f} {calls_p99:>8} {calls / health:>6.0%}", flush=True)
        finally:
            server.terminate()
            server.wait()
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
