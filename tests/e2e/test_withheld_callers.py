"""Withheld callers route as anonymous on every path, never refused (issue 10, item 3).

A prospect whose caller ID is blocked ("anonymous", "Restricted", "Unavailable", an empty
or missing From, or something that is no number) calls one of our numbers: the call path
still decides where it rings. The steps that need the caller's number (last caller, lead
owner) pass with a trace line that says why; the rest decide as for anyone.

Paths here: POST /v1/inbound and the Kamailio endpoint, on the real server. The SIP
path end to end is in test_kamailio.py, the CLI in tests/integration/test_withheld_cli.py,
Twilio's in test_twilio.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ok

CHI1 = "+13125550101"  # alice's direct number
CHI2 = "+13125550102"  # nobody's direct number
FORWARDING = "+12125550199"  # acme's forwarding number
ALICE_WORK = "+13125559001"
WITHHELD_TRACE = [
    ("direct_number", "passed", f"{CHI2} is no user's direct number"),
    ("last_caller", "passed", "the caller's number is withheld: no last caller to look up"),
    ("lead_owner", "passed", "the caller's number is withheld: no lead owner to look up"),
    ("forwarding", "chosen", "the organization's forwarding number"),
]

# What carriers and dialers send for a caller who withholds their number.
WITHHELD: dict[str, dict[str, Any]] = {
    "anonymous": {"from": "anonymous"},
    "Anonymous": {"from": "Anonymous"},
    "Restricted": {"from": "Restricted"},
    "Unavailable": {"from": "Unavailable"},
    "empty": {"from": ""},
    "blank": {"from": "   "},
    "null": {"from": None},
    "left out": {},
    "no number": {"from": "12"},
    "a short code": {"from": "+266696687"},
}


def trace_of(route: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(step["step"], step["result"], step["detail"]) for step in route["trace"]]


@pytest.mark.parametrize("caller", list(WITHHELD.values()), ids=list(WITHHELD))
def test_rest_inbound_from_a_withheld_caller_rings_the_forwarding_number(
        acme: httpx.Client, caller: dict[str, Any]) -> None:
    """POST /v1/inbound: 200, routed past the caller-number steps (it was 400)."""
    route = ok(acme.post("/v1/inbound", json={"to": CHI2, **caller}))

    assert (route["destination"], route["rule"], route["user"]) == (FORWARDING, "forwarding",
                                                                   None)
    assert trace_of(route) == WITHHELD_TRACE


def test_a_withheld_caller_still_reaches_a_direct_number(acme: httpx.Client) -> None:
    """The steps that do not need the caller's number decide as for anyone."""
    route = ok(acme.post("/v1/inbound", json={"to": CHI1, "from": "anonymous"}))

    assert (route["destination"], route["rule"], route["user"]) == (ALICE_WORK,
                                                                   "direct_number", "alice")


def test_a_dry_run_for_a_withheld_caller_answers_the_same_route(acme: httpx.Client) -> None:
    route = ok(acme.post("/v1/inbound", json={"to": CHI2, "from": "Restricted",
                                              "dry_run": True}))

    assert (route["destination"], route["rule"]) == (FORWARDING, "forwarding")


@pytest.mark.parametrize("params", [
    pytest.param({"from": "anonymous"}, id="anonymous"),
    pytest.param({"from": "Restricted"}, id="Restricted"),
    pytest.param({"from": ""}, id="empty"),
    pytest.param({}, id="left-out"),
    pytest.param({"from": "12"}, id="no-number"),
])
def test_kamailio_inbound_from_a_withheld_caller_rings_the_forwarding_number(
        acme: httpx.Client, params: dict[str, str]) -> None:
    """GET /v1/kamailio/inbound: 200 with a destination (a 400 was a SIP 404)."""
    answer = ok(acme.get("/v1/kamailio/inbound", params={"to": CHI2, **params}))

    assert (answer["destination"], answer["rule"], answer["user"]) == (FORWARDING,
                                                                      "forwarding", "")
    assert answer["call_id"].startswith("in_")


def test_a_number_we_do_not_hold_is_still_404_for_a_withheld_caller(
        acme: httpx.Client) -> None:
    """Only the caller is forgiven: the number called must still be the org's."""
    response = acme.post("/v1/inbound", json={"to": "+13125550999", "from": "anonymous"})

    assert response.status_code == 404, response.text
    assert response.json()["error"]["field"] == "to"


def test_a_from_user_that_is_long_garbage_is_routed_as_anonymous(acme: httpx.Client) -> None:
    """Whatever a carrier puts in the From user, the call is routed (never a 400/404)."""
    answer = ok(acme.get("/v1/kamailio/inbound", params={"to": CHI2, "from": "x" * 500}))

    assert answer["rule"] == "forwarding"
