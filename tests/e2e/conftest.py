"""The real server: `callsign serve` in a subprocess on a free port, spoken to over HTTP.

Two organizations live in it: the demo organization "acme" (calling hours 08:00–21:00 in
the callee's local time, so calls send ``"consented": true``) and "globex" (no calling
hours, no local presence). Each has an API key made by `callsign keys create`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

GLOBEX_YAML = """\
org: globex
default_country: US
timezone: America/Chicago
principal_number: "+16175550100"
forwarding_number: "+16175550199"
numbers:
  - {number: "+16175550100", label: Globex HQ, group: main}
  - {number: "+16175550111", label: Boston, group: outbound}
  - {number: "+15125550112", label: Austin, group: outreach}
  - {number: "+15125550113", label: Austin 2, group: outreach}
users:
  - id: gina
    name: Gina Park
    work_phone: "+16175559101"
    caller_id: "+16175550111"
    direct_number: "+16175550111"
  - id: hank
    name: Hank Moss
    work_phone: "+15125559102"
contacts:
  - {phone: "+15125550150", owner: gina, line_type: landline}
projects:
  - id: outreach
    name: Spring outreach
    numbers: ["+15125550112", "+15125550113"]
    first_call: "+15125550112"
    next_calls: different_each_attempt
    outcome_numbers: {asked_callback: "+15125550113"}
"""

HANG_GUARD = 600.0  # seconds: bounds a hung server or command, never a slow one
STARTUP_SECONDS = HANG_GUARD  # a server that exits at start-up fails at once
STOP_SECONDS = 10.0  # after SIGTERM, then SIGKILL
STDERR_LINES = 60
ERROR_KEYS = {"code", "message", "field"}


def acme_yaml() -> str:
    """The demo organization file shipped with callsign."""
    return resources.files("callsign").joinpath("demo/acme.yaml").read_text(encoding="utf-8")


def callsign_command() -> list[str]:
    """The installed `callsign` script beside this interpreter, else `python -m callsign`."""
    script = Path(sys.executable).with_name("callsign")
    return [str(script)] if script.exists() else [sys.executable, "-m", "callsign"]


def server_environment() -> dict[str, str]:
    """This environment without a database URL of its own and without access logs."""
    env = {k: v for k, v in os.environ.items() if k != "CALLSIGN_DATABASE_URL"}
    env["CALLSIGN_ACCESS_LOG"] = "0"  # keep stderr for errors, which fail the run
    # No periodic health sweep (it judges with the real clock) unless a test asks for one.
    env.setdefault("CALLSIGN_HEALTH_SWEEP_SECONDS", "0")
    return env


def run_cli(db_url: str, *args: str) -> str:
    """Run `callsign --db URL ARGS...` as a process; its stdout, or fail with its stderr."""
    done = subprocess.run([*callsign_command(), "--db", db_url, *args], capture_output=True,
                          text=True, env=server_environment(), timeout=HANG_GUARD, check=False)
    if done.returncode != 0:
        pytest.fail(f"`callsign {' '.join(args)}` exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A running `callsign serve` and what the tests need to talk to it."""

    url: str
    db_url: str
    keys: dict[str, str]
    process: subprocess.Popen[bytes]
    stderr_path: Path
    workdir: Path
    _files: list[Any] = field(default_factory=list)

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def cli(self, *args: str) -> str:
        """Run the command line on the server's database."""
        return run_cli(self.db_url, *args)

    def client(self, key: str | None) -> httpx.Client:
        """An HTTP client for the server; with ``key``, it sends it as a bearer token.

        A 5xx is always a bug, and so is a server that died: either fails the test at
        once with the server's stderr.
        """
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=HANG_GUARD,
                            event_hooks={"request": [self._refuse_a_dead_server],
                                         "response": [self._refuse_server_errors]})

    def _refuse_a_dead_server(self, request: httpx.Request) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"callsign serve died (exit {self.process.returncode}) "
                                 f"before {request.method} {request.url}:\n{self.stderr()}")

    def _refuse_server_errors(self, response: httpx.Response) -> None:
        if response.status_code < 500:
            return
        response.read()
        request = response.request
        log = "\n".join(self.stderr().splitlines()[-STDERR_LINES:])
        raise AssertionError(f"{request.method} {request.url} answered {response.status_code} "
                             f"(a 5xx is always a bug): {response.text}\n"
                             f"-- the server's stderr, last lines --\n{log}")


def wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"callsign serve exited {server.process.returncode} at start-up:\n"
                        f"{server.stderr()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop(server)
    pytest.fail(f"callsign serve did not answer /healthz in {STARTUP_SECONDS}s:\n"
                f"{server.stderr()}")


def stop(server: Server) -> int | None:
    """Stop the server (SIGTERM, then SIGKILL); the exit code if it had died by itself."""
    died = server.process.poll()
    if died is None:
        server.process.terminate()
        try:
            server.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)  # its own group: workers too
            server.process.wait(HANG_GUARD)
    else:
        with contextlib.suppress(ProcessLookupError):  # workers the dead server left behind
            os.killpg(server.process.pid, signal.SIGKILL)
    for handle in server._files:
        handle.close()
    return died


@contextlib.contextmanager
def store_url(store_kind: str, workdir: Path) -> Iterator[str]:
    """A fresh store for one server: a SQLite file, or with --store postgresql a schema."""
    if store_kind != "postgresql":
        yield f"sqlite:///{workdir / 'callsign.db'}"
        return
    from tests.conftest import postgres_schema  # only a PostgreSQL run needs the server

    with postgres_schema() as url:
        yield url


@contextlib.contextmanager
def serve(workdir: Path, documents: dict[str, str], *, db_url: str,
          workers: int = 1) -> Iterator[Server]:
    """Apply ``documents`` (org → YAML), make a key per org, and run the server.

    At exit the server is stopped; if it died on its way, the run fails with its stderr.
    """
    for org, text in documents.items():
        path = workdir / f"{org}.yaml"
        path.write_text(text, encoding="utf-8")
        run_cli(db_url, "apply", str(path))
    keys = {org: run_cli(db_url, "keys", "create", "--org", org, "--name", "e2e").strip()
            for org in documents}
    with running_server(db_url, workdir, keys, workers=workers) as server:
        yield server


@contextlib.contextmanager
def running_server(db_url: str, workdir: Path, keys: dict[str, str], *, workers: int = 1,
                   env: dict[str, str] | None = None) -> Iterator[Server]:
    """`callsign serve` on ``db_url``, with ``env`` added to its environment.

    At exit the server is stopped; if it died on its way, the run fails with its stderr.
    """
    port = free_port()
    stdout = (workdir / "server.out").open("wb")
    stderr_path = workdir / "server.err"
    stderr = stderr_path.open("wb")
    process = subprocess.Popen(
        [*callsign_command(), "--db", db_url, "serve", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers)],
        stdout=stdout, stderr=stderr, env={**server_environment(), **(env or {})},
        start_new_session=True)
    server = Server(url=f"http://127.0.0.1:{port}", db_url=db_url, keys=keys,
                    process=process, stderr_path=stderr_path, workdir=workdir,
                    _files=[stdout, stderr])
    try:
        wait_until_healthy(server)
        yield server
    finally:
        died = stop(server)
    if died is not None:
        pytest.fail(f"callsign serve died during the tests (exit {died}):\n{server.stderr()}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Server]:
    """One server for the session, holding acme and globex."""
    workdir = tmp_path_factory.mktemp("server")
    with store_url(store_kind, workdir) as url, serve(
            workdir, {"acme": acme_yaml(), "globex": GLOBEX_YAML}, db_url=url) as running:
        yield running


@pytest.fixture(scope="session")
def acme(server: Server) -> Iterator[httpx.Client]:
    """A client signed with acme's key."""
    with server.client(server.keys["acme"]) as client:
        yield client


@pytest.fixture(scope="session")
def globex(server: Server) -> Iterator[httpx.Client]:
    """A client signed with globex's key."""
    with server.client(server.keys["globex"]) as client:
        yield client


@pytest.fixture(scope="session")
def anonymous(server: Server) -> Iterator[httpx.Client]:
    """A client that sends no key."""
    with server.client(None) as client:
        yield client


class Fresh:
    """Numbers and ids no test has used yet, so tests sharing a server stay apart."""

    def __init__(self) -> None:
        self._counter = itertools.count(2000)

    def number(self, area_code: str = "415") -> str:
        """A valid US number (E.164) in ``area_code`` that nothing holds yet."""
        return f"+1{area_code}555{next(self._counter):04d}"

    def id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._counter)}"


@pytest.fixture(scope="session")
def fresh() -> Fresh:
    """Unused numbers and ids, for the whole session."""
    return Fresh()


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is the JSON error shape with ``status``; its ``error`` object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) >= ERROR_KEYS, error
    assert isinstance(error["code"], str), error
    assert isinstance(error["message"], str), error
    assert error["code"], error
    assert error["message"], error
    assert error["field"] is None or isinstance(error["field"], str), error
    return error


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The response has ``status``; its JSON body."""
    assert response.status_code == status, response.text
    return response.json()


def path_of(number: str) -> str:
    """A number as a path segment, its '+' percent-encoded."""
    return number.replace("+", "%2B")


