"""Which caller ID an outbound call presents (SPEC 2 and 3). Pure: no I/O, no clock.

``decide_outbound`` tries the steps in SPEC order; the first that yields a presentable
number decides. Each step returns its ``Choice``, or None to pass to the next. Every step
tried leaves a line in the trace saying why it matched or passed, so every decision can
be explained.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from callsign.domain import phone
from callsign.domain.compliance.caps import RecentCall
from callsign.domain.compliance.decision import ComplianceCall, evaluate
from callsign.domain.compliance.zones import place_of
from callsign.domain.errors import NotCompliant, NotPresentable, OutsideCallingHours, Refused
from callsign.domain.geography import geography
from callsign.domain.health_states import HealthState
from callsign.domain.model import (
    Agent,
    Callee,
    Decision,
    Logic,
    NumberState,
    NumberStatus,
    OrgPolicy,
    OutboundFacts,
    OutboundRequest,
    PastCall,
    Proximity,
    Rule,
    TraceResult,
    TraceStep,
)

_NEVER = datetime.min.replace(tzinfo=UTC)  # sorts before any real presentation


class _Trace:
    def __init__(self) -> None:
        self.steps: list[TraceStep] = []
        self.noted: set[str] = set()  # numbers passed over for their health, said once

    def add(self, step: str, result: TraceResult, detail: str, number: str | None = None) -> None:
        self.steps.append(TraceStep(step, result, detail, number))


@dataclass(frozen=True)
class Choice:
    """What a step that decides yields: the rule that chose and the number it chose."""

    rule: Rule
    number: str


def refuse_inactive(user: Agent, *, emergency: bool) -> None:
    """Raise Refused when an inactive user calls; an emergency call is never refused."""
    if not user.active and not emergency:
        raise Refused(f"user {user.id!r} is inactive", field="user")


def callee_for(raw: str, org: OrgPolicy, contact_line_type: str | None) -> Callee:
    """The callee of a call to ``raw``: its phone facts, read in the org's country.

    A contact's known line type (landline or mobile) outranks libphonenumber's guess.
    """
    if phone.is_emergency(raw, org.default_country):
        return Callee(number=raw.strip(), emergency=True)
    facts = phone.facts_for(raw, org.default_country, field="to")
    line_type = contact_line_type if contact_line_type in ("landline", "mobile") else None
    return Callee(
        number=facts.e164,
        area_code=facts.area_code,
        region=facts.region,
        timezones=facts.timezones if org.calling_hours else (),  # read only for the hours
        line_type=line_type or facts.line_type,  # type: ignore[arg-type]
        geographic=facts.is_geographic,
    )


def why_not_presentable(facts: OutboundFacts, number: str) -> str | None:
    """Why ``number`` may not be presented on this call (SPEC 2), or None if it may."""
    state = facts.numbers.get(number)
    if state is None:
        return "is not one of the organization's numbers"
    if state.status != "active":
        return f"is {_inactive(state)}"
    elif state.daily_cap is not None and state.used_today >= state.daily_cap:
        return f"reached its daily cap ({state.used_today}/{state.daily_cap})"
    paced = _pace(facts, state)
    if paced is not None:
        return paced
    if facts.org.restrict_caller_ids and number not in facts.user.allowed_caller_ids:
        return f"is not among {facts.user.id}'s allowed caller IDs"
    return None


def _inactive(state: NumberState) -> str:
    """A number that is not active, in words: resting by health says since when and why."""
    health = state.health
    if state.status == NumberStatus.RESTING and health is not None \
            and health.state is HealthState.RESTING:
        return health.summary()
    return str(state.status)


def _pace(facts: OutboundFacts, state: NumberState) -> str | None:
    """Why volume shaping passes an active number over now (SPEC 9), or None."""
    if facts.shaping is None:
        return None
    verdict = facts.shaping.pace(state.health, state.recent, state.used_today,
                                 state.added_at, state.live_since)
    return None if verdict.allowed else f"is {verdict.reason}"


def passed_for_health(facts: OutboundFacts, number: str) -> str | None:
    """Why health or volume shaping passes ``number`` over (resting by health, throttled,
    warming with today's allowance used), or None: it may be presented, or is passed
    over for another reason (a pause, its daily cap) that rotation leaves unsaid."""
    state = facts.numbers.get(number)
    if state is None:
        return None
    if state.status != "active":
        inactive = _inactive(state)
        return f"is {inactive}" if inactive != str(state.status) else None
    return _pace(facts, state)


def decide_outbound(
    request: OutboundRequest, facts: OutboundFacts, rng: random.Random, now: datetime
) -> Decision:
    """Pick the caller ID for one call, or raise Refused; ``now`` is timezone-aware."""
    trace = _Trace()
    refuse_inactive(facts.user, emergency=facts.callee.emergency)
    if facts.callee.emergency:  # SPEC 3.5
        return _emergency(facts, trace)
    _check_calling_hours(facts, request, now, trace)  # SPEC 3.4
    _check_compliance(facts, request, now, trace)  # SPEC 10
    if facts.caller_id is not None:  # SPEC 3.1
        choice = _override(facts, facts.caller_id, trace)
    elif facts.project is not None:  # SPEC 3.2; a pool run dry goes on at SPEC 3.3 step 3
        choice = _project_logic(facts, rng, trace) or _org_logic(facts, rng, trace, from_step=3)
    else:  # SPEC 3.3
        choice = _org_logic(facts, rng, trace, from_step=1)
    return Decision(choice.number, choice.rule, facts.callee.number, tuple(trace.steps))


def _emergency(facts: OutboundFacts, trace: _Trace) -> Decision:
    callee = facts.callee
    number = facts.user.direct_number or facts.org.principal_number
    source = "the user's direct number" if facts.user.direct_number else "the principal number"
    trace.add(Rule.EMERGENCY, "chosen",
              f"{callee.number} is an emergency number: presenting {source}, "
              "never refused, capped or rotated", number)
    return Decision(number, Rule.EMERGENCY, callee.number, tuple(trace.steps))


def _check_calling_hours(
    facts: OutboundFacts, request: OutboundRequest, now: datetime, trace: _Trace
) -> None:
    hours = facts.org.calling_hours
    if hours is None:
        return
    # A non-geographic number (toll-free: 42 zones) says nothing of where the callee is.
    callee = facts.callee
    zones = callee.timezones if callee.geographic and callee.timezones else (facts.org.timezone,)
    local_times = [now.astimezone(ZoneInfo(zone)) for zone in zones]
    outside = [t for t in local_times if not hours.allows(t.time().replace(tzinfo=None))]
    described = ", ".join(f"{t:%H:%M} {t.tzinfo}" for t in (outside or local_times))
    if not outside:
        trace.add("calling_hours", "checked", f"callee's local time {described} is within {hours}")
        return
    if request.consented:
        trace.add("calling_hours", "checked",
                  f"callee's local time {described} is outside {hours}; allowed: consented/urgent")
        return
    raise OutsideCallingHours(
        f"the callee's local time is {described}, outside calling hours {hours}", field="to"
    )


def _check_compliance(
    facts: OutboundFacts, request: OutboundRequest, now: datetime, trace: _Trace
) -> None:
    """Every compliance rule that applies (SPEC 10), in the callee's candidate zones; the
    contact's earlier calls in the history count against the frequency caps."""
    found = facts.compliance
    if found is None:
        return
    org = facts.org
    place = place_of(facts.callee.number, org.default_country, found.contact, org.timezone)
    call = ComplianceCall(place, subject=request.subject, project=request.project,
                          consented=request.consented, do_not_call=found.do_not_call,
                          registry=found.registry, consent=found.consent)
    # A call recorded after ``now`` (another server's clock ahead) counts as made now: it
    # was made, and two servers must never exceed a cap between them.
    recent = [RecentCall(min(past.at, now), past.subject, past.project) for past in facts.history]
    verdict = evaluate(found.policy, call, recent, now)
    trace.steps.extend(verdict.trace)
    if not verdict.allowed:
        raise NotCompliant(verdict.message(), details=verdict.as_dict(),
                           next_allowed_at=verdict.next_allowed_at)


def _override(facts: OutboundFacts, number: str, trace: _Trace) -> Choice:
    reason = why_not_presentable(facts, number)
    if reason is not None:
        raise NotPresentable(f"{number} {reason}; it cannot be presented", field="caller_id")
    trace.add(Rule.OVERRIDE, "chosen", "the caller ID asked for this call is presentable", number)
    return Choice(Rule.OVERRIDE, number)


# -- SPEC 3.2: the project's number selection logic ----------------------------------

def _project_logic(facts: OutboundFacts, rng: random.Random, trace: _Trace) -> Choice | None:
    """Steps 1-4 of SPEC 3.2; None when the pool has no presentable number (step 5)."""
    project = facts.project
    assert project is not None
    choice = _agent_number(facts, trace) or _previous_number(facts, trace)
    if choice is not None and project.local_only != "off" \
            and not local_numbers(facts, [choice.number]):
        trace.add("local_only", "passed", f"{choice.number} ({choice.rule}) is not local "
                  f"to {facts.callee.number}", choice.number)
        choice = None
    if choice is not None:
        return choice
    pool = [n for n in project.pool if _presentable_or_note(facts, n, trace)]
    if project.local_only != "off":
        return _local_only(facts, pool, rng, trace)
    if not pool:
        trace.add("pool", "passed", f"project {project.id} has no presentable number")
        return None
    in_project = [c for c in facts.history if c.project == project.id]
    if not in_project:
        return _first_call(facts, pool, rng, trace)
    return (_outcome_number(facts, in_project[0], pool, trace)
            or _pick_from_pool(facts, project.next_calls, pool, rng, trace, "next_calls"))


def _local_only(facts: OutboundFacts, pool: list[str], rng: random.Random,
                trace: _Trace) -> Choice:
    """A ``local_only`` project: the pool's numbers local to the callee, else refuse or
    present the principal, as the project says."""
    project = facts.project
    assert project is not None
    local = sorted(local_numbers(facts, pool))
    for number in sorted(set(pool) - set(local)):
        trace.add("local_only", "passed", f"pool number {number} is not local to "
                  f"{facts.callee.number}", number)
    if local:
        trace.add("local_only", "checked", f"{len(local)} of {len(pool)} presentable pool "
                  f"numbers are local to {facts.callee.number}")
        in_project = [c for c in facts.history if c.project == project.id]
        if not in_project:
            return _first_call(facts, local, rng, trace)
        return (_outcome_number(facts, in_project[0], local, trace)
                or _pick_from_pool(facts, project.next_calls, local, rng, trace, "next_calls"))
    why = (f"project {project.id} is local only and no presentable pool number is local "
           f"to {facts.callee.number} (area code {facts.callee.area_code or 'unknown'})")
    if project.local_only == "refuse":
        trace.add("local_only", "passed", why)
        raise Refused(why, field="to")
    trace.add("local_only", "passed", f"{why}; presenting the principal number")
    return _principal(facts, trace)


def _agent_number(facts: OutboundFacts, trace: _Trace) -> Choice | None:
    project = facts.project
    assert project is not None
    if project.agent_number == "use_agent":
        return _try_one(facts, trace, Rule.AGENT_NUMBER, facts.user.caller_id,
                        "the user's caller ID")
    trace.add(Rule.AGENT_NUMBER, "passed", f"project {project.id} uses the project's numbers")
    return None


def _previous_number(facts: OutboundFacts, trace: _Trace) -> Choice | None:
    project = facts.project
    assert project is not None
    if not project.keep_previous_number:
        return None
    if not facts.history:
        trace.add(Rule.PREVIOUS_NUMBER, "passed", "the contact was not called before")
        return None
    previous = facts.history[0]
    return _try_one(facts, trace, Rule.PREVIOUS_NUMBER, previous.caller_id,
                    f"the number of the last call ({previous.at:%Y-%m-%d %H:%M})")


def _outcome_number(
    facts: OutboundFacts, last: PastCall, pool: list[str], trace: _Trace
) -> Choice | None:
    project = facts.project
    assert project is not None
    named = project.outcome_numbers.get(last.outcome or "")
    if named is None:
        trace.add(Rule.OUTCOME_NUMBER, "passed",
                  f"the last call's outcome ({last.outcome or 'none'}) names no number")
        return None
    if named not in pool:
        trace.add(Rule.OUTCOME_NUMBER, "passed",
                  f"outcome {last.outcome} names {named}, not a presentable pool number")
        return None
    trace.add(Rule.OUTCOME_NUMBER, "chosen",
              f"outcome {last.outcome} of the last call names this pool number", named)
    return Choice(Rule.OUTCOME_NUMBER, named)


def _first_call(facts: OutboundFacts, pool: list[str], rng: random.Random,
                trace: _Trace) -> Choice:
    project = facts.project
    assert project is not None
    setting = project.first_call
    if setting in (Logic.RANDOM, Logic.REGIONALLY_RANDOM):
        return _pick_from_pool(facts, Logic(setting), pool, rng, trace, "first_call")
    if setting in pool:
        trace.add(Rule.FIRST_CALL_NUMBER, "chosen", "the project's number for the first call",
                  setting)
        return Choice(Rule.FIRST_CALL_NUMBER, setting)
    trace.add(Rule.FIRST_CALL_NUMBER, "passed",
              f"the number for the first call {setting} is not presentable; using random")
    return _pick_from_pool(facts, Logic.RANDOM, pool, rng, trace, "first_call")


def _pick_from_pool(
    facts: OutboundFacts, logic: Logic, pool: list[str], rng: random.Random, trace: _Trace,
    phase: str,
) -> Choice:
    if logic == Logic.RANDOM:
        number = rng.choice(sorted(pool))
        trace.add(Rule.RANDOM, "chosen",
                  f"{phase}: uniform choice among {len(pool)} pool numbers", number)
        return Choice(Rule.RANDOM, number)
    if logic == Logic.DIFFERENT_EACH_ATTEMPT:
        return _different_each_attempt(facts, pool, rng, trace, phase)
    return _regionally_random(facts, pool, rng, trace, phase)


def _different_each_attempt(
    facts: OutboundFacts, pool: list[str], rng: random.Random, trace: _Trace, phase: str
) -> Choice:
    project = facts.project
    assert project is not None
    last_used: dict[str, datetime] = {}
    for call in facts.history:  # newest first: the first sighting is the latest use
        if call.project == project.id:
            last_used.setdefault(call.caller_id, call.at)
    unused = sorted(n for n in pool if n not in last_used)
    rule = Rule.DIFFERENT_EACH_ATTEMPT
    if unused:
        number = rng.choice(unused)
        trace.add(rule, "chosen",
                  f"{phase}: {len(unused)} of {len(pool)} pool numbers unused for this contact",
                  number)
    else:
        number = min(sorted(pool), key=lambda n: last_used[n])
        trace.add(rule, "chosen",
                  f"{phase}: every pool number was used for this contact; "
                  f"this one longest ago ({last_used[number]:%Y-%m-%d %H:%M})", number)
    return Choice(rule, number)


def _regionally_random(
    facts: OutboundFacts, pool: list[str], rng: random.Random, trace: _Trace, phase: str
) -> Choice:
    callee = facts.callee
    if callee.line_type == "mobile" or not callee.geographic:
        kind = "a mobile" if callee.line_type == "mobile" else "not geographic"
        candidates, why = pool, f"the callee is {kind}; uniform choice in the pool"
    elif local := [n for n in pool if n in facts.serving_area_code]:
        candidates, why = local, (f"random among {len(local)} pool numbers serving area code "
                                  f"{callee.area_code}")
    elif nearby := sorted(set(pool) & _serving(
            facts, nearby_area_codes(callee.area_code, proximity_of(facts)))):
        candidates, why = nearby, (f"no pool number serves area code {callee.area_code}; "
                                   f"random among {len(nearby)} in nearby area codes "
                                   "(overlay, adjacent or within the radius)")
    elif same_region := [n for n in pool if _in_callee_region(facts, n)]:
        candidates, why = same_region, (f"no pool number serves area code {callee.area_code}; "
                                        f"random among {len(same_region)} in {callee.region}")
    else:
        candidates, why = pool, (f"no pool number serves area code {callee.area_code} or "
                                 f"region {callee.region}; uniform choice in the pool")
    number = rng.choice(sorted(candidates))
    trace.add(Rule.REGIONALLY_RANDOM, "chosen", f"{phase}: {why}", number)
    return Choice(Rule.REGIONALLY_RANDOM, number)


# -- SPEC 3.3: the organization's logic ----------------------------------------------

def _org_logic(
    facts: OutboundFacts, rng: random.Random, trace: _Trace, from_step: int
) -> Choice:
    """SPEC 3.3 from ``from_step``: agent match, local presence, user caller ID, principal."""
    choice = None
    if from_step <= 1:
        choice = _agent_area_code(facts, trace) or _local_presence(facts, rng, trace)
    return (choice
            or _try_one(facts, trace, Rule.USER_CALLER_ID, facts.user.caller_id,
                        "the user's caller ID")
            or _principal(facts, trace))


def _agent_area_code(facts: OutboundFacts, trace: _Trace) -> Choice | None:
    caller_id = facts.user.caller_id
    if caller_id and caller_id in facts.serving_area_code:
        return _try_one(facts, trace, Rule.AGENT_AREA_CODE, caller_id,
                        f"the user's caller ID (it serves area code {facts.callee.area_code})")
    trace.add(Rule.AGENT_AREA_CODE, "passed",
              f"the user's caller ID does not serve area code {facts.callee.area_code}")
    return None


def _local_presence(facts: OutboundFacts, rng: random.Random, trace: _Trace) -> Choice | None:
    if not facts.org.local_presence:
        trace.add(Rule.LOCAL_PRESENCE, "passed", "local presence is off for the organization")
        return None
    proximity = proximity_of(facts)
    return (_in_exchange(facts, proximity, rng, trace)
            or _in_area_code(facts, rng, trace)
            or _nearby(facts, proximity, rng, trace)
            or _in_region(facts, rng, trace))


# -- SPEC 3.3, proximity: exchange, overlay, adjacent, radius -------------------------

def proximity_of(facts: OutboundFacts) -> Proximity:
    """The proximity steps of this call: the project's, else the organization's."""
    project = facts.project
    if project is not None and project.proximity is not None:
        return project.proximity
    return facts.org.proximity


def nanp_parts(number: str) -> tuple[str, str] | None:
    """A NANP number's area code and exchange (NPA, NXX), or None for another number."""
    if len(number) == 12 and number.startswith("+1") and number[1:].isdigit():
        return number[2:5], number[5:8]
    return None


def nearby_area_codes(area_code: str | None, proximity: Proximity) -> tuple[str, ...]:
    """The area codes whose numbers the proximity steps may present for a callee in
    ``area_code``: its overlays, its neighbours and those within the radius (nearest
    first), as the steps turned on ask; what the service reads beside the area code."""
    if not area_code or not proximity.reaches_out:
        return ()
    geo = geography()
    codes: list[str] = []
    if proximity.overlay:
        codes.extend(sorted(geo.overlays(area_code)))
    if proximity.adjacent:
        codes.extend(sorted(geo.neighbours(area_code)))
    if proximity.radius_miles is not None:
        codes.extend(code for _, code in geo.within(area_code, proximity.radius_miles))
    return tuple(dict.fromkeys(c for c in codes if c != area_code))


def _area_code_index(facts: OutboundFacts) -> dict[str, set[str]]:
    """The org numbers serving each area code: read for it, or their own area code."""
    index = {code: set(numbers) for code, numbers in facts.nearby.items()}
    for number in facts.numbers:
        parts = nanp_parts(number)
        if parts is not None:
            index.setdefault(parts[0], set()).add(number)
    return index


def _serving(facts: OutboundFacts, codes: Iterable[str],
             index: dict[str, set[str]] | None = None) -> set[str]:
    """The org numbers serving any of ``codes``: read for them, or their own area code."""
    index = _area_code_index(facts) if index is None else index
    found: set[str] = set()
    for code in codes:
        found.update(index.get(code, ()))
    return found


def _note_passed(facts: OutboundFacts, numbers: Iterable[str], trace: _Trace,
                 rule: Rule) -> list[str]:
    """The presentable ones of ``numbers``; a passed line for each other, saying why
    (once per number in a decision)."""
    presentable = []
    for number in sorted(numbers):
        reason = why_not_presentable(facts, number)
        if reason is None:
            presentable.append(number)
        elif number not in trace.noted:
            trace.noted.add(number)
            trace.add(rule, "passed", reason, number)
    return presentable


def _in_exchange(facts: OutboundFacts, proximity: Proximity, rng: random.Random,
                 trace: _Trace) -> Choice | None:
    if not proximity.exchange:
        return None
    rule, parts = Rule.LOCAL_EXCHANGE, nanp_parts(facts.callee.number)
    if parts is None:
        trace.add(rule, "passed", f"{facts.callee.number} is not a NANP number")
        return None
    exchange = f"{parts[0]}-{parts[1]}"
    prefix = facts.callee.number[:8]  # +1 NPA NXX: such a number serves its area code
    same = [n for n in facts.serving_area_code if n.startswith(prefix)]
    presentable = _note_passed(facts, same, trace, rule) if same else same
    if presentable:
        return _least_recently_presented(facts, presentable, rng, trace, rule,
                                         f"in exchange {exchange}")
    trace.add(rule, "passed", f"no presentable number in exchange {exchange}")
    return None


def _nearby(facts: OutboundFacts, proximity: Proximity, rng: random.Random,
            trace: _Trace) -> Choice | None:
    """Overlay, then adjacent, then the nearest within the radius (SPEC 3.3)."""
    code = facts.callee.area_code
    if not proximity.reaches_out or code is None:
        return None
    geo, index = geography(), _area_code_index(facts)
    if geo.get(code) is None:
        trace.add(Rule.LOCAL_OVERLAY, "passed",
                  f"area code {code} is not in the shipped geography (US and Canada)")
        return None
    steps: list[tuple[Rule, bool, list[str], str]] = [
        (Rule.LOCAL_OVERLAY, proximity.overlay, sorted(geo.overlays(code)),
         f"overlays of {code}"),
        (Rule.LOCAL_ADJACENT, proximity.adjacent, sorted(geo.neighbours(code)),
         f"area codes adjacent to {code}"),
    ]
    for rule, on, codes, what in steps:
        if not on:
            continue
        presentable = _note_passed(facts, _serving(facts, codes, index), trace, rule)
        if presentable:
            return _least_recently_presented(
                facts, presentable, rng, trace, rule,
                f"in the {what} ({', '.join(codes)})")
        trace.add(rule, "passed", f"no presentable number in the {what} "
                  f"({', '.join(codes) or 'none known'})")
    return _within_radius(facts, proximity, rng, trace, index)


def _within_radius(facts: OutboundFacts, proximity: Proximity, rng: random.Random,
                   trace: _Trace, index: dict[str, set[str]]) -> Choice | None:
    radius, code, rule = proximity.radius_miles, facts.callee.area_code, Rule.LOCAL_RADIUS
    if radius is None or code is None:
        return None
    near = geography().within(code, radius)
    for miles, other in near:
        numbers = index.get(other)
        if not numbers:
            continue
        presentable = _note_passed(facts, numbers, trace, rule)
        if presentable:
            return _least_recently_presented(
                facts, presentable, rng, trace, rule,
                f"in area code {other}, the nearest with one: {miles:.0f} miles from "
                f"{code} (within {radius})")
    trace.add(rule, "passed", f"no presentable number within {radius} miles of area code "
              f"{code} ({len(near)} area codes)")
    return None


def local_numbers(facts: OutboundFacts, numbers: Iterable[str]) -> set[str]:
    """Those of ``numbers`` local to the callee by the proximity steps turned on: the
    callee's exchange or area code, an overlay, a neighbour, within the radius, or (with
    the organization's fallback ``region``) the callee's region."""
    proximity, callee = proximity_of(facts), facts.callee
    wanted = set(numbers)
    if callee.area_code is None:
        return set()
    index = _area_code_index(facts)
    local = wanted & (facts.serving_area_code | _serving(facts, [callee.area_code], index))
    local |= wanted & _serving(facts, nearby_area_codes(callee.area_code, proximity), index)
    if facts.org.local_presence_fallback == "region":
        local |= {n for n in wanted if _in_callee_region(facts, n)}
    return local


def _in_area_code(facts: OutboundFacts, rng: random.Random, trace: _Trace) -> Choice | None:
    callee = facts.callee
    if callee.area_code is None:
        trace.add(Rule.LOCAL_PRESENCE, "passed", f"{callee.number} has no area code")
        return None
    _note_health(facts, facts.serving_area_code, trace, Rule.LOCAL_PRESENCE)
    local = _presentable(facts, facts.serving_area_code)
    if local:
        return _least_recently_presented(facts, local, rng, trace, Rule.LOCAL_PRESENCE,
                                         f"serving area code {callee.area_code}")
    trace.add(Rule.LOCAL_PRESENCE, "passed",
              f"no presentable number serves area code {callee.area_code}")
    return None


def _in_region(facts: OutboundFacts, rng: random.Random, trace: _Trace) -> Choice | None:
    callee = facts.callee
    rule = Rule.LOCAL_PRESENCE_REGION
    if facts.org.local_presence_fallback != "region":
        return None
    if callee.region is None:
        trace.add(rule, "passed", f"{callee.number} has no known region")
        return None
    region_numbers = [n for n in facts.numbers if _in_callee_region(facts, n)]
    _note_health(facts, region_numbers, trace, rule)
    in_region = _presentable(facts, region_numbers)
    if in_region:
        return _least_recently_presented(facts, in_region, rng, trace, rule,
                                         f"in {callee.region}")
    trace.add(rule, "passed", f"no presentable number in {callee.region}")
    return None


def _principal(facts: OutboundFacts, trace: _Trace) -> Choice:
    principal = facts.org.principal_number
    if principal not in facts.numbers:
        # The stores refuse such a principal; one left from older data is never presented.
        trace.add(Rule.PRINCIPAL, "passed", "the principal number is not one of the "
                  "organization's numbers", principal)
        raise NotPresentable(f"no number can be presented: the principal number {principal} "
                             "is not one of the organization's numbers", field="principal_number")
    trace.add(Rule.PRINCIPAL, "chosen", "the principal number, the last resort", principal)
    return Choice(Rule.PRINCIPAL, principal)


def _least_recently_presented(
    facts: OutboundFacts, numbers: list[str], rng: random.Random, trace: _Trace, rule: Rule,
    where: str,
) -> Choice:
    def last(n: str) -> datetime:
        return facts.numbers[n].last_presented_at or _NEVER

    oldest = min(last(n) for n in numbers)
    ties = sorted(n for n in numbers if last(n) == oldest)
    number = rng.choice(ties)
    when = "never presented" if oldest == _NEVER else f"last presented {oldest:%Y-%m-%d %H:%M}"
    trace.add(rule, "chosen",
              f"least recently presented of {len(numbers)} presentable numbers {where} ({when})",
              number)
    return Choice(rule, number)


def _in_callee_region(facts: OutboundFacts, number: str) -> bool:
    state = facts.numbers.get(number)
    return state is not None and state.region is not None and state.region == facts.callee.region


def _presentable(facts: OutboundFacts, numbers: Iterable[str]) -> list[str]:
    return sorted(n for n in numbers if why_not_presentable(facts, n) is None)


def _note_health(facts: OutboundFacts, numbers: Iterable[str], trace: _Trace,
                 rule: Rule) -> None:
    """A passed line for each of ``numbers`` that health or volume shaping passes over,
    saying why (once per number in a decision)."""
    for number in sorted(numbers):
        reason = passed_for_health(facts, number)
        if reason is not None and number not in trace.noted:
            trace.noted.add(number)
            trace.add(rule, "passed", reason, number)


def _presentable_or_note(facts: OutboundFacts, number: str, trace: _Trace) -> bool:
    reason = why_not_presentable(facts, number)
    if reason is not None:
        trace.add("pool", "passed", f"pool number {reason}", number)
    return reason is None


def _try_one(
    facts: OutboundFacts, trace: _Trace, rule: Rule, number: str | None, what: str
) -> Choice | None:
    if number is None:
        trace.add(rule, "passed", f"{what}: none set")
        return None
    reason = why_not_presentable(facts, number)
    if reason is None:
        trace.add(rule, "chosen", f"{what} is presentable", number)
        return Choice(rule, number)
    trace.add(rule, "passed", f"{what} {reason}", number)
    return None
