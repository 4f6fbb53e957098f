"""Idempotency-Key on the writes a client may have to send again (issue 10, item 10).

A purchase, a config write or a settings change whose answer was lost (a timeout, a
dropped connection) is sent again with the same Idempotency-Key: the first answer comes
back and nothing is done twice; the same key with another body is a 409. Before, a
retried purchase bought twice. (Connect: test_twilio.py; POST /v1/calls:
test_idempotency_and_caps.py.)

One real `callsign serve` for this module; Twilio's number API is a local fake that
answers like it (`tests/fakes/twilio.py`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import error_of, ok, serve, store_url
from tests.fakes.twilio import FakeTwilio, fake_twilio

pytestmark = pytest.mark.slow

SID = "AC" + "7b" * 16
TOKEN = "initrode-fake-twilio-token"

INITRODE = f"""\
org: initrode
default_country: US
timezone: America/Chicago
principal_number: "+15125550100"
numbers:
  - {{number: "+15125550100", label: Austin HQ}}
users:
  - {{id: peter, name: Peter, work_phone: "+15125559001"}}
twilio: {{account_sid: "{SID}"}}
"""
VANDELAY = """\
org: vandelay
default_country: US
principal_number: "+12125550100"
numbers:
  - {number: "+12125550100"}
"""


@dataclass
class Deployment:
    twilio: FakeTwilio
    api: dict[str, httpx.Client]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, store_kind: str
               ) -> Iterator[Deployment]:
    workdir: Path = tmp_path_factory.mktemp("idempotent-writes")
    with fake_twilio({SID: TOKEN}) as twilio, pytest.MonkeyPatch.context() as env, \
            store_url(store_kind, workdir) as url:
        env.setenv("CALLSIGN_TWILIO_API_BASE", twilio.url)
        env.setenv("CALLSIGN_TWILIO_TOKEN_INITRODE", TOKEN)
        with serve(workdir, {"initrode": INITRODE, "vandelay": VANDELAY},
                   db_url=url) as server:
            clients = {org: server.client(key) for org, key in server.keys.items()}
            try:
                yield Deployment(twilio, clients)
            finally:
                for client in clients.values():
                    client.close()


def key() -> dict[str, str]:
    return {"Idempotency-Key": secrets.token_urlsafe(12)}


def purchase(client: httpx.Client, headers: dict[str, str], **body: Any) -> httpx.Response:
    return client.post("/v1/numbers/purchase", json=body, headers=headers)


def held_in(client: httpx.Client, area_code: str) -> list[str]:
    return [n["number"] for n in ok(client.get("/v1/numbers",
                                                params={"area_code": area_code}))]


def test_a_twilio_purchase_retried_with_its_key_buys_once(deployment: Deployment) -> None:
    """Twilio has two 737 numbers: the purchase and its retry buy one, answer the same."""
    initrode = deployment.api["initrode"]
    deployment.twilio.offer("+17375550101", "+17375550102", region="TX")
    headers = key()

    first = ok(purchase(initrode, headers, area_code="737", provider="twilio"), 201)
    again = ok(purchase(initrode, headers, area_code="737", provider="twilio"), 201)

    assert again == first
    assert first["bought"] == ["+17375550101"]
    assert len(deployment.twilio.purchases()) == 1
    assert deployment.twilio.held() == ["+17375550101"]
    assert held_in(initrode, "737") == ["+17375550101"]


def test_a_sandbox_purchase_retried_with_its_key_buys_once(deployment: Deployment) -> None:
    initrode = deployment.api["initrode"]
    headers = key()

    first = ok(purchase(initrode, headers, area_code="217", quantity=2), 201)
    again = ok(purchase(initrode, headers, area_code="217", quantity=2), 201)

    assert again == first
    assert held_in(initrode, "217") == first["bought"]
    assert len(first["bought"]) == 2


def test_the_key_with_another_body_is_a_409_and_buys_nothing(deployment: Deployment) -> None:
    initrode = deployment.api["initrode"]
    headers = key()
    ok(purchase(initrode, headers, area_code="309"), 201)

    error = error_of(purchase(initrode, headers, area_code="309", quantity=2), 409)

    assert error["field"] == "Idempotency-Key"
    assert "different request" in error["message"]
    assert len(held_in(initrode, "309")) == 1


def test_a_refused_first_request_gives_its_key_back(deployment: Deployment) -> None:
    """Nothing was done for a 400: the key serves the corrected request."""
    initrode = deployment.api["initrode"]
    headers = key()

    error_of(purchase(initrode, headers, area_code="618", quantity=0), 400)
    bought = ok(purchase(initrode, headers, area_code="618"), 201)

    assert held_in(initrode, "618") == bought["bought"]


def test_keys_belong_to_one_organization(deployment: Deployment) -> None:
    """The same key sent by two organizations: two purchases, one for each."""
    headers = key()

    mine = ok(purchase(deployment.api["initrode"], headers, area_code="815"), 201)
    theirs = ok(purchase(deployment.api["vandelay"], headers, area_code="815"), 201)

    assert mine["bought"] != theirs["bought"]
    assert held_in(deployment.api["vandelay"], "815") == theirs["bought"]


def test_a_config_write_retried_with_its_key_is_not_applied_again(
        deployment: Deployment) -> None:
    """PUT /v1/config, then a PATCH, then the PUT's retry: the first answer, and the
    PATCH stays (the document was not applied a second time)."""
    vandelay = deployment.api["vandelay"]
    document = vandelay.get("/v1/config", headers={"Accept": "application/yaml"}).text
    headers = key()

    first = ok(vandelay.put("/v1/config", content=document, headers=headers))
    ok(vandelay.patch("/v1/org", json={"timezone": "America/Denver"}))
    again = ok(vandelay.put("/v1/config", content=document, headers=headers))
    clash = error_of(vandelay.put("/v1/config", content=document + "\n# edited\n",
                                  headers=headers), 409)

    assert again == first
    assert clash["field"] == "Idempotency-Key"
    assert ok(vandelay.get("/v1/org"))["timezone"] == "America/Denver"


def test_a_settings_change_retried_with_its_key_is_not_applied_again(
        deployment: Deployment) -> None:
    vandelay = deployment.api["vandelay"]
    headers = key()

    first = ok(vandelay.patch("/v1/org", json={"timezone": "America/Chicago"},
                              headers=headers))
    ok(vandelay.patch("/v1/org", json={"timezone": "UTC"}))
    again = ok(vandelay.patch("/v1/org", json={"timezone": "America/Chicago"},
                              headers=headers))

    assert again == first
    assert again["timezone"] == "America/Chicago"
    assert ok(vandelay.get("/v1/org"))["timezone"] == "UTC"


@pytest.mark.parametrize("value", ["", "x" * 201])
def test_a_key_that_is_empty_or_too_long_is_a_400(deployment: Deployment, value: str) -> None:
    error = error_of(purchase(deployment.api["initrode"], {"Idempotency-Key": value},
                              area_code="512"), 400)

    assert error["field"] == "Idempotency-Key"
