"""Over HTTP: only numbers the organization holds are presented. PATCH /v1/org and
PUT /v1/config refuse a principal or agent leg it does not hold; the principal is never
paused or released (409); releasing a number in use is a 409 listing what names it,
unless `?force=true`, whose answer lists what it cleared."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import GLOBEX_YAML, Server, error_of, ok, path_of, serve, store_url

PRINCIPAL = "+12125550100"
CHI1 = "+13125550101"  # alice's caller ID and direct number; renewals' first call
CHI2 = "+13125550102"  # in the renewals pool
SPARE = "+13125550103"  # named by nothing
GLOBEX_HQ = "+16175550100"

ACME_YAML = f"""\
org: acme
principal_number: "{PRINCIPAL}"
numbers:
  - {{number: "{PRINCIPAL}"}}
  - {{number: "{CHI1}"}}
  - {{number: "{CHI2}"}}
  - {{number: "{SPARE}"}}
users:
  - {{id: alice, caller_id: "{CHI1}", direct_number: "{CHI1}"}}
projects:
  - id: renewals
    numbers: ["{CHI1}", "{CHI2}"]
    first_call: "{CHI1}"
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("owned")
    with store_url(store_kind, workdir) as url, serve(
            workdir, {"acme": ACME_YAML, "globex": GLOBEX_YAML}, db_url=url) as running:
        yield running


@pytest.fixture(scope="module")
def acme(deployment: Server) -> Iterator[httpx.Client]:
    with deployment.client(deployment.keys["acme"]) as client:
        yield client


def number_of(acme: httpx.Client, number: str) -> httpx.Response:
    return acme.get(f"/v1/numbers/{path_of(number)}")


@pytest.mark.parametrize(("field", "value"), [
    ("principal_number", GLOBEX_HQ), ("principal_number", "+12125550199"),
    ("agent_leg_number", GLOBEX_HQ), ("agent_leg_number", "+12125550199"),
])
def test_patch_org_refuses_a_number_the_org_does_not_hold(
    acme: httpx.Client, field: str, value: str
) -> None:
    """400 naming the field; another organization's number included."""
    error = error_of(acme.patch("/v1/org", json={field: value}), 400)
    assert error["field"] == field
    assert error["message"] == f"{field}: {value} is not one of the organization's numbers"
    assert ok(acme.get("/v1/org"))["principal_number"] == PRINCIPAL


def test_put_config_refuses_a_principal_it_does_not_list(acme: httpx.Client) -> None:
    """The document is the whole organization: its principal must be among its numbers."""
    document = ok(acme.get("/v1/config"))
    document["numbers"] = [n for n in document["numbers"] if n["number"] != PRINCIPAL]
    error = error_of(acme.put("/v1/config", json=document), 400)
    assert error["field"] == "principal_number"
    assert ok(number_of(acme, PRINCIPAL))["status"] == "active"


def test_patch_org_takes_one_of_its_own_numbers_as_agent_leg(acme: httpx.Client) -> None:
    """In any common format; answered in E.164."""
    assert ok(acme.patch("/v1/org", json={"agent_leg_number": "(312) 555-0103"}))[
        "agent_leg_number"] == SPARE
    ok(acme.patch("/v1/org", json={"agent_leg_number": None}))


@pytest.mark.parametrize("request_of", [
    lambda c: c.post(f"/v1/numbers/{path_of(PRINCIPAL)}/pause"),
    lambda c: c.post(f"/v1/numbers/{path_of(PRINCIPAL)}/release"),
    lambda c: c.post(f"/v1/numbers/{path_of(PRINCIPAL)}/release?force=true"),
    lambda c: c.delete(f"/v1/numbers/{path_of(PRINCIPAL)}"),
    lambda c: c.delete(f"/v1/numbers/{path_of(PRINCIPAL)}?force=true"),
], ids=["pause", "release", "release-forced", "delete", "delete-forced"])
def test_the_principal_is_never_paused_or_released(acme: httpx.Client, request_of: Any) -> None:
    """409 naming the principal number; it stays active."""
    error = error_of(request_of(acme), 409)
    assert error["message"].startswith(f"{PRINCIPAL} is the organization's principal number")
    assert ok(number_of(acme, PRINCIPAL))["status"] == "active"


def test_releasing_a_number_in_use_is_a_conflict_until_forced(acme: httpx.Client) -> None:
    """409 listing the user and project settings; forced, 200 listing what it cleared."""
    error = error_of(acme.delete(f"/v1/numbers/{path_of(CHI1)}"), 409)
    assert error["field"] == "number"
    assert error["message"] == (
        f"{CHI1} is in use: user alice's caller ID; user alice's direct number; project "
        "renewals's pool; project renewals's first call; release it with force to clear them")
    assert ok(number_of(acme, CHI1))["status"] == "active"

    answer = ok(acme.delete(f"/v1/numbers/{path_of(CHI1)}", params={"force": "true"}))

    assert answer == {"number": CHI1, "result": "deleted", "area_codes": None, "cleared": [
        "user alice's caller ID", "user alice's direct number", "project renewals's pool",
        "project renewals's first call"]}
    alice = ok(acme.get("/v1/users/alice"))
    assert (alice["caller_id"], alice["direct_number"]) == (None, None)
    renewals = ok(acme.get("/v1/projects/renewals"))
    assert (renewals["numbers"], renewals["first_call"]) == ([CHI2], "random")


def test_a_number_nothing_names_is_released_without_force(acme: httpx.Client) -> None:
    """No dependents: 200 with nothing cleared; added again it is a number like before."""
    answer = ok(acme.post(f"/v1/numbers/{path_of(SPARE)}/release"))
    assert answer == {"number": SPARE, "result": "deleted", "area_codes": None, "cleared": []}
    ok(acme.post("/v1/numbers", json={"number": SPARE}), 201)
    assert ok(number_of(acme, SPARE))["status"] == "active"
