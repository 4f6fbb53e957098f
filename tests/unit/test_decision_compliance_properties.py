"""A property of the whole outbound decision (``decide_outbound``) with compliance: no call
it allows falls outside any applicable calling window, or on a holiday, in any of the
callee's candidate zones; unless it is an emergency or consented (and then the trace says
so). Whatever else the generated organization does (projects, overrides, calling hours,
inactive users), a refusal for compliance says when the call may be tried."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callsign.domain.compliance.policy import CompliancePolicy
from callsign.domain.compliance.rules import HolidayRule, TimeRule, WindowRule
from callsign.domain.compliance.zones import CalleePlace, ContactAddress, place_of
from callsign.domain.errors import NotCompliant, Refused
from callsign.domain.model import (
    ComplianceFacts,
    Decision,
    OutboundFacts,
    OutboundRequest,
    Rule,
)
from callsign.domain.outbound import decide_outbound
from tests.strategies import (
    COMPLIANCE_NUMBERS,
    Call,
    callee,
    compliance_policies,
    contact_addresses,
    moments,
    outbound_calls,
)


def time_rules(policy: CompliancePolicy, place: CalleePlace) -> list[TimeRule]:
    """The window and holiday rules that apply to a callee at ``place``, read directly."""
    rules = [r for r in policy.rules if isinstance(r, WindowRule | HolidayRule)]
    for pack in policy.packs:
        if pack.applies.reason(place) is not None:
            rules.extend(r for r in pack.rules if isinstance(r, WindowRule | HolidayRule))
    return rules


def closed(rule: TimeRule, place: CalleePlace, at: datetime) -> bool:
    """Whether ``rule`` closes ``at`` in any of the callee's candidate zones."""
    for zone in place.zones:
        local = at.astimezone(ZoneInfo(zone))
        if isinstance(rule, WindowRule) and not rule.hours.allows(local):
            return True
        if isinstance(rule, HolidayRule) and rule.calendar.holiday(
                local.date(), place.country, place.state):
            return True
    return False


def decided(request: OutboundRequest, facts: OutboundFacts, seed: int, now: datetime
            ) -> tuple[Decision | None, NotCompliant | None]:
    """The decision, or the compliance refusal (None, None: refused for another reason)."""
    try:
        return decide_outbound(request, facts, random.Random(seed), now), None
    except NotCompliant as refused:
        return None, refused
    except Refused:
        return None, None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call=outbound_calls(), policy=compliance_policies(), contact=contact_addresses,
       number=st.sampled_from(COMPLIANCE_NUMBERS), now=moments, seed=st.integers())
def test_no_call_the_decision_allows_falls_outside_an_applicable_window(
        call: Call, policy: CompliancePolicy, contact: ContactAddress | None, number: str,
        now: datetime, seed: int) -> None:
    facts = call.facts
    target = facts.callee if facts.callee.emergency else callee(number)
    facts = replace(facts, callee=target, compliance=ComplianceFacts(policy, contact))
    request = replace(call.request, to=target.number)
    decision, refused = decided(request, facts, seed, now)
    if refused is not None:
        assert refused.next_allowed_at is None or refused.next_allowed_at >= now
    if decision is None:
        return  # refused (for compliance, or calling hours, an inactive user, an override)
    if target.emergency:
        assert decision.rule is Rule.EMERGENCY
        return
    place = place_of(target.number, facts.org.default_country, contact, facts.org.timezone)
    shut = [r.id for r in time_rules(policy, place) if closed(r, place, now)]
    if request.consented:
        steps = {s.step: s.detail for s in decision.trace}
        assert all("consented/urgent" in steps[rule] for rule in shut), decision.trace
        return
    assert shut == [], decision.trace
