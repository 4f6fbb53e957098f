"""An in-memory store for the call path: the services' ``UnitOfWork`` and ``CallsRepository``
(``callsign.services.ports``) without SQL, so the rules of SPEC 2–4 run as unit tests.

It holds what the call path reads and writes: organizations with their users, contacts
and projects; numbers with their status, the area codes they serve, their use per day
and their last presentation; outbound and inbound calls; idempotency keys. It is loaded
from the same organization documents as the SQL store, through ``callsign.domain.document``.

A unit of work works on a copy of the state and swaps it in on commit: nothing lands
without commit. A unit that commits after another one committed since it began fails
as a deadlock's victim does on PostgreSQL (one of its ``deadlocked`` errors), so the
services run it again. Claims follow the SQL store exactly: a daily cap per number per
day (the day the service passes, in the organization's time zone), and a claim in turn
only while the number's last presentation is still the one that was read.
``tests/integration/test_calls_store.py`` runs the same decisions through both stores
and compares them, to keep this fake honest.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from types import TracebackType
from typing import Any

from callsign.domain import phone, release
from callsign.domain.compliance.decision import DoNotCall
from callsign.domain.compliance.reassigned import Consent
from callsign.domain.compliance.zones import ContactAddress
from callsign.domain.document import OrgDocument, parse_document
from callsign.domain.errors import ConfigError, Conflict, NotFound
from callsign.domain.health_states import Health
from callsign.domain.model import (
    Agent,
    CallingHours,
    ClaimResult,
    Decision,
    InboundStep,
    Logic,
    NumberState,
    NumberStatus,
    OrgPolicy,
    OrgState,
    PastCall,
    ProjectPolicy,
    Route,
    today,
)
from callsign.domain.warmup import Limits, Usage, usage_of
from callsign.orgfile import load_yaml
from callsign.services.org_cache import OrgCache
from callsign.store.calls import HISTORY_LIMIT, LRU_CANDIDATES, MAX_KEPT


class KeyTaken(Exception):
    """An idempotency key stored twice: what a unique constraint raises in the SQL store."""


class CommittedMeanwhile(Exception):
    """Another unit committed since this one began: run this one again."""


@dataclass
class FakeNumber:
    id: int
    org_id: int
    e164: str
    status: NumberStatus
    region: str | None
    daily_cap: int | None
    area_codes: frozenset[str]  # its own and the mapped ones
    call_path: list[str] | None
    last_presented_at: datetime | None = None
    used: dict[str, int] = field(default_factory=dict)  # presentations per day
    recent: list[datetime] = field(default_factory=list)  # presentations, newest first
    health: Health | None = None

    def copy(self) -> FakeNumber:
        return replace(self, used=dict(self.used), recent=list(self.recent))


@dataclass(frozen=True)
class FakeCall:
    """An outbound call, with the columns of the SQL store's ``calls`` row."""

    id: str
    org_id: int
    at: datetime
    user_key: str
    to_number: str
    caller_id: str
    rule: str
    project_key: str | None
    channel: str
    trace: list[dict[str, str | None]]
    outcome: str | None = None
    outcome_at: datetime | None = None
    subject: str | None = None


@dataclass(frozen=True)
class FakeInbound:
    """An inbound call, with the columns of the SQL store's ``inbound_calls`` row."""

    id: str
    org_id: int
    at: datetime
    to_number: str
    from_number: str
    destination: str
    rule: str
    user_key: str | None
    trace: list[dict[str, str | None]]


@dataclass
class FakeOrg:
    id: int
    policy: OrgPolicy
    users: dict[str, Agent] = field(default_factory=dict)
    contacts: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # line, owner
    projects: dict[str, tuple[int, ProjectPolicy]] = field(default_factory=dict)
    do_not_call: dict[str, DoNotCall] = field(default_factory=dict)
    registry: dict[str, DoNotCall] = field(default_factory=dict)

    def copy(self) -> FakeOrg:
        return replace(self, users=dict(self.users), contacts=dict(self.contacts),
                       projects=dict(self.projects), do_not_call=dict(self.do_not_call),
                       registry=dict(self.registry))


@dataclass
class State:
    orgs: dict[str, FakeOrg] = field(default_factory=dict)  # by slug
    numbers: dict[int, FakeNumber] = field(default_factory=dict)  # by id
    calls: list[FakeCall] = field(default_factory=list)  # in the order recorded
    inbound: list[FakeInbound] = field(default_factory=list)
    keys: dict[tuple[int, str], tuple[str, Decision]] = field(default_factory=dict)

    def copy(self) -> State:
        return State(orgs={slug: org.copy() for slug, org in self.orgs.items()},
                     numbers={i: n.copy() for i, n in self.numbers.items()},
                     calls=list(self.calls), inbound=list(self.inbound), keys=dict(self.keys))

    def org_by_id(self, org_id: int) -> FakeOrg:
        (org,) = [o for o in self.orgs.values() if o.id == org_id]
        return org

    def held(self, org_id: int) -> list[FakeNumber]:
        """The organization's numbers that are not released, oldest first."""
        return [n for n in self.numbers.values()
                if n.org_id == org_id and n.status != NumberStatus.RELEASED]

    def number(self, org_id: int, e164: str) -> FakeNumber | None:
        return next((n for n in self.held(org_id) if n.e164 == e164), None)


class ConfigVersions:
    """Each organization's configuration version, as the SQL store's triggers keep it: it
    moves whenever what a worker keeps of the organization (settings, users, projects)
    differs from what it was when last asked, however the state was changed."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[int, Any]] = {}  # org id: (version, the config then)

    def of(self, org: FakeOrg) -> int:
        config = (org.policy, dict(org.users), dict(org.projects))
        version, seen = self.seen.get(org.id, (0, None))
        if seen != config:
            version += 1
            self.seen[org.id] = (version, config)
        return version


class FakeCalls:
    """The call path's reads and writes on one unit's copy of the state."""

    def __init__(self, state: State, versions: ConfigVersions | None = None,
                 orgs: OrgCache | None = None) -> None:
        self.state = state
        self.versions = versions if versions is not None else ConfigVersions()
        self.orgs = orgs if orgs is not None else OrgCache()
        self.version_reads = 0  # config_version calls (a decision reads one)
        self.state_reads = 0  # org_state calls (a first use or a change)

    def read_ahead(self, org: OrgState, user: str, *, to: str, caller_id: str | None,
                   project: str | None, key: str | None, now: datetime,
                   lock: bool) -> None:
        """In memory every read is cheap: nothing to read ahead."""

    def config_version(self, org_id: int) -> int | None:
        self.version_reads += 1
        found = [o for o in self.state.orgs.values() if o.id == org_id]
        return self.versions.of(found[0]) if found else None

    def org_state(self, slug: str) -> OrgState:
        self.state_reads += 1
        org = self.state.orgs.get(slug)
        if org is None:
            raise NotFound(f"no organization {slug!r}", field="org")
        return OrgState(org_id=org.id, version=self.versions.of(org), policy=org.policy,
                        users=dict(org.users), projects=dict(org.projects))

    def org_id_and_policy(self, slug: str) -> tuple[int, OrgPolicy]:
        org = self.state.orgs.get(slug)
        if org is None:
            raise NotFound(f"no organization {slug!r}", field="org")
        return org.id, org.policy

    def org_and_user(self, slug: str, user: str) -> tuple[int, OrgPolicy, Agent]:
        org_id, policy = self.org_id_and_policy(slug)
        agent = self.state.orgs[slug].users.get(user)
        if agent is None:
            raise NotFound(f"no user {user!r} in organization {slug!r}", field="user")
        return org_id, policy, agent

    def project_policy(self, org_id: int, key: str) -> tuple[int, ProjectPolicy]:
        found = self.state.org_by_id(org_id).projects.get(key)
        if found is None:
            raise NotFound(f"no project {key!r}", field="project")
        return found

    def lock_contact(self, org_id: int, phone: str) -> None:
        """Nothing to lock: units of the fake run one at a time."""

    def contact(self, org_id: int, phone: str
                ) -> tuple[str, str | None, ContactAddress | None, Consent | None] | None:
        found = self.state.org_by_id(org_id).contacts.get(phone)
        return None if found is None else (*found, None, None)

    def do_not_call(self, org_id: int, phone: str) -> DoNotCall | None:
        return self.state.org_by_id(org_id).do_not_call.get(phone)

    def registry(self, org_id: int, phone: str) -> DoNotCall | None:
        return self.state.org_by_id(org_id).registry.get(phone)

    def history(self, org_id: int, phone: str) -> tuple[PastCall, ...]:
        calls = [c for c in reversed(self.state.calls)
                 if c.org_id == org_id and c.to_number == phone]
        calls.sort(key=lambda c: c.at, reverse=True)
        return tuple(PastCall(c.id, c.at, c.caller_id, c.user_key, c.project_key, c.outcome,
                              c.subject) for c in calls[:HISTORY_LIMIT])

    def candidate_numbers(
        self, org_id: int, *, day: str, area_code: str | None, region: str | None,
        specific: Iterable[str], project_id: int | None,
    ) -> tuple[dict[str, NumberState], frozenset[str]]:
        held = self.state.held(org_id)
        named = set(specific)
        for key, project in self.state.org_by_id(org_id).projects.values():
            if key == project_id:
                named.update(project.pool)

        def under_cap(n: FakeNumber) -> bool:
            return n.daily_cap is None or n.used.get(day, 0) < n.daily_cap

        def least_recently_presented(numbers: Iterable[FakeNumber]) -> list[FakeNumber]:
            rotating = [n for n in numbers if n.status == NumberStatus.ACTIVE and under_cap(n)]
            rotating.sort(key=lambda n: (n.last_presented_at is not None,
                                         n.last_presented_at or datetime.min, n.id))
            return rotating[:LRU_CANDIDATES]

        chosen = {n.id for n in held if n.e164 in named}
        chosen.update(n.id for n in least_recently_presented(
            n for n in held if area_code is not None and area_code in n.area_codes))
        chosen.update(n.id for n in least_recently_presented(
            n for n in held if region is not None and n.region == region))
        resting = [n for n in held if area_code is not None and area_code in n.area_codes
                   and n.status == NumberStatus.RESTING]  # named in the trace
        resting.sort(key=lambda n: (n.last_presented_at is not None,
                                    n.last_presented_at or datetime.min, n.id))
        chosen.update(n.id for n in resting[:LRU_CANDIDATES])
        states = {n.e164: NumberState(e164=n.e164, status=n.status, region=n.region,
                                      daily_cap=n.daily_cap, used_today=n.used.get(day, 0),
                                      last_presented_at=n.last_presented_at,
                                      recent=tuple(n.recent), health=n.health)
                  for n in held if n.id in chosen}
        serving = frozenset(n.e164 for n in held
                            if n.id in chosen and area_code in n.area_codes)
        return states, serving

    def claim_number(
        self, org_id: int, e164: str, *, day: str, now: datetime, within_cap: bool,
        in_turn: bool = False, presented: datetime | None = None,
        limits: Limits | None = None,
    ) -> ClaimResult:
        number = self.state.number(org_id, e164)
        if number is None:  # outside the inventory: nothing to count
            return ClaimResult.TAKEN
        used = number.used.get(day, 0)
        if within_cap and number.daily_cap is not None and used >= number.daily_cap:
            return ClaimResult.FULL
        if within_cap and limits is not None and limits.enforced and _over(
                limits, usage_of(number.recent, used, now)):
            return ClaimResult.FULL
        if in_turn and number.last_presented_at != presented:
            return ClaimResult.TURN_LOST
        number.used[day] = used + 1
        number.last_presented_at = now
        number.recent.insert(0, now)
        del number.recent[MAX_KEPT:]
        return ClaimResult.TAKEN

    def record_call(
        self, org_id: int, decision: Decision, *, user: str, project: str | None,
        channel: str, at: datetime, subject: str | None = None,
    ) -> None:
        self.state.calls.append(FakeCall(
            id=decision.call_id, org_id=org_id, at=at, user_key=user, to_number=decision.to,
            caller_id=decision.caller_id, rule=str(decision.rule), project_key=project,
            channel=str(channel), trace=[step.as_dict() for step in decision.trace],
            subject=subject))

    def idempotent_decision(self, org_id: int, key: str, fingerprint: str) -> Decision | None:
        earlier = self.state.keys.get((org_id, key))
        if earlier is None:
            return None
        if earlier[0] != fingerprint:
            raise Conflict("this Idempotency-Key was used for a different request",
                           field="Idempotency-Key")
        return earlier[1]

    def remember_decision(self, org_id: int, key: str, fingerprint: str, decision: Decision,
                          at: datetime) -> None:  # noqa: ARG002 (the port's signature)
        if (org_id, key) in self.state.keys:
            raise KeyTaken(key)
        self.state.keys[(org_id, key)] = (fingerprint, decision)

    def set_outcome(self, call_id: str, outcome: str, at: datetime,
                    org_id: int | None = None) -> bool:
        for i, call in enumerate(self.state.calls):
            if call.id == call_id and org_id in (None, call.org_id):
                self.state.calls[i] = replace(call, outcome=outcome, outcome_at=at)
                return True
        return False

    def number_owner(self, e164: str) -> tuple[int, OrgPolicy, list[str] | None] | None:
        for number in self.state.numbers.values():
            if number.e164 == e164 and number.status != NumberStatus.RELEASED:
                org = self.state.org_by_id(number.org_id)
                return org.id, org.policy, number.call_path
        return None

    def user_by_direct_number(self, org_id: int, number: str) -> Agent | None:
        users = self.state.org_by_id(org_id).users.values()
        return next((u for u in users if u.direct_number == number), None)

    def user_by_key(self, org_id: int, key: str) -> Agent | None:
        return self.state.org_by_id(org_id).users.get(key)

    def record_inbound(self, org_id: int, route: Route, *, called: str, caller: str,
                       at: datetime) -> None:
        self.state.inbound.append(FakeInbound(
            id=route.call_id, org_id=org_id, at=at, to_number=called, from_number=caller,
            destination=route.destination, rule=str(route.rule), user_key=route.user,
            trace=[step.as_dict() for step in route.trace]))


def _over(limits: Limits, usage: Usage) -> bool:
    return (usage.minute >= limits.per_minute or usage.hour >= limits.per_hour
            or usage.day >= limits.per_day)


class FakeUnitOfWork:
    """One transaction on a ``FakeStore``: a copy of its state, swapped in on commit."""

    raced: tuple[type[Exception], ...] = (KeyTaken,)
    deadlocked: tuple[type[Exception], ...] = (CommittedMeanwhile,)
    lock_waited: tuple[type[Exception], ...] = ()
    dropped = False
    calls: FakeCalls

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def describe(self) -> str:
        return "the in-memory store"

    def __enter__(self) -> FakeUnitOfWork:
        self._version = self.store.version
        self.calls = FakeCalls(self.store.state.copy(), self.store.config_versions,
                               self.store.orgs)
        return self

    def commit(self) -> None:
        if self.store.version != self._version:
            raise CommittedMeanwhile("another unit of work committed since this one began")
        self.store.state = self.calls.state
        self.store.version += 1
        self.__enter__()  # what follows the commit works on a copy again

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        del self.calls  # rolled back: this unit's copy is dropped


class FakeStore:
    """Organizations, numbers and calls in memory; ``uow()`` gives a unit of work on them.

    ``apply`` loads an organization document as ``callsign apply`` does, and the helpers
    below stand for the inventory's commands the rule tests use (pause, release, usage).
    """

    def __init__(self) -> None:
        self.state = State()
        self.version = 0
        self.config_versions = ConfigVersions()
        self.orgs = OrgCache()  # the worker's copies of organizations' state
        self.ids = itertools.count(1)

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    # -- the organization document ------------------------------------------------------

    def apply(self, document: OrgDocument | Mapping[str, Any] | str) -> None:
        """Make the organization equal to ``document`` (a dict or YAML text is parsed and
        validated by ``callsign.domain.document``); its call history stays."""
        if not isinstance(document, OrgDocument):
            document = parse_document(load_yaml(document) if isinstance(document, str)
                                      else dict(document))
        state = self.state.copy()
        org = state.orgs.get(document.org)
        org_id = org.id if org is not None else next(self.ids)
        self._refuse_others_numbers(state, org_id, document)
        users = {u.id: Agent(id=u.id, name=u.name, work_phone=u.work_phone,
                             caller_id=u.caller_id, direct_number=u.direct_number,
                             allowed_caller_ids=frozenset(u.allowed_caller_ids),
                             active=u.active) for u in document.users}
        contacts = {c.phone: (str(c.line_type), c.owner) for c in document.contacts}
        kept = org.projects if org is not None else {}
        projects = {p.id: (kept[p.id][0] if p.id in kept else next(self.ids), ProjectPolicy(
            id=p.id, pool=tuple(p.numbers), first_call=p.first_call,
            keep_previous_number=p.keep_previous_number, next_calls=Logic(p.next_calls),
            outcome_numbers=dict(p.outcome_numbers), agent_number=p.agent_number,
            proximity=p.proximity.proximity() if p.proximity else None,
            local_only=p.local_only))
            for p in document.projects}
        state.orgs[document.org] = FakeOrg(org_id, _policy(document), users, contacts, projects)
        self._apply_numbers(state, org_id, document)
        self._commit(state)

    def _refuse_others_numbers(self, state: State, org_id: int, doc: OrgDocument) -> None:
        held = {n.e164 for n in state.numbers.values()
                if n.org_id != org_id and n.status != NumberStatus.RELEASED}
        problems = [(f"numbers[{i}].number", f"{n.number} belongs to another organization")
                    for i, n in enumerate(doc.numbers) if n.number in held]
        if problems:
            raise ConfigError(problems)

    def _apply_numbers(self, state: State, org_id: int, doc: OrgDocument) -> None:
        listed = {entry.number for entry in doc.numbers}
        for number in state.held(org_id):
            if number.e164 not in listed:
                self._drop(state, number)
        for entry in doc.numbers:
            facts = phone.facts_for(entry.number, doc.default_country, field="number")
            codes = {*entry.area_codes, *([facts.area_code] if facts.area_code else [])}
            ours = [n for n in state.numbers.values()
                    if n.org_id == org_id and n.e164 == entry.number]
            number = ours[-1] if ours else FakeNumber(
                id=next(self.ids), org_id=org_id, e164=entry.number,
                status=NumberStatus.ACTIVE, region=facts.region, daily_cap=None,
                area_codes=frozenset(), call_path=None)
            number.status = NumberStatus(entry.status)
            number.daily_cap = entry.daily_cap
            number.area_codes = frozenset(codes)
            number.call_path = [str(s) for s in entry.call_path] if entry.call_path else None
            state.numbers[number.id] = number

    # -- the inventory ------------------------------------------------------------------

    def set_status(self, org: str, raw: str, status: NumberStatus) -> str:
        """Pause, resume or rest a number, as ``callsign numbers pause`` does."""
        state = self.state.copy()
        fake_org, number = self._held(state, org, raw)
        if status != NumberStatus.ACTIVE:
            action = "pause" if status == NumberStatus.PAUSED else f"mark {status}"
            release.refuse_principal(number.e164, principal_number=fake_org.policy
                                     .principal_number, action=action)
        number.status = status
        self._commit(state)
        return number.e164

    def release(self, org: str, raw: str, *, force: bool = False) -> tuple[str, str]:
        """Release a number in the store only: (number, released|deleted)."""
        state = self.state.copy()
        fake_org, number = self._held(state, org, raw)
        named = release.what_names(number.e164, agent_leg_number=fake_org.policy.agent_leg_number,
                                   users=_user_numbers(fake_org), projects=_pools(fake_org))
        release.check_release(number.e164, principal_number=fake_org.policy.principal_number,
                              named=named, force=force)
        outcome = self._drop(state, number)
        self._commit(state)
        return number.e164, outcome

    def used_today(self, org: str, e164: str, at: datetime) -> int:
        """How often ``e164`` was presented on ``at``'s day in the organization's zone."""
        fake_org = self.state.orgs[org]
        number = self.state.number(fake_org.id, e164)
        return 0 if number is None else number.used.get(today(fake_org.policy, at), 0)

    @property
    def calls(self) -> list[FakeCall]:
        """The outbound calls, oldest first."""
        return sorted(self.state.calls, key=lambda c: (c.at, c.id))

    @property
    def inbound(self) -> list[FakeInbound]:
        """The inbound calls, oldest first."""
        return sorted(self.state.inbound, key=lambda c: (c.at, c.id))

    def _held(self, state: State, org: str, raw: str) -> tuple[FakeOrg, FakeNumber]:
        fake_org = state.orgs.get(org)
        if fake_org is None:
            raise NotFound(f"no organization {org!r}", field="org")
        e164 = phone.parse_number(raw, fake_org.policy.default_country, field="number")
        number = state.number(fake_org.id, e164)
        if number is None:
            raise NotFound(f"{e164} is not one of {org}'s numbers", field="number")
        return fake_org, number

    def _drop(self, state: State, number: FakeNumber) -> str:
        """A number goes: released if it has history, else deleted; settings forget it."""
        fake_org = state.org_by_id(number.org_id)
        forgotten = release.forget(number.e164, agent_leg_number=fake_org.policy.agent_leg_number,
                                   users=_user_numbers(fake_org), projects=_pools(fake_org))
        if forgotten.agent_leg:
            fake_org.policy = replace(fake_org.policy, agent_leg_number=None)
        for user in forgotten.users:
            fake_org.users[user.id] = replace(
                fake_org.users[user.id], caller_id=user.caller_id,
                direct_number=user.direct_number,
                allowed_caller_ids=frozenset(user.allowed_caller_ids))
        for pool in forgotten.projects:
            project_id, project = fake_org.projects[pool.id]
            fake_org.projects[pool.id] = (project_id, replace(
                project, pool=pool.pool, first_call=pool.first_call,
                outcome_numbers=dict(pool.outcome_numbers)))
        history = any(c.org_id == number.org_id and c.caller_id == number.e164
                      for c in state.calls) or any(
            c.org_id == number.org_id and c.to_number == number.e164 for c in state.inbound)
        if not history:
            del state.numbers[number.id]
            return "deleted"
        number.status = NumberStatus.RELEASED
        number.area_codes = frozenset()
        return "released"

    def _commit(self, state: State) -> None:
        self.state = state
        self.version += 1


def _policy(doc: OrgDocument) -> OrgPolicy:
    hours = doc.calling_hours
    return OrgPolicy(
        slug=doc.org, principal_number=doc.principal_number,
        default_country=doc.default_country, timezone=doc.timezone,
        forwarding_number=doc.forwarding_number, agent_leg_number=doc.agent_leg_number,
        local_presence=doc.local_presence, local_presence_fallback=doc.local_presence_fallback,
        restrict_caller_ids=doc.restrict_caller_ids,
        calling_hours=CallingHours(time.fromisoformat(hours.start), time.fromisoformat(hours.end))
        if hours else None,
        call_path=tuple(InboundStep(step) for step in doc.inbound.path),
        last_caller_days=doc.inbound.last_caller_days, health=doc.health.policy(),
        proximity=doc.proximity.proximity())


def _user_numbers(org: FakeOrg) -> list[release.UserNumbers]:
    return [release.UserNumbers(u.id, u.caller_id, u.direct_number,
                                tuple(sorted(u.allowed_caller_ids)))
            for u in org.users.values()]


def _pools(org: FakeOrg) -> list[release.ProjectNumbers]:
    return [release.ProjectNumbers(p.id, p.pool, p.first_call, dict(p.outcome_numbers))
            for _, p in org.projects.values()]
