"""Store faults against a real server: 503 naming the store, /readyz 503, recovery by
itself, nothing acknowledged lost; a damaged store at start is one line.

How the faults are made (the tests run as root, which ignores file permissions):
- deleted: the SQLite file is unlinked while the server holds it open;
- read-only: ``chattr +i`` on the database file and its -wal file (ext4 and most local
  file systems; the -shm file is left alone, it is memory-mapped). Skipped where chattr
  is refused;
- full: the store lives on a 4 MB tmpfs that a filler file fills. Skipped where mounting
  is not permitted;
- PostgreSQL refusing connections: the server reaches PostgreSQL through a TCP relay of
  the test's own, which is closed and its connections cut, then opened again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.e2e.conftest import (
    GLOBEX_YAML,
    Server,
    callsign_command,
    error_of,
    free_port,
    run_cli,
    running_server,
    server_environment,
    store_url,
)

HANG_GUARD = 600.0  # seconds; only against a hang, never a measure of speed


def start(workdir: Path, db_url: str, env: dict[str, str] | None = None
          ) -> contextlib.AbstractContextManager[Server]:
    path = workdir / "globex.yaml"
    path.write_text(GLOBEX_YAML, encoding="utf-8")
    run_cli(db_url, "apply", str(path))
    key = run_cli(db_url, "keys", "create", "--org", "globex", "--name", "e2e").strip()
    return running_server(db_url, workdir, {"globex": key}, env=env)


class Calls:
    """Calls through one server with a plain client (5xx expected here), and what it said."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.url, timeout=HANG_GUARD, headers={
            "Authorization": f"Bearer {server.keys['globex']}"})
        self.acknowledged: list[str] = []
        self._next = 1000

    def place(self) -> httpx.Response:
        self._next += 1
        response = self.client.post("/v1/calls", json={"user": "gina",
                                                       "to": f"+1512555{self._next:04d}"})
        if response.status_code == 201:
            self.acknowledged.append(response.json()["call_id"])
        return response

    def ready(self) -> httpx.Response:
        return self.client.get("/readyz")

    def assert_unavailable(self) -> dict[str, Any]:
        """A call answers 503 store_unavailable, and so does /readyz; /healthz stays 200."""
        error = error_of(self.place(), 503)
        assert error["code"] == "store_unavailable", error
        ready = self.ready()
        assert ready.status_code == 503, ready.text
        assert ready.json()["code"] == "store_unavailable"
        assert self.client.get("/healthz").status_code == 200
        return error

    def assert_serving(self) -> None:
        """Calls are acknowledged again and /readyz is 200; every 201 is in the store."""
        assert self.place().status_code == 201
        assert self.ready().status_code == 200, self.ready().text
        for call_id in self.acknowledged:
            found = self.client.get(f"/v1/calls/{call_id}")
            assert found.status_code == 200, (call_id, found.text)
        assert self.server.process.poll() is None

    def close(self) -> None:
        self.client.close()


@contextlib.contextmanager
def calls_on(server: Server) -> Iterator[Calls]:
    calls = Calls(server)
    try:
        yield calls
    finally:
        calls.close()


def copy_of(db: Path, to: Path) -> Path:
    with contextlib.closing(sqlite3.connect(db)) as source, \
            contextlib.closing(sqlite3.connect(to)) as copy:
        source.backup(copy)
    return to


def assert_waits_for_the_old_wal_files(calls: Calls, db: Path) -> None:
    """SQLite leaves the old file's -wal and -shm in place while a connection to it stays
    open (once the last one closes, it checkpoints and removes them); read with the new
    file, they would damage it: while they are there, 503 naming them."""
    if not Path(f"{db}-wal").exists():
        return
    error = calls.assert_unavailable()
    assert f"{db}-wal" in error["message"], error
    Path(f"{db}-wal").unlink()
    Path(f"{db}-shm").unlink()


@pytest.mark.sqlite_only
def test_a_sqlite_file_deleted_while_serving_answers_503_until_it_is_restored(
        tmp_path: Path) -> None:
    db = tmp_path / "callsign.db"
    with start(tmp_path, f"sqlite:///{db}") as server, calls_on(server) as calls:
        assert calls.place().status_code == 201
        backup = copy_of(db, tmp_path / "backup.db")

        db.unlink()
        for _ in range(3):
            error = calls.assert_unavailable()
            assert str(db) in error["message"], error
            assert "deleted" in error["message"], error
        assert not db.exists(), "the server created the deleted file again"

        shutil.copyfile(backup, db)  # the operator restores the backup
        assert_waits_for_the_old_wal_files(calls, db)
        calls.assert_serving()


@pytest.mark.sqlite_only
def test_a_sqlite_file_replaced_while_serving_is_reopened(tmp_path: Path) -> None:
    """Another database moved into the file's place: 503, then the server serves from it."""
    db = tmp_path / "callsign.db"
    with start(tmp_path, f"sqlite:///{db}") as server, calls_on(server) as calls:
        first = calls.place().json()["call_id"]
        replacement = copy_of(db, tmp_path / "replacement.db")
        with contextlib.closing(sqlite3.connect(replacement)) as copy:
            copy.execute("DELETE FROM calls")
            copy.commit()
        os.replace(replacement, db)

        assert_waits_for_the_old_wal_files(calls, db)
        assert calls.client.get(f"/v1/calls/{first}").status_code == 404  # the new file's
        calls.acknowledged.remove(first)
        calls.assert_serving()


@contextlib.contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    done: list[Path] = []
    try:
        for path in paths:
            result = subprocess.run(["chattr", "+i", str(path)], capture_output=True,
                                    check=False)
            if result.returncode != 0:
                pytest.skip(f"chattr +i is not available here: {result.stderr!r}")
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.sqlite_only
def test_a_read_only_sqlite_file_answers_503_and_recovers(tmp_path: Path) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    db = tmp_path / "callsign.db"
    with start(tmp_path, f"sqlite:///{db}") as server, calls_on(server) as calls:
        assert calls.place().status_code == 201
        with immutable(db, Path(f"{db}-wal")):
            error = calls.assert_unavailable()
            assert str(db) in error["message"], error
        calls.assert_serving()


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[Path]:
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr!r}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    # Closing flushes what the last write buffered: that fails on a full disk too.
    with contextlib.suppress(OSError), filler.open("wb") as out:
        for _ in range(1_000):  # 64 MB at most, far more than the disk holds
            out.write(b"\0" * 65536)
            out.flush()
    return filler


@pytest.mark.sqlite_only
def test_a_full_disk_answers_503_and_recovers_when_space_is_freed(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    with small_disk(disk):
        db = disk / "callsign.db"
        with start(tmp_path, f"sqlite:///{db}") as server, calls_on(server) as calls:
            assert calls.place().status_code == 201
            filler = fill(disk)
            answers = []
            for _ in range(200):  # until the WAL has to grow
                response = calls.place()
                answers.append(response.status_code)
                if response.status_code != 201:
                    break
            assert answers[-1] == 503, answers
            error = calls.assert_unavailable()
            assert "full" in error["message"], error

            filler.unlink()
            calls.assert_serving()


class Relay:
    """A TCP relay to PostgreSQL that can refuse connections (closed) and open again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def open(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        """Refuse new connections and cut the open ones."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def relayed(url: str) -> Iterator[tuple[Relay, str]]:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    relay = Relay((parsed.host or "127.0.0.1", parsed.port or 5432))
    relay.open()
    try:
        yield relay, parsed.set(host="127.0.0.1", port=relay.port).render_as_string(
            hide_password=False)
    finally:
        relay.close()


@pytest.mark.postgresql_only
def test_postgresql_refusing_connections_answers_503_and_recovers(tmp_path: Path) -> None:
    with store_url("postgresql", tmp_path) as direct, relayed(direct) as (relay, url), \
            start(tmp_path, url) as server, calls_on(server) as calls:
        assert calls.place().status_code == 201

        relay.close()
        error = calls.assert_unavailable()
        assert "PostgreSQL" in error["message"]
        assert f":{relay.port}/" in error["message"]

        relay.open()
        calls.assert_serving()


@pytest.mark.postgresql_only
def test_connections_the_server_ended_are_replaced_without_a_failed_call(
        tmp_path: Path) -> None:
    """No ping before each call: a backend ended under the server (pg_terminate_backend,
    as a restart or a failover does) is found on use, and the call still answers 201."""
    name = f"callsign-e2e-{uuid.uuid4().hex[:12]}"
    with store_url("postgresql", tmp_path) as direct:
        url = f"{direct}{'&' if '?' in direct else '?'}application_name={name}"
        with start(tmp_path, url) as server, calls_on(server) as calls:
            assert calls.place().status_code == 201
            admin = create_engine(direct, poolclass=NullPool)
            with admin.connect() as conn:
                ended = conn.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"), {"name": name}).scalar_one()
            admin.dispose()
            assert ended >= 1
            for _ in range(3):
                response = calls.place()
                assert response.status_code == 201, response.text
            calls.assert_serving()


@pytest.mark.postgresql_only
def test_a_number_held_in_another_session_is_passed_over_and_healthz_answers(
        tmp_path: Path) -> None:
    held = "+16175550111"  # gina's caller ID: what her calls present
    with store_url("postgresql", tmp_path) as url, \
            start(tmp_path, url, env={"CALLSIGN_PG_LOCK_TIMEOUT": "0.5"}) as server, \
            calls_on(server) as calls:
        assert calls.place().json()["caller_id"] == held
        other = create_engine(url, poolclass=NullPool)
        with other.connect() as session:  # psql, or a paused node, holding the row
            session.begin()
            session.execute(text("SELECT id FROM numbers WHERE e164 = :n FOR UPDATE"),
                            {"n": held})
            answers: list[httpx.Response] = []
            decision = threading.Thread(target=lambda: answers.append(calls.place()))
            decision.start()
            assert calls.client.get("/healthz").status_code == 200
            decision.join(HANG_GUARD)
            assert httpx.get(f"{server.url}/healthz", timeout=HANG_GUARD).status_code == 200
            session.rollback()
        other.dispose()

        [answer] = answers
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["caller_id"] != held
        steps = [s for s in body["trace"] if s["step"] == "held"]
        assert steps, body["trace"]
        assert steps[0]["number"] == held, body["trace"]
        assert calls.place().json()["caller_id"] == held  # released: presented again


def serve_once(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*callsign_command(), "--db", f"sqlite:///{db}", "serve", "--port", str(free_port())],
        capture_output=True, text=True, env=server_environment(), timeout=HANG_GUARD,
        check=False)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("damage", ["text", "truncated", "garbage"])
def test_a_damaged_store_at_start_is_one_line(tmp_path: Path, damage: str) -> None:
    """`callsign serve` and other commands exit non-zero with one line naming the file."""
    db = tmp_path / "callsign.db"
    if damage == "text":
        db.write_text("these are somebody's notes, not a database\n", encoding="utf-8")
    elif damage == "garbage":
        db.write_bytes(bytes(range(256)) * 64)
    else:
        (tmp_path / "globex.yaml").write_text(GLOBEX_YAML, encoding="utf-8")
        run_cli(f"sqlite:///{db}", "apply", str(tmp_path / "globex.yaml"))
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with db.open("r+b") as file:
            file.truncate(4096 * 3)

    served = serve_once(db)
    listed = subprocess.run([*callsign_command(), "--db", f"sqlite:///{db}", "users",
                             "--org", "globex"], capture_output=True, text=True,
                            env=server_environment(), timeout=HANG_GUARD, check=False)

    for result in (served, listed):
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 7, result.stderr
        assert len(lines) == 1, result.stderr
        assert str(db) in lines[0], lines[0]
        assert "restore" in lines[0], lines[0]
