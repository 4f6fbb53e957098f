"""Properties of compliance's pure core: no allowed call falls outside any applicable
window or on a holiday in any candidate zone, nor over a cap; and ``next_allowed_at`` is
itself allowed while no minute between ``now`` and it is."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callsign.domain.compliance.caps import RecentCall
from callsign.domain.compliance.decision import ComplianceCall, DoNotCall, evaluate
from callsign.domain.compliance.policy import CompliancePolicy
from callsign.domain.compliance.rules import CapRule, HolidayRule, Rule, WindowRule
from callsign.domain.compliance.zones import ContactAddress, place_of
from tests.strategies import COMPLIANCE_NUMBERS as NUMBERS
from tests.strategies import compliance_policies as policies
from tests.strategies import contact_addresses as contacts
from tests.strategies import moments

MINUTE = timedelta(minutes=1)


def applicable(policy: CompliancePolicy, call: ComplianceCall) -> list[Rule]:
    rules = list(policy.rules)
    for pack in policy.packs:
        if pack.applies.reason(call.place) is not None:
            rules.extend(pack.rules)
    return rules


def passes(rules: list[Rule], call: ComplianceCall, recent: list[RecentCall],
           at: datetime) -> bool:
    """The rules read directly, as a reader of the statute would: every zone, every rule."""
    for rule in rules:
        if isinstance(rule, CapRule):
            cap = rule.cap
            counted = [c for c in recent if at - cap.window < c.at <= at
                       and (cap.per == "contact" or call.subject is None
                            or c.subject in (None, call.subject))]
            if len(counted) >= cap.calls:
                return False
            continue
        if call.consented:
            continue
        for zone in call.place.zones:
            local = at.astimezone(ZoneInfo(zone))
            if isinstance(rule, WindowRule) and not rule.hours.allows(local):
                return False
            if isinstance(rule, HolidayRule) and rule.calendar.holiday(
                    local.date(), call.place.country, call.place.state):
                return False
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(), number=st.sampled_from(NUMBERS), contact=contacts, now=moments,
       ago=st.lists(st.integers(1, 8 * 24 * 60), max_size=8),
       subjects=st.lists(st.sampled_from(["a", "b", None]), min_size=8, max_size=8),
       subject=st.sampled_from(["a", None]), consented=st.booleans())
def test_allowed_means_every_rule_passes_and_next_allowed_at_is_the_first_that_does(
        policy: CompliancePolicy, number: str, contact: ContactAddress | None, now: datetime,
        ago: list[int], subjects: list[str | None], subject: str | None,
        consented: bool) -> None:
    place = place_of(number, "US", contact, "America/New_York")
    call = ComplianceCall(place, subject=subject, consented=consented)
    recent = [RecentCall(now - timedelta(minutes=m), s) for m, s in zip(ago, subjects,
                                                                          strict=False)]
    verdict = evaluate(policy, call, recent, now)
    rules = applicable(policy, call)
    assert verdict.allowed == passes(rules, call, recent, now)
    if verdict.allowed or verdict.next_allowed_at is None:
        return
    found = verdict.next_allowed_at
    assert found > now
    assert passes(rules, call, recent, found)
    assert evaluate(policy, call, recent, found).allowed
    minute = now.replace(second=0, microsecond=0) + MINUTE
    while minute < found:
        assert not passes(rules, call, recent, minute), f"{minute} passes before {found}"
        minute += MINUTE


@settings(max_examples=40, deadline=None)
@given(policy=policies(), number=st.sampled_from(NUMBERS), now=moments,
       consented=st.booleans(), emergency=st.booleans())
def test_do_not_call_refuses_for_good_unless_emergency_and_consent_never_lifts_it(
        policy: CompliancePolicy, number: str, now: datetime, consented: bool,
        emergency: bool) -> None:
    place = place_of(number, "US", None, "America/New_York")
    listed = DoNotCall("organization", "import", None)
    verdict = evaluate(policy, ComplianceCall(place, consented=consented, emergency=emergency,
                                              do_not_call=listed), (), now)
    assert verdict.allowed == emergency
    if not emergency:
        assert verdict.refusal is not None
        assert (verdict.refusal.rule, verdict.next_allowed_at) == ("do_not_call", None)
