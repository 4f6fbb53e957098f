"""SPEC 5 and 8: buying, importing, releasing numbers and coverage through the REST API.

One real `callsign serve` for this module, with organizations of its own, and Twilio
played by a local server that answers like its REST API (`tests/fakes/twilio.py`), which
callsign reaches through CALLSIGN_TWILIO_API_BASE as it would reach api.twilio.com.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from callsign.domain.document import parse_document
from callsign.providers.sandbox import SandboxProvider
from callsign.services import access
from callsign.store import orgs as org_store
from callsign.store.db import create_store_engine
from callsign.store.uow import UnitOfWork
from tests.e2e.conftest import error_of, ok, path_of, serve, store_url
from tests.fakes.twilio import (
    Failure,
    FakeTwilio,
    fake_twilio,
)

SANDBOX_LABEL = SandboxProvider.label
PUBLIC_URL = "https://callsign.example.com"
INITECH_SID = "AC" + "1e" * 16
INITECH_TOKEN = "initech-fake-twilio-token"
INITECH_TOKEN_ENV = "CALLSIGN_TWILIO_TOKEN_INITECH"  # bound by the server, per organization
SOYLENT_TOKEN_ENV = "CALLSIGN_TWILIO_TOKEN_SOYLENT"
PIEDPIPER_TOKEN_ENV = "CALLSIGN_TWILIO_TOKEN_PIEDPIPER"  # never set
INITECH_PRINCIPAL = "+15125550100"  # Austin, TX
EMPTY_AREA_CODE = "907"  # the sandbox has nothing there in this server

INITECH = {
    "org": "initech",
    "default_country": "US",
    "timezone": "America/Chicago",
    "principal_number": INITECH_PRINCIPAL,
    "local_presence": True,
    "numbers": [{"number": INITECH_PRINCIPAL, "label": "Austin HQ"}],
    "users": [{"id": "peter", "name": "Peter Gibbons", "work_phone": "+15125559001"}],
    "twilio": {"account_sid": INITECH_SID},
}
HOOLI = {  # no Twilio account
    "org": "hooli",
    "default_country": "US",
    "principal_number": "+16505550100",
    "numbers": [{"number": "+16505550100"}],
}
PIEDPIPER = {  # a Twilio account whose token variable the server does not have
    "org": "piedpiper",
    "default_country": "US",
    "principal_number": "+16505550200",
    "numbers": [{"number": "+16505550200"}],
    "twilio": {"account_sid": "AC" + "9f" * 16},
}
UMBRELLA = {  # contacts in 618 (3), 309 (2), 815 (1) and 512 (1, covered)
    "org": "umbrella",
    "default_country": "US",
    "principal_number": "+15125550300",
    "numbers": [{"number": "+15125550300"}],
    "users": [{"id": "alice", "name": "Alice Abernathy"}],
    "contacts": [{"phone": p} for p in (
        "+16185550150", "+16185550151", "+16185550152", "+13095550150", "+13095550151",
        "+18155550150", "+15125550150")],
}
# soylent: initech's Twilio account (the operator bound its token to soylent too);
# contacts in 419 (2) and 440 (1), no numbers there
SOYLENT = {
    "org": "soylent",
    "default_country": "US",
    "principal_number": "+16145550100",
    "numbers": [{"number": "+16145550100"}],
    "twilio": {"account_sid": INITECH_SID},
    "contacts": [{"phone": p} for p in ("+14195550150", "+14195550151", "+14405550150")],
}


@dataclass
class Deployment:
    twilio: FakeTwilio
    api: dict[str, httpx.Client]  # by organization, signed with its key


def set_up(db_url: str, documents: list[dict[str, Any]]) -> dict[str, str]:
    """Apply the organizations and make a key for each, in-process (faster than the CLI)."""
    engine = create_store_engine(db_url)
    try:
        with UnitOfWork(engine) as uow:
            for document in documents:
                org_store.apply_document(uow.connection, parse_document(document))
            uow.commit()
        return {d["org"]: access.create_key(UnitOfWork(engine), d["org"], name="e2e",
                                            now=datetime.now(UTC)) for d in documents}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, store_kind: str
               ) -> Iterator[Deployment]:
    """The server with this module's organizations, and the fake Twilio."""
    workdir: Path = tmp_path_factory.mktemp("numbers-api")
    with fake_twilio({INITECH_SID: INITECH_TOKEN}) as twilio, \
            pytest.MonkeyPatch.context() as env, store_url(store_kind, workdir) as url:
        api_keys = set_up(url, [INITECH, HOOLI, PIEDPIPER, UMBRELLA, SOYLENT])
        # `serve` hands the server this process's environment.
        env.setenv("CALLSIGN_TWILIO_API_BASE", twilio.url)
        env.setenv("CALLSIGN_PUBLIC_URL", PUBLIC_URL)
        env.setenv("CALLSIGN_SANDBOX_EMPTY_AREA_CODES", EMPTY_AREA_CODE)
        env.setenv(INITECH_TOKEN_ENV, INITECH_TOKEN)
        env.setenv(SOYLENT_TOKEN_ENV, INITECH_TOKEN)
        env.delenv(PIEDPIPER_TOKEN_ENV, raising=False)
        with serve(workdir, {}, db_url=url) as server:
            clients = {org: server.client(key) for org, key in api_keys.items()}
            try:
                yield Deployment(twilio, clients)
            finally:
                for client in clients.values():
                    client.close()


@pytest.fixture
def initech(deployment: Deployment) -> httpx.Client:
    return deployment.api["initech"]


def numbers_in(client: httpx.Client, area_code: str) -> list[tuple[str, str, str]]:
    """(number, status, provider) of the org's numbers serving ``area_code``."""
    return [(n["number"], n["status"], n["provider"])
            for n in ok(client.get("/v1/numbers", params={"area_code": area_code}))]


def purchase(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/v1/numbers/purchase", json=body)


# -- buying ------------------------------------------------------------------------------

def test_a_sandbox_purchase_answers_201_with_the_numbers_and_the_sandbox_label(
    initech: httpx.Client
) -> None:
    """Two 217 numbers bought, stored active; a 217 callee then sees one of them."""
    bought = ok(purchase(initech, area_code="217", quantity=2, provider="sandbox"), 201)
    call = ok(initech.post("/v1/calls", json={"user": "peter", "to": "+12175559876"}), 201)

    assert bought == {"provider": "sandbox", "label": SANDBOX_LABEL, "area_code": "217",
                      "requested": 2, "bought": ["+12175550100", "+12175550101"],
                      "warning": None, "error": None}
    assert numbers_in(initech, "217") == [("+12175550100", "active", "sandbox"),
                                          ("+12175550101", "active", "sandbox")]
    assert call["rule"] == "local_presence"
    assert call["caller_id"] in bought["bought"]


def test_none_available_answers_200_with_a_warning_and_stores_nothing(
    initech: httpx.Client
) -> None:
    """The sandbox has no 907 numbers here: 200, the warning names 907, nothing bought."""
    before = ok(initech.get("/v1/numbers"))

    answer = ok(purchase(initech, area_code=EMPTY_AREA_CODE, quantity=3), 200)

    assert answer == {"provider": "sandbox", "label": SANDBOX_LABEL, "area_code": "907",
                      "requested": 3, "bought": [],
                      "warning": "no numbers available in area code 907 from sandbox",
                      "error": None}
    assert ok(initech.get("/v1/numbers")) == before


BAD_BODIES: dict[str, tuple[str, dict[str, Any], str]] = {
    "area code 999": ("initech", {"area_code": "999"}, "area_code"),
    "area code 123": ("initech", {"area_code": "123"}, "area_code"),
    "area code abc": ("initech", {"area_code": "abc"}, "area_code"),
    "quantity 0": ("initech", {"area_code": "217", "quantity": 0}, "quantity"),
    "quantity 21": ("initech", {"area_code": "217", "quantity": 21}, "quantity"),
    "unknown provider": ("initech", {"area_code": "217", "provider": "bandwidth"},
                         "provider"),
    "no twilio account": ("hooli", {"area_code": "650", "provider": "twilio"}, "twilio"),
    "token variable unset": ("piedpiper", {"area_code": "650", "provider": "twilio"},
                             "twilio"),
}


def test_a_bad_purchase_is_a_400_naming_the_field_and_nothing_is_stored(
    deployment: Deployment
) -> None:
    """Each bad body: 400 with the field; no organization's numbers change; no Twilio."""
    seen_by_twilio = len(deployment.twilio.requests)
    before = {org: ok(client.get("/v1/numbers")) for org, client in deployment.api.items()}

    fields = {case: error_of(purchase(deployment.api[org], **body), 400)["field"]
              for case, (org, body, _) in BAD_BODIES.items()}

    assert fields == {case: field for case, (_, _, field) in BAD_BODIES.items()}
    assert {org: ok(client.get("/v1/numbers"))
            for org, client in deployment.api.items()} == before
    assert len(deployment.twilio.requests) == seen_by_twilio


def test_the_missing_token_variable_is_named_in_the_error(deployment: Deployment) -> None:
    """The message says which environment variable to set (never a token)."""
    error = error_of(purchase(deployment.api["piedpiper"], area_code="650",
                              provider="twilio"), 400)

    assert PIEDPIPER_TOKEN_ENV in error["message"]


def test_a_twilio_purchase_failing_half_way_answers_the_number_bought_and_the_error(
    deployment: Deployment, initech: httpx.Client
) -> None:
    """3 asked, the 2nd refused: 201 with the 1st bought, its webhook at callsign."""
    offered = ["+13125550101", "+13125550102", "+13125550103"]
    deployment.twilio.offer(*offered, region="IL", locality="Chicago")
    deployment.twilio.fail_purchase_of(offered[1])

    answer = ok(purchase(initech, area_code="312", quantity=3, provider="twilio"), 201)

    assert answer["bought"] == offered[:1]
    assert answer["error"] is not None
    assert offered[1] in answer["error"]
    assert "(code 21422)" in answer["error"]
    assert numbers_in(initech, "312") == [(offered[0], "active", "twilio")]
    assert [(r.param("PhoneNumber"), r.param("VoiceUrl"), r.status)
            for r in deployment.twilio.purchases() if r.param("PhoneNumber") in offered] == [
        (offered[0], f"{PUBLIC_URL}/twilio/initech/inbound", 201),
        (offered[1], f"{PUBLIC_URL}/twilio/initech/inbound", 400)]


def test_a_twilio_purchase_refused_outright_is_a_provider_error(
    deployment: Deployment, initech: httpx.Client
) -> None:
    """Nothing bought at all: 424 naming the provider, nothing stored."""
    deployment.twilio.offer("+16305550142", region="IL")
    deployment.twilio.fail_purchase_of("+16305550142")

    error = error_of(purchase(initech, area_code="630", provider="twilio"), 424)

    assert (error["code"], error["field"]) == ("provider_error", "provider")
    assert "+16305550142" in error["message"]
    assert numbers_in(initech, "630") == []


# -- importing and releasing -----------------------------------------------------------

def test_import_adds_the_numbers_the_twilio_account_holds(
    deployment: Deployment, initech: httpx.Client
) -> None:
    """The account's numbers come in as twilio numbers; a second import adds none."""
    owned = ["+17135550101", "+17135550102", "+18325550103"]
    deployment.twilio.own(INITECH_SID, *owned)

    first = ok(initech.post("/v1/numbers/import", json={"provider": "twilio"}))
    again = ok(initech.post("/v1/numbers/import", json={}))

    assert first["provider"] == "twilio"
    assert [n for n in first["added"] if n in owned] == owned
    assert [n for n in again["already"] if n in owned] == owned
    assert again["added"] == []
    assert numbers_in(initech, "713") == [(owned[0], "active", "twilio"),
                                          (owned[1], "active", "twilio")]


def test_delete_releases_the_number_at_twilio_first(
    deployment: Deployment, initech: httpx.Client
) -> None:
    """DELETE /v1/numbers/N: Twilio gets the DELETE for its sid; N is gone from callsign."""
    deployment.twilio.offer("+17735550101", region="IL")
    ok(purchase(initech, area_code="773", provider="twilio"), 201)
    sid = deployment.twilio.resource_of("+17735550101")["sid"]

    answer = ok(initech.delete(f"/v1/numbers/{path_of('+17735550101')}"))

    assert answer == {"number": "+17735550101", "result": "deleted", "area_codes": None,
                      "cleared": []}
    assert [(d.path, d.status) for d in deployment.twilio.deletions()
            if d.path.endswith(f"/{sid}.json")] == [
        (f"/2010-04-01/Accounts/{INITECH_SID}/IncomingPhoneNumbers/{sid}.json", 204)]
    assert "+17735550101" not in deployment.twilio.held()
    error_of(initech.get(f"/v1/numbers/{path_of('+17735550101')}"), 404)


def test_a_release_twilio_refuses_is_an_error_and_the_number_stays(
    deployment: Deployment, initech: httpx.Client
) -> None:
    """Twilio answers 500 to the DELETE: 424 saying so; the number is still active."""
    deployment.twilio.offer("+18725550101", region="IL")
    ok(purchase(initech, area_code="872", provider="twilio"), 201)
    deployment.twilio.fail_release_of("+18725550101",
                                      Failure(20500, "Internal Server Error", 500))

    error = error_of(initech.delete(f"/v1/numbers/{path_of('+18725550101')}"), 424)

    assert error["code"] == "provider_error"
    assert "+18725550101" in error["message"]
    assert "(code 20500)" in error["message"]
    assert numbers_in(initech, "872") == [("+18725550101", "active", "twilio")]
    assert "+18725550101" in deployment.twilio.held()


# -- coverage --------------------------------------------------------------------------

def test_coverage_answers_the_shares_and_the_gaps_then_buys_for_the_top_ones(
    deployment: Deployment
) -> None:
    """1 of 7 contacts covered; buying for the top 2 gaps (618, 309) covers 6."""
    umbrella = deployment.api["umbrella"]
    ok(umbrella.post("/v1/calls", json={"user": "alice", "to": "+14155550150"}), 201)

    before = ok(umbrella.get("/v1/coverage"))
    bought = ok(umbrella.post("/v1/coverage/purchase", json={"top": 2, "provider": "sandbox"}))
    after = ok(umbrella.get("/v1/coverage"))

    assert before == {
        "contacts": 7, "contacts_covered": 1, "contact_share": 0.1429,
        "recent_callees": 1, "recent_callees_covered": 0, "recent_share": 0.0,
        "uncovered": [
            {"area_code": "618", "contacts": 3, "recent_callees": 0, "region": "Illinois"},
            {"area_code": "309", "contacts": 2, "recent_callees": 0, "region": "Illinois"},
            {"area_code": "815", "contacts": 1, "recent_callees": 0, "region": "Illinois"},
            {"area_code": "415", "contacts": 0, "recent_callees": 1,
             "region": "California"},
        ]}
    assert [(b["area_code"], b["bought"], b["label"]) for b in bought] == [
        ("618", ["+16185550100"], SANDBOX_LABEL), ("309", ["+13095550100"], SANDBOX_LABEL)]
    assert (after["contacts_covered"], after["contact_share"]) == (6, 0.8571)
    assert [gap["area_code"] for gap in after["uncovered"]] == ["815", "415"]


def test_buying_for_the_gaps_reports_what_it_bought_even_when_a_later_gap_fails(
    deployment: Deployment
) -> None:
    """419 is bought; Twilio then fails searching 440: the answer still names the 419 one."""
    soylent = deployment.api["soylent"]
    deployment.twilio.offer("+14195550101", region="OH", locality="Toledo")
    deployment.twilio.fail_search_in("440", Failure(20500, "Internal Server Error", 500))

    answer = soylent.post("/v1/coverage/purchase", json={"top": 2, "provider": "twilio"})

    assert numbers_in(soylent, "419") == [("+14195550101", "active", "twilio")]
    assert "+14195550101" in answer.text, (
        f"{answer.status_code} {answer.text}: the number bought is not in the answer")
