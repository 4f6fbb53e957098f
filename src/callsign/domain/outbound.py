"""Which caller ID an outbound call presents (SPEC 2 and 3). Pure: no I/O, no clock.

``decide_outbound`` tries the steps in SPEC order; the first that yields a presentable
number decides. Every step tried leaves a line in the trace saying why it matched or
passed, so every decision can be explained.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from callsign.domain.errors import NotPresentable, OutsideCallingHours
from callsign.domain.model import (
    Decision,
    Logic,
    OutboundFacts,
    OutboundRequest,
    TraceResult,
    TraceStep,
)

_NEVER = datetime.min.replace(tzinfo=UTC)  # sorts before any real presentation


class _Trace:
    def __init__(self) -> None:
        self.steps: list[TraceStep] = []

    def add(self, step: str, result: TraceResult, detail: str, number: str | None = None) -> None:
        self.steps.append(TraceStep(step, result, detail, number))


class _Choice(Exception):
    """Raised inside the steps when one decides; carries the rule and number."""

    def __init__(self, rule: str, number: str) -> None:
        self.rule = rule
        self.number = number


def why_not_presentable(facts: OutboundFacts, number: str) -> str | None:
    """Why ``number`` may not be presented on this call (SPEC 2), or None if it may."""
    state = facts.numbers.get(number)
    if state is None:
        return "is not one of the organization's numbers"
    if state.status != "active":
        return f"is {state.status}"
    elif state.daily_cap is not None and state.used_today >= state.daily_cap:
        return f"reached its daily cap ({state.used_today}/{state.daily_cap})"
    if facts.org.restrict_caller_ids and number not in facts.user.allowed_caller_ids:
        return f"is not among {facts.user.id}'s allowed caller IDs"
    return None


def decide_outbound(
    request: OutboundRequest, facts: OutboundFacts, rng: random.Random, now: datetime
) -> Decision:
    """Pick the caller ID for one call, or raise Refused; ``now`` is timezone-aware."""
    trace = _Trace()
    callee = facts.callee
    if callee.emergency:
        number = facts.user.direct_number or facts.org.principal_number
        source = "the user's direct number" if facts.user.direct_number else "the principal number"
        trace.add("emergency", "chosen",
                  f"{callee.number} is an emergency number: presenting {source}, "
                  "never refused, capped or rotated", number)
        return Decision(number, "emergency", callee.number, tuple(trace.steps), counts=False)

    _check_calling_hours(facts, request, now, trace)
    try:
        if facts.caller_id is not None:
            _override(facts, trace)
        if facts.project is not None and _project_logic(facts, rng, trace):
            _org_logic(facts, rng, trace, from_step=3)
        else:
            _org_logic(facts, rng, trace, from_step=1)
    except _Choice as choice:
        return Decision(choice.number, choice.rule, callee.number, tuple(trace.steps))
    raise AssertionError("the principal number always decides")  # pragma: no cover


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


def _override(facts: OutboundFacts, trace: _Trace) -> None:
    number = facts.caller_id
    assert number is not None
    reason = why_not_presentable(facts, number)
    if reason is not None:
        raise NotPresentable(f"{number} {reason}; it cannot be presented", field="caller_id")
    trace.add("override", "chosen", "the caller ID asked for this call is presentable", number)
    raise _Choice("override", number)


def _project_logic(facts: OutboundFacts, rng: random.Random, trace: _Trace) -> bool:
    """Apply SPEC 3.2; raise _Choice when it decides, return True when the pool ran dry."""
    project = facts.project
    assert project is not None
    user = facts.user
    if project.agent_number == "use_agent":
        _try_one(facts, trace, "agent_number", user.caller_id, "the user's caller ID")
    else:
        trace.add("agent_number", "passed", f"project {project.id} uses the project's numbers")

    if project.keep_previous_number:
        previous = facts.history[0] if facts.history else None
        if previous is None:
            trace.add("previous_number", "passed", "the contact was not called before")
        else:
            _try_one(facts, trace, "previous_number", previous.caller_id,
                     f"the number of the last call ({previous.at:%Y-%m-%d %H:%M})")
    pool = [n for n in project.pool if _presentable_or_note(facts, n, trace)]
    if not pool:
        trace.add("pool", "passed", f"project {project.id} has no presentable number")
        return True
    in_project = [c for c in facts.history if c.project == project.id]
    if in_project:
        last = in_project[0]
        named = project.outcome_numbers.get(last.outcome or "")
        if named is None:
            trace.add("outcome_number", "passed",
                      f"the last call's outcome ({last.outcome or 'none'}) names no number")
        elif named in pool:
            trace.add("outcome_number", "chosen",
                      f"outcome {last.outcome} of the last call names this pool number", named)
            raise _Choice("outcome_number", named)
        else:
            trace.add("outcome_number", "passed",
                      f"outcome {last.outcome} names {named}, not a presentable pool number")
        _pick_from_pool(facts, project.next_calls, pool, rng, trace, "next_calls")
    _first_call(facts, pool, rng, trace)
    return False  # pragma: no cover - _first_call always decides


def _first_call(facts: OutboundFacts, pool: list[str], rng: random.Random, trace: _Trace) -> None:
    project = facts.project
    assert project is not None
    setting = project.first_call
    if setting in (Logic.RANDOM, Logic.REGIONALLY_RANDOM):
        _pick_from_pool(facts, Logic(setting), pool, rng, trace, "first_call")
    if setting in pool:
        trace.add("first_call_number", "chosen", "the project's number for the first call", setting)
        raise _Choice("first_call_number", setting)
    trace.add("first_call_number", "passed",
              f"the number for the first call {setting} is not presentable; using random")
    _pick_from_pool(facts, Logic.RANDOM, pool, rng, trace, "first_call")


def _pick_from_pool(
    facts: OutboundFacts, logic: Logic, pool: list[str], rng: random.Random, trace: _Trace,
    phase: str,
) -> None:
    if logic == Logic.RANDOM:
        number = rng.choice(sorted(pool))
        trace.add(logic, "chosen", f"{phase}: uniform choice among {len(pool)} pool numbers",
                  number)
        raise _Choice(logic, number)
    if logic == Logic.DIFFERENT_EACH_ATTEMPT:
        _different_each_attempt(facts, pool, rng, trace, phase)
    _regionally_random(facts, pool, rng, trace, phase)


def _different_each_attempt(
    facts: OutboundFacts, pool: list[str], rng: random.Random, trace: _Trace, phase: str
) -> None:
    project = facts.project
    assert project is not None
    last_used: dict[str, datetime] = {}
    for call in facts.history:  # newest first: the first sighting is the latest use
        if call.project == project.id:
            last_used.setdefault(call.caller_id, call.at)
    unused = sorted(n for n in pool if n not in last_used)
    rule = Logic.DIFFERENT_EACH_ATTEMPT
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
    raise _Choice(rule, number)


def _regionally_random(
    facts: OutboundFacts, pool: list[str], rng: random.Random, trace: _Trace, phase: str
) -> None:
    callee = facts.callee
    rule = Logic.REGIONALLY_RANDOM
    if callee.line_type == "mobile" or not callee.geographic:
        kind = "a mobile" if callee.line_type == "mobile" else "not geographic"
        number = rng.choice(sorted(pool))
        trace.add(rule, "chosen", f"{phase}: the callee is {kind}; uniform choice in the pool",
                  number)
        raise _Choice(rule, number)
    local = sorted(n for n in pool if n in facts.serving_area_code)
    if local:
        number = rng.choice(local)
        trace.add(rule, "chosen",
                  f"{phase}: random among {len(local)} pool numbers serving area code "
                  f"{callee.area_code}", number)
        raise _Choice(rule, number)
    same_region = sorted(n for n in pool if _in_callee_region(facts, n))
    if same_region:
        number = rng.choice(same_region)
        trace.add(rule, "chosen",
                  f"{phase}: no pool number serves area code {callee.area_code}; random among "
                  f"{len(same_region)} in {callee.region}", number)
        raise _Choice(rule, number)
    number = rng.choice(sorted(pool))
    trace.add(rule, "chosen",
              f"{phase}: no pool number serves area code {callee.area_code} or region "
              f"{callee.region}; uniform choice in the pool", number)
    raise _Choice(rule, number)


def _org_logic(facts: OutboundFacts, rng: random.Random, trace: _Trace, from_step: int) -> None:
    """SPEC 3.3: agent match, local presence, user caller ID, principal number."""
    callee = facts.callee
    user = facts.user
    if from_step <= 1:
        if user.caller_id and user.caller_id in facts.serving_area_code:
            _try_one(facts, trace, "agent_area_code", user.caller_id,
                     f"the user's caller ID (it serves area code {callee.area_code})")
        else:
            trace.add("agent_area_code", "passed",
                      f"the user's caller ID does not serve area code {callee.area_code}")
        _local_presence(facts, rng, trace)
    _try_one(facts, trace, "user_caller_id", user.caller_id, "the user's caller ID")
    principal = facts.org.principal_number
    if principal not in facts.numbers:
        # The stores refuse such a principal; one left from older data is never presented.
        trace.add("principal", "passed", "the principal number is not one of the "
                  "organization's numbers", principal)
        raise NotPresentable(f"no number can be presented: the principal number {principal} "
                             "is not one of the organization's numbers", field="principal_number")
    trace.add("principal", "chosen", "the principal number, the last resort", principal)
    raise _Choice("principal", principal)


def _local_presence(facts: OutboundFacts, rng: random.Random, trace: _Trace) -> None:
    callee = facts.callee
    if not facts.org.local_presence:
        trace.add("local_presence", "passed", "local presence is off for the organization")
        return
    if callee.area_code is None:
        trace.add("local_presence", "passed", f"{callee.number} has no area code")
    else:
        local = _presentable(facts, facts.serving_area_code)
        if local:
            _least_recently_presented(facts, local, rng, trace, "local_presence",
                                      f"serving area code {callee.area_code}")
        trace.add("local_presence", "passed",
                  f"no presentable number serves area code {callee.area_code}")
    if facts.org.local_presence_fallback != "region":
        return
    if callee.region is None:
        trace.add("local_presence_region", "passed", f"{callee.number} has no known region")
        return
    in_region = _presentable(facts, (n for n in facts.numbers if _in_callee_region(facts, n)))
    if in_region:
        _least_recently_presented(facts, in_region, rng, trace, "local_presence_region",
                                  f"in {callee.region}")
    trace.add("local_presence_region", "passed", f"no presentable number in {callee.region}")


def _least_recently_presented(
    facts: OutboundFacts, numbers: list[str], rng: random.Random, trace: _Trace, rule: str,
    where: str,
) -> None:
    def last(n: str) -> datetime:
        return facts.numbers[n].last_presented_at or _NEVER

    oldest = min(last(n) for n in numbers)
    ties = sorted(n for n in numbers if last(n) == oldest)
    number = rng.choice(ties)
    when = "never presented" if oldest == _NEVER else f"last presented {oldest:%Y-%m-%d %H:%M}"
    trace.add(rule, "chosen",
              f"least recently presented of {len(numbers)} presentable numbers {where} ({when})",
              number)
    raise _Choice(rule, number)


def _in_callee_region(facts: OutboundFacts, number: str) -> bool:
    state = facts.numbers.get(number)
    return state is not None and state.region is not None and state.region == facts.callee.region


def _presentable(facts: OutboundFacts, numbers: Iterable[str]) -> list[str]:
    return sorted(n for n in numbers if why_not_presentable(facts, n) is None)


def _presentable_or_note(facts: OutboundFacts, number: str, trace: _Trace) -> bool:
    reason = why_not_presentable(facts, number)
    if reason is not None:
        trace.add("pool", "passed", f"pool number {reason}", number)
    return reason is None


def _try_one(
    facts: OutboundFacts, trace: _Trace, rule: str, number: str | None, what: str
) -> None:
    if number is None:
        trace.add(rule, "passed", f"{what}: none set")
        return
    reason = why_not_presentable(facts, number)
    if reason is None:
        trace.add(rule, "chosen", f"{what} is presentable", number)
        raise _Choice(rule, number)
    trace.add(rule, "passed", f"{what} {reason}", number)

