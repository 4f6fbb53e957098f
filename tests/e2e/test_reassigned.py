"""SPEC 10 reassigned numbers over REST on the real server: a contact's consent date,
POST /v1/dnc/reassigned/check asking a reassigned-numbers database (a local fake, named
by CALLSIGN_REASSIGNED_URL), and /v1/calls refusing a number disconnected since."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.conftest import Server, error_of, ok, path_of, run_cli, running_server, store_url
from tests.fakes.reassigned import FakeReassignedDatabase, fake_reassigned_database

pytestmark = pytest.mark.slow

REASSIGNED = "+13055550123"  # disconnected after its consent
RENEWED = "+13055550124"  # disconnected before its consent: the consent is the new one's
TOKEN = "rnd-token-0123456789"


def document(org: str, principal: str) -> str:
    return yaml.safe_dump({
        "org": org, "default_country": "US", "timezone": "America/New_York",
        "principal_number": principal, "numbers": [{"number": principal}],
        "users": [{"id": "alice"}],
        "contacts": [{"phone": REASSIGNED, "consented_on": "2025-06-01"},
                     {"phone": RENEWED, "consented_on": "2025-06-01"}]})


@dataclass
class Deployment:
    server: Server
    database: FakeReassignedDatabase
    acme: httpx.Client
    globex: httpx.Client
    dialer: httpx.Client


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("reassigned")
    docs = {"acme": document("acme", "+12125550100"),
            "globex": document("globex", "+16175550100")}
    with contextlib.ExitStack() as stack:
        db_url = stack.enter_context(store_url(store_kind, workdir))
        for org, text in docs.items():
            path = workdir / f"{org}.yaml"
            path.write_text(text, encoding="utf-8")
            run_cli(db_url, "apply", str(path))
        keys = {org: run_cli(db_url, "keys", "create", "--org", org, "--name", "e2e").strip()
                for org in docs}
        dialer = run_cli(db_url, "keys", "create", "--org", "acme", "--name", "dialer",
                         "--scope", "dialer").strip()
        database = stack.enter_context(fake_reassigned_database(token=TOKEN))
        database.disconnect(REASSIGNED, date(2026, 3, 1))
        database.disconnect(RENEWED, date(2025, 1, 1))
        env = {"CALLSIGN_REASSIGNED_URL": database.url, "CALLSIGN_REASSIGNED_TOKEN": TOKEN}
        server = stack.enter_context(running_server(db_url, Path(workdir), keys, env=env))
        yield Deployment(server, database, stack.enter_context(server.client(keys["acme"])),
                         stack.enter_context(server.client(keys["globex"])),
                         stack.enter_context(server.client(dialer)))


def test_a_checked_reassigned_number_is_refused_whatever_the_consent(app: Deployment) -> None:
    """Before the check the call passes (not checked); the check stores the answers; then
    /v1/calls refuses the reassigned number (422, rule reassigned_number, its source) and
    places the other; globex, never checked, still calls it."""
    before = ok(app.acme.post("/v1/calls", json={"user": "alice", "to": REASSIGNED,
                                                 "dry_run": True}), 201)
    checked = ok(app.acme.post("/v1/dnc/reassigned/check"))
    refused = error_of(app.acme.post("/v1/calls", json={
        "user": "alice", "to": REASSIGNED, "consented": True}), 422)
    placed = ok(app.acme.post("/v1/calls", json={"user": "alice", "to": RENEWED}), 201)
    elsewhere = ok(app.globex.post("/v1/calls", json={"user": "alice", "to": REASSIGNED}),
                   201)

    assert before["caller_id"]
    assert (checked["contacts"], checked["looked_up"], checked["disconnected"]) == (
        2, 2, [REASSIGNED])
    assert (refused["code"], refused["field"], refused["rule"]) == (
        "not_compliant", "to", "reassigned_number")
    assert "64.1200(m)" in refused["source"]["citation"]
    assert refused["next_allowed_at"] is None
    assert [s["step"] for s in refused["trace"]][-1] == "reassigned_number"
    assert placed["caller_id"]
    assert elsewhere["caller_id"]
    again = ok(app.acme.post("/v1/dnc/reassigned/check"))
    assert (again["looked_up"], again["reused"]) == (0, 2)


def test_the_consent_date_is_a_contact_field(app: Deployment) -> None:
    shown = ok(app.acme.get(f"/v1/contacts/{path_of(RENEWED)}"))
    bad = error_of(app.acme.post("/v1/contacts", json={"phone": "+13055550199",
                                                       "consented_on": "June 1st"}), 400)
    assert shown["consented_on"] == "2025-06-01"
    assert bad["field"] == "consented_on"


def test_the_check_is_for_admins_and_names_its_bad_input(app: Deployment) -> None:
    assert app.dialer.post("/v1/dnc/reassigned/check").status_code == 403
    bad = error_of(app.acme.post("/v1/dnc/reassigned/check",
                                 params={"max_age_days": "-1"}), 400)
    assert "max_age_days" in str(bad)


def test_a_failing_database_is_424(app: Deployment) -> None:
    app.database.fail_with(503)
    try:
        error = error_of(app.acme.post("/v1/dnc/reassigned/check",
                                       params={"max_age_days": "0"}), 424)
    finally:
        app.database.fail_with(None)
    assert error["code"] == "provider_error"
    assert "503" in error["message"]
