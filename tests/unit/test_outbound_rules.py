"""SPEC 2 and 3: which caller ID an outbound call presents, through the service on the
in-memory store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callsign.domain.errors import InvalidNumber, NotFound, NotPresentable, OutsideCallingHours
from callsign.domain.model import Channel, Decision, NumberStatus
from callsign.services import calls
from tests.fakes.store import FakeStore

Dial = Callable[..., Decision]
Rows = Callable[[], list[Any]]

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # a Monday: 11:00 in Chicago, 12:00 in New York

PRINCIPAL = "+12125550100"
CHI1 = "+13125550101"  # area code 312, Chicago; geocoded "Chicago, IL"
CHI2 = "+13125550102"
CHI3 = "+13125550103"
AURORA = "+16305550142"  # area code 630; geocoded "Illinois"
SF = "+14155550105"
NWK1 = "+12015550106"
NWK2 = "+12015550107"
NWK3 = "+12015550108"
MANHATTAN = "+16465550104"

CHICAGO_CONTACT = "+13125550188"
CHICAGO_773 = "+17735550150"
SPRINGFIELD_IL = "+12175550123"  # area code 217: no number of ours serves it
ALASKA = "+19075550100"


def number(e164: str, **settings: Any) -> dict[str, Any]:
    return {"number": e164, **settings}


def org(*, numbers: list[dict[str, Any]] | None = None, users: list[dict[str, Any]] | None = None,
        **settings: Any) -> dict[str, Any]:
    """An organization document with alice (no caller ID) unless told otherwise; the
    principal number is always among its numbers (SPEC 2)."""
    listed = numbers if numbers is not None else [
        number(CHI1), number(CHI2), number(SF), number(NWK1), number(NWK2),
        number(MANHATTAN, status="paused"),
    ]
    principal = settings.get("principal_number", PRINCIPAL)
    if all(n["number"] != principal for n in listed):
        listed = [*listed, number(principal)]
    return {
        "org": "acme",
        "principal_number": PRINCIPAL,
        "timezone": "America/New_York",
        "numbers": listed,
        "users": users if users is not None else [{"id": "alice", "work_phone": "+13125559001"}],
        **settings,
    }


def alice(**settings: Any) -> dict[str, Any]:
    return {"id": "alice", "work_phone": "+13125559001", **settings}


def project(pool: list[str], **settings: Any) -> dict[str, Any]:
    return {"id": "renewals", "numbers": pool, **settings}


def steps(decision: Decision) -> list[tuple[str, str]]:
    """The trace as (step, result) pairs."""
    return [(step.step, step.result) for step in decision.trace]


def detail(decision: Decision, step: str) -> str:
    """The detail of the one trace step named ``step``."""
    (found,) = [s.detail for s in decision.trace if s.step == step]
    return found


def later(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def used_today(fake: FakeStore, e164: str, at: datetime = NOW) -> int:
    return fake.used_today("acme", e164, at)


def assert_recorded(rows: list[Any], decision: Decision, *, user: str = "alice",
                    project: str | None = None) -> None:
    """The decision was stored as the newest call, with its rule and trace."""
    row = rows[-1]
    assert row.id == decision.call_id
    assert (row.caller_id, row.rule, row.to_number, row.user_key, row.project_key) == (
        decision.caller_id, decision.rule, decision.to, user, project)
    assert row.trace == [step.as_dict() for step in decision.trace]


# -- SPEC 3.1: per-call override -----------------------------------------------------------

def test_override_presents_the_caller_id_asked_for_the_call(
    apply_org: Any, dial: Dial, recorded_calls: Rows
) -> None:
    """A presentable caller ID asked for one call is used, in any common format."""
    apply_org(org(local_presence=True))

    decision = dial(user="alice", to="(312) 555-0188", at=NOW, caller_id="(415) 555-0105",
                    channel=Channel.CLICK_TO_DIAL)

    assert (decision.caller_id, decision.rule, decision.to) == (SF, "override", CHICAGO_CONTACT)
    assert steps(decision) == [("override", "chosen")]
    assert decision.call_id.startswith("call_")
    assert_recorded(recorded_calls(), decision)
    assert (recorded_calls()[0].channel, recorded_calls()[0].at) == ("click_to_dial", NOW)


@pytest.mark.parametrize(
    ("settings", "asked", "reason"),
    [
        pytest.param({}, MANHATTAN, "is paused", id="paused"),
        pytest.param({"restrict_caller_ids": True, "users": [alice(allowed_caller_ids=[CHI1])]},
                     SF, "is not among alice's allowed caller IDs", id="restricted"),
        pytest.param({}, "+19075550199", "is not one of the organization's numbers",
                     id="not-ours"),
    ],
)
def test_override_that_is_not_presentable_is_refused_and_records_nothing(
    apply_org: Any, dial: Dial, recorded_calls: Rows, settings: dict[str, Any], asked: str,
    reason: str,
) -> None:
    """The asked caller ID is never silently replaced: the request is refused instead."""
    apply_org(org(**settings))

    with pytest.raises(NotPresentable) as refused:
        dial(user="alice", to=CHICAGO_CONTACT, at=NOW, caller_id=asked)

    assert refused.value.field == "caller_id"
    assert str(refused.value) == f"caller_id: {asked} {reason}; it cannot be presented"
    assert recorded_calls() == []


def test_override_of_a_number_at_its_daily_cap_is_refused(
    apply_org: Any, dial: Dial, recorded_calls: Rows, fake: FakeStore
) -> None:
    """A number that reached its daily cap may not be asked for either."""
    apply_org(org(numbers=[number(SF, daily_cap=1)]))
    dial(user="alice", to=CHICAGO_CONTACT, at=NOW, caller_id=SF)

    with pytest.raises(NotPresentable, match=r"reached its daily cap \(1/1\)"):
        dial(user="alice", to=CHICAGO_CONTACT, at=later(1), caller_id=SF)

    assert len(recorded_calls()) == 1
    assert used_today(fake, SF) == 1


# -- SPEC 3.2.1: agent number precedence ---------------------------------------------------

def test_use_agent_presents_the_users_caller_id_before_the_pool(
    apply_org: Any, dial: Dial, recorded_calls: Rows
) -> None:
    """agent_number: use_agent → the user's presentable caller ID, rule agent_number."""
    apply_org(org(users=[alice(caller_id=SF)],
                  projects=[project([NWK1, NWK2], agent_number="use_agent")]))

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals")

    assert (decision.caller_id, decision.rule) == (SF, "agent_number")
    assert steps(decision) == [("agent_number", "chosen")]
    assert_recorded(recorded_calls(), decision, project="renewals")


def test_use_project_skips_the_users_caller_id(apply_org: Any, dial: Dial) -> None:
    """agent_number: use_project → a pool number even though the user has a caller ID."""
    apply_org(org(users=[alice(caller_id=SF)],
                  projects=[project([NWK1, NWK2], agent_number="use_project")]))

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals")

    assert decision.caller_id in {NWK1, NWK2}
    assert decision.rule == "random"
    assert steps(decision)[0] == ("agent_number", "passed")
    assert "uses the project's numbers" in detail(decision, "agent_number")


def test_use_agent_with_an_unpresentable_caller_id_falls_to_the_pool(
    apply_org: Any, dial: Dial
) -> None:
    """A paused agent caller ID passes to the project's pool."""
    apply_org(org(users=[alice(caller_id=MANHATTAN)],
                  projects=[project([NWK1], agent_number="use_agent")]))

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals")

    assert (decision.caller_id, decision.rule) == (NWK1, "random")
    assert steps(decision)[0] == ("agent_number", "passed")
    assert "is paused" in detail(decision, "agent_number")


# -- SPEC 3.2.2: keep the previous number --------------------------------------------------

def _two_projects(keep_previous: bool) -> dict[str, Any]:
    return org(projects=[
        {"id": "outreach", "numbers": [SF]},
        project([NWK1, NWK2], keep_previous_number=keep_previous),
    ])


def test_keep_previous_number_reuses_the_number_of_the_last_call_in_any_project(
    apply_org: Any, dial: Dial, recorded_calls: Rows
) -> None:
    """The contact sees again the number the organization last called from."""
    apply_org(_two_projects(keep_previous=True))
    first = dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="outreach")
    assert first.caller_id == SF

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=later(24), project="renewals", seed=3)

    assert (decision.caller_id, decision.rule) == (SF, "previous_number")
    assert ("previous_number", "chosen") in steps(decision)
    assert "2026-03-02 17:00" in detail(decision, "previous_number")
    assert_recorded(recorded_calls(), decision, project="renewals")


def test_without_keep_previous_number_the_pool_decides(apply_org: Any, dial: Dial) -> None:
    """keep_previous_number: false ignores the earlier call's number."""
    apply_org(_two_projects(keep_previous=False))
    dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="outreach")

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=later(24), project="renewals")

    assert decision.caller_id in {NWK1, NWK2}
    assert "previous_number" not in [step for step, _ in steps(decision)]


def test_previous_number_no_longer_presentable_passes_to_the_pool(
    apply_org: Any, dial: Dial, fake: FakeStore
) -> None:
    """A previous number that was paused since is not presented again."""
    apply_org(_two_projects(keep_previous=True))
    dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="outreach")
    fake.set_status("acme", SF, NumberStatus.PAUSED)

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=later(24), project="renewals")

    assert decision.caller_id in {NWK1, NWK2}
    assert ("previous_number", "passed") in steps(decision)
    assert "is paused" in detail(decision, "previous_number")


# -- SPEC 3.2.3: calls after the first -----------------------------------------------------

def _callback_project(next_calls: str = "random") -> dict[str, Any]:
    return org(numbers=[number(NWK1), number(NWK2), number(NWK3)],
               projects=[project([NWK1, NWK2, NWK3], first_call=NWK2, next_calls=next_calls,
                                 outcome_numbers={"asked_callback": NWK1})])


def test_outcome_of_the_last_call_names_the_next_number(
    apply_org: Any, dial: Dial, fake: FakeStore, recorded_calls: Rows
) -> None:
    """An outcome listed in outcome_numbers picks the number of the next call."""
    apply_org(_callback_project())
    first = dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals")
    calls.record_outcome(fake.uow(), first.call_id, "asked_callback", now=later(0.1))

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=later(2), project="renewals", seed=5)

    assert (decision.caller_id, decision.rule) == (NWK1, "outcome_number")
    assert ("outcome_number", "chosen") in steps(decision)
    assert "asked_callback" in detail(decision, "outcome_number")
    assert recorded_calls()[0].outcome == "asked_callback"
    assert_recorded(recorded_calls(), decision, project="renewals")


def test_outcome_number_not_presentable_falls_back_to_next_calls(
    apply_org: Any, dial: Dial, fake: FakeStore
) -> None:
    """A paused outcome number is skipped; the next_calls logic decides instead."""
    apply_org(_callback_project(next_calls="different_each_attempt"))
    first = dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals")
    calls.record_outcome(fake.uow(), first.call_id, "asked_callback", now=later(0.1))
    fake.set_status("acme", NWK1, NumberStatus.PAUSED)

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=later(2), project="renewals")

    # NWK1 is paused and NWK2 was used by the first call: NWK3 is the only unused one.
    assert (decision.caller_id, decision.rule) == (NWK3, "different_each_attempt")
    assert ("outcome_number", "passed") in steps(decision)
    assert f"names {NWK1}, not a presentable pool number" in detail(decision, "outcome_number")


def test_outcome_naming_no_number_uses_next_calls(
    apply_org: Any, dial: Dial, fake: FakeStore
) -> None:
    """An outcome missing from outcome_numbers leaves the choice to next_calls."""
    apply_org(_callback_project(next_calls="different_each_attempt"))
    first = dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals")
    calls.record_outcome(fake.uow(), first.call_id, "no_answer", now=later(0.1))

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=later(2), project="renewals")

    assert decision.rule == "different_each_attempt"
    assert decision.caller_id in {NWK1, NWK3}
    assert "(no_answer) names no number" in detail(decision, "outcome_number")


# -- SPEC 3.2.4: first call ----------------------------------------------------------------

def test_first_call_presents_the_projects_fixed_number(
    apply_org: Any, dial: Dial, recorded_calls: Rows
) -> None:
    """first_call set to a pool number presents it, whatever the seed."""
    apply_org(org(projects=[project([NWK1, NWK2], first_call=NWK2)]))

    decisions = [dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals", seed=s,
                      dry_run=True) for s in range(8)]
    recorded = dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals")

    assert {(d.caller_id, d.rule) for d in decisions} == {(NWK2, "first_call_number")}
    assert ("first_call_number", "chosen") in steps(recorded)
    assert_recorded(recorded_calls(), recorded, project="renewals")


def test_first_call_number_not_presentable_falls_back_to_random(
    apply_org: Any, dial: Dial, fake: FakeStore
) -> None:
    """A paused first_call number gives way to a random pool number."""
    apply_org(org(numbers=[number(NWK1), number(NWK2), number(NWK3)],
                  projects=[project([NWK1, NWK2, NWK3], first_call=NWK2)]))
    fake.set_status("acme", NWK2, NumberStatus.PAUSED)

    decisions = [dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals", seed=s,
                      dry_run=True) for s in range(20)]

    assert {d.rule for d in decisions} == {"random"}
    assert {d.caller_id for d in decisions} == {NWK1, NWK3}
    assert ("first_call_number", "passed") in steps(decisions[0])
    assert "not presentable; using random" in detail(decisions[0], "first_call_number")


def test_random_chooses_uniformly_among_presentable_pool_numbers(
    apply_org: Any, dial: Dial
) -> None:
    """Every presentable pool number comes up; paused ones never do; a seed replays."""
    apply_org(org(numbers=[number(NWK1), number(NWK2), number(NWK3),
                           number(MANHATTAN, status="paused")],
                  projects=[project([NWK1, NWK2, NWK3, MANHATTAN], first_call="random")]))

    def decide(seed: int) -> Decision:
        return dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals", seed=seed,
                    dry_run=True)

    decisions = [decide(s) for s in range(40)]

    assert {d.rule for d in decisions} == {"random"}
    assert {d.caller_id for d in decisions} == {NWK1, NWK2, NWK3}
    assert decide(11).caller_id == decide(11).caller_id
    assert ("pool", "passed") in steps(decisions[0])
    assert "uniform choice among 3 pool numbers" in detail(decisions[0], "random")


def test_different_each_attempt_never_repeats_until_the_pool_is_used_up(
    apply_org: Any, dial: Dial
) -> None:
    """Each attempt gets an unused pool number; then the one used longest ago comes back."""
    apply_org(org(numbers=[number(NWK1), number(NWK2), number(NWK3)],
                  projects=[project([NWK1, NWK2, NWK3],
                                    next_calls="different_each_attempt")]))

    attempts = [dial(user="alice", to=CHICAGO_CONTACT, at=later(i), project="renewals", seed=i)
                for i in range(5)]

    used = [a.caller_id for a in attempts]
    assert sorted(used[:3]) == [NWK1, NWK2, NWK3]
    assert used[3:] == used[:2]  # the longest ago first, then the next longest ago
    assert [a.rule for a in attempts[1:]] == ["different_each_attempt"] * 4
    assert "2 of 3 pool numbers unused" in detail(attempts[1], "different_each_attempt")
    assert "was used for this contact; this one longest ago (2026-03-02 17:00)" in detail(
        attempts[3], "different_each_attempt")


def test_different_each_attempt_counts_only_this_contact(apply_org: Any, dial: Dial) -> None:
    """Calls to other contacts do not use up the pool for this one."""
    apply_org(org(numbers=[number(NWK1), number(NWK2)],
                  projects=[project([NWK1, NWK2], first_call=NWK1,
                                    next_calls="different_each_attempt")]))
    dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals")
    dial(user="alice", to=ALASKA, at=later(1), project="renewals")
    dial(user="alice", to=ALASKA, at=later(2), project="renewals")

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=later(3), project="renewals")

    assert (decision.caller_id, decision.rule) == (NWK2, "different_each_attempt")


# -- regionally_random ---------------------------------------------------------------------

def _regional(pool: list[str], contacts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return org(numbers=[number(CHI1, area_codes=["773"]), number(AURORA), number(SF),
                        number(NWK1)],
               contacts=contacts or [],
               projects=[project(pool, first_call="regionally_random")])


@pytest.mark.parametrize(
    ("callee", "area_code"),
    [pytest.param(CHICAGO_CONTACT, "312", id="own-area-code"),
     pytest.param(CHICAGO_773, "773", id="mapped-area-code")],
)
def test_regionally_random_picks_a_pool_number_serving_the_callees_area_code(
    apply_org: Any, dial: Dial, callee: str, area_code: str
) -> None:
    """A geographic callee gets a pool number serving its area code, whatever the seed."""
    apply_org(_regional([CHI1, AURORA, SF, NWK1]))

    decisions = [dial(user="alice", to=callee, at=NOW, project="renewals", seed=s,
                      dry_run=True) for s in range(10)]

    assert {(d.caller_id, d.rule) for d in decisions} == {(CHI1, "regionally_random")}
    assert f"random among 1 pool numbers serving area code {area_code}" in detail(
        decisions[0], "regionally_random")


@pytest.mark.parametrize(
    ("pool", "callee", "expected"),
    [
        # 630 is geocoded "Illinois", 312 "Chicago, IL": the same state once normalised.
        pytest.param([AURORA, SF, NWK1], CHICAGO_CONTACT, AURORA, id="Chicago-IL-callee"),
        pytest.param([CHI1, SF, NWK1], SPRINGFIELD_IL, CHI1, id="Illinois-callee"),
    ],
)
def test_regionally_random_falls_back_to_the_same_state(
    apply_org: Any, dial: Dial, pool: list[str], callee: str, expected: str
) -> None:
    """With no pool number in the area code, a number in the callee's state is chosen."""
    apply_org(_regional(pool))

    decisions = [dial(user="alice", to=callee, at=NOW, project="renewals", seed=s,
                      dry_run=True) for s in range(10)]

    assert {(d.caller_id, d.rule) for d in decisions} == {(expected, "regionally_random")}
    assert "random among 1 in Illinois" in detail(decisions[0], "regionally_random")


def test_regionally_random_with_nothing_nearby_is_plain_random(
    apply_org: Any, dial: Dial
) -> None:
    """A callee with no pool number in its area code or state gets any pool number."""
    apply_org(_regional([CHI1, SF, NWK1]))

    decisions = [dial(user="alice", to=ALASKA, at=NOW, project="renewals", seed=s,
                      dry_run=True) for s in range(30)]

    assert {d.caller_id for d in decisions} == {CHI1, SF, NWK1}
    assert "uniform choice in the pool" in detail(decisions[0], "regionally_random")


def test_regionally_random_gives_a_mobile_contact_plain_random(
    apply_org: Any, dial: Dial
) -> None:
    """A contact known to be a mobile gets any pool number, not the local one."""
    apply_org(_regional([CHI1, SF, NWK1],
                        contacts=[{"phone": CHICAGO_CONTACT, "line_type": "mobile"}]))

    decisions = [dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals", seed=s,
                      dry_run=True) for s in range(30)]

    assert {d.caller_id for d in decisions} == {CHI1, SF, NWK1}
    assert {d.rule for d in decisions} == {"regionally_random"}
    assert "the callee is a mobile" in detail(decisions[0], "regionally_random")


LONDON, MANCHESTER = "+442079460000", "+441612345678"
PRAGUE, BRNO = "+420222123456", "+420541123456"


@pytest.mark.parametrize(
    ("country", "pool", "callee", "expected"),
    [
        pytest.param("GB", [LONDON, MANCHESTER], "020 7123 4567", {LONDON}, id="London-area-code"),
        # Czech numbers have no geographic area code: the geocoder's area is the region.
        pytest.param("CZ", [PRAGUE, BRNO], "234 567 890", {PRAGUE}, id="Prague-region"),
        pytest.param("GB", [LONDON, MANCHESTER], "07911 123456", {LONDON, MANCHESTER},
                     id="UK-mobile-random"),
    ],
)
def test_regionally_random_outside_north_america(
    apply_org: Any, dial: Dial, country: str, pool: list[str], callee: str, expected: set[str]
) -> None:
    """Area codes, geocoder regions and mobile line types work for other countries too."""
    apply_org({"org": "acme", "default_country": country, "principal_number": pool[0],
               "numbers": [number(n) for n in pool], "users": [{"id": "alice"}],
               "projects": [project(pool, first_call="regionally_random")]})

    chosen = {dial(user="alice", to=callee, at=NOW, project="renewals", seed=s,
                   dry_run=True).caller_id for s in range(20)}

    assert chosen == expected


def test_local_presence_region_works_where_numbers_have_no_area_code(
    apply_org: Any, dial: Dial
) -> None:
    """A Prague callee gets the Prague number through the region fallback."""
    apply_org({"org": "acme", "default_country": "CZ", "principal_number": BRNO,
               "local_presence": True, "local_presence_fallback": "region",
               "numbers": [number(PRAGUE), number(BRNO)], "users": [{"id": "alice"}]})

    decision = dial(user="alice", to="234 567 890", at=NOW)

    assert (decision.caller_id, decision.rule) == (PRAGUE, "local_presence_region")
    assert "has no area code" in detail(decision, "local_presence")


# -- SPEC 3.2.5: the pool ran dry ----------------------------------------------------------

@pytest.mark.parametrize(
    ("caller_id", "expected", "rule"),
    [pytest.param(CHI1, CHI1, "user_caller_id", id="user-caller-id"),
     pytest.param(None, PRINCIPAL, "principal", id="principal")],
)
def test_a_dry_pool_continues_with_user_caller_id_skipping_local_presence(
    apply_org: Any, dial: Dial, recorded_calls: Rows, caller_id: str | None, expected: str,
    rule: str,
) -> None:
    """No presentable pool number → the user's caller ID, else the principal number."""
    user = alice(caller_id=caller_id) if caller_id else alice()
    apply_org(org(local_presence=True, users=[user],
                  numbers=[number(CHI1), number(CHI2), number(NWK1, status="paused")],
                  projects=[project([NWK1])]))

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=NOW, project="renewals")

    # CHI1 and CHI2 serve 312, but agent match and local presence are not tried.
    assert (decision.caller_id, decision.rule) == (expected, rule)
    names = [step for step, _ in steps(decision)]
    assert "agent_area_code" not in names
    assert "local_presence" not in names
    assert "project renewals has no presentable number" in [
        s.detail for s in decision.trace if s.step == "pool"]
    assert_recorded(recorded_calls(), decision, project="renewals")


# -- SPEC 3.3: organization logic ----------------------------------------------------------

@pytest.mark.parametrize(
    ("callee", "area_code"),
    [pytest.param(CHICAGO_CONTACT, "312", id="own-area-code"),
     pytest.param(CHICAGO_773, "773", id="mapped-area-code")],
)
def test_users_caller_id_serving_the_callees_area_code_wins(
    apply_org: Any, dial: Dial, recorded_calls: Rows, callee: str, area_code: str
) -> None:
    """Agent match comes before local presence, for own and mapped area codes."""
    apply_org(org(local_presence=True, users=[alice(caller_id=CHI1)],
                  numbers=[number(CHI1, area_codes=["773"]), number(CHI2, area_codes=["773"])]))

    decision = dial(user="alice", to=callee, at=NOW)

    assert (decision.caller_id, decision.rule) == (CHI1, "agent_area_code")
    assert steps(decision) == [("agent_area_code", "chosen")]
    assert f"serves area code {area_code}" in detail(decision, "agent_area_code")
    assert_recorded(recorded_calls(), decision)


def test_local_presence_rotates_the_least_recently_presented_number(
    apply_org: Any, dial: Dial, recorded_calls: Rows
) -> None:
    """Each call takes the number serving the area code that was presented longest ago."""
    apply_org(org(local_presence=True, users=[alice(caller_id=SF)],
                  numbers=[number(CHI1), number(CHI2), number(CHI3), number(SF)]))

    decisions = [dial(user="alice", to=f"+1312555{200 + i:04d}", at=later(i), seed=i)
                 for i in range(5)]

    used = [d.caller_id for d in decisions]
    assert sorted(used[:3]) == [CHI1, CHI2, CHI3]
    assert used[3:] == used[:2]
    assert {d.rule for d in decisions} == {"local_presence"}
    assert steps(decisions[0]) == [("agent_area_code", "passed"), ("local_presence", "chosen")]
    assert "of 3 presentable numbers serving area code 312 (never presented)" in detail(
        decisions[0], "local_presence")
    assert "(last presented 2026-03-02 17:00)" in detail(decisions[3], "local_presence")
    assert [row.caller_id for row in recorded_calls()] == used


def test_local_presence_breaks_ties_at_random(apply_org: Any, dial: Dial) -> None:
    """Numbers never presented tie; the seed picks among them."""
    apply_org(org(local_presence=True, numbers=[number(CHI1), number(CHI2), number(CHI3)]))

    chosen = {dial(user="alice", to=CHICAGO_CONTACT, at=NOW, seed=s, dry_run=True).caller_id
              for s in range(30)}

    assert chosen == {CHI1, CHI2, CHI3}


def test_local_presence_uses_mapped_area_codes(apply_org: Any, dial: Dial) -> None:
    """A number mapped to 773 serves a 773 callee."""
    apply_org(org(local_presence=True, numbers=[number(CHI1), number(CHI2, area_codes=["773"])]))

    decision = dial(user="alice", to=CHICAGO_773, at=NOW)

    assert (decision.caller_id, decision.rule) == (CHI2, "local_presence")


def test_local_presence_region_fallback_picks_a_number_in_the_callees_state(
    apply_org: Any, dial: Dial, recorded_calls: Rows
) -> None:
    """No number serves 217; with fallback region an Illinois number is presented."""
    apply_org(org(local_presence=True, local_presence_fallback="region",
                  numbers=[number(CHI1), number(SF), number(NWK1)]))

    decision = dial(user="alice", to=SPRINGFIELD_IL, at=NOW)

    assert (decision.caller_id, decision.rule) == (CHI1, "local_presence_region")
    assert steps(decision) == [("agent_area_code", "passed"), ("local_presence", "passed"),
                               ("local_presence_region", "chosen")]
    assert "no presentable number serves area code 217" in detail(decision, "local_presence")
    assert "in Illinois" in detail(decision, "local_presence_region")
    assert_recorded(recorded_calls(), decision)


def test_without_region_fallback_local_presence_passes_to_the_users_caller_id(
    apply_org: Any, dial: Dial
) -> None:
    """local_presence_fallback: none does not look beyond the area code."""
    apply_org(org(local_presence=True, users=[alice(caller_id=SF)],
                  numbers=[number(CHI1), number(SF)]))

    decision = dial(user="alice", to=SPRINGFIELD_IL, at=NOW)

    assert (decision.caller_id, decision.rule) == (SF, "user_caller_id")
    assert "local_presence_region" not in [step for step, _ in steps(decision)]


def test_local_presence_off_passes_to_the_users_caller_id(
    apply_org: Any, dial: Dial, recorded_calls: Rows
) -> None:
    """Without local presence the user's own caller ID is presented."""
    apply_org(org(users=[alice(caller_id=SF)]))

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=NOW)

    assert (decision.caller_id, decision.rule) == (SF, "user_caller_id")
    assert steps(decision) == [("agent_area_code", "passed"), ("local_presence", "passed"),
                               ("user_caller_id", "chosen")]
    assert "local presence is off" in detail(decision, "local_presence")
    assert_recorded(recorded_calls(), decision)


def test_principal_number_is_the_last_resort(
    apply_org: Any, dial: Dial, recorded_calls: Rows
) -> None:
    """With nothing else presentable the principal number is presented."""
    apply_org(org(local_presence=True, users=[alice(caller_id=MANHATTAN)]))

    decision = dial(user="alice", to=ALASKA, at=NOW)

    assert (decision.caller_id, decision.rule) == (PRINCIPAL, "principal")
    assert ("user_caller_id", "passed") in steps(decision)
    assert "is paused" in detail(decision, "user_caller_id")
    assert steps(decision)[-1] == ("principal", "chosen")
    assert_recorded(recorded_calls(), decision)


# -- SPEC 2: restrictions and caps ---------------------------------------------------------

def test_restricted_caller_ids_only_present_the_users_allowed_numbers(
    apply_org: Any, dial: Dial
) -> None:
    """With restrict_caller_ids, numbers outside the user's allowed list are skipped."""
    apply_org(org(local_presence=True, restrict_caller_ids=True,
                  users=[alice(allowed_caller_ids=[CHI2])],
                  numbers=[number(CHI1), number(CHI2), number(CHI3)]))

    decisions = [dial(user="alice", to=CHICAGO_CONTACT, at=NOW, seed=s, dry_run=True)
                 for s in range(10)]

    assert {(d.caller_id, d.rule) for d in decisions} == {(CHI2, "local_presence")}
    with pytest.raises(NotPresentable, match="is not among alice's allowed caller IDs"):
        dial(user="alice", to=CHICAGO_CONTACT, at=NOW, caller_id=CHI1, dry_run=True)


def test_a_number_at_its_daily_cap_passes_to_the_next_step(
    apply_org: Any, dial: Dial, fake: FakeStore
) -> None:
    """Once the cap is reached the number is skipped; the trace says so."""
    apply_org(org(users=[alice(caller_id=CHI1)], numbers=[number(CHI1, daily_cap=2)]))

    decisions = [dial(user="alice", to=CHICAGO_CONTACT, at=later(i)) for i in range(3)]

    assert [(d.caller_id, d.rule) for d in decisions] == [
        (CHI1, "agent_area_code"), (CHI1, "agent_area_code"), (PRINCIPAL, "principal")]
    assert "reached its daily cap (2/2)" in detail(decisions[2], "agent_area_code")
    assert used_today(fake, CHI1, later(3)) == 2


@pytest.mark.parametrize(
    ("timezone", "second_call"),
    [pytest.param("America/New_York", (PRINCIPAL, "principal"), id="same-day-in-New-York"),
     pytest.param("UTC", (CHI1, "agent_area_code"), id="next-day-in-UTC")],
)
def test_daily_caps_count_calendar_days_in_the_organizations_timezone(
    apply_org: Any, dial: Dial, timezone: str, second_call: tuple[str, str]
) -> None:
    """18:00 and 22:00 in New York are one day there, but two days in UTC."""
    apply_org(org(timezone=timezone, users=[alice(caller_id=CHI1)],
                  numbers=[number(CHI1, daily_cap=1)]))
    first = dial(user="alice", to=CHICAGO_CONTACT, at=datetime(2026, 3, 2, 23, 0, tzinfo=UTC))

    second = dial(user="alice", to=CHICAGO_CONTACT, at=datetime(2026, 3, 3, 3, 0, tzinfo=UTC))

    assert (first.caller_id, first.rule) == (CHI1, "agent_area_code")
    assert (second.caller_id, second.rule) == second_call


def test_daily_cap_resets_the_next_day(apply_org: Any, dial: Dial, fake: FakeStore) -> None:
    """After midnight in the organization's timezone the number is presentable again."""
    apply_org(org(users=[alice(caller_id=CHI1)], numbers=[number(CHI1, daily_cap=1)]))
    dial(user="alice", to=CHICAGO_CONTACT, at=datetime(2026, 3, 2, 23, 0, tzinfo=UTC))
    capped = dial(user="alice", to=CHICAGO_CONTACT, at=datetime(2026, 3, 3, 4, 0, tzinfo=UTC))

    next_day = datetime(2026, 3, 3, 5, 30, tzinfo=UTC)  # 00:30 on March 3 in New York
    decision = dial(user="alice", to=CHICAGO_CONTACT, at=next_day)

    assert capped.rule == "principal"
    assert (decision.caller_id, decision.rule) == (CHI1, "agent_area_code")
    assert used_today(fake, CHI1, next_day) == 1


# -- SPEC 3.4: calling hours ---------------------------------------------------------------

HOURS = {"start": "08:00", "end": "21:00"}
EARLY_IN_CHICAGO = datetime(2026, 3, 2, 13, 30, tzinfo=UTC)  # 07:30 Chicago, 08:30 New York


def test_call_outside_the_callees_calling_hours_is_refused_with_their_local_time(
    apply_org: Any, dial: Dial, recorded_calls: Rows, fake: FakeStore
) -> None:
    """The callee's local time decides, not the organization's, and nothing is recorded."""
    apply_org(org(calling_hours=HOURS, users=[alice(caller_id=CHI1)]))

    with pytest.raises(OutsideCallingHours) as refused:
        dial(user="alice", to=CHICAGO_CONTACT, at=EARLY_IN_CHICAGO)

    assert refused.value.field == "to"
    assert "07:30 America/Chicago" in str(refused.value)
    assert "08:00–21:00" in str(refused.value)
    assert recorded_calls() == []
    assert used_today(fake, CHI1, EARLY_IN_CHICAGO) == 0


def test_call_within_calling_hours_is_placed_and_the_check_traced(
    apply_org: Any, dial: Dial
) -> None:
    """At 08:00 in Chicago the call goes ahead; the trace shows the check."""
    apply_org(org(calling_hours=HOURS, users=[alice(caller_id=CHI1)]))

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=datetime(2026, 3, 2, 14, 0, tzinfo=UTC))

    assert decision.rule == "agent_area_code"
    assert steps(decision)[0] == ("calling_hours", "checked")
    assert "08:00 America/Chicago is within 08:00–21:00" in detail(decision, "calling_hours")


def test_consented_call_is_allowed_outside_calling_hours(
    apply_org: Any, dial: Dial, recorded_calls: Rows
) -> None:
    """A consented or urgent call goes ahead, and the trace says why."""
    apply_org(org(calling_hours=HOURS, users=[alice(caller_id=CHI1)]))

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=EARLY_IN_CHICAGO, consented=True)

    assert (decision.caller_id, decision.rule) == (CHI1, "agent_area_code")
    assert "outside 08:00–21:00; allowed: consented/urgent" in detail(decision, "calling_hours")
    assert_recorded(recorded_calls(), decision)


# -- SPEC 3.5: emergency numbers -----------------------------------------------------------

@pytest.mark.parametrize("dialled", ["911", "112"])
def test_emergency_call_presents_the_users_direct_number_even_outside_hours_and_caps(
    apply_org: Any, dial: Dial, recorded_calls: Rows, fake: FakeStore, dialled: str
) -> None:
    """Never refused, never capped, never counted: the user's direct number is presented."""
    apply_org(org(calling_hours=HOURS, users=[alice(caller_id=CHI1, direct_number=CHI1)],
                  numbers=[number(CHI1, daily_cap=1)]))
    dial(user="alice", to=CHICAGO_CONTACT, at=datetime(2026, 3, 2, 14, 0, tzinfo=UTC))

    late_evening = datetime(2026, 3, 3, 3, 30, tzinfo=UTC)  # 22:30 on March 2 in New York
    decision = dial(user="alice", to=dialled, at=late_evening)

    assert (decision.caller_id, decision.rule, decision.to) == (CHI1, "emergency", dialled)
    assert steps(decision) == [("emergency", "chosen")]
    assert "the user's direct number" in detail(decision, "emergency")
    assert_recorded(recorded_calls(), decision)
    assert used_today(fake, CHI1, late_evening) == 1


def test_emergency_call_is_not_counted_against_the_cap(
    apply_org: Any, dial: Dial, fake: FakeStore
) -> None:
    """After an emergency call the direct number still has its whole cap for the day."""
    apply_org(org(users=[alice(caller_id=CHI1, direct_number=CHI1)],
                  numbers=[number(CHI1, daily_cap=1)]))
    dial(user="alice", to="911", at=NOW)

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=later(1))

    assert (decision.caller_id, decision.rule) == (CHI1, "agent_area_code")
    assert used_today(fake, CHI1, later(1)) == 1


def test_emergency_call_without_a_direct_number_presents_the_principal_number(
    apply_org: Any, dial: Dial
) -> None:
    """A user with no direct number presents the principal number, not their caller ID."""
    apply_org(org(users=[alice(caller_id=SF)]))

    decision = dial(user="alice", to="911", at=NOW)

    assert (decision.caller_id, decision.rule) == (PRINCIPAL, "emergency")
    assert "the principal number" in detail(decision, "emergency")


def test_emergency_numbers_follow_the_organizations_country(apply_org: Any, dial: Dial) -> None:
    """999 is an emergency number for a GB organization; for a US one it is no number."""
    apply_org({"org": "uk", "default_country": "GB", "principal_number": "020 7946 0000",
               "numbers": [{"number": "020 7946 0000"}], "users": [{"id": "alice"}]})
    apply_org(org())

    decision = dial(org="uk", user="alice", to="999", at=NOW)

    assert (decision.caller_id, decision.rule) == ("+442079460000", "emergency")
    with pytest.raises(InvalidNumber):
        dial(user="alice", to="999", at=NOW)


# -- refused requests ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("options", "error", "field"),
    [
        pytest.param({"to": "555-01"}, InvalidNumber, "to", id="invalid-number"),
        pytest.param({"user": "zed"}, NotFound, "user", id="unknown-user"),
        pytest.param({"org": "nope"}, NotFound, "org", id="unknown-org"),
        pytest.param({"project": "nope"}, NotFound, "project", id="unknown-project"),
        pytest.param({"caller_id": "12"}, InvalidNumber, "caller_id", id="invalid-caller-id"),
    ],
)
def test_a_refused_request_names_the_field_and_records_nothing(
    apply_org: Any, dial: Dial, recorded_calls: Rows, options: dict[str, Any],
    error: type[Exception], field: str,
) -> None:
    """Bad input is refused with the field it concerns; no call is stored."""
    apply_org(org())
    request = {"user": "alice", "to": CHICAGO_CONTACT, **options}

    with pytest.raises(error) as refused:
        dial(at=NOW, **request)

    assert getattr(refused.value, "field", None) == field
    assert recorded_calls() == []


def test_dry_run_decides_without_recording(
    apply_org: Any, dial: Dial, recorded_calls: Rows, fake: FakeStore
) -> None:
    """A dry run returns a decision but stores no call and counts no use."""
    apply_org(org(users=[alice(caller_id=CHI1)], numbers=[number(CHI1, daily_cap=1)]))

    decision = dial(user="alice", to=CHICAGO_CONTACT, at=NOW, dry_run=True)

    assert (decision.caller_id, decision.rule) == (CHI1, "agent_area_code")
    assert recorded_calls() == []
    assert used_today(fake, CHI1) == 0
