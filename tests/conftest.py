"""Shared fixtures: a fresh store per test, org documents, the service and the CLI.

`pytest` runs on SQLite files; `pytest --store postgresql` runs the same tests on the
PostgreSQL server (CALLSIGN_TEST_POSTGRES_URL, default the local `test` database), each
test in a schema of its own that is dropped afterwards.
"""

from __future__ import annotations

import os
import random
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.pool import NullPool

from callsign.cli import main
from callsign.domain.document import parse_document
from callsign.domain.model import Decision, OutboundRequest, Route
from callsign.orgfile import dump_document, load_yaml
from callsign.services import calls as calls_service
from callsign.store import orgs as org_store
from callsign.store.db import create_store_engine
from callsign.store.tables import calls, inbound_calls, metadata
from callsign.store.uow import UnitOfWork

ApplyOrg = Callable[[dict[str, Any] | str], None]
Invoke = Callable[..., Result]


# Hypothesis: a quick profile for the inner loop and a thorough, reproducible one for CI
# (the same examples every run, so a red CI can be replayed). Neither has a per-example
# deadline: a busy machine must not fail a property. HYPOTHESIS_PROFILE picks another.
hypothesis_settings.register_profile("dev", max_examples=40, deadline=None)
hypothesis_settings.register_profile(
    "ci", max_examples=250, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


POSTGRES_URL = os.environ.get("CALLSIGN_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--store", choices=["sqlite", "postgresql"], default="sqlite",
                     help="the store the tests run on")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of one store's own behaviour run only on that store."""
    store = config.getoption("--store")
    other = "postgresql_only" if store == "sqlite" else "sqlite_only"
    keep = [item for item in items if other not in item.keywords]
    dropped = [item for item in items if other in item.keywords]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.config.getoption("--store")
    return kind


def postgres_schema_url(schema: str) -> str:
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A new, empty schema on the test server; its URL; dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL, poolclass=NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield postgres_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite file migrated to head once, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    create_store_engine(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def db_url(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a fresh, migrated store of this test's own."""
    if store_kind == "postgresql":
        with postgres_schema() as url:
            create_store_engine(url).dispose()
            yield url
        return
    path = tmp_path / "t.db"
    shutil.copyfile(request.getfixturevalue("migrated_template"), path)
    yield f"sqlite:///{path}"


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
        return calls_service.place_call(UnitOfWork(engine), request, now=at,
                                        rng=random.Random(seed), dry_run=dry_run)

    return place


@pytest.fixture
def ring(engine: Engine) -> Callable[..., Route]:
    """Route one inbound call through the service layer."""

    def route(*, to: str, caller: str, at: datetime) -> Route:
        return calls_service.route_call(UnitOfWork(engine), to, caller, now=at)

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
    """Every row of every table, for comparing whole states; but the organizations'
    configuration versions (``org:<id>`` change markers): any write to an organization's
    settings, users, projects or pools moves them, also one that rewrites the same values
    (the workers then read its state once more). tests/integration/test_org_config.py
    tests them."""

    def take() -> dict[str, list[tuple[Any, ...]]]:
        with engine.connect() as conn:
            return {
                table.name: sorted((tuple(row) for row in conn.execute(select(table))
                                    if table.name != "change_markers"
                                    or not str(row[0]).startswith("org:")), key=repr)
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
