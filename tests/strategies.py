"""Hypothesis strategies for the pure core: organizations, numbers, projects, histories,
calling hours, per-call overrides and emergency calls; compliance settings, contacts'
addresses and moments around the DST changes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

from hypothesis import strategies as st

from callsign.domain import phone
from callsign.domain.compliance.policy import CompliancePolicy, organization_policy
from callsign.domain.compliance.zones import ContactAddress
from callsign.domain.model import (
    Agent,
    Callee,
    CallingHours,
    Logic,
    NumberState,
    NumberStatus,
    OrgPolicy,
    OutboundFacts,
    OutboundRequest,
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
NOT_HELD = "+13125550199"  # a valid number no organization holds
EMERGENCY = ("911", "112")


def callee(number: str, line_type: phone.LineType = "unknown") -> Callee:
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
    target = callee(draw(st.sampled_from(CALLEES)), draw(st.sampled_from(phone.LINE_TYPES)))
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


@st.composite
def calling_hours(draw: st.DrawFn) -> CallingHours:
    """A window in whole quarter hours; start after end spans midnight."""
    start, end = draw(st.lists(st.integers(min_value=0, max_value=95), min_size=2, max_size=2,
                               unique=True))
    return CallingHours(time(start // 4, start % 4 * 15), time(end // 4, end % 4 * 15))


@dataclass(frozen=True)
class Call:
    """One outbound call as the pure core sees it: the request, the facts and the clock."""

    request: OutboundRequest
    facts: OutboundFacts
    now: datetime


@st.composite
def outbound_calls(draw: st.DrawFn, emergency: st.SearchStrategy[bool] | None = None) -> Call:
    """``outbound_facts`` with calling hours, a per-call override, an inactive user, an
    emergency number dialled and any time of day."""
    facts = draw(outbound_facts())
    org = replace(facts.org, calling_hours=draw(st.none() | calling_hours()),
                  timezone=draw(st.sampled_from(["UTC", "America/Chicago", "Asia/Kolkata"])))
    one_in_six = st.integers(min_value=0, max_value=5).map(lambda n: n == 5)
    user = replace(facts.user, active=not draw(one_in_six))
    target = facts.callee
    if draw(emergency if emergency is not None else one_in_six):
        target = Callee(number=draw(st.sampled_from(EMERGENCY)), emergency=True)
    override = None
    if draw(one_in_six):
        override = draw(st.sampled_from((*facts.numbers, NOT_HELD)))
    request = OutboundRequest(org=org.slug, user=user.id, to=target.number,
                              project=facts.project.id if facts.project else None,
                              caller_id=override, consented=draw(st.booleans()))
    now = NOW + timedelta(minutes=draw(st.integers(min_value=0, max_value=24 * 60 - 1)))
    return Call(request, replace(facts, org=org, user=user, callee=target, caller_id=override),
                now)


# -- compliance (SPEC 10) ---------------------------------------------------------------

COMPLIANCE_NUMBERS = (
    "+12125550100", "+13055550100", "+14055550100", "+14105550100", "+19075550100",
    "+13125550100", "+16175550100", "+18005550100")
CONTACT_ZONES = ("America/Los_Angeles", "America/Denver", "Pacific/Honolulu", "America/Chicago")
DST_DAYS = (datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


@st.composite
def day_hours(draw: st.DrawFn) -> list[str]:
    starts = sorted(draw(st.sets(st.integers(0, 47), max_size=2)))
    intervals: list[str] = []
    last_end = -1
    for half_hour in starts:
        start = half_hour * 30 + draw(st.sampled_from((0, 7, 15)))
        if start <= last_end:
            continue
        end = min(start + draw(st.integers(15, 16 * 60)), 24 * 60)
        intervals.append(f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}")
        last_end = end
    return intervals


@st.composite
def compliance_policies(draw: st.DrawFn) -> CompliancePolicy:
    data: dict[str, object] = {"packs": draw(st.lists(st.sampled_from(
        ["federal", "florida", "oklahoma", "maryland", "debt_collection"]), unique=True))}
    if draw(st.booleans()):
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        hours = {day: draw(day_hours()) for day in days if draw(st.booleans())}
        if any(hours.values()):  # hours closing every day are refused as configuration
            data["hours"] = hours
    if draw(st.booleans()):
        data["holidays"] = {"country": "US", "subdivision": "callee"}
    if draw(st.booleans()):
        data["caps"] = [{"calls": draw(st.integers(1, 4)), "hours": draw(st.integers(1, 72)),
                         "per": draw(st.sampled_from(["contact", "subject"]))}]
    return organization_policy(data)


moments = st.one_of(
    st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC)),
    st.builds(lambda day, minutes: day + timedelta(minutes=minutes),
              st.sampled_from(DST_DAYS), st.integers(-36 * 60, 36 * 60)))
contact_addresses = st.one_of(
    st.none(), st.builds(ContactAddress, timezone=st.sampled_from(CONTACT_ZONES)),
    st.builds(ContactAddress, state=st.sampled_from(["FL", "MD", "TX", "AK", "NY"])))
