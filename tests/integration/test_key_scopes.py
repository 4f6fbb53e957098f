"""SPEC 11 roles on a real store: the migration that gives every existing key ``admin``,
scopes through the command line, the admin's sign-in, and the app checking a key's scope
from memory on every route the table names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import Result
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient
from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.pool import NullPool

from callsign.api.deps import require_key
from callsign.config import Settings
from callsign.domain import roles
from callsign.domain.errors import Forbidden
from callsign.domain.roles import Scope
from callsign.services import access
from callsign.services.key_cache import StoreKeys
from callsign.store.db import _alembic_config
from callsign.store.tables import api_keys
from callsign.store.uow import Store, UnitOfWork
from tests.conftest import postgres_schema

pytestmark = pytest.mark.filterwarnings(
    "ignore::litestar.exceptions.base_exceptions.LitestarDeprecationWarning")

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
Invoke = Callable[..., Result]
ApplyOrg = Callable[[dict[str, object] | str], None]


@pytest.fixture
def acme(apply_org: ApplyOrg, demo_yaml: str) -> None:
    apply_org(demo_yaml)
    apply_org({"org": "globex", "principal_number": "+16175550100",
               "numbers": [{"number": "+16175550100"}]})


def ok(result: Result) -> str:
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    return result.stdout


def scopes_of(engine: Engine, key: str) -> frozenset[Scope]:
    with engine.connect() as conn:
        return access.valid_key(conn, key).scopes


# -- the migration ---------------------------------------------------------------------------

def test_migration_0017_gives_every_existing_key_full_access(tmp_path: Path,
                                                            store_kind: str) -> None:
    """A key made before scopes existed holds ``admin`` after the upgrade; the downgrade
    takes the column away and the key is kept."""
    with ExitStack() as stack:
        if store_kind == "postgresql":
            url = stack.enter_context(postgres_schema())
        else:
            url = f"sqlite:///{tmp_path / 'm.db'}"
        engine = create_engine(url, poolclass=NullPool)
        stack.callback(engine.dispose)

        def migrate_to(revision: str, *, down: bool = False) -> None:
            with engine.begin() as conn:
                (command.downgrade if down else command.upgrade)(_alembic_config(conn), revision)

        migrate_to("0016")
        with engine.begin() as conn:
            conn.execute(text("""
                INSERT INTO orgs (id, slug, default_country, timezone, principal_number,
                    local_presence, local_presence_fallback, restrict_caller_ids, call_path,
                    last_caller_days)
                VALUES (1, 'acme', 'US', 'UTC', '+12125550100', TRUE, 'none', FALSE, '[]',
                        30)"""))
            conn.execute(text("""
                INSERT INTO api_keys (id, org_id, secret_hash, name, created_at)
                VALUES ('0a1b2c3d4e5f', 1, 'h', 'crm', '2026-03-02 15:00:00+00:00')"""))
        migrate_to("0017")
        with engine.connect() as conn:
            held = conn.execute(text("SELECT id, scopes FROM api_keys")).all()
        assert [tuple(row) for row in held] == [("0a1b2c3d4e5f", "admin")]

        migrate_to("0016", down=True)
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("api_keys")}
            kept = conn.execute(text("SELECT id FROM api_keys")).scalars().all()
        assert "scopes" not in columns
        assert kept == ["0a1b2c3d4e5f"]


# -- the command line ------------------------------------------------------------------------

@pytest.mark.usefixtures("acme")
def test_a_key_is_created_with_the_scopes_named_and_admin_by_default(
    cli: Invoke, engine: Engine
) -> None:
    """``--scope`` repeated or comma-separated; without it, a key is an admin's."""
    dialer = ok(cli("keys", "create", "--org", "acme", "--scope", "dialer")).strip()
    both = ok(cli("keys", "create", "--org", "acme", "--scope", "numbers,read")).strip()
    twice = ok(cli("keys", "create", "--org", "acme", "--scope", "dialer",
                   "--scope", "read")).strip()
    plain = ok(cli("keys", "create", "--org", "acme")).strip()

    assert scopes_of(engine, dialer) == {Scope.DIALER}
    assert scopes_of(engine, both) == {Scope.NUMBERS, Scope.READ}
    assert scopes_of(engine, twice) == {Scope.DIALER, Scope.READ}
    assert scopes_of(engine, plain) == {Scope.ADMIN}


@pytest.mark.usefixtures("acme")
def test_keys_list_shows_each_keys_scopes(cli: Invoke) -> None:
    dialer = ok(cli("keys", "create", "--org", "acme", "--scope", "dialer", "--name",
                    "phones")).strip()
    admin = ok(cli("keys", "create", "--org", "acme", "--name", "ops")).strip()

    listed = ok(cli("keys", "list", "--org", "acme")).splitlines()

    assert len(listed) == 2
    assert listed[0].startswith(access.key_id(dialer))
    assert "scopes dialer " in listed[0]
    assert listed[0].endswith("phones")
    assert listed[1].startswith(access.key_id(admin))
    assert "scopes admin " in listed[1]


@pytest.mark.usefixtures("acme")
@pytest.mark.parametrize("words", [("dialler",), ("read", "Admin"), ("",)])
def test_a_scope_that_is_no_scope_makes_no_key(
    cli: Invoke, engine: Engine, words: tuple[str, ...]
) -> None:
    """Exit 2 naming --scope and the scopes there are; nothing stored."""
    result = cli("keys", "create", "--org", "acme", *(a for w in words for a in ("--scope", w)))

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--scope" in result.stderr
    assert "admin, dialer, numbers, read" in result.stderr
    with engine.connect() as conn:
        assert conn.execute(select(api_keys)).all() == []


@pytest.mark.usefixtures("acme")
def test_a_keys_scopes_change_and_every_worker_is_told(cli: Invoke, engine: Engine,
                                                       db_url: str) -> None:
    """``keys scope`` replaces the scopes and moves the keys' change marker, as revoking
    does, so every worker's copy is read again."""
    key = ok(cli("keys", "create", "--org", "acme", "--scope", "read")).strip()
    store = Store.open(db_url)
    try:
        before = StoreKeys(store).version()

        said = ok(cli("keys", "scope", "--org", "acme", "--scope", "dialer", key))

        assert said == f"{access.key_id(key)} holds dialer\n"
        assert StoreKeys(store).version() == before + 1
        assert StoreKeys(store).every_key()[access.key_id(key)].scopes == {Scope.DIALER}
    finally:
        store.close()
    assert scopes_of(engine, key) == {Scope.DIALER}


@pytest.mark.usefixtures("acme")
def test_another_organizations_or_a_revoked_key_keeps_its_scopes(
    cli: Invoke, engine: Engine
) -> None:
    """Not found (exit 3) through globex, or once revoked; nothing changes."""
    key = ok(cli("keys", "create", "--org", "acme", "--scope", "read")).strip()
    revoked = ok(cli("keys", "create", "--org", "acme", "--scope", "read")).strip()
    ok(cli("keys", "revoke", "--org", "acme", revoked))

    through_globex = cli("keys", "scope", "--org", "globex", "--scope", "admin", key)
    of_revoked = cli("keys", "scope", "--org", "acme", "--scope", "admin", revoked)

    assert (through_globex.exit_code, of_revoked.exit_code) == (3, 3)
    assert "no active key" in of_revoked.stderr
    assert scopes_of(engine, key) == {Scope.READ}
    with engine.connect() as conn:
        stored = conn.execute(select(api_keys.c.scopes).where(
            api_keys.c.id == access.key_id(revoked))).scalar_one()
    assert stored == "read"


# -- the web admin ---------------------------------------------------------------------------

@pytest.mark.usefixtures("acme")
def test_the_web_admin_needs_a_key_with_the_admin_scope(engine: Engine) -> None:
    """A dialer's key signs in to nothing; an admin's session ends when its key loses admin."""
    dialer = access.create_key(UnitOfWork(engine), "acme", now=NOW,
                               scopes=frozenset({Scope.DIALER, Scope.READ}))
    admin = access.create_key(UnitOfWork(engine), "acme", now=NOW)

    with pytest.raises(Forbidden, match="needs a key with the 'admin' scope; this key "
                                        "holds dialer, read"):
        access.sign_in(UnitOfWork(engine), dialer, now=NOW)
    session = access.sign_in(UnitOfWork(engine), admin, now=NOW)
    assert access.current_session(UnitOfWork(engine), session.id, now=NOW) == session

    access.set_scopes(UnitOfWork(engine), "acme", admin, frozenset({Scope.READ}))

    assert access.current_session(UnitOfWork(engine), session.id, now=NOW) is None


# -- the app ---------------------------------------------------------------------------------

def key_routes(app: Litestar) -> set[tuple[str, str]]:
    """(method, path) of every route handler behind require_key."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if require_key in handler.resolve_middleware():
                found |= {(str(method), route.path) for method in handler.http_methods
                          if method != "OPTIONS"}
    return found


@pytest.fixture
def app(db_url: str, apply_org: ApplyOrg, demo_yaml: str) -> Iterator[Litestar]:
    from callsign.api.app import create_app  # under this module's filter of warnings

    apply_org(demo_yaml)
    built = create_app(Settings(database_url=db_url), key_poll_seconds=3600.0)
    yield built
    built.state.runtime.store.close()


def test_every_route_a_key_opens_has_its_row_in_the_table_and_no_row_is_stale(
    app: Litestar,
) -> None:
    """An endpoint added behind a key without saying which scopes open it fails here:
    add its row to callsign.domain.roles.ROUTES."""
    served = key_routes(app)
    assert len(served) >= 50
    missing = []
    for method, path in sorted(served):
        try:
            roles.required(method, path)
        except roles.UnknownRoute as exc:
            missing.append(str(exc))

    assert missing == []
    assert set(roles.ROUTES) <= {(m, roles.template(p)) for m, p in served}
    assert len(served) == len(roles.ROUTES)


def test_a_scope_refusal_spends_no_store_connection(app: Litestar) -> None:
    """403 for a dialer's key on a purchase is answered from memory: no checkout."""
    store = app.state.runtime.store
    key = access.create_key(store.uow(), "acme", now=NOW, scopes=frozenset({Scope.DIALER}))
    checkouts: list[int] = []

    def counted(*_: object) -> None:
        checkouts.append(1)

    bearer = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        assert client.get("/v1/calls", headers=bearer).status_code == 200  # known from now
        event.listen(store.engine, "checkout", counted)
        try:
            for _ in range(10):
                answer: Any = client.post("/v1/numbers/purchase", headers=bearer,
                                          json={"area_code": "312"})
                assert answer.status_code == 403, answer.text
        finally:
            event.remove(store.engine, "checkout", counted)

    assert checkouts == []
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("forbidden", "Authorization")
    assert error["message"] == ("this API key's scopes (dialer) do not open POST "
                                "/v1/numbers/purchase: it needs the 'admin' or 'numbers' "
                                "scope")
