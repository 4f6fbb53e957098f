"""SPEC 4: where a call to one of our numbers rings, through the service on the in-memory store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callsign.domain.errors import NotFound
from callsign.domain.model import Decision, NumberStatus, Route
from tests.fakes.store import FakeStore

Dial = Callable[..., Decision]
Ring = Callable[..., Route]
Rows = Callable[[], list[Any]]

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)

PRINCIPAL = "+12125550100"
FORWARDING = "+12125550199"
ALICE_DIRECT = "+13125550101"
BOB_DIRECT = "+14155550105"
SALES_LINE = "+12015550106"  # no one's direct number
MANHATTAN = "+16465550104"

ALICE_PHONE = "+13125559001"
BOB_PHONE = "+14155559002"
CAROL_PHONE = "+12015559003"

ALICES_LEAD = "+14155550123"
BOBS_LEAD = "+17735550150"
CAROLS_LEAD = "+13125550177"
STRANGER = "+19075550100"


def org(**settings: Any) -> dict[str, Any]:
    """alice and bob have direct numbers; carol has none. Each owns one lead."""
    users = {
        "alice": {"id": "alice", "work_phone": ALICE_PHONE, "caller_id": ALICE_DIRECT,
                  "direct_number": ALICE_DIRECT},
        "bob": {"id": "bob", "work_phone": BOB_PHONE, "caller_id": BOB_DIRECT,
                "direct_number": BOB_DIRECT},
        "carol": {"id": "carol", "work_phone": CAROL_PHONE},
    }
    for key, changes in settings.pop("user_changes", {}).items():
        users[key] = {**users[key], **changes}
    numbers = settings.pop("numbers", [
        {"number": ALICE_DIRECT}, {"number": BOB_DIRECT}, {"number": SALES_LINE},
        {"number": MANHATTAN, "status": "paused"},
    ])
    if all(n["number"] != PRINCIPAL for n in numbers):  # the principal is always held
        numbers = [*numbers, {"number": PRINCIPAL}]
    return {
        "org": "acme",
        "principal_number": PRINCIPAL,
        "forwarding_number": FORWARDING,
        "numbers": numbers,
        "users": list(users.values()),
        "contacts": [
            {"phone": ALICES_LEAD, "owner": "alice"},
            {"phone": BOBS_LEAD, "owner": "bob"},
            {"phone": CAROLS_LEAD, "owner": "carol"},
        ],
        **settings,
    }


def steps(route: Route) -> list[tuple[str, str]]:
    return [(step.step, step.result) for step in route.trace]


def detail(route: Route, step: str) -> str:
    (found,) = [s.detail for s in route.trace if s.step == step]
    return found


def answer(route: Route) -> tuple[str, str, str | None]:
    return route.destination, route.rule, route.user


# -- direct_number -------------------------------------------------------------------------

def test_call_to_a_direct_number_rings_that_users_work_phone(
    apply_org: Any, ring: Ring
) -> None:
    """The first step: the called number is alice's direct number."""
    apply_org(org())

    route = ring(to=ALICE_DIRECT, caller=BOBS_LEAD, at=NOW)

    assert answer(route) == (ALICE_PHONE, "direct_number", "alice")
    assert steps(route) == [("direct_number", "chosen")]
    assert "alice's direct number" in detail(route, "direct_number")


def test_called_number_is_accepted_in_any_common_format(apply_org: Any, ring: Ring) -> None:
    """A called number written nationally is still recognised as ours."""
    apply_org(org())

    route = ring(to="(312) 555-0101", caller="415 555 0123", at=NOW)

    assert answer(route) == (ALICE_PHONE, "direct_number", "alice")


@pytest.mark.parametrize(
    ("changes", "why"),
    [pytest.param({"active": False}, "alice is inactive", id="inactive"),
     pytest.param({"work_phone": None}, "alice has no work phone", id="no-work-phone")],
)
def test_direct_number_of_an_unreachable_user_passes(
    apply_org: Any, ring: Ring, changes: dict[str, Any], why: str
) -> None:
    """An inactive user, or one without a work phone, does not take the call."""
    apply_org(org(user_changes={"alice": changes}))

    route = ring(to=ALICE_DIRECT, caller=STRANGER, at=NOW)

    assert answer(route) == (FORWARDING, "forwarding", None)
    assert steps(route)[0] == ("direct_number", "passed")
    assert why in detail(route, "direct_number")


# -- last_caller ---------------------------------------------------------------------------

def test_call_back_rings_the_user_who_last_called_within_the_lookback(
    apply_org: Any, dial: Dial, ring: Ring
) -> None:
    """A stranger bob called 29 days ago calls back: bob's work phone rings."""
    apply_org(org())
    dial(user="bob", to=STRANGER, at=NOW)

    route = ring(to=SALES_LINE, caller=STRANGER, at=NOW + timedelta(days=29))

    assert answer(route) == (BOB_PHONE, "last_caller", "bob")
    assert steps(route) == [("direct_number", "passed"), ("last_caller", "chosen")]
    assert "bob called +19075550100 last, on 2026-03-02 17:00" in detail(route, "last_caller")


def test_call_back_rings_the_most_recent_caller(apply_org: Any, dial: Dial, ring: Ring) -> None:
    """When several users called, the latest one gets the call back."""
    apply_org(org())
    dial(user="alice", to=STRANGER, at=NOW)
    dial(user="carol", to=STRANGER, at=NOW + timedelta(days=1))

    route = ring(to=SALES_LINE, caller=STRANGER, at=NOW + timedelta(days=2))

    assert answer(route) == (CAROL_PHONE, "last_caller", "carol")


def test_last_caller_beyond_the_lookback_window_passes(
    apply_org: Any, dial: Dial, ring: Ring
) -> None:
    """31 days after the call, the default 30-day window is over."""
    apply_org(org())
    dial(user="bob", to=STRANGER, at=NOW)

    route = ring(to=SALES_LINE, caller=STRANGER, at=NOW + timedelta(days=31))

    assert answer(route) == (FORWARDING, "forwarding", None)
    assert ("last_caller", "passed") in steps(route)
    assert "over 30 days ago" in detail(route, "last_caller")


@pytest.mark.parametrize(
    ("days_later", "expected"),
    [pytest.param(6, (BOB_PHONE, "last_caller", "bob"), id="within-7-days"),
     pytest.param(8, (FORWARDING, "forwarding", None), id="after-7-days")],
)
def test_lookback_window_is_set_per_organization(
    apply_org: Any, dial: Dial, ring: Ring, days_later: int, expected: tuple[str, str, str | None]
) -> None:
    """inbound.last_caller_days shortens the window."""
    apply_org(org(inbound={"last_caller_days": 7}))
    dial(user="bob", to=STRANGER, at=NOW)

    route = ring(to=SALES_LINE, caller=STRANGER, at=NOW + timedelta(days=days_later))

    assert answer(route) == expected


def test_last_caller_who_is_now_inactive_passes(
    apply_org: Any, dial: Dial, ring: Ring
) -> None:
    """A call back does not ring a user who was deactivated since calling."""
    apply_org(org())
    dial(user="bob", to=STRANGER, at=NOW)
    apply_org(org(user_changes={"bob": {"active": False}}))

    route = ring(to=SALES_LINE, caller=STRANGER, at=NOW + timedelta(days=1))

    assert answer(route) == (FORWARDING, "forwarding", None)
    assert "bob is inactive" in detail(route, "last_caller")


# -- lead_owner ----------------------------------------------------------------------------

def test_a_lead_calling_in_rings_its_owner(apply_org: Any, ring: Ring) -> None:
    """A contact never called back still reaches its owner, who has a direct number."""
    apply_org(org())

    route = ring(to=SALES_LINE, caller=ALICES_LEAD, at=NOW)

    assert answer(route) == (ALICE_PHONE, "lead_owner", "alice")
    assert steps(route) == [("direct_number", "passed"), ("last_caller", "passed"),
                            ("lead_owner", "chosen")]


def test_lead_owner_without_a_direct_number_does_not_qualify(
    apply_org: Any, ring: Ring
) -> None:
    """carol has no direct number, so her lead goes to the forwarding number."""
    apply_org(org())

    route = ring(to=SALES_LINE, caller=CAROLS_LEAD, at=NOW)

    assert answer(route) == (FORWARDING, "forwarding", None)
    assert "the lead's owner carol has no direct number" in detail(route, "lead_owner")


def test_inactive_lead_owner_does_not_qualify(apply_org: Any, ring: Ring) -> None:
    """A deactivated owner's lead goes on down the call path."""
    apply_org(org(user_changes={"alice": {"active": False}}))

    route = ring(to=SALES_LINE, caller=ALICES_LEAD, at=NOW)

    assert answer(route) == (FORWARDING, "forwarding", None)
    assert "alice is inactive" in detail(route, "lead_owner")


def test_last_caller_comes_before_the_lead_owner(apply_org: Any, dial: Dial, ring: Ring) -> None:
    """In the default order the user who called the lead last beats its owner."""
    apply_org(org())
    dial(user="carol", to=ALICES_LEAD, at=NOW)

    route = ring(to=SALES_LINE, caller=ALICES_LEAD, at=NOW + timedelta(hours=1))

    assert answer(route) == (CAROL_PHONE, "last_caller", "carol")


# -- forwarding and company ----------------------------------------------------------------

def test_unknown_caller_goes_to_the_forwarding_number(apply_org: Any, ring: Ring) -> None:
    """No user called them and they are nobody's lead: the forwarding number."""
    apply_org(org())

    route = ring(to=SALES_LINE, caller=STRANGER, at=NOW)

    assert answer(route) == (FORWARDING, "forwarding", None)
    assert [step for step, _ in steps(route)] == [
        "direct_number", "last_caller", "lead_owner", "forwarding"]


def test_without_a_forwarding_number_the_company_number_rings(
    apply_org: Any, ring: Ring
) -> None:
    """The principal number is the end of the default call path."""
    document = org()
    del document["forwarding_number"]
    apply_org(document)

    route = ring(to=SALES_LINE, caller=STRANGER, at=NOW)

    assert answer(route) == (PRINCIPAL, "company", None)
    assert "no forwarding number" in detail(route, "forwarding")


# -- custom call paths ---------------------------------------------------------------------

def test_organization_call_path_reorders_the_steps(apply_org: Any, ring: Ring) -> None:
    """With lead_owner first, bob's lead calling alice's direct number rings bob."""
    apply_org(org(inbound={"path": ["lead_owner", "direct_number", "company"]}))

    route = ring(to=ALICE_DIRECT, caller=BOBS_LEAD, at=NOW)

    assert answer(route) == (BOB_PHONE, "lead_owner", "bob")
    assert steps(route) == [("lead_owner", "chosen")]


def test_organization_call_path_can_drop_steps(apply_org: Any, ring: Ring) -> None:
    """Without direct_number in the path, a direct number no longer rings its user."""
    apply_org(org(inbound={"path": ["forwarding", "company"]}))

    route = ring(to=ALICE_DIRECT, caller=ALICES_LEAD, at=NOW)

    assert answer(route) == (FORWARDING, "forwarding", None)
    assert steps(route) == [("forwarding", "chosen")]


def test_a_number_can_have_its_own_call_path(apply_org: Any, ring: Ring) -> None:
    """numbers[].call_path overrides the organization's path for that number only."""
    apply_org(org(numbers=[{"number": ALICE_DIRECT, "call_path": ["company"]},
                           {"number": BOB_DIRECT}, {"number": SALES_LINE}]))

    own_path = ring(to=ALICE_DIRECT, caller=BOBS_LEAD, at=NOW)
    org_path = ring(to=BOB_DIRECT, caller=ALICES_LEAD, at=NOW)

    assert answer(own_path) == (PRINCIPAL, "company", None)
    assert steps(own_path) == [("company", "chosen")]
    assert answer(org_path) == (BOB_PHONE, "direct_number", "bob")


# -- which numbers route -------------------------------------------------------------------

@pytest.mark.parametrize("status", ["paused", "resting"])
def test_paused_and_resting_numbers_still_route_call_backs(
    apply_org: Any, ring: Ring, status: str
) -> None:
    """Numbers we stopped presenting keep ringing their users."""
    apply_org(org(numbers=[{"number": ALICE_DIRECT, "status": status}, {"number": BOB_DIRECT}]))

    route = ring(to=ALICE_DIRECT, caller=STRANGER, at=NOW)

    assert answer(route) == (ALICE_PHONE, "direct_number", "alice")


def test_number_paused_through_the_inventory_still_routes(
    apply_org: Any, ring: Ring, fake: FakeStore
) -> None:
    """`numbers pause` stops presenting, not routing."""
    apply_org(org())
    fake.set_status("acme", SALES_LINE, NumberStatus.PAUSED)

    route = ring(to=SALES_LINE, caller=ALICES_LEAD, at=NOW)

    assert answer(route) == (ALICE_PHONE, "lead_owner", "alice")


def test_released_number_is_refused(
    apply_org: Any, ring: Ring, fake: FakeStore, recorded_inbound: Rows
) -> None:
    """A released number belongs to no organization any more, even with history."""
    apply_org(org())
    ring(to=SALES_LINE, caller=STRANGER, at=NOW)
    released = fake.release("acme", SALES_LINE)

    with pytest.raises(NotFound) as refused:
        ring(to=SALES_LINE, caller=STRANGER, at=NOW + timedelta(hours=1))

    assert released == (SALES_LINE, "released")
    assert refused.value.field == "to"
    assert len(recorded_inbound()) == 1


def test_number_no_organization_holds_is_refused(
    apply_org: Any, ring: Ring, recorded_inbound: Rows
) -> None:
    """A valid number that was never added is not ours to route."""
    apply_org(org())

    with pytest.raises(NotFound, match="is not a number any organization holds") as refused:
        ring(to="+13125550999", caller=STRANGER, at=NOW)

    assert refused.value.field == "to"
    assert recorded_inbound() == []


@pytest.mark.parametrize("caller", ["12345", "anonymous", "Restricted", "Unavailable", ""])
def test_a_withheld_or_invalid_caller_is_routed_as_anonymous(
    apply_org: Any, ring: Ring, recorded_inbound: Rows, caller: str
) -> None:
    """A caller whose number is withheld or not a number is routed, not refused: the
    steps that need the caller's number pass, saying why; the call is recorded."""
    apply_org(org())

    route = ring(to=SALES_LINE, caller=caller, at=NOW)

    (row,) = recorded_inbound()
    assert row.from_number == "anonymous"
    assert row.destination == route.destination
    withheld = [step.detail for step in route.trace
                if step.step in ("last_caller", "lead_owner")]
    assert withheld
    assert all("withheld" in detail for detail in withheld)


# -- recording -----------------------------------------------------------------------------

def test_inbound_call_is_recorded_with_its_route(
    apply_org: Any, ring: Ring, recorded_inbound: Rows
) -> None:
    """The inbound call is stored with destination, rule, user and trace."""
    apply_org(org())

    route = ring(to=SALES_LINE, caller="(415) 555-0123", at=NOW)

    (row,) = recorded_inbound()
    assert row.id == route.call_id
    assert (row.at, row.to_number, row.from_number) == (NOW, SALES_LINE, ALICES_LEAD)
    assert (row.destination, row.rule, row.user_key) == (ALICE_PHONE, "lead_owner", "alice")
    assert row.trace == [step.as_dict() for step in route.trace]
