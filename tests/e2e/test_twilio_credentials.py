"""The Twilio auth token is bound by the server's operator, never chosen by a tenant
(issue 10, item 4).

An organization names its Twilio account SID only. Its token is the environment variable
the server derives from its id (CALLSIGN_TWILIO_TOKEN_<ORG>) or its entry in the file
named by CALLSIGN_TWILIO_SECRETS. Before, a tenant set `twilio.auth_token_env` itself, so
an org key could point it at another org's variable (and buy numbers or ring agents on
that account), or at any variable of the server (`HOME`), and webhooks signed with that
value were accepted.

One real `callsign serve` with Twilio's REST API played by a local fake that checks the
account's Basic credentials:
- victim: a Twilio account, its token bound by the operator in the environment;
- mallory: an org key holder who wants victim's account;
- filed: a Twilio account whose token is in the operator's secrets file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine

from callsign.services import access
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg
from tests.e2e.conftest import Server, error_of, ok, running_server
from tests.e2e.test_twilio import dial_of, forbidden, sign, voice_params
from tests.fakes.twilio import FakeTwilio, fake_twilio

pytestmark = pytest.mark.slow

VICTIM_SID = "AC" + "a1" * 16
VICTIM_TOKEN = "victim-auth-token-0123456789abcdef"
FILED_SID = "AC" + "f1" * 16
FILED_TOKEN = "filed-auth-token-fedcba9876543210"
HOME = os.environ.get("HOME") or "/root"  # the server's, inherited
VICTIM_ENV = "CALLSIGN_TWILIO_TOKEN_VICTIM"
MALLORY_ENV = "CALLSIGN_TWILIO_TOKEN_MALLORY"  # never set: the operator gave mallory none


def organization(slug: str, area: str, **extra: Any) -> dict[str, Any]:
    principal, agent_leg = f"+1{area}5550100", f"+1{area}5550199"
    return {"org": slug, "default_country": "US", "principal_number": principal,
            "agent_leg_number": agent_leg,
            "numbers": [{"number": principal}, {"number": agent_leg}],
            "users": [{"id": "agent", "work_phone": f"+1{area}5559001"}], **extra}


VICTIM = organization("victim", "212", twilio={"account_sid": VICTIM_SID})
MALLORY = organization("mallory", "312")
FILED = organization("filed", "415", twilio={"account_sid": FILED_SID})


@dataclass
class Deployment:
    server: Server
    twilio: FakeTwilio
    api: dict[str, httpx.Client]
    hooks: httpx.Client

    def voice(self, org: str, token: str) -> httpx.Response:
        """A voice webhook for ``org`` signed with ``token``."""
        path = f"/twilio/{org}/voice"
        params = voice_params("client:agent", "+16305550150")
        return self.hooks.post(path, data=params, headers={
            "X-Twilio-Signature": sign(self.server.url + path, params, token)})


@pytest.fixture
def deployment(db_url: str, engine: Engine, apply_org: ApplyOrg,
               tmp_path: Path) -> Iterator[Deployment]:
    for document in (VICTIM, MALLORY, FILED):
        apply_org(document)
    now = datetime.now(UTC)
    server_keys = {org: access.create_key(UnitOfWork(engine), org, name="e2e", now=now)
                   for org in ("victim", "mallory", "filed")}
    secrets_file = tmp_path / "twilio-secrets.yaml"
    secrets_file.write_text(yaml.safe_dump({"filed": FILED_TOKEN}), encoding="utf-8")
    secrets_file.chmod(0o600)
    with contextlib.ExitStack() as stack:
        twilio = stack.enter_context(fake_twilio({VICTIM_SID: VICTIM_TOKEN,
                                                  FILED_SID: FILED_TOKEN}))
        env = {"CALLSIGN_TWILIO_API_BASE": twilio.url, VICTIM_ENV: VICTIM_TOKEN,
               "CALLSIGN_TWILIO_SECRETS": str(secrets_file), "HOME": HOME,
               # a variable a tenant might name, holding victim's token
               "CALLSIGN_E2E_SHARED_TWILIO_TOKEN": VICTIM_TOKEN}
        server = stack.enter_context(running_server(db_url, tmp_path, server_keys, env=env))
        api = {org: stack.enter_context(server.client(key))
               for org, key in server_keys.items()}
        yield Deployment(server, twilio, api, stack.enter_context(server.client(None)))


def connect(app: Deployment, org: str) -> httpx.Response:
    return app.api[org].post("/v1/calls/connect", json={"user": "agent", "to": "+16305550151"})


@pytest.mark.parametrize("variable", [VICTIM_ENV, "HOME", "CALLSIGN_E2E_SHARED_TWILIO_TOKEN"])
def test_a_tenant_cannot_name_a_token_variable(deployment: Deployment, variable: str) -> None:
    """PATCH /v1/org and PUT /v1/config carrying twilio.auth_token_env: 400 naming the
    field and saying how the token is bound now; nothing changes."""
    mallory = deployment.api["mallory"]
    before = ok(mallory.get("/v1/org"))
    twilio = {"account_sid": VICTIM_SID, "auth_token_env": variable}

    patched = error_of(mallory.patch("/v1/org", json={"twilio": twilio}), 400)
    document = {**yaml.safe_load(mallory.get("/v1/config", headers={
        "Accept": "application/yaml"}).text), "twilio": twilio}
    replaced = error_of(mallory.put("/v1/config", json=document), 400)

    for error in (patched, replaced):
        assert error["field"] == "twilio.auth_token_env", error
        assert "bound by the server's operator" in error["message"], error
        assert "CALLSIGN_TWILIO_TOKEN_<ORG>" in error["message"], error
        assert "CALLSIGN_TWILIO_SECRETS" in error["message"], error
    assert ok(mallory.get("/v1/org")) == before


def test_a_tenant_with_another_orgs_account_sid_cannot_use_its_token(
        deployment: Deployment) -> None:
    """mallory may set victim's account SID, but the server binds mallory's own token
    (none): ringing an agent, buying or importing numbers on that account is refused
    before Twilio is asked."""
    mallory = deployment.api["mallory"]
    ok(mallory.patch("/v1/org", json={"twilio": {"account_sid": VICTIM_SID}}))

    errors = [error_of(connect(deployment, "mallory"), 400),
              error_of(mallory.post("/v1/numbers/purchase", json={
                  "area_code": "312", "provider": "twilio"}), 400),
              error_of(mallory.post("/v1/numbers/import", json={"provider": "twilio"}), 400)]

    for error in errors:
        assert error["field"] == "twilio"
        assert MALLORY_ENV in error["message"], error
        assert VICTIM_TOKEN not in error["message"]
    assert deployment.twilio.requests == []
    assert ok(mallory.get("/v1/org"))["twilio"] == {"account_sid": VICTIM_SID}


def test_webhooks_signed_with_a_value_the_server_did_not_bind_are_refused(
        deployment: Deployment, subtests: pytest.Subtests) -> None:
    """mallory's webhooks, signed with victim's token, with HOME's value or any other: 403;
    victim's own, signed with the token bound to victim, are served."""
    ok(deployment.api["mallory"].patch("/v1/org", json={"twilio": {"account_sid": VICTIM_SID}}))

    for name, token in (("victim's token", VICTIM_TOKEN), ("HOME's value", HOME),
                        ("an empty token", "")):
        with subtests.test(name):
            forbidden(deployment.voice("mallory", token))
    with subtests.test("victim's webhook signed with HOME's value"):
        forbidden(deployment.voice("victim", HOME))
    with subtests.test("victim's webhook signed with victim's bound token"):
        assert dial_of(deployment.voice("victim", VICTIM_TOKEN)).number == "+16305550150"


def test_the_operator_binds_a_token_in_the_secrets_file(deployment: Deployment) -> None:
    """filed's token is only in CALLSIGN_TWILIO_SECRETS: its agent leg reaches Twilio with
    filed's account and token, and its webhooks are checked with that token."""
    body = ok(connect(deployment, "filed"), 201)

    [created] = deployment.twilio.calls_created()
    assert (created.username, created.status) == (FILED_SID, 201)
    assert created.answer is not None
    assert body["agent_call_sid"] == created.answer["sid"]
    assert dial_of(deployment.voice("filed", FILED_TOKEN)).number == "+16305550150"
    forbidden(deployment.voice("filed", VICTIM_TOKEN))
