"""SPEC 10 in the decision, on the real store: rule packs, windows in the callee's zones,
consent, frequency caps counted from the contact's calls, do-not-call and emergencies; a
refusal names the rule, its pack and source, the local time and next_allowed_at."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from callsign.domain.errors import InvalidInput, NotCompliant
from callsign.domain.model import Decision
from callsign.store.tables import do_not_call
from callsign.store.uow import UnitOfWork

Dial = Callable[..., Decision]
MIAMI = "+13055550123"
BALTIMORE = "+14105550123"
MONDAY_0730_MIAMI = datetime(2026, 12, 7, 12, 30, tzinfo=UTC)  # 07:30 EST
MONDAY_0800_MIAMI = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
MONDAY_NOON_MIAMI = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
ORG: dict[str, Any] = {
    "org": "acme", "principal_number": "+12125550100", "timezone": "America/New_York",
    "numbers": [{"number": "+12125550100"}, {"number": "+13125550101"}],
    "users": [{"id": "alice", "caller_id": "+13125550101"}],
    "projects": [{"id": "debts", "numbers": ["+13125550101"],
                  "compliance": {"caps": [{"calls": 1, "hours": 24, "across": "project"}]}}],
    "compliance": {"packs": ["federal", "florida", "maryland"]},
}


def organization(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(ORG)
    data.update(changes)
    return data


def refusal(dial: Dial, **call: Any) -> NotCompliant:
    with pytest.raises(NotCompliant) as refused:
        dial(user="alice", **call)
    return refused.value


def test_a_florida_callee_before_8_is_refused_with_the_rule_source_and_next_allowed_at(
        apply_org: Callable[[dict[str, Any]], None], dial: Dial) -> None:
    """07:30 in Miami: the federal window (first enabled) and Florida's refuse; the call may
    be tried at 08:00. At 20:30 only Florida's refuses, until 08:00 the next day."""
    apply_org(organization())

    refused = refusal(dial, to=MIAMI, at=MONDAY_0730_MIAMI)

    details = refused.details
    assert (details["rule"], details["pack"]) == ("federal.hours", "federal")
    assert details["refusals"] == ["federal.hours", "florida.hours"]
    assert "64.1200" in details["source"]["citation"]
    assert details["local_times"] == ["2026-12-07T07:30:00-05:00"]
    assert details["next_allowed_at"] == "2026-12-07T13:00:00+00:00"
    assert refused.next_allowed_at == MONDAY_0800_MIAMI
    assert refused.field == "to"
    assert "federal.hours" in refused.message
    assert "next allowed at" in refused.message
    assert dial(user="alice", to=MIAMI, at=MONDAY_0800_MIAMI).caller_id
    evening = refusal(dial, to=MIAMI, at=MONDAY_0800_MIAMI + timedelta(hours=12, minutes=30))
    assert (evening.details["rule"], evening.details["pack"]) == ("florida.hours", "florida")
    assert "501.616" in evening.details["source"]["citation"]
    assert evening.next_allowed_at == MONDAY_0800_MIAMI + timedelta(days=1)


def test_a_consented_call_passes_the_time_rules_and_the_trace_says_so(
        apply_org: Callable[[dict[str, Any]], None], dial: Dial) -> None:
    """Consent lifts the windows, recorded in the trace."""
    apply_org(organization())

    decision = dial(user="alice", to=MIAMI, at=MONDAY_0730_MIAMI, consented=True)

    hours = [s for s in decision.trace if s.step == "florida.hours"]
    assert hours
    assert "allowed: consented/urgent" in hours[0].detail


def test_the_contacts_own_zone_narrows_the_window(
        apply_org: Callable[[dict[str, Any]], None], dial: Dial) -> None:
    """A Miami number whose contact lives in Los Angeles: 08:00 there is 11:00 in Miami."""
    apply_org(organization(contacts=[{"phone": MIAMI, "timezone": "America/Los_Angeles"}]))

    refused = refusal(dial, to=MIAMI, at=MONDAY_0800_MIAMI + timedelta(hours=1))

    assert refused.details["next_allowed_at"] == "2026-12-07T16:00:00+00:00"


def test_marylands_cap_counts_the_contacts_calls_and_says_when_it_frees(
        apply_org: Callable[[dict[str, Any]], None], dial: Dial) -> None:
    """At most 3 calls in 24 h to a Maryland callee: the 4th waits for the 1st to age."""
    apply_org(organization())
    first = MONDAY_NOON_MIAMI
    for i in range(3):
        dial(user="alice", to=BALTIMORE, at=first + timedelta(minutes=i))

    refused = refusal(dial, to=BALTIMORE, at=first + timedelta(minutes=10), consented=True)

    assert refused.details["rule"] == "maryland.frequency"
    assert refused.next_allowed_at == first + timedelta(hours=24)


def test_marylands_cap_counts_per_subject_and_a_call_without_one_counts_them_all(
        apply_org: Callable[[dict[str, Any]], None], dial: Dial) -> None:
    """Three calls on one debt fill Maryland's cap for that debt only; a call that names no
    subject counts every call to the person, and the trace says so."""
    apply_org(organization())
    first = MONDAY_NOON_MIAMI
    for i in range(3):
        dial(user="alice", to=BALTIMORE, at=first + timedelta(minutes=i), subject="debt-1")

    refused = refusal(dial, to=BALTIMORE, at=first + timedelta(minutes=10), subject="debt-1")
    other = dial(user="alice", to=BALTIMORE, at=first + timedelta(minutes=11),
                 subject="debt-2")
    unnamed = refusal(dial, to=BALTIMORE, at=first + timedelta(minutes=12))

    assert refused.details["rule"] == "maryland.frequency"
    assert refused.next_allowed_at == first + timedelta(hours=24)
    counted = next(s.detail for s in other.trace if s.step == "maryland.frequency")
    assert counted.startswith("0 counted (calls on subject 'debt-2'")
    assert unnamed.details["rule"] == "maryland.frequency"
    step = next(s for s in unnamed.details["trace"] if s["step"] == "maryland.frequency")
    assert "4 counted (no subject given: every call to the person)" in step["detail"]


@pytest.mark.parametrize("subject", ["", " debt-1", "x" * 201])
def test_a_blank_or_long_subject_is_refused_naming_the_field(
        apply_org: Callable[[dict[str, Any]], None], dial: Dial, subject: str,
        recorded_calls: Callable[[], list[Any]]) -> None:
    apply_org(organization())
    with pytest.raises(InvalidInput) as refused:
        dial(user="alice", to=BALTIMORE, at=MONDAY_NOON_MIAMI, subject=subject)
    assert refused.value.field == "subject"
    assert recorded_calls() == []


def test_a_projects_cap_counts_the_projects_calls_only(
        apply_org: Callable[[dict[str, Any]], None], dial: Dial) -> None:
    """The project's own cap (1 in 24 h across the project) applies to its calls only."""
    apply_org(organization(compliance=None))
    dial(user="alice", to=MIAMI, at=MONDAY_NOON_MIAMI, project="debts")

    refused = refusal(dial, to=MIAMI, at=MONDAY_NOON_MIAMI + timedelta(hours=1),
                      project="debts")
    outside = dial(user="alice", to=MIAMI, at=MONDAY_NOON_MIAMI + timedelta(hours=1))

    assert refused.details["rule"] == "project.caps[0]"
    assert outside.caller_id


def list_number(engine: Engine, number: str, source: str = "the callee asked") -> None:
    with UnitOfWork(engine) as uow:
        org_id = uow.calls.org_state("acme").org_id
        uow.connection.execute(insert(do_not_call).values(
            org_id=org_id, number=number, source=source, added_at=MONDAY_0730_MIAMI,
            note=""))
        uow.commit()


def test_a_listed_number_is_refused_for_good_whatever_the_consent(
        engine: Engine, apply_org: Callable[[dict[str, Any]], None], dial: Dial) -> None:
    """Do-not-call: refused at noon, with consent, with no rule enabled; never retried."""
    apply_org(organization(compliance=None))
    list_number(engine, MIAMI)

    refused = refusal(dial, to=MIAMI, at=MONDAY_NOON_MIAMI, consented=True)

    assert refused.details["rule"] == "do_not_call"
    assert "the callee asked" in refused.details["reason"]
    assert refused.next_allowed_at is None
    assert refused.details["next_allowed_at"] is None


def test_an_emergency_call_always_passes(
        apply_org: Callable[[dict[str, Any]], None], dial: Dial) -> None:
    """911 is never refused by compliance."""
    apply_org(organization())

    assert dial(user="alice", to="911", at=MONDAY_0730_MIAMI).rule == "emergency"


def test_an_organization_without_rules_decides_as_before(
        apply_org: Callable[[dict[str, Any]], None], dial: Dial) -> None:
    """No compliance settings, not listed: no compliance step in the trace."""
    apply_org(organization(compliance=None))

    decision = dial(user="alice", to=MIAMI, at=MONDAY_0730_MIAMI)

    assert not [s for s in decision.trace if s.step.startswith(("compliance", "pack."))]
