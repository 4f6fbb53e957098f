"""The values the rules read and return. Plain frozen dataclasses: no I/O, no ORM."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from callsign.domain.compliance.dnc import DoNotCall
from callsign.domain.compliance.policy import CompliancePolicy
from callsign.domain.compliance.reassigned import Consent
from callsign.domain.compliance.zones import ContactAddress
from callsign.domain.health_policy import HealthPolicy
from callsign.domain.health_states import Health
from callsign.domain.phone import LineType
from callsign.domain.trace import TraceResult as TraceResult
from callsign.domain.trace import TraceStep as TraceStep
from callsign.domain.warmup import Shaping


class NumberStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    RESTING = "resting"
    RELEASED = "released"


class Channel(StrEnum):
    MANUAL = "manual"
    CLICK_TO_DIAL = "click_to_dial"
    CONNECT = "connect"
    DIALER = "dialer"


class Logic(StrEnum):
    """Number selection logics of a project (SPEC 3.2)."""

    RANDOM = "random"
    DIFFERENT_EACH_ATTEMPT = "different_each_attempt"
    REGIONALLY_RANDOM = "regionally_random"


FIRST_CALL_LOGICS = (Logic.RANDOM, Logic.REGIONALLY_RANDOM)
AgentNumber = Literal["use_agent", "use_project"]
Fallback = Literal["none", "region"]
LocalOnly = Literal["off", "refuse", "principal"]


@dataclass(frozen=True)
class Proximity:
    """The proximity steps of local presence (SPEC 3.3), each on or off: same exchange
    (NPA-NXX) before the area code; then an overlay, an adjacent area code, the nearest
    within ``radius_miles`` (None: off). All off by default: the area code alone."""

    exchange: bool = False
    overlay: bool = False
    adjacent: bool = False
    radius_miles: int | None = None

    @property
    def reaches_out(self) -> bool:
        """Whether a step looks beyond the callee's own area code."""
        return self.overlay or self.adjacent or self.radius_miles is not None


class InboundStep(StrEnum):
    """Steps of an inbound call path (SPEC 4), in the default order."""

    DIRECT_NUMBER = "direct_number"
    LAST_CALLER = "last_caller"
    LEAD_OWNER = "lead_owner"
    FORWARDING = "forwarding"
    COMPANY = "company"


DEFAULT_CALL_PATH: tuple[InboundStep, ...] = tuple(InboundStep)


class Claim(StrEnum):
    """What recording a decision claims of its number's use today."""

    CAP = "cap"  # one use within the number's daily cap; refused when the cap is full
    TURN = "turn"  # as CAP, and only in turn: no concurrent call presented it meanwhile
    UNCAPPED = "uncapped"  # counted, never refused by a cap: the principal, the last resort
    NONE = "none"  # not counted at all: an emergency call is never capped or rotated


class ClaimResult(StrEnum):
    """What came of claiming a number for one presentation (the store's answer)."""

    TAKEN = "taken"  # counted and presented (or a number outside the inventory)
    FULL = "full"  # at its daily cap, released meanwhile, or not the org's
    TURN_LOST = "turn lost"  # presented by a concurrent call since it was read


class Rule(StrEnum):
    """The rule that chose an outbound call's caller ID (SPEC 3), in the JSON's words.

    An inbound call's rule is the step of its call path that decided (``InboundStep``).
    """

    EMERGENCY = "emergency"
    OVERRIDE = "override"
    AGENT_NUMBER = "agent_number"
    PREVIOUS_NUMBER = "previous_number"
    OUTCOME_NUMBER = "outcome_number"
    FIRST_CALL_NUMBER = "first_call_number"
    RANDOM = Logic.RANDOM.value
    DIFFERENT_EACH_ATTEMPT = Logic.DIFFERENT_EACH_ATTEMPT.value
    REGIONALLY_RANDOM = Logic.REGIONALLY_RANDOM.value
    AGENT_AREA_CODE = "agent_area_code"
    LOCAL_PRESENCE = "local_presence"
    LOCAL_PRESENCE_REGION = "local_presence_region"
    LOCAL_EXCHANGE = "local_exchange"
    LOCAL_OVERLAY = "local_overlay"
    LOCAL_ADJACENT = "local_adjacent"
    LOCAL_RADIUS = "local_radius"
    USER_CALLER_ID = "user_caller_id"
    PRINCIPAL = "principal"

    @property
    def claim(self) -> Claim:
        """What a call presenting the number this rule chose claims of that number."""
        return _CLAIMS.get(self, Claim.CAP)


_CLAIMS = {
    Rule.EMERGENCY: Claim.NONE,
    Rule.LOCAL_PRESENCE: Claim.TURN,  # rotation: the least recently presented, in turn
    Rule.LOCAL_PRESENCE_REGION: Claim.TURN,
    Rule.LOCAL_EXCHANGE: Claim.TURN,
    Rule.LOCAL_OVERLAY: Claim.TURN,
    Rule.LOCAL_ADJACENT: Claim.TURN,
    Rule.LOCAL_RADIUS: Claim.TURN,
    Rule.PRINCIPAL: Claim.UNCAPPED,
}
DEFAULT_LAST_CALLER_DAYS = 30


@dataclass(frozen=True)
class CallingHours:
    start: time
    end: time

    def allows(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # a window across midnight

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


@dataclass(frozen=True)
class OrgPolicy:
    """An organization's settings that the rules read."""

    slug: str
    principal_number: str
    default_country: str = "US"
    timezone: str = "UTC"
    forwarding_number: str | None = None
    agent_leg_number: str | None = None
    local_presence: bool = False
    local_presence_fallback: Fallback = "none"
    restrict_caller_ids: bool = False
    calling_hours: CallingHours | None = None
    call_path: tuple[InboundStep, ...] = DEFAULT_CALL_PATH
    last_caller_days: int = DEFAULT_LAST_CALLER_DAYS
    proximity: Proximity = field(default_factory=Proximity)
    # Number health and volume shaping (SPEC 9).
    health: HealthPolicy = field(default_factory=HealthPolicy)


def today(org: OrgPolicy, now: datetime) -> str:
    """The calendar day in the organization's time zone, for daily caps (SPEC 2)."""
    return now.astimezone(ZoneInfo(org.timezone)).date().isoformat()


@dataclass(frozen=True)
class Agent:
    """A user as the rules see one."""

    id: str
    name: str = ""
    work_phone: str | None = None
    caller_id: str | None = None
    direct_number: str | None = None
    allowed_caller_ids: frozenset[str] = frozenset()
    active: bool = True


@dataclass(frozen=True)
class NumberState:
    """One of the organization's numbers, with today's usage, its last presentations
    (newest first, as many as the per-minute and per-hour limits need), its health
    (None: never judged) and when it was added (None: before added times were kept)."""

    e164: str
    status: NumberStatus = NumberStatus.ACTIVE
    region: str | None = None
    daily_cap: int | None = None
    used_today: int = 0
    last_presented_at: datetime | None = None
    recent: tuple[datetime, ...] = ()
    health: Health | None = None
    added_at: datetime | None = None
    live_since: datetime | None = None  # its last call without a result yet


@dataclass(frozen=True)
class ProjectPolicy:
    """A project's number pool and number selection logic (SPEC 3.2)."""

    id: str
    pool: tuple[str, ...]
    first_call: str = Logic.RANDOM  # a Logic of FIRST_CALL_LOGICS, or one pool number
    keep_previous_number: bool = False
    next_calls: Logic = Logic.RANDOM
    outcome_numbers: Mapping[str, str] = field(default_factory=dict)
    agent_number: AgentNumber = "use_project"
    proximity: Proximity | None = None  # None: the organization's
    # With no local number for the callee: refuse, or present the principal; off: as ever.
    local_only: LocalOnly = "off"


@dataclass(frozen=True)
class OrgState:
    """What the decisions need of an organization's configuration, as a worker keeps it in
    memory: its id, settings, users and projects (with their pools), and the version of
    that configuration they were read at (any change to it moves the version)."""

    org_id: int
    version: int | None  # None: the store keeps no version of it (never trusted again)
    policy: OrgPolicy
    users: Mapping[str, Agent]
    projects: Mapping[str, tuple[int, ProjectPolicy]]  # by key: (the store's id, policy)
    # The compliance rules (SPEC 10) built once per version: None's are the organization's,
    # a project's key's the organization's joined with the project's; none: no rules.
    compliance: Mapping[str | None, CompliancePolicy] = field(default_factory=dict)

    def compliance_for(self, project: str | None) -> CompliancePolicy | None:
        """The rules a call in ``project`` answers to, or None if there are none."""
        return self.compliance.get(project) or self.compliance.get(None)


@dataclass(frozen=True)
class PastCall:
    """One earlier outbound call to the contact."""

    call_id: str
    at: datetime
    caller_id: str
    user: str
    project: str | None = None
    outcome: str | None = None
    subject: str | None = None  # what the call was about (a debt, a campaign), if given


@dataclass(frozen=True)
class Callee:
    """The number to call and what is known about where it rings."""

    number: str  # E.164, or the short number dialled for an emergency
    emergency: bool = False
    area_code: str | None = None
    region: str | None = None
    timezones: tuple[str, ...] = ()
    line_type: LineType = "unknown"
    geographic: bool = True


@dataclass(frozen=True)
class OutboundRequest:
    org: str
    user: str
    to: str
    project: str | None = None
    caller_id: str | None = None
    channel: Channel = Channel.MANUAL
    consented: bool = False
    subject: str | None = None  # what the call is about (a debt, a campaign): per-subject caps


@dataclass(frozen=True)
class ComplianceFacts:
    """What the compliance rules read of one call beside the callee's number and history."""

    policy: CompliancePolicy
    contact: ContactAddress | None = None  # where the contact's record says they live
    do_not_call: DoNotCall | None = None  # the list's entry for the number, if listed
    registry: DoNotCall | None = None  # the national registry's entry (a scrub file's)
    consent: Consent | None = None  # the contact's consent date and its reassigned lookup


@dataclass(frozen=True)
class OutboundFacts:
    """Everything the outbound rules read, gathered by the service in a few reads."""

    org: OrgPolicy
    user: Agent
    callee: Callee
    numbers: Mapping[str, NumberState]  # every org number the rules may consider
    serving_area_code: frozenset[str]  # org numbers serving the callee's area code
    project: ProjectPolicy | None = None
    history: tuple[PastCall, ...] = ()  # this org's calls to the contact, newest first
    caller_id: str | None = None  # the caller ID asked for this one call, in E.164
    shaping: Shaping | None = None  # volume shaping (SPEC 9); None: nothing paced
    compliance: ComplianceFacts | None = None  # None: no compliance rule to check
    # Org numbers serving each nearby area code (overlays, neighbours, within the radius)
    # that the proximity steps asked for; empty when they look no further.
    nearby: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The caller ID for one outbound call, the rule that chose it and the trace."""

    caller_id: str
    rule: Rule
    to: str
    trace: tuple[TraceStep, ...]
    call_id: str = ""

    @property
    def claim(self) -> Claim:
        """What recording this decision claims of its number: its rule's claim (an
        emergency call's claims nothing: it is never capped or rotated)."""
        return Rule(self.rule).claim

    def as_dict(self) -> dict[str, Any]:
        """The decision as JSON values: what the REST API and the CLI answer."""
        return {"call_id": self.call_id, "caller_id": self.caller_id, "rule": str(self.rule),
                "to": self.to, "trace": [step.as_dict() for step in self.trace]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """A decision back from ``as_dict`` (an idempotent replay); its rule gives its claim."""
        return cls(caller_id=data["caller_id"], rule=Rule(data["rule"]), to=data["to"],
                   trace=tuple(TraceStep(**step) for step in data["trace"]),
                   call_id=data["call_id"])


@dataclass(frozen=True)
class InboundFacts:
    """Everything the inbound rules read about one call to one of our numbers."""

    org: OrgPolicy
    called: str
    caller: str
    path: tuple[InboundStep, ...]
    direct_user: Agent | None = None  # the user whose direct number was called
    last_call: PastCall | None = None  # this org's newest outbound call to the caller
    last_caller: Agent | None = None  # the user who made that call
    lead_owner: Agent | None = None  # owner of the contact with the caller's number


@dataclass(frozen=True)
class Route:
    """Where an inbound call rings, the rule that chose it and the trace."""

    destination: str
    rule: InboundStep
    user: str | None
    trace: tuple[TraceStep, ...]
    call_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The route as JSON values: what the REST API and the CLI answer."""
        return {"call_id": self.call_id, "destination": self.destination,
                "rule": str(self.rule), "user": self.user,
                "trace": [step.as_dict() for step in self.trace]}
