"""How the server binds an organization's Twilio auth token (issue 10, item 4), and the
migration that stops reading the variable an organization named."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from callsign.config import twilio_token_variable
from callsign.domain.errors import InvalidInput
from callsign.services.twilio_account import twilio_account
from callsign.store.db import _alembic_config, create_store_engine
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg, postgres_schema

SID = "AC" + "3d" * 16


@pytest.fixture(autouse=True)
def _no_bindings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALLSIGN_TWILIO_SECRETS", raising=False)
    for org in ("ACME", "TWIN_CO", "SOLO"):
        monkeypatch.delenv(f"CALLSIGN_TWILIO_TOKEN_{org}", raising=False)


def document(slug: str, area: str = "212") -> dict[str, Any]:
    return {"org": slug, "principal_number": f"+1{area}5550100",
            "numbers": [{"number": f"+1{area}5550100"}], "twilio": {"account_sid": SID}}


def account(engine: Engine, org: str) -> tuple[str, str]:
    return twilio_account(UnitOfWork(engine), org)


@pytest.mark.parametrize(("org", "variable"), [
    ("acme", "CALLSIGN_TWILIO_TOKEN_ACME"),
    ("Acme-West.eu_2", "CALLSIGN_TWILIO_TOKEN_ACME_WEST_EU_2"),
])
def test_the_variable_is_derived_from_the_organizations_id(org: str, variable: str) -> None:
    assert twilio_token_variable(org) == variable


def test_the_token_comes_from_the_derived_variable(
        engine: Engine, apply_org: ApplyOrg, monkeypatch: pytest.MonkeyPatch) -> None:
    apply_org(document("acme"))
    monkeypatch.setenv("CALLSIGN_TWILIO_TOKEN_ACME", "acme-token")

    assert account(engine, "acme") == (SID, "acme-token")


def test_the_secrets_file_wins_and_is_read_again_when_it_changes(
        engine: Engine, apply_org: ApplyOrg, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    apply_org(document("acme"))
    secrets = tmp_path / "secrets.json"
    secrets.write_text('{"acme": "from-the-file"}', encoding="utf-8")
    monkeypatch.setenv("CALLSIGN_TWILIO_SECRETS", str(secrets))
    monkeypatch.setenv("CALLSIGN_TWILIO_TOKEN_ACME", "from-the-environment")

    first = account(engine, "acme")
    secrets.write_text("acme: rotated-token-of-another-length\n", encoding="utf-8")
    second = account(engine, "acme")

    assert (first, second) == ((SID, "from-the-file"),
                               (SID, "rotated-token-of-another-length"))


@pytest.mark.parametrize("content", ["[not, a, mapping]", "acme: [1, 2]", "{unclosed"])
def test_an_unusable_secrets_file_binds_nothing_and_says_so_in_the_log(
        engine: Engine, apply_org: ApplyOrg, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str) -> None:
    apply_org(document("acme"))
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(content, encoding="utf-8")
    monkeypatch.setenv("CALLSIGN_TWILIO_SECRETS", str(secrets))

    with caplog.at_level(logging.WARNING), pytest.raises(InvalidInput) as refused:
        account(engine, "acme")

    assert refused.value.field == "twilio"
    assert "CALLSIGN_TWILIO_TOKEN_ACME" in refused.value.message
    assert "CALLSIGN_TWILIO_SECRETS" in caplog.text


def test_ids_that_map_to_one_variable_are_bound_only_by_the_secrets_file(
        engine: Engine, apply_org: ApplyOrg, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """twin.co and twin_co both map to CALLSIGN_TWILIO_TOKEN_TWIN_CO: that variable
    belongs to neither (else one would use the other's token); the file binds each."""
    apply_org(document("twin.co", "212"))
    apply_org(document("twin_co", "312"))
    monkeypatch.setenv("CALLSIGN_TWILIO_TOKEN_TWIN_CO", "whose-token")

    refused = []
    for org in ("twin.co", "twin_co"):
        with pytest.raises(InvalidInput) as error:
            account(engine, org)
        refused.append(error.value.field)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("twin.co: dot-token\ntwin_co: underscore-token\n", encoding="utf-8")
    monkeypatch.setenv("CALLSIGN_TWILIO_SECRETS", str(secrets))

    assert refused == ["twilio", "twilio"]
    assert account(engine, "twin.co") == (SID, "dot-token")
    assert account(engine, "twin_co") == (SID, "underscore-token")


@pytest.fixture
def empty_store(tmp_path: Path, store_kind: str) -> Iterator[str]:
    if store_kind == "postgresql":
        with postgres_schema() as url:
            yield url
        return
    yield f"sqlite:///{tmp_path / 'old.db'}"


def test_the_migration_drops_the_named_variable_keeps_everything_else_and_logs_it(
        empty_store: str, caplog: pytest.LogCaptureFixture) -> None:
    """A store made before: the organization's variable name is gone (the column is
    dropped), its numbers, users and calls stay, and the log names the new variable."""
    engine = _engine_at(empty_store, "0005")
    now = datetime(2026, 3, 2, tzinfo=UTC)
    with engine.begin() as conn:
        org_id = conn.execute(text(
            "INSERT INTO orgs (slug, default_country, timezone, principal_number, "
            "local_presence, local_presence_fallback, restrict_caller_ids, call_path, "
            "last_caller_days, twilio_account_sid, twilio_auth_token_env) VALUES ('old-co', "
            "'US', 'UTC', '+12125550100', false, 'none', false, '[]', 30, :sid, 'HOME') "
            "RETURNING id"), {"sid": SID}).scalar_one()
        conn.execute(text(
            "INSERT INTO users (org_id, key, name, allowed_caller_ids, active) "
            "VALUES (:org, 'ann', 'Ann', '[]', true)"), {"org": org_id})
        conn.execute(text(
            "INSERT INTO numbers (org_id, e164, status, usage_count, last_presented_at) "
            "VALUES (:org, '+12125550100', 'active', 0, :at)"), {"org": org_id, "at": now})
    engine.dispose()

    with caplog.at_level(logging.WARNING):
        migrated = create_store_engine(empty_store)
    try:
        columns = {c["name"] for c in inspect(migrated).get_columns("orgs")}
        with migrated.connect() as conn:
            kept = [conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                    for table in ("orgs", "users", "numbers")]
            sid = conn.execute(text("SELECT twilio_account_sid FROM orgs")).scalar()
    finally:
        migrated.dispose()
    assert "twilio_auth_token_env" not in columns
    assert (kept, sid) == ([1, 1, 1], SID)
    assert "organization old-co" in caplog.text
    assert "CALLSIGN_TWILIO_TOKEN_OLD_CO" in caplog.text


def _engine_at(url: str, revision: str) -> Engine:
    """An engine on ``url`` with the schema of ``revision`` (not the newest)."""
    from sqlalchemy import make_url

    from callsign.store import db

    parsed = make_url(url)
    engine = (db._sqlite_engine(parsed) if url.startswith("sqlite")
              else db._server_engine(parsed, db.Timeouts()))
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)
    return engine
