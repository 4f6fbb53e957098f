"""The decision explorer's dry run (SPEC 10): what the decision would answer for a call,
at a time and for a contact address the asker may give, with nothing recorded.

It reads as a decision reads (the organization's state, the facts gathered for the
callee) in one read-only transaction, runs the pure decision and, when compliance rules
apply, shows where the callee is and the verdict: the caller ID chosen, or the refusal
with its rule, pack, source, the callee's local time and ``next_allowed_at``. No cap is
claimed, no call recorded, no row locked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from callsign.domain.compliance.zones import (
    CalleePlace,
    ContactAddress,
    known_zone,
    place_of,
    state_code,
    zip_place,
)
from callsign.domain.errors import InvalidInput, NotCompliant, Refused
from callsign.domain.model import Decision, OutboundRequest, TraceStep
from callsign.domain.outbound import decide_outbound
from callsign.services import calls, org_cache
from callsign.services.ports import UnitOfWork


@dataclass(frozen=True)
class Refusal:
    """Why the decision refuses the call: its error, and for a compliance rule the
    verdict's details (rule, pack, pack_version, source, reason, local_times,
    next_allowed_at, refusals, trace)."""

    code: str
    message: str
    field: str | None
    details: dict[str, Any]
    next_allowed_at: datetime | None = None

    @property
    def compliance(self) -> bool:
        return self.code == NotCompliant.code


@dataclass(frozen=True)
class Preview:
    """A dry run's answer: a decision or a refusal, at ``at``, with the full trace."""

    at: datetime
    to: str  # the number called, in E.164 (an emergency number as given)
    decision: Decision | None
    refusal: Refusal | None
    trace: tuple[TraceStep, ...]
    place: CalleePlace | None  # where the callee is, when compliance rules apply
    contact: ContactAddress | None  # the address judged with
    contact_from: str  # "typed", "the contact's record" or "" (none)
    compliance: bool  # whether any compliance rule (or the do-not-call list) applies


def contact_address(
    timezone: str = "", state: str = "", postal_code: str = ""
) -> ContactAddress | None:
    """A typed contact address, each part checked (InvalidInput naming it), or None when
    nothing was typed."""
    timezone, state, postal_code = timezone.strip(), state.strip(), postal_code.strip()
    if not (timezone or state or postal_code):
        return None
    if timezone and not known_zone(timezone):
        raise InvalidInput(
            f"{timezone!r} is not an IANA time zone (e.g. America/New_York)",
            field="contact.timezone",
        )
    code = state_code(state) if state else None
    if state and code is None:
        raise InvalidInput(
            f"{state!r} is not a US state (e.g. FL or Florida)", field="contact.state"
        )
    if postal_code and zip_place(postal_code) == (None, None):
        raise InvalidInput(
            f"{postal_code!r} is not a known US ZIP code", field="contact.postal_code"
        )
    return ContactAddress(timezone or None, code, postal_code or None)


def preview_call(
    uow: UnitOfWork,
    request: OutboundRequest,
    *,
    now: datetime,
    rng: random.Random,
    at: datetime | None = None,
    contact: ContactAddress | None = None,
) -> Preview:
    """The decision for ``request`` at ``at`` (default ``now``), judged with ``contact``
    as the callee's address when given (else the contact's record), recording nothing.

    Raises what a call raises for a request that is not one (an unknown user or project,
    a number that is none); a refusal by the rules is the answer, not an error.
    """
    when = (at or now).astimezone(UTC)
    with uow:
        store = uow.calls
        state = org_cache.current(store, request.org)
        org = state.policy
        user = calls._user(state, request)
        try:
            to = calls._callee(org, user, request)
        except Refused as exc:  # an inactive user calling a number that is not emergency
            return _refused(when, request.to.strip(), exc, None, contact, "")
        facts = calls._gather(store, state, user, request, to, when)
    found = facts.compliance
    contact_from = ""
    if found is not None and not facts.callee.emergency:
        if contact is not None:
            found, contact_from = replace(found, contact=contact), "typed"
        elif found.contact is not None:
            contact_from = "the contact's record"
        facts = replace(facts, compliance=found)
    place = None
    if found is not None and not facts.callee.emergency:
        place = place_of(to, org.default_country, found.contact, org.timezone)
    judged = found.contact if found is not None and contact_from else None
    try:
        decision = decide_outbound(request, facts, rng, when)
    except Refused as exc:
        return _refused(when, to, exc, place, judged, contact_from, compliance=found is not None)
    decision = replace(decision, call_id=calls.new_id("call"))
    return Preview(
        when, to, decision, None, decision.trace, place, judged, contact_from, found is not None
    )


def _refused(
    at: datetime,
    to: str,
    exc: Refused,
    place: CalleePlace | None,
    contact: ContactAddress | None,
    contact_from: str,
    *,
    compliance: bool = False,
) -> Preview:
    details = exc.details if isinstance(exc, NotCompliant) else {}
    next_at = exc.next_allowed_at if isinstance(exc, NotCompliant) else None
    trace = tuple(
        TraceStep(s["step"], s["result"], s["detail"], s.get("number"))
        for s in details.get("trace", ())
    )
    refusal = Refusal(exc.code, exc.message, exc.field, details, next_at)
    return Preview(at, to, None, refusal, trace, place, contact, contact_from, compliance)
