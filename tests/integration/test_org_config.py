"""Each organization's configuration version (migration 0010's triggers): every write to
what the workers keep of an organization in memory moves it in the same transaction,
whatever path makes the write; the decisions' own writes never do; and it is one
organization's own.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from callsign.domain.document import ProjectDoc, UserDoc
from callsign.domain.model import NumberStatus, OutboundRequest
from callsign.services import calls as calls_service
from callsign.services import numbers as number_service
from callsign.services import organization as org_service
from callsign.store import calls as call_store
from callsign.store.uow import UnitOfWork
from tests.conftest import Invoke

AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ORG = {
    "org": "acme", "principal_number": "+12125550100", "local_presence": True,
    "numbers": [{"number": "+12125550100"}, {"number": "+13125550101", "daily_cap": 50},
                {"number": "+13125550102"}, {"number": "+16465550103"}],
    "users": [{"id": "alice", "caller_id": "+13125550101"}, {"id": "bob"}],
    "projects": [{"id": "p1", "numbers": ["+13125550102", "+16465550103"]}],
}
OTHER = {"org": "globex", "principal_number": "+14155550100",
         "numbers": [{"number": "+14155550100"}], "users": [{"id": "zed"}]}


def version(engine: Engine, slug: str = "acme") -> int | None:
    with UnitOfWork(engine) as uow:
        return call_store.config_version(uow.connection, uow.calls.org_state(slug).org_id)


def sql(engine: Engine, statement: str, **params: Any) -> None:
    with UnitOfWork(engine) as uow:
        uow.connection.execute(text(statement), params)
        uow.commit()


@pytest.fixture
def orgs(apply_org: Callable[[dict[str, Any]], None]) -> None:
    apply_org(ORG)
    apply_org(OTHER)


def moves(engine: Engine, change: Callable[[], object]) -> bool:
    """Whether ``change`` moved acme's version (and left globex's alone)."""
    mine, theirs = version(engine), version(engine, "globex")
    change()
    assert version(engine, "globex") == theirs
    after = version(engine)
    assert mine is not None
    assert after is not None
    assert after >= mine
    return after > mine


ORG_ID = "(SELECT id FROM orgs WHERE slug = 'acme')"
PROJECT_ID = f"(SELECT id FROM projects WHERE org_id = {ORG_ID} AND key = 'p1')"
NUMBER_ID = f"(SELECT id FROM numbers WHERE org_id = {ORG_ID} AND e164 = :e164)"
TABLE_WRITES = {
    "orgs update": f"UPDATE orgs SET timezone = 'Europe/Paris' WHERE id = {ORG_ID}",
    "users insert": "INSERT INTO users (org_id, key, allowed_caller_ids, active) "
                    f"VALUES ({ORG_ID}, 'carol', '[]', TRUE)",
    "users update": f"UPDATE users SET caller_id = NULL WHERE org_id = {ORG_ID}",
    "users delete": f"DELETE FROM users WHERE org_id = {ORG_ID} AND key = 'bob'",
    "projects insert": "INSERT INTO projects (org_id, key, first_call, keep_previous_number,"
                       " next_calls, outcome_numbers, agent_number) VALUES "
                       f"({ORG_ID}, 'p2', 'random', FALSE, 'random', '{{}}', 'use_project')",
    "projects update": f"UPDATE projects SET first_call = 'random' WHERE id = {PROJECT_ID}",
    "projects delete": f"DELETE FROM projects WHERE id = {PROJECT_ID}",
    "project_numbers insert": "INSERT INTO project_numbers (project_id, number_id, position) "
                              f"VALUES ({PROJECT_ID}, {NUMBER_ID}, 9)",
    "project_numbers update": "UPDATE project_numbers SET position = position + 10 "
                              f"WHERE project_id = {PROJECT_ID}",
    "project_numbers delete": f"DELETE FROM project_numbers WHERE project_id = {PROJECT_ID}",
    "numbers e164": f"UPDATE numbers SET e164 = '+13125550199' WHERE id = {NUMBER_ID}",
    "numbers delete": f"DELETE FROM numbers WHERE id = {NUMBER_ID}",
}


@pytest.mark.usefixtures("orgs")
@pytest.mark.parametrize("write", sorted(TABLE_WRITES))
def test_every_write_to_a_table_the_workers_keep_moves_the_version(
        engine: Engine, write: str) -> None:
    assert moves(engine, lambda: sql(engine, TABLE_WRITES[write], e164="+12125550100"))


@pytest.mark.usefixtures("orgs")
def test_a_write_rolled_back_leaves_the_version(engine: Engine) -> None:
    def rolled_back() -> None:
        with UnitOfWork(engine) as uow:
            uow.connection.execute(text(TABLE_WRITES["users update"]))

    assert not moves(engine, rolled_back)


@pytest.mark.usefixtures("orgs")
def test_decisions_and_number_states_never_move_it(engine: Engine) -> None:
    def decide() -> None:
        for i, user in enumerate(["alice", "bob", "bob"]):
            calls_service.place_call(UnitOfWork(engine), OutboundRequest(
                org="acme", user=user, to=f"+1312555{2000 + i}",
                project="p1" if i else None), now=AT, rng=random.Random(i),
                idempotency_key=f"k-{i}")

    assert not moves(engine, decide)
    assert not moves(engine, lambda: sql(
        engine, f"INSERT INTO contacts (org_id, phone, line_type) VALUES ({ORG_ID}, "
                "'+14155550123', 'mobile')"))


@pytest.mark.usefixtures("orgs")
def test_every_write_path_moves_it(engine: Engine, apply_org: Callable[[dict[str, Any]], None],
                                   cli: Invoke, tmp_path: Path) -> None:
    def uow() -> UnitOfWork:
        return UnitOfWork(engine)

    paths: dict[str, Callable[[], object]] = {
        "org settings": lambda: org_service.update_settings(
            uow(), "acme", {"principal_number": "+13125550102"}),
        "user put": lambda: org_service.put(uow(), "acme", UserDoc(
            id="bob", caller_id="+16465550103")),
        "user create": lambda: org_service.create(uow(), "acme", UserDoc(id="dave")),
        "user delete": lambda: org_service.delete(uow(), "acme", UserDoc, "dave"),
        "project put": lambda: org_service.put(uow(), "acme", ProjectDoc(
            id="p1", numbers=["+16465550103"])),
        "project delete": lambda: org_service.delete(uow(), "acme", ProjectDoc, "p1"),
        "number paused (leaves pools)": lambda: number_service.set_status(
            uow(), "acme", "+13125550101", NumberStatus.PAUSED),
        "number released": lambda: number_service.release(uow(), "acme", "+13125550101",
                                                          force=True),
        "org file": lambda: apply_org(ORG),
    }
    document = tmp_path / "acme.yaml"
    document.write_text("org: acme\nprincipal_number: '+12125550100'\nnumbers:\n"
                        "  - {number: '+12125550100'}\nusers:\n  - {id: alice}\n")

    def apply_with_the_cli() -> None:
        done = cli("apply", str(document))
        assert done.exit_code == 0, done.output

    paths["cli apply"] = apply_with_the_cli
    moved = {name: moves(engine, change) for name, change in paths.items()}
    # A pause changes no configuration the workers keep (the status is read each call).
    assert moved == {**dict.fromkeys(paths, True), "number paused (leaves pools)": False}
