"""SPEC 4 on the pure core: where a call to one of our numbers rings, step by step."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from callsign.domain.inbound import WITHHELD, route_inbound
from callsign.domain.model import (
    DEFAULT_CALL_PATH,
    Agent,
    InboundFacts,
    InboundStep,
    OrgPolicy,
    PastCall,
    Route,
)

NOW = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
PRINCIPAL = "+12125550100"
FORWARDING = "+12125550199"
CALLED = "+13125550101"
CALLER = "+14155550123"
ALICE = Agent(id="alice", work_phone="+13125559001", direct_number=CALLED)
BOB = Agent(id="bob", work_phone="+13125559002", direct_number="+13125550102")
CAROL = Agent(id="carol", work_phone="+13125559003", direct_number="+13125550103")
ORG = OrgPolicy(slug="acme", principal_number=PRINCIPAL, forwarding_number=FORWARDING)


def facts(**changes: object) -> InboundFacts:
    """A call from CALLER to CALLED where every step of the default path could ring."""
    base = InboundFacts(org=ORG, called=CALLED, caller=CALLER, path=DEFAULT_CALL_PATH,
                        direct_user=ALICE,
                        last_call=PastCall("c1", NOW - timedelta(days=2), CALLED, "bob"),
                        last_caller=BOB, lead_owner=CAROL)
    return replace(base, **changes)  # type: ignore[arg-type]


def steps(route: Route) -> list[tuple[str, str]]:
    return [(step.step, step.result) for step in route.trace]


def test_a_users_direct_number_rings_that_users_work_phone() -> None:
    """Step 1: the called number is alice's direct number."""
    route = route_inbound(facts(), NOW)
    assert (route.destination, route.rule, route.user) == (ALICE.work_phone, "direct_number",
                                                           "alice")
    assert route.rule is InboundStep.DIRECT_NUMBER
    assert [s.as_dict() for s in route.trace] == [{
        "step": "direct_number", "result": "chosen", "number": ALICE.work_phone,
        "detail": f"{CALLED} is alice's direct number: ringing alice's work phone"}]


def test_a_number_no_user_has_passes_to_the_last_caller() -> None:
    """Step 2: the user who called the caller last rings, within the lookback window."""
    route = route_inbound(facts(direct_user=None), NOW)
    assert (route.destination, route.rule, route.user) == (BOB.work_phone, "last_caller", "bob")
    assert route.trace[0].detail == f"{CALLED} is no user's direct number"
    assert route.trace[1].detail == (f"bob called {CALLER} last, on "
                                     f"{NOW - timedelta(days=2):%Y-%m-%d %H:%M}: ringing bob's "
                                     "work phone")


def test_an_inactive_or_unreachable_user_passes() -> None:
    """A step whose user is inactive or has no work phone passes to the next."""
    route = route_inbound(facts(direct_user=replace(ALICE, active=False),
                                last_caller=replace(BOB, work_phone=None)), NOW)
    assert (route.rule, route.user) == ("lead_owner", "carol")
    assert route.trace[0].detail == f"{CALLED} is alice's direct number: alice is inactive"
    assert route.trace[1].detail.endswith(": bob has no work phone")
    assert steps(route) == [("direct_number", "passed"), ("last_caller", "passed"),
                            ("lead_owner", "chosen")]


def test_a_last_call_older_than_the_lookback_window_passes() -> None:
    """Step 2 looks back ``last_caller_days`` days only (default 30)."""
    old = PastCall("c1", NOW - timedelta(days=31), CALLED, "bob")
    route = route_inbound(facts(direct_user=None, last_call=old), NOW)
    assert route.rule == "lead_owner"
    assert route.trace[1].detail == (f"the last call to {CALLER} was "
                                     f"{old.at:%Y-%m-%d}, over 30 days ago")
    longer = replace(ORG, last_caller_days=60)
    assert route_inbound(facts(org=longer, direct_user=None, last_call=old), NOW).rule \
        == "last_caller"


def test_no_last_call_and_a_caller_who_is_no_longer_a_user_pass() -> None:
    """Step 2 passes when nobody called the caller, or the caller's user was removed."""
    nobody = route_inbound(facts(direct_user=None, last_call=None, last_caller=None), NOW)
    assert nobody.trace[1].detail == f"no user of the organization called {CALLER}"
    gone = route_inbound(facts(direct_user=None, last_caller=None), NOW)
    assert gone.trace[1].detail == f"bob, who last called {CALLER}, is no longer a user"
    assert nobody.rule == gone.rule == "lead_owner"


def test_the_lead_owner_rings_only_with_a_direct_number() -> None:
    """Step 3: the owner of the caller's contact, if the owner has a direct number."""
    route = route_inbound(facts(direct_user=None, last_call=None), NOW)
    assert (route.destination, route.rule, route.user) == (CAROL.work_phone, "lead_owner",
                                                           "carol")
    assert route.trace[2].detail == "the caller is carol's lead: ringing carol's work phone"
    without = route_inbound(facts(direct_user=None, last_call=None,
                                  lead_owner=replace(CAROL, direct_number=None)), NOW)
    assert without.rule == "forwarding"
    assert without.trace[2].detail == "the lead's owner carol has no direct number"
    nobody = route_inbound(facts(direct_user=None, last_call=None, lead_owner=None), NOW)
    assert nobody.trace[2].detail == f"{CALLER} is not a contact with an owner"


def test_the_forwarding_number_then_the_principal() -> None:
    """Steps 4 and 5: the organization's forwarding number, then its principal number."""
    bare = facts(direct_user=None, last_call=None, lead_owner=None)
    route = route_inbound(bare, NOW)
    assert (route.destination, route.rule, route.user) == (FORWARDING, "forwarding", None)
    assert route.trace[-1].detail == "the organization's forwarding number"
    company = route_inbound(replace(bare, org=replace(ORG, forwarding_number=None)), NOW)
    assert (company.destination, company.rule, company.user) == (PRINCIPAL, "company", None)
    assert [s.detail for s in company.trace[-2:]] == [
        "the organization has no forwarding number", "the organization's principal number"]


def test_a_withheld_caller_passes_the_steps_that_need_its_number() -> None:
    """An anonymous caller has no last caller and no lead owner to look up."""
    route = route_inbound(facts(caller=WITHHELD, direct_user=None), NOW)
    assert route.rule == "forwarding"
    assert [s.detail for s in route.trace[1:3]] == [
        "the caller's number is withheld: no last caller to look up",
        "the caller's number is withheld: no lead owner to look up"]


def test_the_call_path_sets_the_order_and_which_steps_run() -> None:
    """A per-organization or per-number path moves and removes steps."""
    path = (InboundStep.LEAD_OWNER, InboundStep.DIRECT_NUMBER)
    route = route_inbound(facts(path=path), NOW)
    assert (route.rule, route.user) == ("lead_owner", "carol")
    assert steps(route) == [("lead_owner", "chosen")]


def test_a_path_that_gives_no_destination_rings_the_principal() -> None:
    """Without a company step, a path that finds nobody still ends at the principal."""
    route = route_inbound(facts(path=(InboundStep.DIRECT_NUMBER,), direct_user=None), NOW)
    assert (route.destination, route.rule, route.user) == (PRINCIPAL, "company", None)
    assert route.trace[-1].as_dict() == {
        "step": "company", "result": "chosen", "number": PRINCIPAL,
        "detail": "the call path gave no destination: the principal number"}
    assert steps(route) == [("direct_number", "passed"), ("company", "chosen")]


def test_a_route_as_json() -> None:
    """The API's and the CLI's shape."""
    route = replace(route_inbound(facts(), NOW), call_id="in_1")
    assert route.as_dict() == {"call_id": "in_1", "destination": ALICE.work_phone,
                               "rule": "direct_number", "user": "alice",
                               "trace": [route.trace[0].as_dict()]}
    assert type(route.as_dict()["rule"]) is str
