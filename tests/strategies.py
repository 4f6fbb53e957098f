"""Hypothesis strategies for the pure core: organizations, numbers, projects, histories."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from callsign.domain import phone
from callsign.domain.model import (
    Agent,
    Callee,
    Logic,
    NumberState,
    NumberStatus,
    OrgPolicy,
    OutboundFacts,
    PastCall,
    ProjectPolicy,
)

PRINCIPAL = "+12125550100"
NUMBERS = (
    "+13125550101", "+13125550102", "+16305550142", "+17735550103", "+14155550105",
    "+12015550106", "+12015550107", "+16465550104", "+12125550108", "+19075550109",
)
CALLEES = ("+13125550188", "+12175550123", "+14155550123", "+12015550177", "+19075550100")
NOW = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)


def callee(number: str, line_type: str = "unknown") -> Callee:
    facts = phone.facts_for(number, "US", field="to")
    return Callee(number=facts.e164, area_code=facts.area_code, region=facts.region,
                  timezones=facts.timezones,
                  line_type=line_type if line_type != "unknown" else facts.line_type,
                  geographic=facts.is_geographic)


def serving(
    numbers: dict[str, NumberState], target: Callee, mapped: frozenset[str]
) -> frozenset[str]:
    """Numbers whose own area code is the callee's, plus the mapped ones."""
    own = {n for n in numbers if phone.facts_for(n, "US", field="n").area_code == target.area_code}
    return frozenset(own | (mapped & set(numbers)))


@st.composite
def number_states(draw: st.DrawFn, number: str) -> NumberState:
    cap = draw(st.none() | st.integers(min_value=1, max_value=3))
    return NumberState(
        e164=number,
        status=draw(st.sampled_from(list(NumberStatus)[:3])),
        region=phone.facts_for(number, "US", field="n").region,
        daily_cap=cap,
        used_today=draw(st.integers(min_value=0, max_value=(cap or 2) + 1)),
        last_presented_at=draw(st.none() | st.sampled_from(
            [NOW - timedelta(hours=h) for h in (1, 2, 3)])),
    )


@st.composite
def outbound_facts(draw: st.DrawFn) -> OutboundFacts:
    owned = draw(st.lists(st.sampled_from(NUMBERS), unique=True, max_size=len(NUMBERS)))
    numbers = {n: draw(number_states(n)) for n in owned}
    # The principal is always one of the organization's active numbers (SPEC 2).
    numbers[PRINCIPAL] = replace(draw(number_states(PRINCIPAL)), status=NumberStatus.ACTIVE)
    org = OrgPolicy(
        slug="acme", principal_number=PRINCIPAL,
        local_presence=draw(st.booleans()),
        local_presence_fallback=draw(st.sampled_from(["none", "region"])),
        restrict_caller_ids=draw(st.booleans()),
    )
    maybe_owned = st.none() | st.sampled_from((*NUMBERS, PRINCIPAL))
    user = Agent(id="alice", caller_id=draw(maybe_owned), direct_number=draw(maybe_owned),
                 allowed_caller_ids=frozenset(draw(st.lists(st.sampled_from(NUMBERS)))))
    target = callee(draw(st.sampled_from(CALLEES)),
                    draw(st.sampled_from(["unknown", "landline", "mobile"])))
    project = None
    if draw(st.booleans()):
        pool = tuple(draw(st.lists(st.sampled_from(NUMBERS), unique=True, max_size=5)))
        project = ProjectPolicy(
            id="renewals", pool=pool,
            first_call=draw(st.sampled_from([Logic.RANDOM, Logic.REGIONALLY_RANDOM, *pool])),
            keep_previous_number=draw(st.booleans()),
            next_calls=draw(st.sampled_from(list(Logic))),
            outcome_numbers={"asked_callback": draw(st.sampled_from(NUMBERS))},
            agent_number=draw(st.sampled_from(["use_agent", "use_project"])),
        )
    history = tuple(
        PastCall(call_id=f"c{i}", at=NOW - timedelta(days=i + 1), caller_id=number, user="alice",
                 project=draw(st.sampled_from([None, "renewals", "other"])),
                 outcome=draw(st.sampled_from([None, "asked_callback", "no_answer"])))
        for i, number in enumerate(draw(st.lists(st.sampled_from(NUMBERS), max_size=6)))
    )
    mapped = frozenset(draw(st.lists(st.sampled_from(NUMBERS), max_size=3)))
    return OutboundFacts(org=org, user=user, callee=target, numbers=numbers,
                         serving_area_code=serving(numbers, target, mapped), project=project,
                         history=history)
