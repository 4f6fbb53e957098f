"""Load from many concurrent clients on real servers, and an audit of the store afterwards.

Shared by the multi-server and crash-safety tests. Each client is a thread with its own
keep-alive connection to every server; requests go round-robin over the servers. A reply
records what the client saw, including no answer at all (a killed server), so a test can
compare what clients were told with what the store holds.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.e2e.conftest import (
    Server,
    callsign_command,
    free_port,
    server_environment,
    wait_until_healthy,
)

Body = dict[str, Any]
REQUEST_SECONDS = 600.0  # a hang guard: a decision takes milliseconds, a stuck one fails


def midday_timezone(now: datetime | None = None) -> str:
    """A fixed-offset zone where it is now about noon.

    Daily caps count per calendar day in the organization's zone; with this zone a
    test's calls all fall on one day, whenever the suite runs.
    """
    hour = (now or datetime.now(UTC)).astimezone(UTC).hour
    offset = (12 - hour + 12) % 24 - 12  # -12..11 hours east of UTC
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/ signs are inverted


def today_in(zone: str) -> str:
    return datetime.now(ZoneInfo(zone)).date().isoformat()


@dataclass(frozen=True)
class Reply:
    """What one POST /v1/calls came to, as its client saw it."""

    body: Body
    server: int  # index of the server it was sent to
    status: int | None  # None: no HTTP answer (refused, reset by a killed server)
    decision: Body | None  # the JSON of a 201
    error: str | None
    sent: float  # time.monotonic()
    answered: float

    @property
    def acknowledged(self) -> bool:
        return self.status == 201 and self.decision is not None

    @property
    def lost(self) -> bool:
        """Sent but never answered: the server may have recorded it before it died."""
        return self.status is None and not (self.error or "").startswith("ConnectError")


@dataclass
class Load:
    """A run of concurrent clients over ``urls``; ``replies`` fill in as answers come."""

    urls: Sequence[str]
    key: str
    replies: list[Reply] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _take: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor | None = None
    _futures: list[Future[None]] = field(default_factory=list)

    # -- running ---------------------------------------------------------------------

    def start(self, singles: Sequence[Body] = (), sequences: Sequence[Sequence[list[Body]]] = (),
              *, clients: int = 16, burst_groups: int = 0, seconds: float = 45.0) -> Load:
        """Send ``singles`` from ``clients`` threads, and ``sequences`` in bursts.

        A sequence is one contact's rounds; the calls of a round leave at once from
        threads of one burst group, each to the next server, and a round starts when
        the previous one is answered. The load stops after ``seconds`` in any case.
        """
        assert burst_groups > 0 or not sequences, "sequences need a burst group"
        deadline = time.monotonic() + seconds
        groups = [sequences[g::burst_groups] for g in range(burst_groups)] if sequences else []
        widths = [max((len(r) for s in group for r in s), default=0) for group in groups]
        self._pool = ThreadPoolExecutor(clients + sum(widths))
        self.started = time.monotonic()
        bodies = iter(enumerate(singles))
        for _ in range(clients):
            self._futures.append(self._pool.submit(self._singles, bodies, deadline))
        for group, width in zip(groups, widths, strict=True):
            # One decision per round for all members: the last to arrive checks the time.
            barrier = threading.Barrier(width, action=lambda: self._past(deadline),
                                        timeout=2 * REQUEST_SECONDS)
            for member in range(width):
                self._futures.append(
                    self._pool.submit(self._bursts, group, member, barrier))
        return self

    def stop(self) -> None:
        """Ask every client to stop after its request in flight."""
        self._stop.set()

    def finish(self) -> list[Reply]:
        """Wait for every client; re-raise what went wrong in one; the replies."""
        assert self._pool is not None, "start() first"
        try:
            for future in self._futures:
                future.result(timeout=3 * REQUEST_SECONDS)
        finally:
            self._stop.set()
            self._pool.shutdown(wait=True)
        self.finished = time.monotonic()
        return self.replies

    def wait_until(self, condition: Callable[[list[Reply]], bool], what: str,
                   timeout: float = REQUEST_SECONDS) -> None:
        """Block until ``condition`` holds for the replies so far."""
        deadline = time.monotonic() + timeout
        while not condition(self.snapshot()):
            for future in self._futures:
                failure = future.exception() if future.done() else None
                if failure is not None:
                    raise failure
            if all(future.done() for future in self._futures):
                raise AssertionError(f"the load ended before {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not {what} within {timeout} s")
            time.sleep(0.005)

    def snapshot(self) -> list[Reply]:
        with self._lock:
            return list(self.replies)

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def latency_ms(self, quantile: float) -> float:
        """A quantile of the answered requests' round trips, in milliseconds."""
        times = sorted(r.answered - r.sent for r in self.replies if r.status is not None)
        return 1000 * times[min(len(times) - 1, int(quantile * len(times)))] if times else 0.0

    @property
    def rate(self) -> float:
        """Answered requests per second over the whole run."""
        answered = sum(r.status is not None for r in self.replies)
        return answered / self.seconds if self.seconds else 0.0

    # -- the clients -----------------------------------------------------------------

    @contextlib.contextmanager
    def _clients(self) -> Iterator[list[httpx.Client]]:
        headers = {"Authorization": f"Bearer {self.key}"}
        with contextlib.ExitStack() as stack:
            yield [stack.enter_context(httpx.Client(base_url=url, headers=headers,
                                                    timeout=REQUEST_SECONDS))
                   for url in self.urls]

    def _singles(self, bodies: Iterator[tuple[int, Body]], deadline: float) -> None:
        with self._clients() as clients:
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self._take:
                    taken = next(bodies, None)
                if taken is None:
                    return
                index, body = taken
                server = index % len(clients)  # round-robin over the servers
                self._record(post_call(clients[server], server, body))

    def _bursts(self, sequences: Sequence[Sequence[list[Body]]], member: int,
                barrier: threading.Barrier) -> None:
        try:
            with self._clients() as clients:
                for rounds in sequences:
                    for calls in rounds:
                        barrier.wait()  # the round's calls leave together
                        if self._stop.is_set():
                            barrier.abort()  # members already sending stop at the next
                            return
                        if member < len(calls):
                            server = member % len(clients)  # a burst spans every server
                            self._record(post_call(clients[server], server, calls[member]))
        except threading.BrokenBarrierError:
            if not self._stop.is_set():
                raise
        except BaseException:
            self._stop.set()  # the run failed: the others stop quietly, this one raises
            barrier.abort()
            raise

    def _past(self, deadline: float) -> None:
        if time.monotonic() > deadline:
            self._stop.set()

    def _record(self, reply: Reply) -> None:
        with self._lock:
            self.replies.append(reply)


def post_call(client: httpx.Client, server: int, body: Body) -> Reply:
    sent = time.monotonic()
    try:
        response = client.post("/v1/calls", json=body)
    except httpx.TransportError as exc:
        return Reply(body, server, None, None, repr(exc), sent, time.monotonic())
    answered = time.monotonic()
    if response.status_code == 201:
        return Reply(body, server, 201, response.json(), None, sent, answered)
    return Reply(body, server, response.status_code, None, response.text, sent, answered)


def answered_together(replies: Sequence[Reply]) -> bool:
    """Whether some two of ``replies`` were in flight at the same time on two servers."""
    return any(a.server != b.server and a.sent < b.answered and b.sent < a.answered
               for a, b in itertools.combinations(replies, 2))


# -- servers the tests start and kill themselves ----------------------------------------

def start_server(workdir: Path, db_url: str, *, workers: int = 1,
                 port: int | None = None) -> Server:
    """`callsign serve` on ``db_url`` in a process group of its own, answering /healthz."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    stdout = (workdir / "server.out").open("ab")
    stderr_path = workdir / "server.err"
    stderr = stderr_path.open("ab")
    process = subprocess.Popen(
        [*callsign_command(), "--db", db_url, "serve", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers)],
        stdout=stdout, stderr=stderr, env=server_environment(), start_new_session=True)
    server = Server(url=f"http://127.0.0.1:{port}", db_url=db_url, keys={}, process=process,
                    stderr_path=stderr_path, workdir=workdir, _files=[stdout, stderr])
    wait_until_healthy(server)
    return server


def kill_server(server: Server) -> None:
    """SIGKILL the server and its workers (its whole process group); wait until all exit."""
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(REQUEST_SECONDS)
    deadline = time.monotonic() + REQUEST_SECONDS  # a hang guard: SIGKILLed, they go
    while live_processes(server.process.pid) and time.monotonic() < deadline:
        time.sleep(0.02)  # the workers, which init rather than we reap
    for handle in server._files:
        handle.close()


def live_processes(group: int) -> list[int]:
    """The processes of process group ``group`` not yet exited (zombies have exited)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            state, _, pgrp = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            if int(pgrp) == group and state != "Z":
                found.append(int(entry.name))
    return found


# -- the store, read directly -------------------------------------------------------------

def query(db_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of one read on the store, through a connection of its own."""
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


_ORPHANS = {  # child table, column → parent table (every foreign key of the schema)
    ("numbers", "org_id"): "orgs", ("users", "org_id"): "orgs",
    ("contacts", "org_id"): "orgs", ("projects", "org_id"): "orgs",
    ("calls", "org_id"): "orgs", ("inbound_calls", "org_id"): "orgs",
    ("api_keys", "org_id"): "orgs", ("idempotency_keys", "org_id"): "orgs",
    ("number_area_codes", "org_id"): "orgs", ("number_area_codes", "number_id"): "numbers",
    ("project_numbers", "project_id"): "projects", ("project_numbers", "number_id"): "numbers",
}


def _engine_problems(db_url: str) -> list[str]:
    """What the database engine itself finds wrong: integrity, foreign keys, indexes."""
    problems: list[str] = []
    if make_url(db_url).get_backend_name() == "sqlite":
        integrity = query(db_url, "PRAGMA integrity_check")
        if integrity != [("ok",)]:
            problems.append(f"PRAGMA integrity_check: {integrity}")
        foreign = query(db_url, "PRAGMA foreign_key_check")
        if foreign:
            problems.append(f"PRAGMA foreign_key_check: {foreign}")
    else:
        invalid = query(db_url, """
            SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relnamespace = current_schema()::regnamespace
              AND NOT (i.indisvalid AND i.indisready)""")
        if invalid:
            problems.append(f"invalid indexes: {invalid}")
    return problems


def audit_store(db_url: str, *, day: str) -> list[str]:
    """What is wrong with the store: engine checks and the invariants callsign keeps.

    ``day`` is today in the organization's zone, when every call of the test was made.
    Empty when all holds.
    """
    problems = _engine_problems(db_url)
    for (child, column), parent in _ORPHANS.items():
        orphans = query(db_url, f"""
            SELECT count(*) FROM {child} c LEFT JOIN {parent} p ON p.id = c.{column}
            WHERE p.id IS NULL""")[0][0]
        if orphans:
            problems.append(f"{orphans} rows of {child}.{column} point to no {parent}")
    held_twice = query(db_url, """
        SELECT e164, count(*) FROM numbers WHERE status != 'released'
        GROUP BY e164 HAVING count(*) > 1""")
    if held_twice:
        problems.append(f"numbers held twice: {held_twice}")
    for e164, cap, used, presented in usage(db_url, day=day):
        if used != presented:
            problems.append(f"{e164}: usage {used} but {presented} calls present it")
        if cap is not None and presented > cap:
            problems.append(f"{e164}: {presented} calls over its daily cap {cap}")
    unmirrored = query(db_url, """
        SELECT n.e164, s.area_code FROM number_area_codes s JOIN numbers n ON n.id = s.number_id
        WHERE s.last_presented_at != n.last_presented_at
           OR s.active != (n.status = 'active')""")
    if unmirrored:
        problems.append(f"area-code mirrors out of step with their numbers: {unmirrored}")
    return problems


def usage(db_url: str, *, day: str) -> list[tuple[str, int | None, int, int]]:
    """Per number: (e164, daily cap, today's usage, calls presenting it).

    Every call of a test is made today (see ``midday_timezone``), so the calls that
    present a number are today's.
    """
    rows = query(db_url, """
        SELECT n.e164, n.daily_cap,
               COALESCE((SELECT u.used FROM number_usage u
                         WHERE u.number_id = n.id AND u.day = :day), 0),
               (SELECT count(*) FROM calls c
                WHERE c.org_id = n.org_id AND c.caller_id = n.e164)
        FROM numbers n ORDER BY n.e164""", day=day)
    return [(e164, cap, int(used), int(presented)) for e164, cap, used, presented in rows]


def logged_calls(db_url: str) -> dict[str, tuple[str, str, str | None, datetime]]:
    """Every outbound call in the store: id → (to, caller ID, project, at)."""
    rows = query(db_url, "SELECT id, to_number, caller_id, project_key, at FROM calls")
    return {call_id: (to, caller_id, project, _utc(at))
            for call_id, to, caller_id, project, at in rows}


def _utc(value: Any) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives text without a zone)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


