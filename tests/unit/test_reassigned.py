"""Reassigned numbers' pure rule (SPEC 10, 47 C.F.R. § 64.1200(m)): a number permanently
disconnected since the contact's consent is refused, whatever the consent; only a "yes"
for the consent date refuses; answers are asked again when stale."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from callsign.domain.compliance.decision import ComplianceCall, Verdict, evaluate
from callsign.domain.compliance.policy import organization_policy
from callsign.domain.compliance.reassigned import (
    MAX_AGE,
    Consent,
    ReassignedCheck,
    judge,
    needs_check,
)
from callsign.domain.compliance.zones import place_of

CONSENT = date(2025, 6, 1)
CHECKED = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # Wednesday 11:00 in New York


def check(answer: Any, since: date = CONSENT, at: datetime = CHECKED) -> ReassignedCheck:
    return ReassignedCheck(since, answer, at, "reassigned numbers database at rnd.test")


def verdict(consent: Consent | None, settings: dict[str, Any] | None = None,
            **call: Any) -> Verdict:
    place = place_of("+12125550100", "US", None, "UTC")
    return evaluate(organization_policy(settings or {}),
                    ComplianceCall(place, consent=consent, **call), (), NOW)


def test_a_yes_for_the_consent_date_refuses_with_its_rule_and_source() -> None:
    """The refusal names the rule, the safe harbor's citation, the date and the lookup;
    it is never lifted later (no next_allowed_at)."""
    found = verdict(Consent(CONSENT, check("yes")))
    assert not found.allowed
    assert found.refusal is not None
    assert found.refusal.rule == "reassigned_number"
    assert "64.1200(m)" in found.refusal.source.citation
    assert "2025-06-01" in found.refusal.reason
    assert "rnd.test" in found.refusal.reason
    assert found.next_allowed_at is None
    assert found.trace[-1].step == "reassigned_number"
    assert found.as_dict()["source"]["citation"] == found.refusal.source.citation


def test_consent_does_not_lift_a_reassigned_number_but_an_emergency_call_passes() -> None:
    consent = Consent(CONSENT, check("yes"))
    assert not verdict(consent, consented=True).allowed
    assert verdict(consent, emergency=True).allowed


@pytest.mark.parametrize("answer", ["no", "no_data"])
def test_a_no_or_no_data_answer_passes_with_a_trace_line(answer: str) -> None:
    found = verdict(Consent(CONSENT, check(answer)))
    assert found.allowed
    line = next(s for s in found.trace if s.step == "reassigned_number")
    assert ("no data" if answer == "no_data" else "answered no") in line.detail


def test_an_unchecked_consent_passes_and_says_it_was_not_checked() -> None:
    found = verdict(Consent(CONSENT))
    assert found.allowed
    assert any(s.step == "reassigned_number" and "not checked" in s.detail
               for s in found.trace)


def test_a_yes_asked_about_another_date_is_not_used() -> None:
    """The consent date changed since the lookup: its answer says nothing of the new one."""
    found = verdict(Consent(date(2026, 1, 10), check("yes", since=CONSENT)))
    assert found.allowed
    assert any("look it up again" in s.detail for s in found.trace)


def test_without_a_consent_date_the_rule_reads_nothing() -> None:
    assert judge(None) is None
    assert not any(s.step == "reassigned_number" for s in verdict(None).trace)


def test_the_do_not_call_list_and_a_reassigned_number_both_refuse() -> None:
    from callsign.domain.compliance.decision import DoNotCall

    found = verdict(Consent(CONSENT, check("yes")),
                    do_not_call=DoNotCall("organization", "agent", date(2026, 1, 1)))
    assert [r.rule for r in found.refusals] == ["do_not_call", "reassigned_number"]


@pytest.mark.parametrize(("consent", "now", "due"), [
    (Consent(CONSENT), NOW, True),  # never asked
    (Consent(CONSENT, check("no")), CHECKED + MAX_AGE - timedelta(seconds=1), False),
    (Consent(CONSENT, check("no")), CHECKED + MAX_AGE, True),  # stale
    (Consent(CONSENT, check("no_data")), CHECKED + MAX_AGE, True),
    (Consent(CONSENT, check("yes")), CHECKED + 10 * MAX_AGE, False),  # a fact: stays true
    (Consent(date(2026, 1, 10), check("yes")), NOW, True),  # asked about another date
])
def test_an_answer_is_asked_again_when_missing_stale_or_for_another_date(
        consent: Consent, now: datetime, due: bool) -> None:
    assert needs_check(consent, now) is due
