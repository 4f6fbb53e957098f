"""Shared fixtures: a fresh SQLite file per test, org documents, the service and the CLI."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select

from callsign import service
from callsign.cli import main
from callsign.domain.model import Decision, OutboundRequest, Route
from callsign.orgfile import dump_document, load_yaml, parse_document
from callsign.store import orgs as org_store
from callsign.store.db import create_store_engine
from callsign.store.tables import calls, inbound_calls, metadata
from callsign.store.uow import UnitOfWork

ApplyOrg = Callable[[dict[str, Any] | str], None]
Invoke = Callable[..., Result]


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite file migrated to head once, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    create_store_engine(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def db_url(tmp_path: Path, migrated_template: Path) -> str:
    """The URL of a fresh, migrated SQLite file of this test's own."""
    path = tmp_path / "t.db"
    shutil.copyfile(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on this test's SQLite file."""
    store = create_store_engine(db_url)
    yield store
    store.dispose()


@pytest.fixture
def apply_org(engine: Engine) -> ApplyOrg:
    """Apply an organization document (a dict, or YAML text) as `callsign apply` does."""

    def apply(document: dict[str, Any] | str) -> None:
        data = load_yaml(document) if isinstance(document, str) else document
        parsed = parse_document(data)
        with UnitOfWork(engine) as uow:
            org_store.apply_document(uow.connection, parsed)
            uow.commit()

    return apply


@pytest.fixture
def export_org(engine: Engine) -> Callable[[str], dict[str, Any]]:
    """The stored organization as `callsign export` writes it, decoded."""

    def export(org: str) -> dict[str, Any]:
        with UnitOfWork(engine) as uow:
            text = dump_document(org_store.export_document(uow.connection, org))
        decoded: dict[str, Any] = load_yaml(text)
        return decoded

    return export


@pytest.fixture
def dial(engine: Engine) -> Callable[..., Decision]:
    """Place one outbound call through the service layer, at a fixed time and seed."""

    def place(*, org: str = "acme", user: str, to: str, at: datetime, seed: int = 0,
              dry_run: bool = False, **options: Any) -> Decision:
        request = OutboundRequest(org=org, user=user, to=to, **options)
        return service.place_call(UnitOfWork(engine), request, now=at,
                                  rng=random.Random(seed), dry_run=dry_run)

    return place


@pytest.fixture
def ring(engine: Engine) -> Callable[..., Route]:
    """Route one inbound call through the service layer."""

    def route(*, to: str, caller: str, at: datetime) -> Route:
        return service.route_call(UnitOfWork(engine), to, caller, now=at)

    return route


@pytest.fixture
def recorded_calls(engine: Engine) -> Callable[[], list[Any]]:
    """The outbound calls table, oldest first."""

    def rows() -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(select(calls).order_by(calls.c.at, calls.c.id)).all())

    return rows


@pytest.fixture
def recorded_inbound(engine: Engine) -> Callable[[], list[Any]]:
    """The inbound calls table, oldest first."""

    def rows() -> list[Any]:
        with engine.connect() as conn:
            query = select(inbound_calls).order_by(inbound_calls.c.at, inbound_calls.c.id)
            return list(conn.execute(query).all())

    return rows


@pytest.fixture
def snapshot(engine: Engine) -> Callable[[], dict[str, list[tuple[Any, ...]]]]:
    """Every row of every table, for comparing whole states."""

    def take() -> dict[str, list[tuple[Any, ...]]]:
        with engine.connect() as conn:
            return {
                table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
                for table in metadata.sorted_tables
            }

    return take


@pytest.fixture
def demo_yaml() -> str:
    """The demo organization file shipped with callsign."""
    return resources.files("callsign").joinpath("demo/acme.yaml").read_text(encoding="utf-8")


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run `callsign --db URL ARGS...` in-process; stdout and stderr come apart."""
    monkeypatch.delenv("CALLSIGN_DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None, db: bool = True,
               catch: bool = False) -> Result:
        prefix = ["--db", db_url] if db else []
        return runner.invoke(main, [*prefix, *args], env=env, catch_exceptions=catch)

    return invoke
