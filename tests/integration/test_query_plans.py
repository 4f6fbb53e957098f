"""Every statement of a decision reads the big tables through an index (both stores).

The statements a decision runs are captured as the store sends them (``Statement.run``:
SQL and parameters), from real decisions (a local-presence call, a project call with an
idempotency key, a repeat call to the same contact), then shown to the database's
planner: SQLite's ``EXPLAIN QUERY PLAN``, PostgreSQL's ``EXPLAIN`` with sequential scans
priced out (``enable_seqscan = off``), so that a Seq Scan left in the plan means no index
can serve it, whatever the size of the test's tables. No statement may scan a table that
grows with the inventory or the call history; a contact's history is one range of the
covering index ``ix_calls_history`` (no table row read: migration 0015). Plans, not
timings: the test is deterministic.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from callsign.domain.model import OutboundRequest
from callsign.services import calls as calls_service
from callsign.store.sql import Statement
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg

# Tables whose size grows with the inventory, the contacts or the call history.
BIG = {
    "numbers",
    "number_area_codes",
    "number_usage",
    "number_health",
    "contacts",
    "calls",
    "idempotency_keys",
    "do_not_call",
    "project_numbers",
    "change_markers",
}
AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
ORG = {
    "org": "plans",
    "principal_number": "+12125550100",
    "local_presence": True,
    "local_presence_fallback": "region",
    "numbers": [
        {"number": "+12125550100"},
        {"number": "+13125550101", "daily_cap": 50},
        {"number": "+13125550102", "daily_cap": 50},
        {"number": "+16465550103"},
        {"number": "+16465550104"},
        {"number": "+17735550105"},
    ],
    "users": [{"id": "u1"}],
    "projects": [
        {
            "id": "p1",
            "numbers": ["+16465550103", "+16465550104"],
            "first_call": "random",
            "next_calls": "different_each_attempt",
        }
    ],
}

Captured = tuple[Statement, dict[str, Any]]


@pytest.fixture
def captured(
    engine: Engine, apply_org: ApplyOrg, monkeypatch: pytest.MonkeyPatch
) -> list[Captured]:
    """The statements (and parameters) of a few real decisions."""
    apply_org(ORG)
    seen: list[Captured] = []
    run = Statement.run

    def recording(self: Statement, conn: Connection, params: Mapping[str, Any]) -> Any:
        seen.append((self, dict(params)))
        return run(self, conn, params)

    def decide(minutes: int, *, key: str | None = None, **request: Any) -> None:
        call = OutboundRequest(**{"org": "plans", "user": "u1", "to": "+13125553000", **request})
        calls_service.place_call(
            UnitOfWork(engine),
            call,
            now=AT + timedelta(minutes=minutes),
            rng=random.Random(minutes),
            idempotency_key=key,
        )

    decide(0)  # the org's state cached, and a first call in the contact's history
    monkeypatch.setattr(Statement, "run", recording)
    decide(10)
    decide(20, project="p1", key="k-20")
    decide(30, to="+19175553001")  # no number in 917: the region's
    monkeypatch.setattr(Statement, "run", run)
    return seen


def _sqlite_plan(conn: Connection, statement: Statement, params: dict[str, Any]) -> list[str]:
    explain = Statement("EXPLAIN QUERY PLAN " + statement.sql, lists=statement.lists)
    return [str(row[3]) for row in explain.run(conn, params).fetchall()]


def _pg_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _pg_nodes(child)


def _pg_plan(
    conn: Connection, statement: Statement, params: dict[str, Any]
) -> list[dict[str, Any]]:
    explain = Statement("EXPLAIN (FORMAT JSON) " + statement.sql, lists=statement.lists)
    document = explain.run(conn, params).fetchone()[0]
    return list(_pg_nodes(document[0]["Plan"]))


def _explained(engine: Engine, seen: list[Captured]) -> list[tuple[str, list[str]]]:
    """Each distinct statement's SQL and its plan, one line per plan step (SQLite) or
    node (PostgreSQL: ``Node Type on relation using index``)."""
    plans: dict[str, list[str]] = {}
    with engine.connect() as conn:
        postgresql = conn.dialect.name == "postgresql"
        if postgresql:
            conn.execute(text("SET enable_seqscan = off"))
        for statement, params in seen:
            if statement.sql in plans:
                continue
            if not postgresql:
                plans[statement.sql] = _sqlite_plan(conn, statement, params)
                continue
            plans[statement.sql] = [
                f"{node['Node Type']} on {node.get('Relation Name')} using {node.get('Index Name')}"
                for node in _pg_plan(conn, statement, params)
            ]
        conn.rollback()
    return list(plans.items())


def _scans_of_big_tables(dialect: str, plan: list[str]) -> list[str]:
    if dialect == "postgresql":
        return [line for line in plan if line.startswith("Seq Scan on ") and line.split()[3] in BIG]
    # SQLite names a table by its alias in the plan; a SCAN of one without an index is a
    # full scan (a subquery's or CTE's own rows, "SCAN lru_local", are not a table's).
    return [
        line
        for line in plan
        if line.startswith("SCAN ") and " USING " not in line and line.split()[1] not in _SUBQUERIES
    ]


_SUBQUERIES = {"lru_local", "resting_local", "lru_region", "counted", "shown", "h", "c", "CONSTANT"}


def test_no_statement_of_a_decision_scans_a_big_table(
    engine: Engine, captured: list[Captured]
) -> None:
    explained = _explained(engine, captured)
    assert len(explained) >= 4, explained  # reads, a claim, the call's insert, the key's
    dialect = engine.dialect.name
    for sql, plan in explained:
        assert _scans_of_big_tables(dialect, plan) == [], (sql, plan)


def test_a_contacts_history_is_read_from_the_covering_index_alone(
    engine: Engine, captured: list[Captured]
) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE calls"))  # the pages all visible, as when big
    history = [
        (sql, plan)
        for sql, plan in _explained(engine, captured)
        if "ORDER BY at DESC" in sql and "FROM calls" in sql
    ]
    assert history, "no decision read a contact's history"
    for sql, plan in history:
        if engine.dialect.name == "postgresql":
            assert "Index Only Scan on calls using ix_calls_history" in plan, (sql, plan)
        else:
            assert any(
                line.startswith("SEARCH calls USING COVERING INDEX ix_calls_history")
                for line in plan
            ), (sql, plan)
