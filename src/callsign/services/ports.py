"""What the call path needs of a store, as protocols: a unit of work and its repositories.

The SQL store (``callsign.store``) implements them on SQLite and PostgreSQL; the tests
implement them in memory (``tests/fakes/store.py``). The services see only these: plain
domain values in and out, no connection, no driver.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self

from callsign.domain.compliance.decision import DoNotCall
from callsign.domain.compliance.reassigned import Answer, Consent
from callsign.domain.compliance.zones import ContactAddress
from callsign.domain.health_report import (
    HealthOrg,
    NumberHealthFacts,
    ReputationLabel,
    StateChange,
    Tally,
)
from callsign.domain.model import (
    Agent,
    ClaimResult,
    Decision,
    NumberState,
    OrgPolicy,
    OrgState,
    PastCall,
    ProjectPolicy,
    Route,
)
from callsign.domain.org_copies import OrgCache
from callsign.domain.reputation import Label
from callsign.domain.warmup import Limits

OrgId = int  # the store's key of an organization, as it hands one out
ProjectId = int  # the store's key of a project
Errors = tuple[type[Exception], ...]  # exception types an ``except`` clause takes


class CallsRepository(Protocol):
    """The reads and writes of the call path, inside one unit of work.

    Each is one indexed read or one write in the store; the services compose them.
    Unknown organizations, users and projects are NotFound naming their field.
    """

    @property
    def orgs(self) -> OrgCache:
        """This worker's copies of organizations' state for this store (shared by its
        units of work)."""
        ...

    def read_ahead(self, org: OrgState, user: str, *, to: str, caller_id: str | None,
                   project: str | None, key: str | None, now: datetime,
                   lock: bool) -> None:
        """A hint that a decision for this call follows (``org``: the organization's state
        kept in memory, not yet confirmed current; ``to`` and ``caller_id`` as given;
        ``key``: its Idempotency-Key; ``lock``: it will lock the contact): a store whose
        every read is a round trip may read ahead, in one, what it will be asked (the
        configuration version first). The reads then answer as they would have; a store
        may do nothing."""
        ...

    def config_version(self, org_id: OrgId) -> int | None:
        """The version of the organization's configuration: any change to its settings,
        users, projects, pools or numbers moves it, in the change's own transaction.
        None if the store keeps none for it."""
        ...

    def org_state(self, slug: str) -> OrgState:
        """The organization's configuration, read with its version (read first: a change
        committed meanwhile at worst makes the next decision read it again)."""
        ...

    def org_id_and_policy(self, slug: str) -> tuple[OrgId, OrgPolicy]:
        """The organization's id and settings."""
        ...

    def org_and_user(self, slug: str, user: str) -> tuple[OrgId, OrgPolicy, Agent]:
        """The organization and one of its users, in one read."""
        ...

    def project_policy(self, org_id: OrgId, key: str) -> tuple[ProjectId, ProjectPolicy]:
        """The project's id, pool and number selection logic."""
        ...

    def lock_contact(self, org_id: OrgId, phone: str) -> None:
        """Make concurrent decisions for one contact wait for each other until commit."""
        ...

    def contact(self, org_id: OrgId, phone: str
                ) -> tuple[str, str | None, ContactAddress | None, Consent | None] | None:
        """The contact's (line type, owner, address if any, consent date if any with the
        stored reassigned-numbers answer), or None if ``phone`` is not a contact."""
        ...

    def do_not_call(self, org_id: OrgId, phone: str) -> DoNotCall | None:
        """The organization's do-not-call entry for ``phone``, or None if not listed."""
        ...

    def registry(self, org_id: OrgId, phone: str) -> DoNotCall | None:
        """The national do-not-call registry's entry for ``phone`` (from the organization's
        scrub files), or None if it is not listed."""
        ...

    def history(self, org_id: OrgId, phone: str) -> tuple[PastCall, ...]:
        """The organization's outbound calls to ``phone``, newest first."""
        ...

    def candidate_numbers(
        self, org_id: OrgId, *, day: str, area_code: str | None, region: str | None,
        specific: Iterable[str], project_id: ProjectId | None,
    ) -> tuple[dict[str, NumberState], frozenset[str]]:
        """The numbers the rules may consider (those named in ``specific``, the project's
        pool, and the least recently presented active numbers under their cap that serve
        ``area_code`` or lie in ``region``, and a few resting ones that serve it, for the
        trace), with today's usage, their last presentations and their health; and which
        of them serve ``area_code``. Released numbers are never among them."""
        ...

    def claim_number(
        self, org_id: OrgId, e164: str, *, day: str, now: datetime, within_cap: bool,
        in_turn: bool = False, presented: datetime | None = None,
        limits: Limits | None = None,
    ) -> ClaimResult:
        """Count one presentation of ``e164`` on ``day`` and make ``now`` its last
        presentation, atomically: within its daily cap and ``limits`` (its presentations
        in the last minute, hour and today; enforced only if they say so, and never
        without ``within_cap``) unless not ``within_cap``; with
        ``in_turn``, only if its last presentation is still ``presented`` (None: never
        presented), i.e. no concurrent call took its turn since it was read.

        A number outside the inventory (a principal number not held) is TAKEN: there is
        nothing to count.
        """
        ...

    def record_call(
        self, org_id: OrgId, decision: Decision, *, user: str, project: str | None,
        channel: str, at: datetime, subject: str | None = None,
    ) -> None:
        """Store the outbound call ``decision`` decided (``subject``: what it is about)."""
        ...

    def idempotent_decision(self, org_id: OrgId, key: str,
                            fingerprint: str) -> Decision | None:
        """The decision first given for ``key``; Conflict if it was for another request."""
        ...

    def remember_decision(self, org_id: OrgId, key: str, fingerprint: str,
                          decision: Decision, at: datetime) -> None:
        """Keep ``decision`` under ``key``; a concurrent first use of the key makes this
        (or the commit) raise one of the unit's ``raced`` errors."""
        ...

    def set_outcome(self, call_id: str, outcome: str, at: datetime,
                    org_id: OrgId | None = None) -> bool:
        """Set the outcome of a call (of ``org_id`` if given); False if there is none."""
        ...

    def number_owner(self, e164: str) -> tuple[OrgId, OrgPolicy, list[str] | None] | None:
        """(org id, org settings, the number's own call path) of whoever holds ``e164``."""
        ...

    def user_by_direct_number(self, org_id: OrgId, number: str) -> Agent | None:
        ...

    def user_by_key(self, org_id: OrgId, key: str) -> Agent | None:
        ...

    def record_inbound(self, org_id: OrgId, route: Route, *, called: str, caller: str,
                       at: datetime) -> None:
        """Store the inbound call ``route`` routed."""
        ...


class UnitOfWork(Protocol):
    """One transaction: ``with uow: ...; uow.commit()``; nothing lands without commit.

    Besides its repositories, it names the errors by which its store says a transaction
    met a concurrent one, so the services can run it again without knowing the driver.
    """

    @property
    def calls(self) -> CallsRepository:
        """The call path's reads and writes (only inside ``with``)."""
        ...

    @property
    def raced(self) -> Errors:
        """A concurrent transaction stored the same key first (a unique constraint)."""
        ...

    @property
    def deadlocked(self) -> Errors:
        """The store chose this transaction as a deadlock's victim: run it again."""
        ...

    @property
    def lock_waited(self) -> Errors:
        """A statement waited past the store's lock timeout for a row another transaction
        holds; the transaction is aborted."""
        ...

    @property
    def dropped(self) -> bool:
        """Whether the unit's last run failed (StoreUnavailable) because the store dropped
        its connection before the commit was sent: nothing landed, and it may run again,
        on a new connection."""
        ...

    def describe(self) -> str:
        """The store as an operator names it, for messages."""
        ...

    def __enter__(self) -> Self:
        ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        ...

    def commit(self) -> None:
        ...


class ReputationFeed(Protocol):
    """A reputation scanning service (SPEC 9): what the carriers' analytics engines show
    for numbers. Adapters live in ``callsign.providers.reputation``; the tests run a local
    server that answers as a vendor's API does.

    ``fetch`` answers the labels the feed has for ``numbers`` (E.164), each as (number,
    label), one per engine it checked; a number it knows nothing of is left out. A feed
    that cannot be reached, refuses or answers what it should not raises ProviderError.
    """

    name: str  # the source its labels are stored with ("feed:NAME")

    def fetch(self, numbers: Sequence[str]) -> list[tuple[str, Label]]:
        ...


class ReassignedLookup(Protocol):
    """A reassigned-numbers database (SPEC 10), as the FCC's Reassigned Numbers Database
    answers: was each number permanently disconnected since a date? Adapters live in
    ``callsign.providers.reassigned``; the tests run a local server that answers as one.

    ``lookup`` answers, for each (number, date) asked, ``yes``, ``no`` or ``no_data``
    (``domain.compliance.reassigned.ANSWERS``). A lookup that cannot be reached, refuses
    or answers what it should not raises ProviderError.
    """

    name: str  # the source its answers are stored with

    def lookup(self, asked: Sequence[tuple[str, date]]) -> dict[str, Answer]:
        ...


class HealthReads(Protocol):
    """What the health surfaces read (read only; each scoped by the organization's id).

    Tallies count calls: all of them, those with a known result, the answered, and the
    answered ones shorter than ``short_seconds``.
    """

    def org(self, slug: str) -> HealthOrg:
        """The organization (NotFound naming ``org`` if there is none)."""
        ...

    def number(self, org_id: OrgId, e164: str) -> NumberHealthFacts | None:
        """A held number with its stored health; None if the organization holds none."""
        ...

    def daily(self, org_id: OrgId, starts: Sequence[datetime], *, short_seconds: int,
              caller_id: str | None = None) -> list[Tally]:
        """A tally per day (``starts``: the days' starts and the last day's end), of the
        organization's calls or of those ``caller_id`` presented."""
        ...

    def by_rule(self, org_id: OrgId, *, after: datetime, before: datetime,
                short_seconds: int) -> dict[str, Tally]:
        """The calls placed in [after, before), by the rule that chose their caller ID."""
        ...

    def by_caller_id(self, org_id: OrgId, *, after: datetime, before: datetime,
                     short_seconds: int) -> dict[str, Tally]:
        """The calls placed in [after, before), by the caller ID they presented."""
        ...

    def own_area_codes(self, org_id: OrgId, e164s: Collection[str]) -> dict[str, str]:
        """Each of the numbers' own area code (numbers the organization held too)."""
        ...

    def changes(self, org_id: OrgId, number_id: int, *,
                after: datetime) -> tuple[str | None, list[StateChange]]:
        """The number's state as of ``after`` (None: not judged), and its changes since."""
        ...

    def resting(self, org_id: OrgId) -> list[NumberHealthFacts]:
        """The resting numbers (by health or by hand), longest resting first."""
        ...

    def coverage_counts(self, org_id: OrgId) -> dict[str, tuple[int, int]]:
        """Per area code: (numbers serving it, how many of them rest); paused numbers
        serve nobody."""
        ...

    def area_code_states(self, org_id: OrgId) -> dict[str, dict[str, int]]:
        """Per area code served (paused numbers serve nobody): how many of its numbers
        are in each health state, by the state's value (never judged: healthy)."""
        ...

    def reputation(self, org_id: OrgId, number_id: int) -> list[ReputationLabel]:
        """The number's latest reputation label per engine (none until feeds store them)."""
        ...


class HealthReadsUnit(Protocol):
    """A unit of work that reads the health surfaces: ``with uow: uow.health_reads...``."""

    @property
    def health_reads(self) -> HealthReads:
        """The health surfaces' reads (only inside ``with``)."""
        ...

    def __enter__(self) -> Self:
        ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        ...
