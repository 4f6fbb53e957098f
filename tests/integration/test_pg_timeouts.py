"""PostgreSQL: no call waits without limit on a row another transaction holds.

A paused node or an open psql session holding ``SELECT ... FOR UPDATE`` on a number's row
used to stall every decision needing that number. Now the server's sessions carry
``lock_timeout``, ``statement_timeout`` and ``idle_in_transaction_session_timeout``; a
number whose row stays locked is passed over, and the trace says why.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.pool import NullPool

from callsign.domain.document import parse_document
from callsign.domain.errors import InvalidInput, StoreUnavailable
from callsign.domain.model import Decision, OutboundRequest
from callsign.services import calls
from callsign.store import orgs as org_store
from callsign.store.db import Timeouts, create_store_engine
from callsign.store.tables import number_usage, numbers
from callsign.store.uow import UnitOfWork

pytestmark = pytest.mark.postgresql_only

PRINCIPAL = "+12125550100"
FIRST = "+13125550101"
SECOND = "+13125550102"
ORG = {
    "org": "held", "principal_number": PRINCIPAL, "local_presence": True,
    "numbers": [{"number": PRINCIPAL}, {"number": FIRST}, {"number": SECOND}],
    "users": [{"id": "u1"}],
}
AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
# Short, so the test is quick; nothing asserts how long anything took.
QUICK = Timeouts(lock=0.2, statement=5.0, idle_in_transaction=30.0)


@pytest.fixture
def store(db_url: str) -> Iterator[Engine]:
    engine = create_store_engine(db_url, timeouts=QUICK)
    with UnitOfWork(engine) as uow:
        org_store.apply_document(uow.connection, parse_document(ORG))
        uow.commit()
    yield engine
    engine.dispose()


@contextmanager
def held(db_url: str, *rows: str) -> Iterator[Connection]:
    """Another session (psql, a paused node) holding these numbers' rows FOR UPDATE."""
    other = create_engine(db_url, poolclass=NullPool)
    with other.connect() as conn:
        conn.begin()
        for e164 in rows:
            conn.execute(text("SELECT id FROM numbers WHERE e164 = :n FOR UPDATE"), {"n": e164})
        try:
            yield conn
        finally:
            conn.rollback()
    other.dispose()


def call(engine: Engine, i: int) -> Decision:
    request = OutboundRequest(org="held", user="u1", to=f"+1312555{2000 + i}")
    return calls.place_call(UnitOfWork(engine), request, now=AT + timedelta(seconds=i),
                            rng=random.Random(i))


def usage(engine: Engine, e164: str) -> int:
    with engine.connect() as conn:
        count = conn.execute(select(func.sum(number_usage.c.used))
                             .join_from(number_usage, numbers)
                             .where(numbers.c.e164 == e164)).scalar_one()
    return int(count or 0)


def test_the_servers_sessions_carry_the_three_timeouts(db_url: str) -> None:
    engine = create_store_engine(db_url)  # the defaults
    with engine.connect() as conn:
        shown = {name: conn.exec_driver_sql(f"SHOW {name}").scalar_one() for name in (
            "lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")}
    engine.dispose()
    assert shown == {"lock_timeout": "2s", "statement_timeout": "5s",
                     "idle_in_transaction_session_timeout": "30s"}


def test_the_timeouts_come_from_the_environment() -> None:
    timeouts = Timeouts.from_environment({"CALLSIGN_PG_LOCK_TIMEOUT": "0.5",
                                          "CALLSIGN_PG_STATEMENT_TIMEOUT": "0"})
    assert timeouts == Timeouts(lock=0.5, statement=0.0)
    assert "SET lock_timeout = 500" in timeouts.session_settings()
    with pytest.raises(InvalidInput, match="CALLSIGN_PG_LOCK_TIMEOUT"):
        Timeouts.from_environment({"CALLSIGN_PG_LOCK_TIMEOUT": "soon"})


def test_a_number_whose_row_another_session_holds_is_passed_over(
        db_url: str, store: Engine) -> None:
    """Calls go on with the other number; the trace names the held one and why."""
    with held(db_url, FIRST):
        decisions = [call(store, i) for i in range(3)]

    assert [d.caller_id for d in decisions] == [SECOND] * 3
    steps = [step for d in decisions for step in d.trace if step.step == "held"]
    assert steps, "no decision tried the held number"
    assert all(step.number == FIRST and step.result == "passed" for step in steps)
    assert "locked by another transaction" in steps[0].detail
    assert usage(store, FIRST) == 0
    assert usage(store, SECOND) == 3
    # Released: the number is used again.
    assert call(store, 3).caller_id == FIRST


def test_when_every_number_is_held_the_principal_is_presented_uncounted(
        db_url: str, store: Engine) -> None:
    with held(db_url, FIRST, SECOND, PRINCIPAL):
        decision = call(store, 0)

    assert decision.caller_id == PRINCIPAL
    assert decision.rule == "principal"
    held_steps = {step.number: step for step in decision.trace if step.step == "held"}
    assert set(held_steps) == {FIRST, SECOND, PRINCIPAL}
    assert "presented without counting" in held_steps[PRINCIPAL].detail
    assert usage(store, PRINCIPAL) == 0


def test_a_statement_past_statement_timeout_is_a_store_fault(db_url: str) -> None:
    engine = create_store_engine(db_url, timeouts=Timeouts(statement=0.2))
    with pytest.raises(StoreUnavailable, match="statement_timeout"), UnitOfWork(engine) as uow:
        uow.connection.exec_driver_sql("SELECT pg_sleep(600)")
    engine.dispose()


def test_a_lock_held_elsewhere_outside_the_call_path_is_a_store_fault(
        db_url: str, store: Engine) -> None:
    """An admin write on a held row answers 503-worthy StoreUnavailable, not a hang."""
    with held(db_url, FIRST), pytest.raises(StoreUnavailable, match="lock_timeout"), \
            UnitOfWork(store) as uow:
        uow.connection.execute(numbers.update().where(numbers.c.e164 == FIRST)
                               .values(label="x"))


def test_a_session_ended_by_the_server_is_a_store_fault_and_the_next_request_works(
        db_url: str, store: Engine) -> None:
    """pg_terminate_backend (a restart, a failover) mid-request: 503-worthy, then fine."""
    admin = create_engine(db_url, poolclass=NullPool)

    def terminated_mid_request() -> None:
        with UnitOfWork(store) as uow:
            pid = uow.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            uow.connection.exec_driver_sql("SELECT 1")

    with pytest.raises(StoreUnavailable, match="PostgreSQL"):
        terminated_mid_request()
    admin.dispose()

    assert call(store, 0).caller_id in (FIRST, SECOND)
