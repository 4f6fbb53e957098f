"""Properties of the pure outbound core, over generated organizations and histories."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from callsign.domain.errors import NotPresentable, OutsideCallingHours, Refused
from callsign.domain.model import (
    Agent,
    Claim,
    Decision,
    Logic,
    NumberStatus,
    OrgPolicy,
    OutboundFacts,
    OutboundRequest,
    PastCall,
    ProjectPolicy,
    Rule,
)
from callsign.domain.outbound import decide_outbound, why_not_presentable
from tests.strategies import (
    NOW,
    NUMBERS,
    PRINCIPAL,
    Call,
    callee,
    number_states,
    outbound_calls,
    outbound_facts,
)

REQUEST = OutboundRequest(org="acme", user="alice", to="+13125550188")


@given(outbound_facts(), st.integers())
def test_the_chosen_number_is_always_presentable(facts: OutboundFacts, seed: int) -> None:
    """Whatever the settings, the caller ID is presentable, or the principal as last resort."""
    decision = decide_outbound(REQUEST, facts, random.Random(seed), NOW)
    if decision.rule is Rule.PRINCIPAL:
        assert decision.caller_id == PRINCIPAL
    else:
        assert why_not_presentable(facts, decision.caller_id) is None, decision.trace
    assert decision.trace[-1].result == "chosen"
    assert decision.trace[-1].number == decision.caller_id


@given(outbound_facts(), st.integers())
def test_the_same_seed_and_clock_give_the_same_decision(facts: OutboundFacts, seed: int) -> None:
    """Replays are exact: one injectable random source, one clock."""
    first = decide_outbound(REQUEST, facts, random.Random(seed), NOW)
    again = decide_outbound(REQUEST, facts, random.Random(seed), NOW)
    assert first == again


@given(outbound_facts(), st.integers())
def test_a_project_call_never_presents_a_number_outside_its_pool_by_pool_rules(
    facts: OutboundFacts, seed: int
) -> None:
    """Rules that pick from the pool only ever return pool numbers."""
    decision = decide_outbound(REQUEST, facts, random.Random(seed), NOW)
    if decision.rule in {Rule.RANDOM, Rule.DIFFERENT_EACH_ATTEMPT, Rule.REGIONALLY_RANDOM,
                         Rule.OUTCOME_NUMBER, Rule.FIRST_CALL_NUMBER}:
        assert facts.project is not None
        assert decision.caller_id in facts.project.pool


@settings(max_examples=60)
@given(st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=6, unique=True),
       st.data(), st.integers())
def test_different_each_attempt_never_repeats_while_an_unused_number_remains(
    pool: list[str], data: st.DataObject, seed: int
) -> None:
    """Calling one contact again and again walks the whole pool before any repeat."""
    numbers = {n: replace(data.draw(number_states(n)), status=NumberStatus.ACTIVE, daily_cap=None)
               for n in pool}
    project = ProjectPolicy(id="p", pool=tuple(pool), next_calls=Logic.DIFFERENT_EACH_ATTEMPT,
                            first_call=Logic.RANDOM)
    facts = OutboundFacts(
        org=OrgPolicy(slug="acme", principal_number=PRINCIPAL),
        user=Agent(id="alice"),
        callee=callee("+13125550188"), numbers=numbers, serving_area_code=frozenset(),
        project=project,
    )
    rng = random.Random(seed)
    history: list[PastCall] = []
    used: list[str] = []
    for attempt in range(len(pool) * 2):
        at = NOW + timedelta(minutes=attempt)
        decision = decide_outbound(REQUEST, replace(facts, history=tuple(reversed(history))),
                                   rng, at)
        if attempt < len(pool):
            assert decision.caller_id not in used, (attempt, used, decision.trace)
        else:  # every number used once: the one used longest ago comes back first
            assert decision.caller_id == used[attempt - len(pool)]
        used.append(decision.caller_id)
        history.append(PastCall(f"c{attempt}", at, decision.caller_id, "alice", "p"))


def _decide(call: Call, seed: int) -> Decision | Refused:
    try:
        return decide_outbound(call.request, call.facts, random.Random(seed), call.now)
    except Refused as refused:
        return refused


@given(outbound_calls(), st.integers())
def test_a_call_presents_a_presentable_number_or_is_refused_for_a_named_reason(
    call: Call, seed: int
) -> None:
    """With calling hours, overrides, inactive users and emergencies: SPEC 2 and 3 hold."""
    facts = call.facts
    outcome = _decide(call, seed)
    if isinstance(outcome, NotPresentable):  # never silently replaced (SPEC 3.1)
        assert outcome.field == "caller_id"
        assert facts.caller_id is not None
        assert why_not_presentable(facts, facts.caller_id) is not None
    elif isinstance(outcome, OutsideCallingHours):
        assert facts.org.calling_hours is not None
        assert not call.request.consented
    elif isinstance(outcome, Refused):
        assert not facts.user.active
        assert outcome.field == "user"
    elif outcome.rule is Rule.EMERGENCY:
        assert outcome.caller_id == (facts.user.direct_number or PRINCIPAL)
    elif outcome.rule is Rule.PRINCIPAL:
        assert outcome.caller_id == PRINCIPAL
    else:
        assert why_not_presentable(facts, outcome.caller_id) is None, outcome.trace
        if facts.caller_id is not None:
            assert (outcome.rule, outcome.caller_id) == (Rule.OVERRIDE, facts.caller_id)
    if isinstance(outcome, Decision):
        assert outcome.claim is Rule(outcome.rule).claim
        assert outcome.trace[-1].number == outcome.caller_id


@given(outbound_calls(), st.integers())
def test_the_same_seed_and_clock_give_the_same_answer(call: Call, seed: int) -> None:
    """Replays are exact, refusals included."""
    first, again = _decide(call, seed), _decide(call, seed)
    if isinstance(first, Refused):
        assert type(first) is type(again)
        assert str(first) == str(again)
    else:
        assert first == again


@given(outbound_calls(emergency=st.just(True)), st.integers())
def test_an_emergency_call_is_never_refused_counted_or_rotated(call: Call, seed: int) -> None:
    """Whatever the hours, override, caps or the user's state (SPEC 3.5)."""
    decision = decide_outbound(call.request, call.facts, random.Random(seed), call.now)
    assert decision.rule is Rule.EMERGENCY
    assert decision.claim is Claim.NONE
    assert [step.step for step in decision.trace] == ["emergency"]
