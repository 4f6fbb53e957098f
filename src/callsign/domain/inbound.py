"""Where a call to one of our numbers rings (SPEC 4). Pure: no I/O, no clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from callsign.domain.model import Agent, InboundFacts, InboundStep, Route, TraceStep

WITHHELD = "anonymous"  # the caller of a call whose number is withheld or not a number


def route_inbound(facts: InboundFacts, now: datetime) -> Route:
    """Walk the call path in order; the first step with a destination decides."""
    trace: list[TraceStep] = []
    for step in facts.path:
        destination, user, detail = _try(step, facts, now)
        if destination is not None:
            trace.append(TraceStep(step, "chosen", detail, destination))
            return Route(destination, step, user.id if user else None, tuple(trace))
        trace.append(TraceStep(step, "passed", detail))
    principal = facts.org.principal_number
    trace.append(TraceStep(InboundStep.COMPANY, "chosen",
                           "the call path gave no destination: the principal number", principal))
    return Route(principal, InboundStep.COMPANY, None, tuple(trace))


_Found = tuple[str | None, Agent | None, str]  # destination (None: passed), user, why


def _try(step: InboundStep, facts: InboundFacts, now: datetime) -> _Found:
    match step:
        case InboundStep.DIRECT_NUMBER:
            return _direct_number(facts)
        case InboundStep.LAST_CALLER:
            return _last_caller(facts, now)
        case InboundStep.LEAD_OWNER:
            return _lead_owner(facts)
        case InboundStep.FORWARDING:
            return _forwarding(facts)
        case InboundStep.COMPANY:
            return _company(facts)


def _ring(user: Agent | None, why: str) -> _Found:
    if user is None:
        return None, None, why
    if not user.active:
        return None, None, f"{why}: {user.id} is inactive"
    if not user.work_phone:
        return None, None, f"{why}: {user.id} has no work phone"
    return user.work_phone, user, f"{why}: ringing {user.id}'s work phone"


def _direct_number(facts: InboundFacts) -> _Found:
    user = facts.direct_user
    if user is None:
        return None, None, f"{facts.called} is no user's direct number"
    return _ring(user, f"{facts.called} is {user.id}'s direct number")


def _last_caller(facts: InboundFacts, now: datetime) -> _Found:
    if facts.caller == WITHHELD:
        return None, None, "the caller's number is withheld: no last caller to look up"
    call = facts.last_call
    days = facts.org.last_caller_days
    if call is None:
        return None, None, f"no user of the organization called {facts.caller}"
    if call.at < now - timedelta(days=days):
        return None, None, (f"the last call to {facts.caller} was {call.at:%Y-%m-%d}, "
                            f"over {days} days ago")
    user = facts.last_caller
    if user is None:
        return None, None, f"{call.user}, who last called {facts.caller}, is no longer a user"
    return _ring(user, f"{user.id} called {facts.caller} last, on {call.at:%Y-%m-%d %H:%M}")


def _lead_owner(facts: InboundFacts) -> _Found:
    if facts.caller == WITHHELD:
        return None, None, "the caller's number is withheld: no lead owner to look up"
    owner = facts.lead_owner
    if owner is None:
        return None, None, f"{facts.caller} is not a contact with an owner"
    if not owner.direct_number:
        return None, None, f"the lead's owner {owner.id} has no direct number"
    return _ring(owner, f"the caller is {owner.id}'s lead")


def _forwarding(facts: InboundFacts) -> _Found:
    number = facts.org.forwarding_number
    if not number:
        return None, None, "the organization has no forwarding number"
    return number, None, "the organization's forwarding number"


def _company(facts: InboundFacts) -> _Found:
    return facts.org.principal_number, None, "the organization's principal number"

