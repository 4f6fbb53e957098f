"""PostgreSQL: a decision costs at most three round trips to the server.

Counted on the wire, through libpq's own trace of every protocol message each pooled
connection sends and receives: a round trip is a run of messages the client sends that
the server then answers (so BEGIN, each statement, a pipeline's sync, COMMIT, and a
pool's ping each count; statements sent together in pipeline mode count once). The
statements themselves are counted too (each costs the worker the driver's work on it,
whether or not it shares a round trip): BEGIN, the contact's lock, the gathered reads,
the claim, the call's insert and COMMIT; the idempotency key's insert with a key.
"""

from __future__ import annotations

import ctypes
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from psycopg.pq import Trace
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import NullPool

from callsign.domain.document import parse_document
from callsign.domain.model import Decision, OutboundRequest
from callsign.services import calls as calls_service
from callsign.store import orgs as org_store
from callsign.store.db import create_store_engine
from callsign.store.uow import UnitOfWork

pytestmark = pytest.mark.postgresql_only

MOST = 3
MOST_STATEMENTS = 6  # and one more with an idempotency key
AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ORG = {
    "org": "trips", "principal_number": "+12125550100", "local_presence": True,
    "numbers": [{"number": "+12125550100"}, {"number": "+13125550101", "daily_cap": 50},
                {"number": "+13125550102", "daily_cap": 50},
                {"number": "+16465550103"}, {"number": "+16465550104"}],
    "users": [{"id": "u1"}],
    "projects": [{"id": "p1", "numbers": ["+16465550103", "+16465550104"],
                  "first_call": "random", "next_calls": "different_each_attempt"}],
}
_LIBC = ctypes.CDLL(None)


@dataclass
class Wire:
    """The libpq trace of every connection the engine opened, read between marks."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    marks: dict[Path, int] = field(default_factory=dict)

    def attach(self, dbapi_connection: Any) -> None:
        path = self.folder / f"trace-{len(self.files)}.txt"
        path.touch()
        self.files.append(path)
        stream = path.open("a")  # kept open: libpq writes to it for the connection's life
        dbapi_connection.pgconn.trace(stream.fileno())
        dbapi_connection.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
        self._streams.append(stream)

    def __post_init__(self) -> None:
        self._streams: list[Any] = []

    def mark(self) -> None:
        _LIBC.fflush(None)
        self.marks = {path: path.stat().st_size for path in self.files}

    def close(self) -> None:
        for stream in self._streams:
            stream.close()

    def traced(self) -> list[str]:
        """What every connection traced since the mark."""
        _LIBC.fflush(None)
        texts = []
        for path in self.files:
            with path.open() as trace:
                trace.seek(self.marks.get(path, 0))
                texts.append(trace.read())
        return texts

    def round_trips(self) -> int:
        """Round trips on every connection since the mark."""
        return sum(_round_trips(text) for text in self.traced())

    def statements(self) -> int:
        """Statements the server was asked to run since the mark."""
        return sum(_statements(text) for text in self.traced())


def _round_trips(trace: str) -> int:
    """Runs of client messages ("F") each followed by the server's answer ("B")."""
    trips = 0
    sending = False
    for line in trace.splitlines():
        direction = line.split("\t", 1)[0]
        if direction == "F":
            sending = line.split("\t")[2] != "Terminate"
        elif direction == "B" and sending:
            trips += 1
            sending = False
    return trips


def _statements(trace: str) -> int:
    """Client messages that run a statement: Execute (extended protocol) or Query."""
    return sum(1 for line in trace.splitlines()
               if line.startswith("F\t") and line.split("\t")[2] in ("Execute", "Query"))


@pytest.fixture
def wire(tmp_path: Path) -> Wire:
    return Wire(tmp_path)


@pytest.fixture
def store(db_url: str, wire: Wire) -> Iterator[Engine]:
    engine = create_store_engine(db_url)
    with UnitOfWork(engine) as uow:
        org_store.apply_document(uow.connection, parse_document(ORG))
        uow.commit()
    engine.dispose()  # the connections from now on are traced from their start
    event.listen(engine, "connect", lambda dbapi, _record: wire.attach(dbapi))
    yield engine
    engine.dispose()
    wire.close()


def decide(engine: Engine, wire: Wire, i: int, *, key: str | None = None,
           dry_run: bool = False, **request: Any) -> tuple[Decision, int]:
    """A decision and the round trips it took."""
    call = OutboundRequest(**{"org": "trips", "user": "u1", "to": f"+1312555{2000 + i}",
                              **request})
    wire.mark()
    decision = calls_service.place_call(UnitOfWork(engine), call,
                                        now=AT + timedelta(seconds=i), rng=random.Random(i),
                                        idempotency_key=key, dry_run=dry_run)
    return decision, wire.round_trips()


def test_a_decision_takes_at_most_three_round_trips(store: Engine, wire: Wire) -> None:
    decide(store, wire, 0)  # the first opens the connection: its setup is not the call's
    counts: dict[str, int] = {}
    plain, counts["local presence"] = decide(store, wire, 1)
    assert plain.caller_id.startswith("+1312")
    pooled, counts["project"] = decide(store, wire, 2, project="p1")
    assert pooled.caller_id.startswith("+1")
    first, counts["idempotency key"] = decide(store, wire, 3, key="k-1")
    again, counts["the key again"] = decide(store, wire, 3, key="k-1")
    assert again == first
    # A number without "+" is read in the organization's country, kept in memory.
    national, counts["national number"] = decide(store, wire, 4, to="(312) 555-2004",
                                                 caller_id="312 555 0101")
    assert national.to == "+13125552004"
    print(f"round trips per decision: {counts}")
    assert all(count <= MOST for count in counts.values()), counts


def test_a_decision_asks_the_server_for_six_statements(store: Engine, wire: Wire) -> None:
    """BEGIN, the lock, the gathered reads, the claim, the call and COMMIT (seven with
    an idempotency key, whose first answer is kept too); the reads used to be five."""
    decide(store, wire, 0)
    counts: dict[str, int] = {}
    cases: list[tuple[str, dict[str, Any]]] = [
        ("local presence", {}), ("project", {"project": "p1"}), ("idempotency key", {"key": "k-2"})]
    for i, (case, request) in enumerate(cases, start=1):
        decide(store, wire, i, **request)
        counts[case] = wire.statements()
    print(f"statements per decision: {counts}")
    assert counts["local presence"] <= MOST_STATEMENTS, counts
    assert counts["project"] <= MOST_STATEMENTS, counts
    assert counts["idempotency key"] <= MOST_STATEMENTS + 1, counts


def test_a_dry_run_takes_at_most_two_round_trips(store: Engine, wire: Wire) -> None:
    decide(store, wire, 0)
    counts = [decide(store, wire, i, dry_run=True, project="p1")[1] for i in range(1, 4)]
    print(f"round trips per dry run: {counts}")
    assert all(count <= 2 for count in counts), counts


def test_a_changed_organization_costs_one_decision_more_reads_and_no_more(
        store: Engine, wire: Wire) -> None:
    """The decision after a change reads the organization's state again; the next ones
    are back to three round trips, and see the change."""
    decide(store, wire, 0)
    with UnitOfWork(store) as uow:
        uow.connection.execute(text(
            "UPDATE users SET caller_id = '+16465550103' WHERE key = 'u1'"))
        uow.commit()
    changed, _ = decide(store, wire, 1, to="+14155552001")
    assert changed.caller_id == "+16465550103"
    again, trips = decide(store, wire, 2, to="+14155552002")
    assert again.caller_id == "+16465550103"
    assert trips <= MOST


def test_a_connection_the_server_dropped_is_replaced_and_the_call_goes_through(
        db_url: str, store: Engine) -> None:
    """No ping before each call: the server ending the pool's sessions (a terminated
    backend, a restart) is found on use, and the call runs once more on a new one."""
    backends: list[int] = []
    event.listen(store, "connect", lambda dbapi, _record: backends.append(dbapi.info.backend_pid))
    first = calls_service.place_call(UnitOfWork(store), OutboundRequest(
        org="trips", user="u1", to="+13125553000"), now=AT, rng=random.Random(0))
    assert backends
    admin = create_engine(db_url, poolclass=NullPool)
    with admin.connect() as conn:
        ended = [conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                 .scalar_one() for pid in backends]
    admin.dispose()
    assert all(ended)

    second = calls_service.place_call(UnitOfWork(store), OutboundRequest(
        org="trips", user="u1", to="+13125553001"), now=AT + timedelta(seconds=1),
        rng=random.Random(1))

    assert first.caller_id
    assert second.caller_id
    with store.connect() as conn:
        recorded = conn.execute(text("SELECT count(*) FROM calls")).scalar_one()
    assert recorded == 2
