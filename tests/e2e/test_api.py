"""SPEC 8: every REST endpoint, end to end, on the real server over HTTP."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from tests.e2e.conftest import Fresh, Server, error_of, ok, path_of

# acme, the demo organization (calling hours 08:00–21:00, local presence on)
PRINCIPAL = "+12125550100"
FORWARDING = "+12125550199"
CHI1 = "+13125550101"  # alice's caller ID and direct number; also serves 773 and 872
CHI2 = "+13125550102"
MANHATTAN = "+16465550104"  # paused
SF = "+14155550105"  # bob's caller ID
NWK1 = "+12015550106"  # renewals pool; the outcome number of asked_callback
NWK2 = "+12015550107"  # renewals pool
ALICE_WORK = "+13125559001"
BOB_WORK = "+14155559002"

# globex (no calling hours, no local presence)
GLOBEX_PRINCIPAL = "+16175550100"
BOSTON = "+16175550111"  # gina's caller ID and direct number
AUSTIN1 = "+15125550112"  # outreach pool, its first-call number
AUSTIN2 = "+15125550113"  # outreach pool, the outcome number of asked_callback

# One callee per time zone, far enough apart that one is always outside 08:00–21:00.
CALLEES_BY_ZONE = {
    "+12125551234": "America/New_York",
    "+13125551234": "America/Chicago",
    "+14155551234": "America/Los_Angeles",
    "+18085551234": "Pacific/Honolulu",
    "+442071838750": "Europe/London",
    "+911123456789": "Asia/Calcutta",
    "+81312345678": "Asia/Tokyo",
    "+61291234567": "Australia/Sydney",
}

V1_OPERATIONS = {
    ("POST", "/v1/numbers/purchase"), ("POST", "/v1/numbers/import"),
    ("GET", "/v1/coverage"), ("POST", "/v1/coverage/purchase"),
    ("POST", "/v1/calls/connect"), ("GET", "/v1/kamailio/outbound"),
    ("GET", "/v1/kamailio/inbound"),
    ("GET", "/v1/calls"), ("POST", "/v1/calls"), ("GET", "/v1/calls/{call_id}"),
    ("POST", "/v1/calls/{call_id}/outcome"), ("POST", "/v1/inbound"),
    ("POST", "/v1/calls/{call_id}/result"), ("POST", "/v1/calls/{call_id}/spam-report"),
    ("POST", "/v1/kamailio/result"),
    ("GET", "/v1/numbers"), ("POST", "/v1/numbers"), ("GET", "/v1/numbers/{number}"),
    ("PATCH", "/v1/numbers/{number}"), ("DELETE", "/v1/numbers/{number}"),
    ("POST", "/v1/numbers/{number}/pause"), ("POST", "/v1/numbers/{number}/resume"),
    ("POST", "/v1/numbers/{number}/release"), ("POST", "/v1/numbers/{number}/area-codes"),
    ("DELETE", "/v1/numbers/{number}/area-codes/{area_code}"),
    ("GET", "/v1/users"), ("POST", "/v1/users"), ("GET", "/v1/users/{user_id}"),
    ("PUT", "/v1/users/{user_id}"), ("DELETE", "/v1/users/{user_id}"),
    ("GET", "/v1/contacts"), ("POST", "/v1/contacts"), ("GET", "/v1/contacts/{phone}"),
    ("PUT", "/v1/contacts/{phone}"), ("DELETE", "/v1/contacts/{phone}"),
    ("GET", "/v1/projects"), ("POST", "/v1/projects"), ("GET", "/v1/projects/{project_id}"),
    ("PUT", "/v1/projects/{project_id}"), ("DELETE", "/v1/projects/{project_id}"),
    ("GET", "/v1/org"), ("PATCH", "/v1/org"), ("GET", "/v1/config"), ("PUT", "/v1/config"),
    ("GET", "/v1/health"), ("POST", "/v1/health/sweep"), ("GET", "/v1/numbers/{number}/health"),
    ("POST", "/v1/health/reputation"), ("POST", "/v1/health/scan"),
    ("GET", "/v1/dnc"), ("POST", "/v1/dnc"), ("DELETE", "/v1/dnc/{number}"),
    ("POST", "/v1/dnc/import"), ("GET", "/v1/dnc/registry"), ("POST", "/v1/dnc/registry"),
    ("POST", "/v1/dnc/reassigned/check"),
}


def national(e164: str) -> str:
    """A NANP number as people write it: (312) 555-0101."""
    return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"


def place(client: httpx.Client, **body: Any) -> dict[str, Any]:
    """POST /v1/calls; the decision, which must be 201."""
    decision: dict[str, Any] = ok(client.post("/v1/calls", json=body), 201)
    return decision


def calls_to(client: httpx.Client, contact: str, **params: Any) -> list[dict[str, Any]]:
    page = ok(client.get("/v1/calls", params={"contact": contact, **params}))
    calls: list[dict[str, Any]] = page["calls"]
    return calls


def add_number(client: httpx.Client, number: str, **fields: Any) -> dict[str, Any]:
    added: dict[str, Any] = ok(client.post("/v1/numbers", json={"number": number, **fields}), 201)
    return added


def local_now(zone: str) -> datetime:
    return datetime.now(UTC).astimezone(ZoneInfo(zone))


def within_hours(moment: datetime, *, margin: timedelta = timedelta(minutes=5)) -> bool | None:
    """Inside 08:00–21:00 (True), outside (False), or too near an edge to say (None)."""
    day = moment.date()
    start = datetime.combine(day, time(8), moment.tzinfo)
    end = datetime.combine(day, time(21), moment.tzinfo)
    if abs(moment - start) < margin or abs(moment - end) < margin:
        return None
    return start <= moment < end


def callee_where(inside: bool) -> tuple[str, str]:
    """A callee (and its zone) whose local time is now inside or outside calling hours."""
    for number, zone in CALLEES_BY_ZONE.items():
        if within_hours(local_now(zone)) is inside:
            return number, zone
    raise AssertionError("the candidate zones cover every hour; one must qualify")


def metric(text: str, name: str, labels: str) -> float:
    """A sample's value in Prometheus text, 0 when the series does not exist yet."""
    found = re.search(rf"^{re.escape(name)}{{{re.escape(labels)}}} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


# -- POST /v1/calls ------------------------------------------------------------------------

def test_a_call_is_decided_recorded_and_shown_with_its_trace(
    acme: httpx.Client, fresh: Fresh
) -> None:
    """201 with call id, caller ID, rule, E.164 callee and trace; the log has the same."""
    to = fresh.number("773")

    decision = place(acme, user="alice", to=national(to), channel="click_to_dial",
                     consented=True)

    assert decision["call_id"].startswith("call_")
    assert (decision["caller_id"], decision["rule"], decision["to"]) == (
        CHI1, "agent_area_code", to)
    assert decision["trace"][-1]["step"] == "agent_area_code"
    assert decision["trace"][-1]["result"] == "chosen"
    assert decision["trace"][-1]["number"] == CHI1
    assert decision["dry_run"] is False
    logged = ok(acme.get(f"/v1/calls/{decision['call_id']}"))
    assert logged == {
        "call_id": decision["call_id"], "at": logged["at"], "user": "alice", "to": to,
        "caller_id": CHI1, "rule": "agent_area_code", "project": None,
        "channel": "click_to_dial", "outcome": None, "trace": decision["trace"],
        "telephony_status": None, "duration_s": None, "answered_by": None,
        "answered": None, "sip_code": None, "failure_class": None, "result_at": None,
        "result_source": None, "spam_reported": False,
    }
    assert abs(datetime.fromisoformat(logged["at"]) - datetime.now(UTC)) < timedelta(minutes=1)


def test_a_recorded_call_counts_toward_the_numbers_use_today(
    acme: httpx.Client, fresh: Fresh
) -> None:
    """The presented number's used_today goes up by one."""
    before = ok(acme.get(f"/v1/numbers/{path_of(CHI1)}"))["used_today"]

    place(acme, user="alice", to=fresh.number("872"), consented=True)

    assert ok(acme.get(f"/v1/numbers/{path_of(CHI1)}"))["used_today"] == before + 1


def test_a_dry_run_decides_but_records_nothing(acme: httpx.Client, fresh: Fresh) -> None:
    """dry_run: the same decision, no call in the log, no use counted."""
    to = fresh.number("773")
    used = ok(acme.get(f"/v1/numbers/{path_of(CHI1)}"))["used_today"]

    decision = place(acme, user="alice", to=to, consented=True, dry_run=True)

    assert (decision["caller_id"], decision["rule"], decision["dry_run"]) == (
        CHI1, "agent_area_code", True)
    error_of(acme.get(f"/v1/calls/{decision['call_id']}"), 404)
    assert calls_to(acme, to) == []
    assert ok(acme.get(f"/v1/numbers/{path_of(CHI1)}"))["used_today"] == used


def test_an_emergency_call_presents_the_direct_number_and_is_never_refused(
    acme: httpx.Client,
) -> None:
    """911 without consent, at any hour: the user's direct number, rule emergency."""
    decision = place(acme, user="alice", to="911")

    assert (decision["caller_id"], decision["rule"], decision["to"]) == (CHI1, "emergency", "911")


def test_a_project_call_uses_the_pool_and_is_logged_with_its_project(
    globex: httpx.Client, fresh: Fresh
) -> None:
    """The outreach project's first call presents its first-call number."""
    decision = place(globex, user="hank", to=fresh.number("512"), project="outreach")

    assert (decision["caller_id"], decision["rule"]) == (AUSTIN1, "first_call_number")
    assert ok(globex.get(f"/v1/calls/{decision['call_id']}"))["project"] == "outreach"


def test_an_override_that_is_presentable_is_used(globex: httpx.Client, fresh: Fresh) -> None:
    """A caller ID asked for the call wins when it may be presented (rule override)."""
    decision = place(globex, user="hank", to=fresh.number("512"), caller_id=national(AUSTIN2))

    assert (decision["caller_id"], decision["rule"]) == (AUSTIN2, "override")


# -- errors of POST /v1/calls --------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "{not json}",
    "nope",
    pytest.param('{"user": "alice", "to": "+13125550188",', id="truncated"),
])
def test_malformed_json_is_400_malformed_json(acme: httpx.Client, body: str) -> None:
    """A body that is not JSON says so, with code malformed_json."""
    response = acme.post("/v1/calls", content=body,
                         headers={"Content-Type": "application/json"})

    error = error_of(response, 400)
    assert (error["code"], error["field"]) == ("malformed_json", None)


def test_an_unknown_field_is_400_naming_it(acme: httpx.Client) -> None:
    """Unknown fields are refused, not ignored."""
    response = acme.post("/v1/calls", json={"user": "alice", "to": "+13125550188",
                                            "colour": "blue"})

    error = error_of(response, 400)
    assert error["field"] == "colour"
    assert "colour" in error["message"]


def test_a_field_of_the_wrong_type_is_400_naming_it(acme: httpx.Client) -> None:
    """A number where text is expected is refused, naming the field."""
    error = error_of(acme.post("/v1/calls", json={"user": 7, "to": "+13125550188"}), 400)

    assert error["field"] == "user"


def test_an_invalid_number_is_400_naming_to(acme: httpx.Client) -> None:
    """A callee number that is not valid is refused, naming `to`."""
    error = error_of(acme.post("/v1/calls", json={"user": "alice", "to": "555-12",
                                                  "consented": True}), 400)

    assert (error["code"], error["field"]) == ("invalid_number", "to")


def test_an_unknown_user_is_404(acme: httpx.Client) -> None:
    """A caller who is not a user of the organization is not found."""
    error = error_of(acme.post("/v1/calls", json={"user": "zed", "to": "+13125550188",
                                                  "consented": True}), 404)

    assert (error["code"], error["field"]) == ("not_found", "user")


def test_an_unknown_project_is_404(acme: httpx.Client) -> None:
    """A project the organization does not have is not found."""
    error = error_of(acme.post("/v1/calls", json={
        "user": "alice", "to": "+13125550188", "project": "winter", "consented": True}), 404)

    assert (error["code"], error["field"]) == ("not_found", "project")


@pytest.mark.parametrize(("caller_id", "why"), [
    (MANHATTAN, "paused"),
    (BOSTON, "not one of the organization's numbers"),
])
def test_an_override_that_is_not_presentable_is_422_never_replaced(
    acme: httpx.Client, fresh: Fresh, caller_id: str, why: str
) -> None:
    """A paused number, or another organization's, is refused with the reason."""
    to = fresh.number("312")

    response = acme.post("/v1/calls", json={"user": "alice", "to": to, "caller_id": caller_id,
                                             "consented": True})

    error = error_of(response, 422)
    assert (error["code"], error["field"]) == ("not_presentable", "caller_id")
    assert why in error["message"]
    assert calls_to(acme, to) == []


def test_a_call_outside_calling_hours_is_422_with_the_callees_local_time(
    acme: httpx.Client,
) -> None:
    """acme calls 08:00–21:00 callee time; outside it the refusal gives that time."""
    to, zone = callee_where(inside=False)

    error = error_of(acme.post("/v1/calls", json={"user": "alice", "to": to}), 422)

    assert (error["code"], error["field"]) == ("outside_calling_hours", "to")
    said = re.search(r"local time is (\d\d):(\d\d) (\S+), outside calling hours 08:00–21:00",
                     error["message"])
    assert said is not None, error["message"]
    assert said.group(3) == zone
    now = local_now(zone)
    told = now.replace(hour=int(said.group(1)), minute=int(said.group(2)))
    apart = (told - now) % timedelta(days=1)
    assert min(apart, timedelta(days=1) - apart) <= timedelta(minutes=2)


def test_a_consented_call_outside_calling_hours_is_placed(acme: httpx.Client) -> None:
    """Consent (or urgency) lets the call through; the trace says why."""
    to, _ = callee_where(inside=False)

    decision = place(acme, user="alice", to=to, consented=True, dry_run=True)

    hours = decision["trace"][0]
    assert hours["step"] == "calling_hours"
    assert "outside" in hours["detail"]
    assert "consented" in hours["detail"]


def test_a_call_inside_calling_hours_needs_no_consent(acme: httpx.Client) -> None:
    """Inside 08:00–21:00 callee time the call goes through; the trace says so."""
    to, _ = callee_where(inside=True)

    decision = place(acme, user="alice", to=to, dry_run=True)

    assert decision["trace"][0]["step"] == "calling_hours"
    assert "within" in decision["trace"][0]["detail"]


@pytest.mark.parametrize(("method", "path", "params", "body", "field"), [
    ("GET", "/v1/numbers", {"search": "a\x00b"}, None, "search"),
    ("GET", "/v1/calls", {"user": "a\x00b"}, None, "user"),
    ("GET", "/v1/users/a%00b", {}, None, "path"),
    ("POST", "/v1/calls", {}, {"user": "a\x00b", "to": "+15125550150"}, "user"),
    ("POST", "/v1/calls/call_x/outcome", {}, {"outcome": "a\x00b"}, "outcome"),
])
def test_a_nul_character_is_refused_on_every_store(
    globex: httpx.Client, method: str, path: str, params: dict[str, str], body: Any,
    field: str,
) -> None:
    """A NUL in a parameter, a path or a body is refused with 400 naming where it is."""
    response = globex.request(method, path, params=params, json=body)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_input"
    assert "NUL" in response.json()["error"]["message"]
    assert response.json()["error"]["field"] == field


# -- GET /v1/calls -------------------------------------------------------------------------

def test_the_call_log_pages_newest_first_until_the_cursor_runs_out(
    globex: httpx.Client, fresh: Fresh
) -> None:
    """limit=2 over five calls: pages of 2, 2 and 1, newest first, each call once."""
    to = fresh.number("512")
    placed = [place(globex, user="hank", to=to)["call_id"] for _ in range(5)]

    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"contact": to, "limit": 2,
                                        **({"cursor": cursor} if cursor else {})}
        page = ok(globex.get("/v1/calls", params=params))
        pages.append([call["call_id"] for call in page["calls"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [len(p) for p in pages] == [2, 2, 1]
    assert [call_id for p in pages for call_id in p] == placed[::-1]


def test_the_call_log_filters_by_contact_user_and_since(
    globex: httpx.Client, fresh: Fresh
) -> None:
    """contact (any format), user and since narrow the log; filters combine."""
    first, second = fresh.number("512"), fresh.number("512")
    by_gina = place(globex, user="gina", to=first)["call_id"]
    by_hank = place(globex, user="hank", to=first)["call_id"]
    elsewhere = place(globex, user="hank", to=second)["call_id"]

    to_first = calls_to(globex, national(first))
    hank_to_first = calls_to(globex, first, user="hank")
    hank_at = datetime.fromisoformat(hank_to_first[0]["at"])
    since_hank = calls_to(globex, first, since=hank_at.isoformat())
    hank_lately = ok(globex.get("/v1/calls", params={"user": "hank",
                                                     "since": hank_at.isoformat()}))["calls"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    assert [c["call_id"] for c in to_first] == [by_hank, by_gina]
    assert [c["call_id"] for c in hank_to_first] == [by_hank]
    assert [c["call_id"] for c in since_hank] == [by_hank]
    assert [c["call_id"] for c in hank_lately] == [elsewhere, by_hank]
    assert calls_to(globex, first, since=tomorrow) == []


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"),
    ({"limit": 501}, "limit"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"since": "yesterday"}, "since"),
    ({"contact": "12"}, "contact"),
])
def test_bad_call_log_parameters_are_400_naming_them(
    globex: httpx.Client, params: dict[str, Any], field: str
) -> None:
    """A limit out of range, a foreign cursor, a bad time or number is refused."""
    assert error_of(globex.get("/v1/calls", params=params), 400)["field"] == field


def test_since_without_an_offset_is_not_a_server_error(globex: httpx.Client) -> None:
    """A naive `since` is read as UTC or refused with 400, never a 500."""
    response = globex.get("/v1/calls", params={"since": "2026-01-01T00:00:00"})

    assert response.status_code in (200, 400), response.text


def test_a_hand_made_cursor_is_a_position_and_garbage_is_400(globex: httpx.Client) -> None:
    """A well-formed cursor (time without offset = UTC) pages from there; garbage is 400."""
    before_any_call = base64.urlsafe_b64encode(b"2000-01-01T00:00:00|call_x").decode()

    page = globex.get("/v1/calls", params={"cursor": before_any_call})

    assert page.status_code == 200, page.text
    assert page.json() == {"calls": [], "next_cursor": None}
    error = error_of(globex.get("/v1/calls", params={"cursor": "not-a-cursor"}), 400)
    assert error["field"] == "cursor"


def test_a_call_of_no_record_is_404(globex: httpx.Client) -> None:
    """A call id the log does not hold is not found."""
    error = error_of(globex.get("/v1/calls/call_000000000000000000000000"), 404)

    assert error["field"] == "call_id"


# -- POST /v1/calls/{id}/outcome -----------------------------------------------------------

def test_an_outcome_is_recorded_on_its_call(globex: httpx.Client, fresh: Fresh) -> None:
    """200 with the call id and the outcome (trimmed); the log shows it."""
    call_id = place(globex, user="hank", to=fresh.number("512"))["call_id"]

    answer = ok(globex.post(f"/v1/calls/{call_id}/outcome", json={"outcome": " no_answer "}))

    assert answer == {"call_id": call_id, "outcome": "no_answer"}
    assert ok(globex.get(f"/v1/calls/{call_id}"))["outcome"] == "no_answer"


def test_the_outcome_of_the_last_project_call_picks_the_next_caller_id(
    acme: httpx.Client, fresh: Fresh
) -> None:
    """renewals maps asked_callback to NWK1; another outcome rotates instead."""
    called_back, not_reached = fresh.number("201"), fresh.number("201")
    firsts = {}
    for to, outcome in ((called_back, "asked_callback"), (not_reached, "no_answer")):
        first = place(acme, user="carol", to=to, project="renewals", consented=True)
        assert (first["rule"], first["caller_id"] in (NWK1, NWK2)) == (
            "regionally_random", True)
        ok(acme.post(f"/v1/calls/{first['call_id']}/outcome", json={"outcome": outcome}))
        firsts[to] = first["caller_id"]

    again = place(acme, user="carol", to=called_back, project="renewals", consented=True)
    rotated = place(acme, user="carol", to=not_reached, project="renewals", consented=True)

    assert (again["rule"], again["caller_id"]) == ("outcome_number", NWK1)
    assert rotated["rule"] == "different_each_attempt"
    assert rotated["caller_id"] != firsts[not_reached]


def test_an_outcome_for_a_call_of_no_record_is_404(globex: httpx.Client) -> None:
    """An outcome needs a call to belong to."""
    response = globex.post("/v1/calls/call_000000000000000000000000/outcome",
                           json={"outcome": "no_answer"})

    assert error_of(response, 404)["field"] == "call_id"


@pytest.mark.parametrize("outcome", ["", "   "])
def test_an_empty_outcome_is_400(globex: httpx.Client, fresh: Fresh, outcome: str) -> None:
    """An outcome of nothing (or blanks) is refused and not stored."""
    call_id = place(globex, user="hank", to=fresh.number("512"))["call_id"]

    error = error_of(globex.post(f"/v1/calls/{call_id}/outcome", json={"outcome": outcome}), 400)

    assert error["field"] == "outcome"
    assert ok(globex.get(f"/v1/calls/{call_id}"))["outcome"] is None


# -- POST /v1/inbound ----------------------------------------------------------------------

def test_a_callback_rings_the_user_who_called_last(acme: httpx.Client, fresh: Fresh) -> None:
    """bob, then alice, calls a prospect from SF; the call-back rings the later caller."""
    prospect = fresh.number("415")
    assert place(acme, user="bob", to=prospect, consented=True)["caller_id"] == SF

    first = ok(acme.post("/v1/inbound", json={"to": SF, "from": prospect}))
    assert place(acme, user="alice", to=prospect, consented=True)["caller_id"] == SF
    second = ok(acme.post("/v1/inbound", json={"to": national(SF), "from": national(prospect)}))

    assert first["call_id"].startswith("in_")
    assert (first["destination"], first["rule"], first["user"]) == (
        BOB_WORK, "last_caller", "bob")
    assert [s["step"] for s in first["trace"]] == ["direct_number", "last_caller"]
    assert (second["destination"], second["rule"], second["user"]) == (
        ALICE_WORK, "last_caller", "alice")


def test_a_call_to_a_direct_number_rings_its_user(acme: httpx.Client, fresh: Fresh) -> None:
    """A user's direct number rings that user's work phone."""
    route = ok(acme.post("/v1/inbound", json={"to": CHI1, "from": fresh.number("630")}))

    assert (route["destination"], route["rule"], route["user"]) == (
        ALICE_WORK, "direct_number", "alice")


def test_a_stranger_reaches_the_forwarding_number(acme: httpx.Client, fresh: Fresh) -> None:
    """Nobody called them and they are no contact: the organization's forwarding number."""
    route = ok(acme.post("/v1/inbound", json={"to": CHI2, "from": fresh.number("630")}))

    assert (route["destination"], route["rule"], route["user"]) == (
        FORWARDING, "forwarding", None)


def test_a_paused_number_still_routes_call_backs(acme: httpx.Client, fresh: Fresh) -> None:
    """People return calls to numbers we stopped presenting."""
    route = ok(acme.post("/v1/inbound", json={"to": MANHATTAN, "from": fresh.number("630")}))

    assert route["rule"] == "forwarding"


def test_an_inbound_call_to_a_number_not_held_is_404(acme: httpx.Client, fresh: Fresh) -> None:
    """A called number the organization does not hold is refused."""
    response = acme.post("/v1/inbound", json={"to": fresh.number("312"), "from": "+17735550150"})

    assert error_of(response, 404)["field"] == "to"


def test_an_inbound_call_from_an_invalid_number_is_routed_as_anonymous(
        acme: httpx.Client) -> None:
    """A caller number that is not valid is a withheld caller: routed, not refused (issue
    10: a prospect with a blocked caller ID must not be hung up on)."""
    route = ok(acme.post("/v1/inbound", json={"to": CHI2, "from": "12"}))

    assert route["rule"] == "forwarding"


# -- numbers -------------------------------------------------------------------------------

def test_a_number_is_added_and_read_back_in_any_form(globex: httpx.Client, fresh: Fresh) -> None:
    """POST → 201 in E.164 with its area codes; GET by %2B, raw '+' or national digits."""
    number = fresh.number("512")

    added = add_number(globex, national(number), label="Austin lab", group="lab",
                       area_codes=["737"], daily_cap=5)

    assert added == {
        "number": number, "label": "Austin lab", "group": "lab", "status": "active",
        "area_codes": ["512", "737"], "region": "Texas", "daily_cap": 5, "used_today": 0,
        "assigned_user": None, "projects": 0, "provider": "manual",
    }
    assert ok(globex.get(f"/v1/numbers/{path_of(number)}")) == added
    assert ok(globex.get(f"/v1/numbers/{number}")) == added
    assert ok(globex.get(f"/v1/numbers/{number[2:]}")) == added


def test_a_number_held_already_is_409(globex: httpx.Client, fresh: Fresh) -> None:
    """Adding a number twice is a conflict."""
    number = fresh.number("512")
    add_number(globex, number)

    error = error_of(globex.post("/v1/numbers", json={"number": number}), 409)

    assert (error["code"], error["field"]) == ("conflict", "number")


@pytest.mark.parametrize(("body", "field"), [
    ({"number": "12345"}, "number"),
    ({"number": "+15125553999", "daily_cap": 0}, "daily_cap"),
    ({"number": "+15125553999", "area_codes": ["abc"]}, "area_codes"),
    ({"number": "+15125553999", "area_codes": ["999"]}, "area_code"),
    ({"number": "+15125553999", "owner": "gina"}, "owner"),
])
def test_a_number_that_cannot_be_added_is_400_naming_the_field(
    globex: httpx.Client, body: dict[str, Any], field: str
) -> None:
    """Nothing is stored for a refused number."""
    error = error_of(globex.post("/v1/numbers", json=body), 400)

    assert error["field"].startswith(field), error
    error_of(globex.get("/v1/numbers/+15125553999"), 404)


def test_a_number_of_no_record_is_404(globex: httpx.Client, fresh: Fresh) -> None:
    """A number the organization does not hold is not found."""
    assert error_of(globex.get(f"/v1/numbers/{path_of(fresh.number('512'))}"),
                    404)["field"] == "number"


def test_a_numbers_label_group_and_cap_are_patched(globex: httpx.Client, fresh: Fresh) -> None:
    """PATCH changes only what it names; daily_cap 0 removes the cap."""
    number = fresh.number("512")
    add_number(globex, number, label="old", group="g1", daily_cap=3)

    relabelled = ok(globex.patch(f"/v1/numbers/{path_of(number)}", json={"label": "new"}))
    capped = ok(globex.patch(f"/v1/numbers/{path_of(number)}",
                             json={"group": "g2", "daily_cap": 7}))
    uncapped = ok(globex.patch(f"/v1/numbers/{path_of(number)}", json={"daily_cap": 0}))

    assert (relabelled["label"], relabelled["group"], relabelled["daily_cap"]) == ("new", "g1", 3)
    assert (capped["label"], capped["group"], capped["daily_cap"]) == ("new", "g2", 7)
    assert uncapped["daily_cap"] is None
    assert ok(globex.get(f"/v1/numbers/{path_of(number)}")) == uncapped
    assert error_of(globex.patch(f"/v1/numbers/{path_of(number)}", json={"status": "paused"}),
                    400)["field"] == "status"


def test_area_codes_are_mapped_and_unmapped(globex: httpx.Client, fresh: Fresh) -> None:
    """A number serves its own area code plus mapped ones; only mapped ones come off."""
    number = fresh.number("512")
    add_number(globex, number)
    at = f"/v1/numbers/{path_of(number)}"

    mapped = ok(globex.post(f"{at}/area-codes", json={"area_codes": ["830", "737"]}))
    served = ok(globex.get("/v1/numbers", params={"area_code": "830"}))
    unmapped = ok(globex.delete(f"{at}/area-codes/830"))

    assert (mapped["result"], mapped["area_codes"]) == ("mapped", ["512", "737", "830"])
    assert number in [n["number"] for n in served]
    assert (unmapped["result"], unmapped["area_codes"]) == ("unmapped", ["512", "737"])
    assert ok(globex.get(at))["area_codes"] == ["512", "737"]
    assert error_of(globex.delete(f"{at}/area-codes/512"), 400)["field"] == "area_code"
    assert error_of(globex.delete(f"{at}/area-codes/830"), 400)["field"] == "area_code"
    assert error_of(globex.post(f"{at}/area-codes", json={"area_codes": ["999"]}),
                    400)["field"] == "area_codes[0]"  # its place in the body's list
    assert error_of(globex.post(f"{at}/area-codes", json={"area_codes": []}),
                    400)["field"] == "area_codes"


def test_mapping_answers_with_the_number_in_e164(globex: httpx.Client, fresh: Fresh) -> None:
    """Like every other number endpoint, the answer names the number in E.164."""
    number = fresh.number("512")
    add_number(globex, number)

    mapped = ok(globex.post(f"/v1/numbers/{number[2:]}/area-codes",
                            json={"area_codes": ["737"]}))
    unmapped = ok(globex.delete(f"/v1/numbers/{number[2:]}/area-codes/737"))

    assert (mapped["number"], unmapped["number"]) == (number, number)


def test_a_paused_number_is_not_presented_until_resumed(
    globex: httpx.Client, fresh: Fresh
) -> None:
    """pause → status paused and an override of it is 422; resume → presented again."""
    number, to = fresh.number("512"), fresh.number("512")
    add_number(globex, number)
    at = f"/v1/numbers/{path_of(number)}"

    paused = ok(globex.post(f"{at}/pause"))
    status_paused = ok(globex.get(at))["status"]
    refused = globex.post("/v1/calls", json={"user": "hank", "to": to, "caller_id": number})
    resumed = ok(globex.post(f"{at}/resume"))
    decision = place(globex, user="hank", to=to, caller_id=number)

    assert paused == {"number": number, "result": "paused", "area_codes": None,
                      "cleared": None}
    assert status_paused == "paused"
    assert error_of(refused, 422)["code"] == "not_presentable"
    assert resumed == {"number": number, "result": "active", "area_codes": None,
                       "cleared": None}
    assert (decision["caller_id"], decision["rule"]) == (number, "override")


@pytest.mark.parametrize("how", ["release", "delete"])
def test_a_released_number_leaves_the_inventory_but_its_calls_stay(
    globex: httpx.Client, fresh: Fresh, how: str
) -> None:
    """A number with history is released (its calls stay); one without is deleted."""
    used, unused, to = fresh.number("512"), fresh.number("512"), fresh.number("512")
    add_number(globex, used)
    add_number(globex, unused)
    call_id = place(globex, user="hank", to=to, caller_id=used)["call_id"]

    def release(number: str, **params: str) -> httpx.Response:
        if how == "release":
            return globex.post(f"/v1/numbers/{path_of(number)}/release", params=params)
        return globex.delete(f"/v1/numbers/{path_of(number)}", params=params)

    # Presented a moment ago: the release guard (30 days) wants force.
    guarded = error_of(release(used), 409)
    assert guarded["field"] == "number"
    assert guarded["message"].startswith(f"{used} was last presented as a caller ID at ")
    assert "within the release guard of 30 days (release_guard_days)" in guarded["message"]
    assert "?force=true (REST)" in guarded["message"]
    assert ok(release(used, force="true")) == {"number": used, "result": "released",
                                               "area_codes": None, "cleared": []}
    assert ok(release(unused)) == {"number": unused, "result": "deleted", "area_codes": None,
                                   "cleared": []}
    error_of(globex.get(f"/v1/numbers/{path_of(used)}"), 404)
    error_of(release(used), 404)
    assert used not in [n["number"] for n in ok(globex.get("/v1/numbers"))]
    assert ok(globex.get(f"/v1/calls/{call_id}"))["caller_id"] == used
    assert error_of(globex.post("/v1/calls", json={"user": "hank", "to": to,
                                                   "caller_id": used}), 422)


def test_numbers_are_searched_by_digits_label_group_area_code_and_status(
    globex: httpx.Client, fresh: Fresh
) -> None:
    """Every filter narrows the list; filters combine."""
    tag = fresh.id("searchtag")
    one, two = fresh.number("512"), fresh.number("512")
    add_number(globex, one, label=f"{tag} one", group="alpha", area_codes=["254"])
    add_number(globex, two, label=f"{tag} two", group=f"{tag}-group")
    ok(globex.post(f"/v1/numbers/{path_of(two)}/pause"))

    def found(**params: str) -> list[str]:
        return [n["number"] for n in ok(globex.get("/v1/numbers", params=params))]

    assert found(search=tag) == sorted([one, two])
    assert found(search=tag.upper()) == sorted([one, two])
    assert found(search=national(one)) == [one]
    assert found(search=f"{tag}-group") == [two]
    assert found(search=tag, group="alpha") == [one]
    assert found(search=tag, area_code="254") == [one]
    assert found(search=tag, status="paused") == [two]
    assert found(search=tag, status="active") == [one]
    assert error_of(globex.get("/v1/numbers", params={"status": "asleep"}),
                    400)["field"] == "status"


def test_the_project_picker_lists_free_numbers_then_grouped_then_the_rest(
    globex: httpx.Client, fresh: Fresh
) -> None:
    """for_project: numbers in no project first, then used ones in a group, then the rest."""
    tag = fresh.id("pickertag")
    used_ungrouped, used_grouped, free = (fresh.number("512") for _ in range(3))
    add_number(globex, used_ungrouped, label=tag)
    add_number(globex, used_grouped, label=tag, group="campaigns")
    add_number(globex, free, label=tag)
    ok(globex.post("/v1/projects", json={"id": tag, "numbers": [used_grouped, used_ungrouped]}),
       201)

    listed = ok(globex.get("/v1/numbers", params={"search": tag, "for_project": "true"}))

    assert [n["number"] for n in listed] == [free, used_grouped, used_ungrouped]
    assert [n["projects"] for n in listed] == [0, 1, 1]


def test_numbers_are_bought_by_area_code_from_the_sandbox(globex: httpx.Client) -> None:
    """The numbers bought are stored and serve the area code asked for."""
    response = globex.post("/v1/numbers/purchase",
                           json={"area_code": "737", "quantity": 2, "provider": "sandbox"})

    assert response.status_code in (200, 201), response.text
    bought = [n for n in ok(globex.get("/v1/numbers", params={"area_code": "737"}))
              if n["provider"] == "sandbox"]
    assert len(bought) == 2


# -- users, contacts, projects -------------------------------------------------------------

def test_a_user_is_created_read_replaced_and_deleted(globex: httpx.Client, fresh: Fresh) -> None:
    """POST 201 (409 again), GET, PUT replaces, DELETE 204, then 404."""
    uid = fresh.id("ivy")
    work = fresh.number("512")

    created = ok(globex.post("/v1/users", json={"id": uid, "name": "Ivy Lee",
                                                "work_phone": national(work)}), 201)
    again = globex.post("/v1/users", json={"id": uid})
    shown = ok(globex.get(f"/v1/users/{uid}"))
    listed = ok(globex.get("/v1/users"))
    replaced = ok(globex.put(f"/v1/users/{uid}", json={
        "id": uid, "name": "Ivy Lee-Park", "caller_id": AUSTIN1,
        "allowed_caller_ids": [AUSTIN1, GLOBEX_PRINCIPAL]}))
    deleted = globex.delete(f"/v1/users/{uid}")

    assert created == {"id": uid, "name": "Ivy Lee", "work_phone": work, "caller_id": None,
                       "direct_number": None, "allowed_caller_ids": [], "active": True}
    assert error_of(again, 409)["field"] == "id"
    assert shown == created
    assert created in listed
    assert replaced == {"id": uid, "name": "Ivy Lee-Park", "work_phone": None,
                        "caller_id": AUSTIN1, "direct_number": None,
                        "allowed_caller_ids": [AUSTIN1, GLOBEX_PRINCIPAL], "active": True}
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert error_of(globex.get(f"/v1/users/{uid}"), 404)["field"] == "user"
    assert error_of(globex.delete(f"/v1/users/{uid}"), 404)["field"] == "user"


def test_put_creates_a_user_that_did_not_exist(globex: httpx.Client, fresh: Fresh) -> None:
    """PUT is create-or-replace: a new id is created."""
    uid = fresh.id("jo")

    put = ok(globex.put(f"/v1/users/{uid}", json={"id": uid, "name": "Jo"}))

    assert ok(globex.get(f"/v1/users/{uid}")) == put


def test_a_put_whose_id_differs_from_the_url_is_400(globex: httpx.Client, fresh: Fresh) -> None:
    """Nothing is created under either id."""
    uid, other = fresh.id("kit"), fresh.id("kat")

    error = error_of(globex.put(f"/v1/users/{uid}", json={"id": other}), 400)

    assert error["field"] == "id"
    error_of(globex.get(f"/v1/users/{uid}"), 404)
    error_of(globex.get(f"/v1/users/{other}"), 404)


@pytest.mark.parametrize(("body", "field", "status"), [
    ({"id": "has space"}, "id", 400),
    ({"id": "lou", "caller_id": "+13125550101"}, "caller_id", 400),
    ({"id": "lou", "work_phone": "12"}, "work_phone", 400),
    ({"id": "lou", "direct_number": BOSTON}, "direct_number", 409),  # gina's: a conflict
    ({"id": "lou", "title": "boss"}, "title", 400),
])
def test_a_user_that_breaks_the_rules_is_400_naming_the_field(
    globex: httpx.Client, body: dict[str, Any], field: str, status: int
) -> None:
    """The same checks as an organization file: ours, valid, not someone else's."""
    error = error_of(globex.post("/v1/users", json=body), status)

    assert error["field"] == field, error
    error_of(globex.get("/v1/users/lou"), 404)


def test_a_user_who_owns_contacts_cannot_be_deleted(globex: httpx.Client) -> None:
    """gina owns a contact: reassign it first (a conflict with what is stored: 409)."""
    error = error_of(globex.delete("/v1/users/gina"), 409)

    assert error["field"] == "user"
    assert ok(globex.get("/v1/users/gina"))["id"] == "gina"


def test_a_contact_is_created_read_replaced_and_deleted(
    globex: httpx.Client, fresh: Fresh
) -> None:
    """Contacts are keyed by phone, written in any format and read back in E.164."""
    phone = fresh.number("512")

    created = ok(globex.post("/v1/contacts", json={"phone": national(phone), "owner": "hank",
                                                   "line_type": "mobile"}), 201)
    again = globex.post("/v1/contacts", json={"phone": phone})
    by_encoded = ok(globex.get(f"/v1/contacts/{path_of(phone)}"))
    by_raw = ok(globex.get(f"/v1/contacts/{phone}"))
    owned_by_hank = ok(globex.get("/v1/contacts", params={"owner": "hank"}))
    replaced = ok(globex.put(f"/v1/contacts/{phone[2:]}", json={"phone": phone,
                                                                "owner": "gina"}))
    mismatched = globex.put(f"/v1/contacts/{path_of(phone)}",
                            json={"phone": fresh.number("512")})
    deleted = globex.delete(f"/v1/contacts/{path_of(phone)}")

    unset = {"timezone": None, "state": None, "postal_code": None,  # where the callee is
             "consented_on": None}
    assert created == {"phone": phone, "owner": "hank", "line_type": "mobile", **unset}
    assert error_of(again, 409)["field"] == "phone"
    assert by_encoded == by_raw == created
    assert created in owned_by_hank
    assert all(c["owner"] == "hank" for c in owned_by_hank)
    assert replaced == {"phone": phone, "owner": "gina", "line_type": "unknown", **unset}
    assert error_of(mismatched, 400)["field"] == "phone"
    assert (deleted.status_code, deleted.content) == (204, b"")
    error_of(globex.get(f"/v1/contacts/{path_of(phone)}"), 404)
    error_of(globex.delete(f"/v1/contacts/{path_of(phone)}"), 404)


def test_contacts_are_listed_a_page_at_a_time(globex: httpx.Client, fresh: Fresh) -> None:
    """limit and after (the last phone seen) walk the list in phone order."""
    owner = fresh.id("pager")
    ok(globex.post("/v1/users", json={"id": owner}), 201)
    phones = sorted(fresh.number("512") for _ in range(3))
    for phone in phones:
        ok(globex.post("/v1/contacts", json={"phone": phone, "owner": owner}), 201)

    first = ok(globex.get("/v1/contacts", params={"owner": owner, "limit": 2}))
    rest = ok(globex.get("/v1/contacts", params={"owner": owner, "limit": 2,
                                                 "after": first[-1]["phone"]}))

    assert [c["phone"] for c in first] == phones[:2]
    assert [c["phone"] for c in rest] == phones[2:]


def test_a_contact_with_an_unknown_owner_is_400(globex: httpx.Client, fresh: Fresh) -> None:
    """A contact's owner must be a user of the organization."""
    error = error_of(globex.post("/v1/contacts", json={"phone": fresh.number("512"),
                                                       "owner": "nobody"}), 400)

    assert error["field"] == "owner"


def test_a_project_is_created_read_replaced_and_deleted(
    globex: httpx.Client, fresh: Fresh
) -> None:
    """Projects hold a pool of the org's numbers and their selection logic."""
    pid = fresh.id("summer")
    body = {"id": pid, "name": "Summer", "numbers": [national(AUSTIN1), AUSTIN2],
            "first_call": "random", "next_calls": "different_each_attempt",
            "outcome_numbers": {"asked_callback": AUSTIN2}, "agent_number": "use_agent"}

    created = ok(globex.post("/v1/projects", json=body), 201)
    again = globex.post("/v1/projects", json={"id": pid})
    shown = ok(globex.get(f"/v1/projects/{pid}"))
    listed = ok(globex.get("/v1/projects"))
    replaced = ok(globex.put(f"/v1/projects/{pid}", json={"id": pid, "numbers": [AUSTIN1],
                                                           "first_call": AUSTIN1}))
    mismatched = globex.put(f"/v1/projects/{pid}", json={"id": "winter"})
    deleted = globex.delete(f"/v1/projects/{pid}")

    assert created == {**body, "numbers": [AUSTIN1, AUSTIN2], "keep_previous_number": False,
                       "compliance": None, "proximity": None, "local_only": "off"}
    assert error_of(again, 409)["field"] == "id"
    assert shown == created
    assert created in listed
    assert (replaced["numbers"], replaced["first_call"], replaced["next_calls"]) == (
        [AUSTIN1], AUSTIN1, "random")
    assert error_of(mismatched, 400)["field"] == "id"
    assert (deleted.status_code, deleted.content) == (204, b"")
    error_of(globex.get(f"/v1/projects/{pid}"), 404)
    error_of(globex.delete(f"/v1/projects/{pid}"), 404)


@pytest.mark.parametrize(("body", "field"), [
    ({"numbers": [NWK1]}, "numbers[0]"),
    ({"numbers": [AUSTIN1], "first_call": AUSTIN2}, "first_call"),
    ({"numbers": [AUSTIN1], "outcome_numbers": {"x": AUSTIN2}}, "outcome_numbers.x"),
    ({"next_calls": "round_robin"}, "next_calls"),
])
def test_a_project_that_breaks_the_rules_is_400_naming_the_field(
    globex: httpx.Client, fresh: Fresh, body: dict[str, Any], field: str
) -> None:
    """Pools hold the org's numbers; first-call and outcome numbers are in the pool."""
    pid = fresh.id("bad")

    error = error_of(globex.post("/v1/projects", json={"id": pid, **body}), 400)

    assert error["field"] == field, error
    error_of(globex.get(f"/v1/projects/{pid}"), 404)


# -- organization and configuration --------------------------------------------------------

def test_the_org_settings_are_read_and_patched(globex: httpx.Client) -> None:
    """PATCH changes the named settings and keeps the rest."""
    before = ok(globex.get("/v1/org"))
    try:
        patched = ok(globex.patch("/v1/org", json={
            "inbound": {"path": ["direct_number", "company"], "last_caller_days": 7}}))
        shown = ok(globex.get("/v1/org"))
    finally:
        ok(globex.patch("/v1/org", json={"inbound": before["inbound"]}))

    assert (before["org"], before["principal_number"], before["timezone"]) == (
        "globex", GLOBEX_PRINCIPAL, "America/Chicago")
    assert before["calling_hours"] is None
    assert patched == shown == {**before, "inbound": {"path": ["direct_number", "company"],
                                                      "last_caller_days": 7}}
    assert ok(globex.get("/v1/org")) == before


@pytest.mark.parametrize(("changes", "field"), [
    ({"org": "initech"}, "org"),
    ({"release_guard_days": -1}, "release_guard_days"),
    ({"release_guard_days": "soon"}, "release_guard_days"),
    ({"numbers": []}, "numbers"),
    ({"sparkle": True}, "sparkle"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
])
def test_an_org_patch_that_breaks_the_rules_is_400(
    globex: httpx.Client, changes: dict[str, Any], field: str
) -> None:
    """A refused settings change changes nothing."""
    before = ok(globex.get("/v1/org"))

    error = error_of(globex.patch("/v1/org", json=changes), 400)

    assert error["field"] == field
    assert ok(globex.get("/v1/org")) == before


def test_the_config_is_given_as_json_and_as_yaml(globex: httpx.Client) -> None:
    """GET /v1/config: the SPEC 6 document; Accept: application/yaml gives it as YAML."""
    as_json = ok(globex.get("/v1/config"))
    as_yaml = globex.get("/v1/config", headers={"Accept": "application/yaml"})

    assert as_json["org"] == "globex"
    assert {"gina", "hank"} <= {u["id"] for u in as_json["users"]}
    assert {AUSTIN1, AUSTIN2, BOSTON} <= {n["number"] for n in as_json["numbers"]}
    assert "outreach" in {p["id"] for p in as_json["projects"]}
    assert as_yaml.status_code == 200
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    decoded = yaml.safe_load(as_yaml.text)
    assert decoded["org"] == "globex"
    assert [n["number"] for n in decoded["numbers"]] == [n["number"] for n in as_json["numbers"]]
    assert [u["id"] for u in decoded["users"]] == [u["id"] for u in as_json["users"]]


def test_putting_the_config_back_changes_nothing(globex: httpx.Client) -> None:
    """Applying the exported document (YAML or JSON) is idempotent."""
    before = ok(globex.get("/v1/config"))
    exported = globex.get("/v1/config", headers={"Accept": "application/yaml"}).text

    from_yaml = ok(globex.put("/v1/config", content=exported,
                              headers={"Content-Type": "application/yaml"}))
    from_json = ok(globex.put("/v1/config", json=before))

    assert from_yaml == from_json == {
        "org": "globex", "applied": True, "numbers": len(before["numbers"]),
        "users": len(before["users"]), "contacts": len(before["contacts"]),
        "projects": len(before["projects"])}
    assert ok(globex.get("/v1/config")) == before


def test_putting_the_config_changes_what_it_says(globex: httpx.Client) -> None:
    """A changed label in the document is the label afterwards."""
    before = ok(globex.get("/v1/config"))
    changed = {**before, "numbers": [{**n, "label": "Boston HQ"} if n["number"] == BOSTON
                                     else n for n in before["numbers"]]}
    try:
        ok(globex.put("/v1/config", json=changed))
        label = ok(globex.get(f"/v1/numbers/{path_of(BOSTON)}"))["label"]
    finally:
        ok(globex.put("/v1/config", json=before))

    assert label == "Boston HQ"
    assert ok(globex.get(f"/v1/numbers/{path_of(BOSTON)}"))["label"] == "Boston"


def test_a_config_leaving_out_a_number_presented_lately_needs_force(
    globex: httpx.Client, fresh: Fresh
) -> None:
    """409 naming the number and ?force=true, nothing applied; forced, it is released."""
    before = ok(globex.get("/v1/config"))
    number, to = fresh.number("512"), fresh.number("512")
    add_number(globex, number)
    place(globex, user="hank", to=to, caller_id=number)

    error = error_of(globex.put("/v1/config", json=before), 409)
    assert error["field"] == "numbers"
    assert error["message"].startswith(f"the document leaves out {number} (last presented ")
    assert "PUT /v1/config?force=true (REST)" in error["message"]
    assert ok(globex.get(f"/v1/numbers/{path_of(number)}"))["status"] == "active"

    ok(globex.put("/v1/config", json=before, params={"force": "true"}))
    assert ok(globex.get("/v1/config")) == before
    error_of(globex.get(f"/v1/numbers/{path_of(number)}"), 404)


def test_a_config_for_another_organization_is_400(
    globex: httpx.Client, acme: httpx.Client
) -> None:
    """globex's key cannot apply acme's document, as YAML or as JSON."""
    acme_doc = ok(acme.get("/v1/config"))
    acme_yaml = acme.get("/v1/config", headers={"Accept": "application/yaml"}).text

    as_yaml = globex.put("/v1/config", content=acme_yaml,
                         headers={"Content-Type": "application/yaml"})
    as_json = globex.put("/v1/config", json=acme_doc)

    assert error_of(as_yaml, 400)["field"] == "org"
    assert error_of(as_json, 400)["field"] == "org"
    assert ok(acme.get("/v1/config")) == acme_doc


def test_an_invalid_config_lists_every_problem_and_applies_nothing(
    globex: httpx.Client,
) -> None:
    """Every problem is reported with its path; the organization stays as it was."""
    before = ok(globex.get("/v1/config"))

    error = error_of(globex.put("/v1/config", json={
        "org": "globex", "principal_number": "12", "timezone": "Mars/Olympus"}), 400)

    assert error["code"] == "invalid_config"
    assert {p["field"] for p in error["problems"]} >= {"principal_number", "timezone"}
    assert ok(globex.get("/v1/config")) == before


def test_a_config_that_is_not_yaml_is_400(globex: httpx.Client) -> None:
    """A body that is neither YAML nor JSON says where it breaks."""
    error = error_of(globex.put("/v1/config", content="org: [unclosed",
                                headers={"Content-Type": "application/yaml"}), 400)

    assert error["code"] == "invalid_config"
    assert "not valid YAML" in error["message"]


# -- operations ----------------------------------------------------------------------------

def test_health_and_readiness_need_no_key(anonymous: httpx.Client) -> None:
    """The process is up and its store answers."""
    assert ok(anonymous.get("/healthz")) == {"status": "ok"}
    assert ok(anonymous.get("/readyz")) == {"status": "ready"}


def test_metrics_count_decisions_by_rule(
    anonymous: httpx.Client, globex: httpx.Client
) -> None:
    """Each recorded decision adds one to callsign_decisions_total for its rule."""
    before = anonymous.get("/metrics")

    place(globex, user="gina", to="911")
    place(globex, user="gina", to="911", dry_run=True)  # not recorded, not counted
    after = anonymous.get("/metrics")

    assert before.headers["content-type"].startswith("text/plain")
    assert "# TYPE callsign_decisions_total counter" in after.text
    emergency = 'rule="emergency"'
    assert metric(after.text, "callsign_decisions_total", emergency) == metric(
        before.text, "callsign_decisions_total", emergency) + 1


def test_openapi_publishes_every_v1_endpoint(anonymous: httpx.Client) -> None:
    """/openapi.json lists exactly the /v1 operations of SPEC 8."""
    schema = ok(anonymous.get("/openapi.json"))

    published = {(method.upper(), path) for path, item in schema["paths"].items()
                 for method in item if path.startswith("/v1")}

    assert schema["openapi"].startswith("3.")
    assert published == V1_OPERATIONS


def test_every_response_carries_a_request_id(anonymous: httpx.Client) -> None:
    """The id sent is echoed; without one the server makes one."""
    echoed = anonymous.get("/healthz", headers={"X-Request-Id": "trace-me-42"})
    made = anonymous.get("/healthz")

    assert echoed.headers["x-request-id"] == "trace-me-42"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


def test_an_unknown_endpoint_is_404_in_the_error_shape(globex: httpx.Client) -> None:
    """Even a path that matches nothing answers in the error shape."""
    error = error_of(globex.get("/v1/nothing-here"), 404)

    assert error["code"] == "not_found"
    assert "/v1/nothing-here" in error["message"]


def test_a_method_an_endpoint_does_not_take_is_405_in_the_error_shape(
    globex: httpx.Client,
) -> None:
    """A method an endpoint does not take is 405, in the error shape."""
    assert error_of(globex.delete("/v1/org"), 405)["code"] == "method_not_allowed"


def test_the_key_may_come_as_a_basic_password(anonymous: httpx.Client, server: Server) -> None:
    """Clients with fixed credentials (Kamailio's named connections) send the key as Basic."""
    as_basic = httpx.BasicAuth("kamailio", server.keys["globex"])

    settings = anonymous.get("/v1/org", auth=as_basic)

    assert settings.status_code == 200, settings.text
    assert settings.json()["org"] == "globex"
