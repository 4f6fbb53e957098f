"""What a number's release takes from users and projects (SPEC 5), on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callsign.domain.errors import Conflict
from callsign.domain.model import Logic
from callsign.domain.release import (
    ProjectNumbers,
    UserNumbers,
    check_left_out,
    check_recent,
    check_release,
    forced_past,
    forget,
    presented_lately,
    refuse_principal,
    what_names,
)

PRINCIPAL = "+12125550100"
CHI1 = "+13125550101"
CHI2 = "+13125550102"
SF = "+14155550105"
LEG = "+12125550199"
ALICE = UserNumbers("alice", caller_id=CHI1, direct_number=CHI1, allowed_caller_ids=(CHI1, SF))
BOB = UserNumbers("bob", allowed_caller_ids=(CHI1,))
CAROL = UserNumbers("carol", caller_id=SF)
RENEWALS = ProjectNumbers("renewals", pool=(CHI1, CHI2), first_call=CHI1,
                          outcome_numbers={"asked_callback": CHI1, "no_answer": CHI2})
OTHER = ProjectNumbers("other", pool=(CHI2,), first_call=Logic.REGIONALLY_RANDOM)


def names(number: str, agent_leg_number: str | None = LEG) -> list[str]:
    return what_names(number, agent_leg_number=agent_leg_number, users=[ALICE, BOB, CAROL],
                      projects=[RENEWALS, OTHER])


def test_every_setting_naming_a_number_is_listed_in_order() -> None:
    """The agent leg, then each user's numbers, then each project's pool and settings."""
    assert names(CHI1, agent_leg_number=CHI1) == [
        "the organization's agent-leg number",
        "user alice's caller ID", "user alice's direct number", "user alice's allowed caller IDs",
        "user bob's allowed caller IDs", "project renewals's pool", "project renewals's first call",
        "project renewals's number for outcome asked_callback"]
    assert names(CHI2) == ["project renewals's pool",
                           "project renewals's number for outcome no_answer",
                           "project other's pool"]
    assert names("+19075550109") == []


def test_a_number_in_use_is_released_only_with_force() -> None:
    """Conflict lists what names it; force lets it go."""
    named = names(CHI2)
    with pytest.raises(Conflict) as caught:
        check_release(CHI2, principal_number=PRINCIPAL, named=named, force=False)
    assert caught.value.message == (
        f"{CHI2} is in use: project renewals's pool; project renewals's number for outcome "
        "no_answer; project other's pool; release it with force to clear them")
    assert caught.value.field == "number"
    check_release(CHI2, principal_number=PRINCIPAL, named=named, force=True)
    check_release(SF, principal_number=PRINCIPAL, named=[], force=False)


def test_the_principal_number_is_never_released() -> None:
    """Not even with force: it is every call's last resort."""
    with pytest.raises(Conflict, match="make another number the principal before you release"):
        check_release(PRINCIPAL, principal_number=PRINCIPAL, named=[], force=True)
    with pytest.raises(Conflict, match="before you pause it"):
        refuse_principal(PRINCIPAL, principal_number=PRINCIPAL, action="pause")
    refuse_principal(SF, principal_number=PRINCIPAL, action="pause")


def test_a_released_number_is_forgotten_by_the_settings_that_named_it_only() -> None:
    """Users and projects drop it; a first call that used it falls back to random."""
    gone = forget(CHI1, agent_leg_number=LEG, users=[ALICE, BOB, CAROL],
                  projects=[RENEWALS, OTHER])
    assert not gone.agent_leg
    assert gone.users == (UserNumbers("alice", allowed_caller_ids=(SF,)), UserNumbers("bob"))
    assert gone.projects == (ProjectNumbers("renewals", pool=(CHI2,), first_call=Logic.RANDOM,
                                            outcome_numbers={"no_answer": CHI2}),)
    leg = forget(LEG, agent_leg_number=LEG, users=[ALICE], projects=[RENEWALS])
    assert (leg.agent_leg, leg.users, leg.projects) == (True, (), ())


def test_a_fixed_first_call_of_another_number_stays() -> None:
    """Only the number that goes is forgotten; the rest of the settings stay as they are."""
    gone = forget(CHI2, agent_leg_number=None, users=[ALICE], projects=[RENEWALS, OTHER])
    assert gone.users == ()
    assert gone.projects == (
        ProjectNumbers("renewals", pool=(CHI1,), first_call=CHI1,
                       outcome_numbers={"asked_callback": CHI1}),
        ProjectNumbers("other", first_call=Logic.REGIONALLY_RANDOM))


# -- the release guard ---------------------------------------------------------------------

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(("ago", "days", "lately"), [
    (timedelta(days=29, hours=23), 30, True),
    (timedelta(days=30), 30, False),  # exactly the guard's days ago: past it
    (timedelta(minutes=1), 0, False),  # 0: the guard is off
    (None, 30, False),  # never presented
])
def test_a_number_is_guarded_within_the_days_since_its_last_presentation(
    ago: timedelta | None, days: int, lately: bool
) -> None:
    """Within ``release_guard_days`` of its last presentation, and only then."""
    last = None if ago is None else NOW - ago
    assert presented_lately(last, guard_days=days, now=NOW) is lately


def test_the_guards_refusal_names_the_last_presentation_and_how_to_force() -> None:
    """In UTC, whatever zone the time came in; force lets it pass."""
    chicago = datetime(2026, 3, 1, 9, 30, tzinfo=UTC).astimezone(ZoneInfo("America/Chicago"))
    with pytest.raises(Conflict) as caught:
        check_recent(CHI1, last_presented=chicago, guard_days=30, now=NOW, force=False)
    assert caught.value.field == "number"
    assert caught.value.message.startswith(
        f"{CHI1} was last presented as a caller ID at 2026-03-01 09:30 UTC, within the "
        "release guard of 30 days (release_guard_days)")
    assert "--force (CLI), ?force=true (REST)" in caught.value.message
    check_recent(CHI1, last_presented=chicago, guard_days=30, now=NOW, force=True)


def test_a_document_leaving_out_guarded_numbers_names_each() -> None:
    """Only those within the guard, in order; none: no conflict."""
    last = {CHI2: NOW - timedelta(days=2), CHI1: NOW - timedelta(days=1),
            SF: NOW - timedelta(days=90), LEG: None}
    with pytest.raises(Conflict) as caught:
        check_left_out(last, guard_days=30, now=NOW)
    assert caught.value.field == "numbers"
    assert caught.value.message.startswith(
        f"the document leaves out {CHI1} (last presented 2026-03-01 17:00 UTC), {CHI2} "
        "(last presented 2026-02-28 17:00 UTC), presented as caller IDs")
    check_left_out(last, guard_days=0, now=NOW)
    check_left_out({SF: last[SF]}, guard_days=30, now=NOW)


def test_a_forced_release_says_what_it_went_past() -> None:
    """The guard first, then the settings; nothing forced: empty."""
    assert forced_past(CHI1, last_presented=NOW - timedelta(days=1), guard_days=30, now=NOW,
                       named=["user alice's caller ID"]) == (
        f"forced release of {CHI1}: presented 2026-03-01 17:00 UTC, within the release "
        "guard of 30 days; user alice's caller ID")
    assert forced_past(CHI1, last_presented=NOW - timedelta(days=40), guard_days=30,
                       now=NOW, named=[]) == ""
