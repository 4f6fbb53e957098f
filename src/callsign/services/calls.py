"""Use cases: select a caller ID, route an inbound call, record an outcome.

Each gathers the facts it needs in a few indexed reads, calls the pure core, and
records the result in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from callsign.domain import limits, phone
from callsign.domain.compliance.policy import CompliancePolicy
from callsign.domain.compliance.reassigned import Consent
from callsign.domain.compliance.zones import ContactAddress
from callsign.domain.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from callsign.domain.inbound import WITHHELD, route_inbound
from callsign.domain.model import (
    Agent,
    Callee,
    Claim,
    ClaimResult,
    ComplianceFacts,
    Decision,
    InboundFacts,
    InboundStep,
    Logic,
    NumberState,
    OrgPolicy,
    OrgState,
    OutboundFacts,
    OutboundRequest,
    PastCall,
    ProjectPolicy,
    Route,
    TraceStep,
    today,
)
from callsign.domain.org_copies import OrgCache
from callsign.domain.outbound import (
    callee_for,
    decide_outbound,
    nearby_area_codes,
    refuse_inactive,
)
from callsign.domain.warmup import Limits, Shaping
from callsign.services import org_cache
from callsign.services.ids import random_hex
from callsign.services.ports import CallsRepository, OrgId, UnitOfWork

# Caps are hard, rotation fairness is soft. A rotating decision claims the least
# recently presented number only if no concurrent call presented it since it was read
# (in turn); after MAX_LOST_TURNS such losses it takes the least recently presented
# number it reads next, out of turn, within its cap. Only a cap (reached, or a number
# released meanwhile) makes a number unavailable, and each can fill only once a day, so
# a call is never refused for having lost turns; MAX_CLAIMS only guards the loop.
MAX_LOST_TURNS = 3
MAX_CLAIMS = 64
MAX_ATTEMPTS = 4  # whole-transaction runs when PostgreSQL picks one as a deadlock victim
MAX_HELD = 8  # numbers one call passes over because other transactions held their rows
IN_FLIGHT_SECONDS = 2.0  # a claim not seen committed by then is forgotten (its batch failed)


class _Held(Exception):
    """Claiming ``number`` waited past lock_timeout: another transaction holds its row."""

    def __init__(self, number: str) -> None:
        super().__init__(number)
        self.number = number


def new_id(prefix: str) -> str:
    return f"{prefix}_{random_hex(12)}"


def _answered_before(store: CallsRepository, org_id: int, request: OutboundRequest,
                     key: str | None, dry_run: bool) -> tuple[str, Decision | None]:
    """The request's fingerprint (with an idempotency key), and the first decision made
    with that key, if any (a Conflict if the key came with another request)."""
    fingerprint = request_hash(request) if key else ""
    if key and not dry_run:
        return fingerprint, store.idempotent_decision(org_id, key, fingerprint)
    return fingerprint, None


def request_hash(request: OutboundRequest) -> str:
    """A fingerprint of a request, to tell a retry from a different call."""
    fields: list[object] = [request.org, request.user, request.to, request.project,
                            request.caller_id, str(request.channel), request.consented]
    if request.subject is not None:  # left out without one: earlier keys' hashes hold
        fields.append(request.subject)
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def place_call(
    uow: UnitOfWork, request: OutboundRequest, *, now: datetime, rng: random.Random,
    dry_run: bool = False, idempotency_key: str | None = None,
) -> Decision:
    """Decide the caller ID for one call and record it, unless ``dry_run``.

    With ``idempotency_key``, a retry of the same request returns the first decision
    and records nothing; the same key with a different request is a Conflict.
    """
    raced = uow.raced
    # A claim that waited on a number's row keeps its lock even when it then fails, so two
    # calls re-deciding at once can deadlock on PostgreSQL; the victim simply runs again.
    deadlocked = uow.deadlocked
    held: list[str] = []  # numbers whose rows other transactions held: decide without them
    # A connection the store dropped (a restarted server) is found on use, not by a ping
    # before each call: the call then runs once more, on a new connection.
    dropped = 0
    for attempt in range(MAX_ATTEMPTS + MAX_HELD + 1):
        last = attempt - len(held) - dropped == MAX_ATTEMPTS - 1
        try:
            return _place_call(uow, request, now=now, rng=rng, dry_run=dry_run,
                               idempotency_key=idempotency_key, held=held)
        except _Held as busy:
            held.append(busy.number)
        except StoreUnavailable:
            if dropped or not uow.dropped:
                raise
            dropped += 1
        except raced:
            # Two first tries with one key raced (PostgreSQL): the loser reads the winner's.
            if idempotency_key is None or last:
                raise
        except deadlocked:
            if last:
                raise
    raise StoreUnavailable(f"{uow.describe()} kept {len(held)} of this call's "
                           "numbers locked by other transactions past lock_timeout (a stuck "
                           "session holds them); retry shortly")


class CallPlacement:
    """``place_call`` in two phases, for a lane that reads beside its writer (SQLite).

    ``read``, on a unit that only reads (outside the write lock, beside other workers'
    writers), does the decision's reads and the pure decision: the Idempotency-Key
    looked up, the facts gathered, ``decide_outbound``. A dry run, a retry and a refusal
    are answered there and then. Called next, in the writer's batch, the placement checks
    that nothing the decision read has changed since (the organization's configuration
    version, the key, the contact's calls), and claims the number with the conditional
    claim (its cap, and its turn when rotating), then records the call. If a check or the
    claim fails, it runs ``place_call`` whole, inside the lock, as without the first phase:
    caps, turns, a different number each attempt and idempotency hold either way.

    Called without ``read`` first (PostgreSQL's lane), it is ``place_call``. The clock is
    read as each phase runs; the decision is made, claimed and recorded at one time.
    """

    def __init__(self, request: OutboundRequest, *, clock: Callable[[], datetime],
                 rng: random.Random, dry_run: bool = False,
                 idempotency_key: str | None = None) -> None:
        self.request = request
        self.clock = clock
        self.rng = rng
        self.dry_run = dry_run
        self.idempotency_key = idempotency_key
        self.foreseen: _Foreseen | None = None
        self.fell_back = False  # whether the last call ran the whole path, in the lock

    def read(self, uow: UnitOfWork) -> Decision | None:
        """The answer if the reads give it (a dry run, a retry, a refusal raised), else
        None: the decision is kept for the call."""
        now = self.clock()
        with uow:
            found = _foresee(uow.calls, self.request, now=now, rng=self.rng,
                             dry_run=self.dry_run, idempotency_key=self.idempotency_key)
        if isinstance(found, Decision):
            return found
        self.foreseen = found
        return None

    def __call__(self, uow: UnitOfWork) -> Decision:
        foreseen, self.foreseen = self.foreseen, None
        if foreseen is not None:
            decision = _place_foreseen(uow, foreseen, self.request, self.idempotency_key)
            if decision is not None:
                self.fell_back = False
                return decision
            if foreseen.flying is not None:
                foreseen.flying.discard(foreseen.org_id, foreseen.decision.caller_id,
                                        foreseen.now)
        self.fell_back = foreseen is not None
        return place_call(uow, self.request, now=self.clock(), rng=self.rng,
                          dry_run=self.dry_run, idempotency_key=self.idempotency_key)


class InFlight:
    """The numbers this process's decisions are claiming in turn and have not committed
    yet, with the presentation time each claim writes (SQLite: decided on the readers,
    waiting for the writer's batch).

    A decision read beside a batch does not see the batch's claims, so under load it
    picked the least recently presented number that a decision in the batch was just
    taking, lost its turn in the writer and ran whole there. Its first phase now reads
    those numbers as presented at their pending time (``overlay``): it picks the next one
    in rotation, as it would once the batch is committed. Only the rotation's order is
    changed, never a count or a cap: the conditional claim still decides every race, so
    a wrong guess costs a run in the lock, as before. An entry goes when a read sees its
    claim committed, when its decision falls back, or after IN_FLIGHT_SECONDS.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._numbers: dict[tuple[int, str], tuple[datetime, float]] = {}

    def add(self, org_id: int, number: str, at: datetime) -> None:
        deadline = time.monotonic() + IN_FLIGHT_SECONDS
        with self._lock:
            if len(self._numbers) >= 4096:  # claims whose numbers nobody read since
                moment = time.monotonic()
                self._numbers = {k: v for k, v in self._numbers.items() if v[1] >= moment}
            self._numbers[(org_id, number)] = (at, deadline)

    def discard(self, org_id: int, number: str, at: datetime) -> None:
        with self._lock:
            if self._numbers.get((org_id, number), (None, 0.0))[0] == at:
                del self._numbers[(org_id, number)]

    def overlay(self, org_id: int, facts: OutboundFacts) -> OutboundFacts:
        """``facts`` with the numbers claimed in flight presented at their claims' time."""
        if not self._numbers:
            return facts
        moment = time.monotonic()
        changed = {}
        with self._lock:
            for number, state in facts.numbers.items():
                entry = self._numbers.get((org_id, number))
                if entry is None:
                    continue
                at, deadline = entry
                last = state.last_presented_at
                if (last is not None and last >= at) or deadline < moment:
                    del self._numbers[(org_id, number)]  # committed (read), or given up
                    continue
                changed[number] = replace(state, last_presented_at=at)
        if not changed:
            return facts
        return replace(facts, numbers={**facts.numbers, **changed})


_IN_FLIGHT: weakref.WeakKeyDictionary[OrgCache, InFlight] = weakref.WeakKeyDictionary()
_IN_FLIGHT_LOCK = threading.Lock()


def in_flight(store: CallsRepository) -> InFlight:
    """The claims in flight of this process on ``store`` (one per store, as its copies of
    the organizations' state)."""
    orgs = store.orgs
    found = _IN_FLIGHT.get(orgs)
    if found is None:
        with _IN_FLIGHT_LOCK:
            found = _IN_FLIGHT.setdefault(orgs, InFlight())
    return found


@dataclass(frozen=True)
class _Foreseen:
    """What a placement's first phase read and decided, to be checked in the second."""

    now: datetime
    day: str
    org_id: OrgId
    version: int
    user: str
    to: str
    fingerprint: str
    history: tuple[PastCall, ...] | None  # None: the decision read none (an emergency)
    decision: Decision
    presented: datetime | None  # a rotating decision's number: its last presentation read
    flying: InFlight | None = None  # where the claim is noted until it is committed


def _foresee(
    store: CallsRepository, request: OutboundRequest, *, now: datetime, rng: random.Random,
    dry_run: bool, idempotency_key: str | None,
) -> Decision | _Foreseen | None:
    """The first phase: a decision to answer now, one to check and claim, or None (no
    configuration version to check against: the whole path decides)."""
    state = org_cache.current(store, request.org)
    org_id, org = state.org_id, state.policy
    user = _user(state, request)
    fingerprint, earlier = _answered_before(store, org_id, request, idempotency_key, dry_run)
    if earlier is not None:
        return earlier
    _check_subject(request)
    to = _callee(org, user, request)
    facts = _gather(store, state, user, request, to, now)
    flying = None if dry_run else in_flight(store)
    decision = decide_outbound(request, flying.overlay(org_id, facts) if flying else facts,
                               rng, now)
    if dry_run:
        return replace(decision, call_id=new_id("call"))
    if state.version is None:
        return None
    presented = None
    if decision.claim is Claim.TURN and flying is not None:
        presented = facts.numbers[decision.caller_id].last_presented_at  # as read
        flying.add(org_id, decision.caller_id, now)
    else:
        flying = None
    return _Foreseen(now=now, day=today(org, now), org_id=org_id, version=state.version,
                     user=user.id, to=to, fingerprint=fingerprint,
                     history=None if facts.callee.emergency else facts.history,
                     decision=decision, presented=presented, flying=flying)


def _place_foreseen(uow: UnitOfWork, seen: _Foreseen, request: OutboundRequest,
                    idempotency_key: str | None) -> Decision | None:
    """The second phase, in the write lock: the decision claimed and recorded, or None if
    what it read has changed or its claim failed (nothing of it is then kept)."""
    with uow:
        store = uow.calls
        org_id = seen.org_id
        if store.config_version(org_id) != seen.version:
            return None
        if idempotency_key and store.idempotent_decision(
                org_id, idempotency_key, seen.fingerprint) is not None:
            return None
        if seen.history is not None and store.history(org_id, seen.to) != seen.history:
            return None
        decision = seen.decision
        if decision.claim is not Claim.NONE:
            claim = store.claim_number(
                org_id, decision.caller_id, day=seen.day, now=seen.now,
                within_cap=decision.claim is not Claim.UNCAPPED,
                in_turn=decision.claim is Claim.TURN, presented=seen.presented)
            if claim is not ClaimResult.TAKEN:
                return None
        decision = replace(decision, call_id=new_id("call"))
        store.record_call(org_id, decision, user=seen.user, project=request.project,
                          channel=request.channel, at=seen.now, subject=request.subject)
        if idempotency_key:
            store.remember_decision(org_id, idempotency_key, seen.fingerprint, decision,
                                    seen.now)
        uow.commit()
        return decision


def _place_call(
    uow: UnitOfWork, request: OutboundRequest, *, now: datetime, rng: random.Random,
    dry_run: bool, idempotency_key: str | None, held: list[str] | None = None,
) -> Decision:
    held = held or []
    with uow:
        store = uow.calls
        kept = store.orgs.get(request.org)
        if kept is not None:
            store.read_ahead(kept, request.user, to=request.to.strip(),
                             caller_id=request.caller_id, project=request.project,
                             key=None if dry_run else idempotency_key, now=now,
                             lock=not dry_run)
        state = org_cache.current(store, request.org, kept)
        org_id, org = state.org_id, state.policy
        user = _user(state, request)
        fingerprint, earlier = _answered_before(store, org_id, request, idempotency_key,
                                                dry_run)
        if earlier is not None:
            return earlier
        _check_subject(request)
        to = _callee(org, user, request)
        if not dry_run:
            store.lock_contact(org_id, to)

        def gather() -> OutboundFacts:
            return _without(_gather(store, state, user, request, to, now), held)

        decision = _decide_and_claim(
            uow, org_id, request, gather, rng=rng, now=now, day=today(org, now), held=held,
            dry_run=dry_run)
        decision = replace(decision, call_id=new_id("call"),
                           trace=(*_held_steps(held, decision), *decision.trace))
        if dry_run:
            return decision
        store.record_call(org_id, decision, user=user.id, project=request.project,
                          channel=request.channel, at=now, subject=request.subject)
        if idempotency_key:
            store.remember_decision(org_id, idempotency_key, fingerprint, decision, now)
        uow.commit()
        return decision


def _user(state: OrgState, request: OutboundRequest) -> Agent:
    user = state.users.get(request.user)
    if user is None:
        raise NotFound(f"no user {request.user!r} in organization {request.org!r}",
                       field="user")
    return user


def _check_subject(request: OutboundRequest) -> None:
    """A call's subject (what it is about: caps per subject count by it) is short text."""
    subject = request.subject
    if subject is None:
        return
    if not subject.strip() or subject != subject.strip():
        raise InvalidInput("a subject is text without leading or trailing spaces (leave it "
                           "out for none)", field="subject")
    if len(subject) > limits.MAX_NAME:
        raise InvalidInput(f"a subject is at most {limits.MAX_NAME} characters",
                           field="subject")


def _callee(org: OrgPolicy, user: Agent, request: OutboundRequest) -> str:
    """The number called, in E.164 (an emergency number as given); an inactive user may
    call only emergency numbers."""
    raw_to = request.to.strip()
    emergency = phone.is_emergency(raw_to, org.default_country)
    refuse_inactive(user, emergency=emergency)
    return raw_to if emergency else phone.parse_number(raw_to, org.default_country, field="to")


def _decide_and_claim(
    uow: UnitOfWork, org_id: int, request: OutboundRequest,
    gather: Callable[[], OutboundFacts], *, rng: random.Random, now: datetime, day: str,
    held: list[str], dry_run: bool,
) -> Decision:
    """Decide, and claim the number as the decision says; on a lost race read and decide
    again. Caps are hard: a number whose cap filled meanwhile is never taken; a turn lost
    MAX_LOST_TURNS times is taken out of turn."""
    facts = gather()
    lost_turns = 0
    for _ in range(MAX_CLAIMS):
        decision = decide_outbound(request, facts, rng, now)
        if dry_run or decision.claim is Claim.NONE:
            return decision
        if decision.caller_id in held:  # the principal, the last resort: not counted
            return decision
        rotating = decision.claim is Claim.TURN
        in_turn = rotating and lost_turns < MAX_LOST_TURNS
        presented = facts.numbers[decision.caller_id].last_presented_at if in_turn else None
        try:
            claim = uow.calls.claim_number(
                org_id, decision.caller_id, day=day, now=now,
                within_cap=decision.claim is not Claim.UNCAPPED, in_turn=in_turn,
                presented=presented, limits=_limits(facts, decision.caller_id))
        except uow.lock_waited as exc:  # run the call again without that number
            raise _Held(decision.caller_id) from exc
        if claim is ClaimResult.TAKEN:
            if rotating and not in_turn:
                decision = replace(decision, trace=(*decision.trace, TraceStep(
                    "rotation", "checked",
                    f"took {decision.caller_id} out of turn: {lost_turns} concurrent "
                    "calls took the turns of the numbers chosen before", decision.caller_id)))
            return decision
        if claim is ClaimResult.TURN_LOST:
            lost_turns += 1
        # Another server took that number's last slot or its turn: read again, decide again.
        facts = gather()
    raise Conflict("concurrent calls kept filling the chosen numbers' daily caps; "
                   "retry the call", field=None)


def _limits(facts: OutboundFacts, number: str) -> Limits | None:
    """What claiming ``number`` stays within besides its daily cap (volume shaping)."""
    state = facts.numbers.get(number)
    if facts.shaping is None or state is None:
        return None
    return facts.shaping.limits(state.health, state.added_at)


def _without(facts: OutboundFacts, held: list[str]) -> OutboundFacts:
    """``facts`` without the numbers whose rows other transactions hold (passed over).

    The principal number stays: it is the last resort, presented uncounted when held.
    """
    if not held:
        return facts
    passed = set(held) - {facts.org.principal_number}
    return replace(facts, numbers={n: s for n, s in facts.numbers.items() if n not in passed},
                   serving_area_code=facts.serving_area_code.difference(held))


def _held_steps(held: list[str], decision: Decision) -> tuple[TraceStep, ...]:
    return tuple(
        TraceStep("held", "checked" if number == decision.caller_id else "passed",
                  "its row is locked by another transaction (a stuck session or a paused "
                  "node) past lock_timeout: " + ("presented without counting it today"
                                                 if number == decision.caller_id
                                                 else "passed over for this call"), number)
        for number in held)


def _gather(
    store: CallsRepository, state: OrgState, user: Agent, request: OutboundRequest, to: str,
    now: datetime,
) -> OutboundFacts:
    org_id, org = state.org_id, state.policy
    project_id, project = (None, None)
    if request.project:
        found = state.projects.get(request.project)
        if found is None:
            raise NotFound(f"no project {request.project!r}", field="project")
        project_id, project = found
    caller_id = None
    if request.caller_id:
        caller_id = phone.parse_number(request.caller_id, org.default_country, field="caller_id")
    if phone.is_emergency(to, org.default_country):
        return OutboundFacts(org, user, Callee(number=to, emergency=True), {}, frozenset())
    known = store.contact(org_id, to)
    callee = callee_for(to, org, known[0] if known else None)
    compliance = _compliance(store, state, request.project, org_id, to,
                             known[2] if known else None, known[3] if known else None)
    past = store.history(org_id, to)
    specific = {org.principal_number, user.caller_id, user.direct_number, caller_id}
    specific.update(call.caller_id for call in past[:1])
    if project is not None:
        specific.update(project.outcome_numbers.values())
    if org.restrict_caller_ids:
        specific.update(user.allowed_caller_ids)
    region = callee.region if org.local_presence and org.local_presence_fallback == "region" \
        else None
    states, serving = store.candidate_numbers(
        org_id, day=today(org, now), area_code=callee.area_code, region=region,
        specific=[n for n in specific if n], project_id=project_id,
    )
    nearby = _nearby(store, org_id, org, project, callee, today(org, now), states)
    return OutboundFacts(org=org, user=user, callee=callee, numbers=states,
                         serving_area_code=serving, project=project, history=past,
                         caller_id=caller_id, shaping=Shaping(org.health, now),
                         compliance=compliance, nearby=nearby)


MAX_NEARBY_AREA_CODES = 12  # nearby area codes read per decision, nearest first


def _nearby(store: CallsRepository, org_id: OrgId, org: OrgPolicy, project: ProjectPolicy | None,
            callee: Callee, day: str, states: dict[str, NumberState]
            ) -> dict[str, frozenset[str]]:
    """The numbers serving the callee's nearby area codes (SPEC 3.3, proximity), read
    only when a proximity step looks beyond the area code: overlays, neighbours and those
    within the radius, at most ``MAX_NEARBY_AREA_CODES``; merged into ``states``."""
    proximity = project.proximity if project is not None and project.proximity else \
        org.proximity
    wanted = org.local_presence or (project is not None and (
        project.local_only != "off" or Logic.REGIONALLY_RANDOM in (
            project.first_call, project.next_calls)))
    if not wanted or not proximity.reaches_out:
        return {}
    found: dict[str, frozenset[str]] = {}
    for code in nearby_area_codes(callee.area_code, proximity)[:MAX_NEARBY_AREA_CODES]:
        more, serving = store.candidate_numbers(org_id, day=day, area_code=code, region=None,
                                                specific=[], project_id=None)
        for number, state in more.items():
            states.setdefault(number, state)
        found[code] = serving
    return found



def _compliance(store: CallsRepository, state: OrgState, project: str | None, org_id: OrgId,
                to: str, address: ContactAddress | None, consent: Consent | None
                ) -> ComplianceFacts | None:
    """What the compliance rules read (SPEC 10): the rules kept with the organization's
    state, the contact's address, the do-not-call list's entry, the national registry's
    and the contact's consent date with its stored reassigned-numbers answer; None when
    nothing applies (no rule, not listed, no consent date)."""
    listed = store.do_not_call(org_id, to)
    registry = store.registry(org_id, to)
    policy = state.compliance_for(project)
    if policy is None and listed is None and registry is None and consent is None:
        return None
    return ComplianceFacts(policy or CompliancePolicy(), address, listed, registry, consent)


def record_outcome(uow: UnitOfWork, call_id: str, outcome: str, *, now: datetime,
                   org: str | None = None) -> None:
    if not outcome.strip():
        raise InvalidInput("an outcome is required", field="outcome")
    with uow:
        org_id = uow.calls.org_id_and_policy(org)[0] if org else None
        if not uow.calls.set_outcome(call_id, outcome.strip(), now, org_id):
            raise NotFound(f"no call {call_id!r}", field="call_id")
        uow.commit()


def route_call(uow: UnitOfWork, to: str, caller: str | None, *, now: datetime,
               dry_run: bool = False, org: str | None = None) -> Route:
    """Decide where a call to one of our numbers rings, and record it.

    With ``org``, the called number must be that organization's (read in its default
    country); without, whichever organization holds it (numbers without + read as US).
    A caller whose number is withheld ("anonymous", "Restricted", empty) or is not a valid
    number is routed as "anonymous": the steps that need the caller's number pass.
    """
    with uow:
        store = uow.calls
        country = store.org_id_and_policy(org)[1].default_country if org else "US"
        called = phone.parse_number(to, country, field="to")
        owner = store.number_owner(called)
        if owner is None or (org is not None and owner[1].slug != org):
            whose = f"organization {org!r}" if org else "any organization"
            raise NotFound(f"{called} is not a number {whose} holds", field="to")
        org_id, policy, number_path = owner
        try:
            caller_e164 = phone.parse_number(caller or "", policy.default_country,
                                             field="from")
        except InvalidInput:
            caller_e164 = WITHHELD
        facts = _inbound_facts(store, org_id, policy, number_path, called, caller_e164)
        route = replace(route_inbound(facts, now), call_id=new_id("in"))
        if not dry_run:
            store.record_inbound(org_id, route, called=called, caller=caller_e164, at=now)
            uow.commit()
        return route


def _inbound_facts(
    store: CallsRepository, org_id: OrgId, org: OrgPolicy, number_path: list[str] | None,
    called: str, caller: str,
) -> InboundFacts:
    path = tuple(InboundStep(s) for s in number_path) if number_path else org.call_path
    direct = last_call = last_caller = owner = None
    known_caller = caller != WITHHELD
    if InboundStep.DIRECT_NUMBER in path:
        direct = store.user_by_direct_number(org_id, called)
    if InboundStep.LAST_CALLER in path and known_caller:
        past = store.history(org_id, caller)
        last_call = past[0] if past else None
        if last_call is not None:
            last_caller = store.user_by_key(org_id, last_call.user)
    if InboundStep.LEAD_OWNER in path and known_caller:
        known = store.contact(org_id, caller)
        if known is not None and known[1]:
            owner = store.user_by_key(org_id, known[1])
    return InboundFacts(org=org, called=called, caller=caller, path=path, direct_user=direct,
                        last_call=last_call, last_caller=last_caller, lead_owner=owner)
