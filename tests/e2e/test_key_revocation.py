"""A key revoked by another process stops working on every worker of a running server, one
made by another process works on every worker at once, and a key given other scopes by
another process is refused (403) by every worker alike.

A real `callsign serve --workers 2` (SQLite, or PostgreSQL with --store postgresql) and the
real command line. Each request goes on a connection of its own, and the test reads in
/proc which worker accepted it, so it can say what each worker answered. Time is only
measured and printed: the bounds are counts of requests (and a hang guard).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e._load import query
from tests.e2e.conftest import (
    HANG_GUARD,
    Server,
    acme_yaml,
    callsign_command,
    serve,
    server_environment,
    store_url,
)

pytestmark = pytest.mark.slow

WORKERS = 2
REQUESTS_TO_MEET_EVERY_WORKER = 400  # fresh connections until each worker has answered
REQUESTS_AFTER_REVOKING = 4000  # after the revoking command returned: the bound
REFUSALS_TO_SEE = 25  # refusals seen from each worker, every later answer one too


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Server]:
    """acme on a server with two workers."""
    workdir = tmp_path_factory.mktemp("revocation")
    with store_url(store_kind, workdir) as url, serve(
            workdir, {"acme": acme_yaml()}, db_url=url, workers=WORKERS) as running:
        yield running


@dataclass(frozen=True)
class Answer:
    worker: int  # the pid of the worker that accepted the connection
    status: int
    message: str


def ask(server: Server, key: str, workers: set[int]) -> Answer:
    """GET /v1/org with ``key`` on a connection of its own; who answered, and what."""
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=HANG_GUARD)
    try:
        conn.request("GET", "/v1/org", headers={"Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        body = response.read()
        assert response.status < 500, body
        assert conn.sock is not None
        worker = worker_holding(int(port), conn.sock.getsockname()[1], workers)
    finally:
        conn.close()
    message = json.loads(body)["error"]["message"] if response.status in (401, 403) else ""
    return Answer(worker, response.status, message)


def worker_holding(server_port: int, client_port: int, workers: set[int]) -> int:
    """The worker whose socket is the server's end of the connection from ``client_port``."""
    inode = _server_socket_inode(server_port, client_port)
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def _server_socket_inode(server_port: int, client_port: int) -> str:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if (int(local.rsplit(":", 1)[1], 16) == server_port
                    and int(remote.rsplit(":", 1)[1], 16) == client_port):
                return inode
    raise AssertionError(f"no server socket for the connection from port {client_port}")


def workers_of(server: Server) -> set[int]:
    """The worker processes of the server (its children started by multiprocessing's
    spawn), once there are ``WORKERS`` of them."""
    deadline = time.monotonic() + HANG_GUARD
    while True:
        found = set()
        for entry in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == server.process.pid and fields[0] != "Z" \
                        and b"spawn_main" in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
        if len(found) == WORKERS:
            return found
        assert time.monotonic() < deadline, f"not {WORKERS} workers:\n{server.stderr()}"
        time.sleep(0.1)


def new_key(server: Server) -> str:
    return server.cli("keys", "create", "--org", "acme", "--name", "revocation").strip()


def test_a_key_made_by_another_process_works_at_once_on_every_worker(server: Server) -> None:
    workers = workers_of(server)
    key = new_key(server)
    answered: dict[int, list[int]] = {pid: [] for pid in workers}
    for _ in range(REQUESTS_TO_MEET_EVERY_WORKER):
        answer = ask(server, key, workers)
        answered[answer.worker].append(answer.status)
        if all(answered.values()):
            break
    assert all(answered.values()), f"a worker answered nothing: {answered}"
    assert {pid: set(statuses) for pid, statuses in answered.items()} == \
        {pid: {200} for pid in workers}


def test_a_key_revoked_by_another_process_stops_working_on_every_worker(
        server: Server) -> None:
    workers = workers_of(server)
    key = new_key(server)
    used: dict[int, int] = dict.fromkeys(workers, 0)
    for _ in range(REQUESTS_TO_MEET_EVERY_WORKER):
        answer = ask(server, key, workers)
        assert answer.status == 200, answer
        used[answer.worker] += 1
        if all(used.values()):
            break
    assert all(used.values()), f"a worker answered nothing: {used}"

    revoking = subprocess.Popen(  # the revocation, by another process, while keys are used
        [*callsign_command(), "--db", server.db_url, "keys", "revoke", "--org", "acme",
         key.split("_")[1]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=server_environment())
    answers: list[tuple[float, Answer]] = []  # (wall-clock time it came, the answer)
    refusals: dict[int, int] = dict.fromkeys(workers, 0)

    def use_the_key() -> None:
        answer = ask(server, key, workers)
        answers.append((time.time(), answer))
        refusals[answer.worker] += answer.status == 401

    deadline = time.monotonic() + HANG_GUARD
    while revoking.poll() is None:
        assert time.monotonic() < deadline, "`callsign keys revoke` hangs"
        use_the_key()
    for _ in range(REQUESTS_AFTER_REVOKING):  # the bound: after the command returned
        if all(n >= REFUSALS_TO_SEE for n in refusals.values()):
            break
        use_the_key()
    _, error = revoking.communicate(timeout=HANG_GUARD)
    assert revoking.returncode == 0, error

    revoked_at = revoked_when(server, key)
    report(answers, revoked_at, workers)
    for pid in workers:
        mine = [answer for _, answer in answers if answer.worker == pid]
        statuses = [answer.status for answer in mine]
        assert 401 in statuses, f"worker {pid} never refused the key in {len(answers)} requests"
        first = statuses.index(401)
        assert set(statuses[:first]) <= {200}, statuses
        assert set(statuses[first:]) == {401}, f"worker {pid} took the key after refusing it"
        assert all(answer.message.startswith("the API key was revoked on ")
                   for answer in mine[first:]), mine[first:]
    assert all(n >= REFUSALS_TO_SEE for n in refusals.values()), refusals


def test_a_key_given_other_scopes_by_another_process_is_refused_on_every_worker(
        server: Server) -> None:
    """An admin's key rescoped to dialer: GET /v1/org (read or admin) turns 403 on each
    worker and stays so, within the same bound of requests as a revocation."""
    workers = workers_of(server)
    key = new_key(server)
    used: dict[int, int] = dict.fromkeys(workers, 0)
    for _ in range(REQUESTS_TO_MEET_EVERY_WORKER):
        answer = ask(server, key, workers)
        assert answer.status == 200, answer
        used[answer.worker] += 1
        if all(used.values()):
            break
    assert all(used.values()), f"a worker answered nothing: {used}"

    server.cli("keys", "scope", "--org", "acme", "--scope", "dialer", key)
    answers: list[Answer] = []
    refusals: dict[int, int] = dict.fromkeys(workers, 0)
    for _ in range(REQUESTS_AFTER_REVOKING):  # the bound: after the command returned
        if all(n >= REFUSALS_TO_SEE for n in refusals.values()):
            break
        answer = ask(server, key, workers)
        answers.append(answer)
        refusals[answer.worker] += answer.status == 403

    for pid in workers:
        statuses = [answer.status for answer in answers if answer.worker == pid]
        assert 403 in statuses, f"worker {pid} never refused the key in {len(answers)} requests"
        first = statuses.index(403)
        assert set(statuses[:first]) <= {200}, statuses
        assert set(statuses[first:]) == {403}, f"worker {pid} took the key's old scope again"
    assert all(n >= REFUSALS_TO_SEE for n in refusals.values()), refusals
    assert all("it needs the 'admin' or 'read' scope" in answer.message
               for answer in answers if answer.status == 403)


def revoked_when(server: Server, key: str) -> float:
    """The key's revocation time as the store keeps it (written just before the commit)."""
    [(stored,)] = query(server.db_url, "SELECT revoked_at FROM api_keys WHERE id = :id",
                        id=key.split("_")[1])
    moment = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def report(answers: list[tuple[float, Answer]], revoked_at: float, workers: set[int]) -> None:
    """Print, per worker, how long after the revocation it last took the key and first
    refused it (wall-clock, for the record only)."""
    lines = []
    for pid in sorted(workers):
        mine = [(at, answer.status) for at, answer in answers if answer.worker == pid]
        taken = [at for at, status in mine if status == 200]
        refused = [at for at, status in mine if status == 401]
        last = f"{max(taken) - revoked_at:+.3f} s" if taken else "never"
        first = f"{min(refused) - revoked_at:+.3f} s" if refused else "never"
        lines.append(f"  worker {pid}: last took it {last}, first refused it {first} "
                     f"({len(mine)} requests)")
    print("\nafter the key was revoked by another process (its revoked_at):\n"
          + "\n".join(lines))
