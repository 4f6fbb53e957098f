"""Calls' results and spam reports over REST (SPEC 9), against the real server.

POST /v1/calls/{id}/result, POST /v1/calls/{id}/spam-report and POST
/v1/kamailio/result store what each path knows of a call; GET /v1/calls/{id} shows it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Fresh, error_of, ok

pytestmark = pytest.mark.slow


def placed(client: httpx.Client, fresh: Fresh, user: str = "hank") -> dict[str, Any]:
    decision: dict[str, Any] = ok(client.post("/v1/calls", json={
        "user": user, "to": fresh.number("512"), "consented": True}), 201)
    return decision


def test_a_result_is_stored_and_shown_on_the_call(globex: httpx.Client, fresh: Fresh) -> None:
    """A 608 is an analytics rejection; answered false; GET shows it with its source."""
    call = placed(globex, fresh)

    answer = ok(globex.post(f"/v1/calls/{call['call_id']}/result",
                            json={"sip_code": 608, "duration": 0}))

    assert (answer["answered"], answer["failure_class"], answer["sip_code"],
            answer["duration_s"], answer["result_source"]) == (
        False, "rejected_by_analytics", 608, 0, "api")
    shown = ok(globex.get(f"/v1/calls/{call['call_id']}"))
    assert (shown["answered"], shown["sip_code"], shown["failure_class"],
            shown["result_source"], shown["duration_s"]) == (
        False, 608, "rejected_by_analytics", "api", 0)
    assert shown["result_at"] == answer["result_at"]


def test_answered_alone_is_enough_and_a_replay_changes_nothing(
        globex: httpx.Client, fresh: Fresh) -> None:
    call_id = placed(globex, fresh)["call_id"]
    first = ok(globex.post(f"/v1/calls/{call_id}/result",
                           json={"answered": True, "duration": 95}))
    again = ok(globex.post(f"/v1/calls/{call_id}/result",
                           json={"answered": True, "duration": 95}))
    assert (first["failure_class"], again["failure_class"]) == ("answered", "answered")
    shown = ok(globex.get(f"/v1/calls/{call_id}"))
    assert (shown["answered"], shown["duration_s"]) == (True, 95)


@pytest.mark.parametrize(("body", "field"), [
    ({}, "answered"),
    ({"sip_code": 99}, "sip_code"),
    ({"failure_class": "spam"}, "failure_class"),
    ({"failure_class": "busy", "answered": True}, "answered"),
    ({"duration": -1, "answered": False}, "duration"),
    ({"answered": True, "colour": "red"}, "colour"),
])
def test_a_bad_result_is_400_naming_the_field(globex: httpx.Client, fresh: Fresh,
                                              body: dict[str, Any], field: str) -> None:
    """Nothing said, out of range, unknown, contradictory: 400 naming the field; nothing
    stored."""
    call_id = placed(globex, fresh)["call_id"]
    error = error_of(globex.post(f"/v1/calls/{call_id}/result", json=body), 400)
    assert error["field"] is not None
    assert field in error["field"]
    assert ok(globex.get(f"/v1/calls/{call_id}"))["result_at"] is None


def test_another_organizations_call_is_404_naming_call_id(
        acme: httpx.Client, globex: httpx.Client, fresh: Fresh) -> None:
    """acme's key cannot report on globex's call, by result, spam report or Kamailio."""
    call_id = placed(globex, fresh)["call_id"]
    for response in (
            acme.post(f"/v1/calls/{call_id}/result", json={"answered": True}),
            acme.post(f"/v1/calls/{call_id}/spam-report", json={}),
            acme.post("/v1/kamailio/result", params={"call_id": call_id, "sip_code": 200},
                      content=b"{}")):
        assert error_of(response, 404)["field"] == "call_id"
    shown = ok(globex.get(f"/v1/calls/{call_id}"))
    assert (shown["result_at"], shown["spam_reported"]) == (None, False)


def test_a_spam_report_counts_once(globex: httpx.Client, fresh: Fresh) -> None:
    """The first report stands; the second says it was already recorded."""
    call = placed(globex, fresh)
    first = ok(globex.post(f"/v1/calls/{call['call_id']}/spam-report",
                           json={"reported_by": "hank", "note": "Spam Likely"}))
    second = ok(globex.post(f"/v1/calls/{call['call_id']}/spam-report",
                            json={"reported_by": "gina"}))
    assert (first["recorded"], first["number"], first["reported_by"], first["note"]) == (
        True, call["caller_id"], "hank", "Spam Likely")
    assert (second["recorded"], second["reported_by"]) == (False, "hank")
    assert ok(globex.get(f"/v1/calls/{call['call_id']}"))["spam_reported"] is True


def test_kamailios_report_stores_the_code_and_duration(globex: httpx.Client,
                                                       fresh: Fresh) -> None:
    """What the proxy's timer process sends: the query string, and "{}" (http_client
    POSTs only with a body), which is not read."""
    call_id = placed(globex, fresh)["call_id"]
    answer = ok(globex.post("/v1/kamailio/result",
                            params={"call_id": call_id, "sip_code": 486, "duration": 0},
                            content=b"{}"))
    assert answer == {"call_id": call_id, "failure_class": "busy"}
    shown = ok(globex.get(f"/v1/calls/{call_id}"))
    assert (shown["sip_code"], shown["failure_class"], shown["result_source"]) == (
        486, "busy", "kamailio")
    assert error_of(globex.post("/v1/kamailio/result",
                                params={"call_id": call_id, "sip_code": 1000},
                                content=b"{}"), 400)["field"] == "sip_code"
