"""The organization document (SPEC 6): its schema, and the checks across its fields.

A decoded document (a mapping, from YAML or JSON) is validated whole before anything is
written, and every problem is reported with its path, e.g.
``projects[1].first_call: +13125550101 is not in the pool``; every number comes out in
E.164. Reading a file or a request body into a mapping is ``callsign.orgfile``'s work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from callsign.domain import limits, phone
from callsign.domain.compliance.policy import CompliancePolicy, organization_policy, project_policy
from callsign.domain.compliance.zones import known_zone, state_code, zip_place
from callsign.domain.errors import ConfigError, InvalidInput
from callsign.domain.health_policy import MAX_PER_HOUR, MAX_PER_MINUTE, HealthPolicy, RampStep
from callsign.domain.model import (
    DEFAULT_CALL_PATH,
    DEFAULT_LAST_CALLER_DAYS,
    InboundStep,
    Logic,
    Proximity,
)
from callsign.domain.problems import GROUP_PATTERN as GROUP_PATTERN
from callsign.domain.problems import KEY_PATTERN
from callsign.domain.problems import PATTERN_WORDS as PATTERN_WORDS
from callsign.domain.problems import problem_message as problem_message
from callsign.domain.problems import problem_path as problem_path
from callsign.domain.problems import shown as shown
from callsign.domain.problems import validation_problems as validation_problems
from callsign.domain.release import DEFAULT_RELEASE_GUARD_DAYS, MAX_RELEASE_GUARD_DAYS

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
Group = Annotated[str, StringConstraints(max_length=limits.MAX_ID, pattern=GROUP_PATTERN)]
Name = Annotated[str, StringConstraints(max_length=limits.MAX_NAME)]
Phone = Annotated[str, StringConstraints(max_length=40)]
Short = Annotated[str, StringConstraints(max_length=limits.MAX_TEXT)]


def _iso_date(value: Any) -> Any:
    """A date as YAML reads one, or its ISO text (YYYY-MM-DD); nothing else."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str) and _DAY.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"must be a date (YYYY-MM-DD), not {shown(value)}")


def _only_true_or_false(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {shown(value)}")
    return value


Flag = Annotated[bool, BeforeValidator(_only_true_or_false)]
"""A boolean that is true or false, never "yes" or 1 (however the caller validates)."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NumberDoc(_Doc):
    number: Phone
    label: Name = ""
    group: Group = ""
    # mapped area codes besides its own
    area_codes: list[Annotated[str, StringConstraints(max_length=8)]] = Field(
        default_factory=list)
    daily_cap: int | None = Field(default=None, ge=1, le=limits.MAX_DAILY_CAP)
    status: Literal["active", "paused", "resting"] = "active"
    provider: Short = "manual"
    call_path: list[InboundStep] | None = None

    @field_validator("call_path")
    @classmethod
    def _steps_once(cls, value: list[InboundStep] | None) -> list[InboundStep] | None:
        return None if value is None else _once(value)

    @field_validator("area_codes", mode="before")
    @classmethod
    def _area_codes_as_text(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value


class UserDoc(_Doc):
    id: Key
    name: Name = ""
    work_phone: Phone | None = None
    caller_id: Phone | None = None
    direct_number: Phone | None = None
    allowed_caller_ids: list[Phone] = Field(default_factory=list)
    active: Flag = True


class ContactDoc(_Doc):
    phone: Phone
    owner: Key | None = None
    line_type: Literal["landline", "mobile", "unknown"] = "unknown"
    # Where the person lives, for the compliance rules (SPEC 10); each optional.
    timezone: Short | None = None
    state: Short | None = None
    postal_code: Short | None = None
    # When the person consented to be called (SPEC 10): a reassigned-numbers lookup asks
    # whether the number was disconnected since.
    consented_on: Annotated[date, BeforeValidator(_iso_date)] | None = None


MAX_RADIUS_MILES = 500


class ProximityDoc(_Doc):
    """The proximity steps of local presence (SPEC 3.3); all off by default."""

    exchange: Flag = False
    overlay: Flag = False
    adjacent: Flag = False
    radius_miles: Annotated[int, Field(strict=True, ge=1, le=MAX_RADIUS_MILES)] | None = None

    def proximity(self) -> Proximity:
        return Proximity(self.exchange, self.overlay, self.adjacent, self.radius_miles)


class ProjectDoc(_Doc):
    id: Key
    name: Name = ""
    numbers: list[Phone] = Field(default_factory=list)
    first_call: Phone = Logic.RANDOM
    keep_previous_number: Flag = False
    next_calls: Logic = Logic.RANDOM
    outcome_numbers: dict[Short, Phone] = Field(default_factory=dict)
    agent_number: Literal["use_agent", "use_project"] = "use_project"
    compliance: dict[str, Any] | None = None  # the project's rules (SPEC 10): tighten only
    proximity: ProximityDoc | None = None  # None: the organization's
    local_only: Literal["off", "refuse", "principal"] = "off"


class CallingHoursDoc(_Doc):
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time of day as HH:MM")
        return value


class TwilioDoc(_Doc):
    """The organization's Twilio account. Its auth token is bound by the server's
    operator (CALLSIGN_TWILIO_TOKEN_<ORG>, or the CALLSIGN_TWILIO_SECRETS file), never
    named by the organization."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    # Once the name of an environment variable chosen by the organization: refused, so
    # that a document still carrying it says how the token is bound now.
    auth_token_env: SkipJsonSchema[Any] = Field(default=None, exclude=True)

    @field_validator("auth_token_env")
    @classmethod
    def _token_bound_by_the_operator(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError(
                "is no longer a setting: the Twilio auth token is bound by the server's "
                "operator, not by the organization: the environment variable "
                "CALLSIGN_TWILIO_TOKEN_<ORG> (the organization's id upper-cased, other "
                "characters as _) or an entry in the file named by "
                "CALLSIGN_TWILIO_SECRETS; remove twilio.auth_token_env")
        return value


class InboundDoc(_Doc):
    path: list[InboundStep] = Field(default_factory=lambda: list(DEFAULT_CALL_PATH))
    last_caller_days: int = Field(default=DEFAULT_LAST_CALLER_DAYS, ge=1, le=3650)

    @field_validator("path")
    @classmethod
    def _steps_once(cls, value: list[InboundStep]) -> list[InboundStep]:
        return _once(value)


def _not_a_flag(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number, not {shown(value)}")
    return value


def _between(low: int, high: int) -> AfterValidator:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value
    return AfterValidator(check)


_WHOLE = BeforeValidator(_not_a_flag)
Percent = Annotated[int, _WHOLE, _between(0, 100)]
Days = Annotated[int, _WHOLE, _between(1, 365)]
Calls = Annotated[int, _WHOLE, _between(1, limits.MAX_DAILY_CAP)]
Count = Annotated[int, _WHOLE, _between(1, 10_000)]
Seconds = Annotated[int, _WHOLE, _between(1, 600)]
_DEFAULT_HEALTH = HealthPolicy()
# The label verdicts that may rest a number (domain/reputation.py; "clean" never does).
FlagVerdict = Literal["spam_likely", "scam_likely", "nuisance", "other"]


def _default_flags() -> list[FlagVerdict]:
    return ["spam_likely", "scam_likely"]  # HealthPolicy's rest_on_flag


class RampStepDoc(_Doc):
    days: Days
    calls_per_day: Calls


class HealthDoc(_Doc):
    """The number-health policy (SPEC 9); defaults and their sources in docs/health.md."""

    window_calls: Count = _DEFAULT_HEALTH.window_calls
    window_days: Days = _DEFAULT_HEALTH.window_days
    min_calls: Count = _DEFAULT_HEALTH.min_calls
    answer_rate_floor: Percent = _DEFAULT_HEALTH.answer_rate_floor
    short_call_seconds: Seconds = _DEFAULT_HEALTH.short_call_seconds
    short_call_limit: Percent = _DEFAULT_HEALTH.short_call_limit
    rejection_limit: Percent = _DEFAULT_HEALTH.rejection_limit
    spam_report_limit: Annotated[int, _WHOLE, _between(1, 1000)] = _DEFAULT_HEALTH.spam_report_limit
    rest_on_608: Flag = _DEFAULT_HEALTH.rest_on_608
    rest_below: Percent = _DEFAULT_HEALTH.rest_below
    watch_below: Percent = _DEFAULT_HEALTH.watch_below
    healthy_at: Percent = _DEFAULT_HEALTH.healthy_at
    rest_days: Days = _DEFAULT_HEALTH.rest_days
    warming_min_calls: Count = _DEFAULT_HEALTH.warming_min_calls
    max_resting_share: Percent = _DEFAULT_HEALTH.max_resting_share
    ramp: Annotated[list[RampStepDoc], Field(max_length=20)] = Field(
        default_factory=lambda: [RampStepDoc(days=s.days, calls_per_day=s.calls_per_day)
                                 for s in _DEFAULT_HEALTH.ramp])
    shaping: Flag = _DEFAULT_HEALTH.shaping
    per_minute: Annotated[int, _WHOLE, _between(1, MAX_PER_MINUTE)] = _DEFAULT_HEALTH.per_minute
    per_hour: Annotated[int, _WHOLE, _between(1, MAX_PER_HOUR)] = _DEFAULT_HEALTH.per_hour
    per_day: Calls = _DEFAULT_HEALTH.per_day
    one_live_call: Flag = _DEFAULT_HEALTH.one_live_call
    live_call_minutes: Annotated[int, _WHOLE, _between(1, 1440)] = \
        _DEFAULT_HEALTH.live_call_minutes
    rest_on_flag: Annotated[list[FlagVerdict], Field(max_length=4)] = Field(
        default_factory=_default_flags)
    flag_restore: Literal["clean_check", "rest_days", "either"] = "either"

    @field_validator("rest_on_flag")
    @classmethod
    def _flags_once(cls, value: list[FlagVerdict]) -> list[FlagVerdict]:
        twice = sorted({v for v in value if value.count(v) > 1})
        if twice:
            raise ValueError(f"lists {', '.join(twice)} more than once")
        return value

    def policy(self) -> HealthPolicy:
        """The policy these settings describe."""
        values = self.model_dump(exclude={"ramp", "rest_on_flag"})
        ramp = tuple(RampStep(s.days, s.calls_per_day) for s in self.ramp)
        return HealthPolicy(**values, ramp=ramp, rest_on_flag=tuple(self.rest_on_flag))


class OrgDocument(_Doc):
    org: Key
    default_country: Short = "US"
    timezone: Short = "UTC"
    principal_number: Phone
    forwarding_number: Phone | None = None
    agent_leg_number: Phone | None = None
    local_presence: Flag = False
    local_presence_fallback: Literal["none", "region"] = "none"
    proximity: ProximityDoc = Field(default_factory=ProximityDoc)
    restrict_caller_ids: Flag = False
    calling_hours: CallingHoursDoc | None = None
    numbers: list[NumberDoc] = Field(default_factory=list)
    users: list[UserDoc] = Field(default_factory=list)
    contacts: list[ContactDoc] = Field(default_factory=list)
    projects: list[ProjectDoc] = Field(default_factory=list)
    inbound: InboundDoc = Field(default_factory=InboundDoc)
    twilio: TwilioDoc | None = None
    health: HealthDoc = Field(default_factory=HealthDoc)
    compliance: dict[str, Any] | None = None  # SPEC 10; see domain/compliance/policy.py
    # A number presented within these days is released only with force (domain.release).
    release_guard_days: Annotated[int, _WHOLE, _between(0, MAX_RELEASE_GUARD_DAYS)] = \
        DEFAULT_RELEASE_GUARD_DAYS


def _once(steps: list[InboundStep]) -> list[InboundStep]:
    twice = sorted({str(step) for step in steps if steps.count(step) > 1})
    if twice:
        raise ValueError(f"lists {', '.join(twice)} more than once; name each step once")
    return steps


def parse_document(data: Any) -> OrgDocument:
    """Validate a decoded document (YAML or JSON) and return it with numbers in E.164."""
    if not isinstance(data, dict):
        raise ConfigError([("", "the document must be a mapping with 'org' at the top")])
    try:
        document = OrgDocument.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc)) from exc
    problems = [*_reserved_ids(document), *_Checker(document).problems()]
    if problems:
        raise ConfigError(problems)
    return document


def _reserved_ids(doc: OrgDocument) -> Iterator[tuple[str, str]]:
    """Ids that name admin pages (``new``) would make their user or project unreachable."""
    words = ", ".join(sorted(limits.RESERVED_IDS))
    ids = {"users": [u.id for u in doc.users], "projects": [p.id for p in doc.projects]}
    for plural, keys in ids.items():
        for i, key in enumerate(keys):
            if key.lower() in limits.RESERVED_IDS:
                yield f"{plural}[{i}].id", f"{key!r} is reserved (so are {words}); choose another"


class _Checker:
    """Checks across fields; normalises every number to E.164 in place."""

    def __init__(self, document: OrgDocument) -> None:
        self.doc = document
        self.country = document.default_country

    def number(self, raw: str, path: str) -> str:
        return phone.parse_number(raw, self.country, field=path)

    def problems(self) -> Iterator[tuple[str, str]]:
        doc = self.doc
        try:
            self.country = doc.default_country = phone.validate_country(
                doc.default_country, field="default_country")
        except InvalidInput as exc:
            yield "default_country", exc.message
            return
        try:
            ZoneInfo(doc.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            yield "timezone", f"{doc.timezone!r} is not an IANA time zone"
        org_numbers = [problem for attr in ("principal_number", "forwarding_number",
                                            "agent_leg_number")
                       for problem in self._normalise(doc, attr, attr)]
        yield from org_numbers
        yield from self._numbers()
        owned = {n.number for n in doc.numbers}
        yield from self._held_org_numbers({path for path, _ in org_numbers})
        yield from self._users(owned)
        yield from self._contacts()
        yield from self._projects(owned)
        yield from health_problems(doc.health)
        yield from compliance_problems(doc)

    def _checked(self, raw: str | None, path: str) -> Iterator[tuple[str, str]]:
        if raw is None:
            return
        try:
            self.number(raw, path)
        except InvalidInput as exc:
            yield path, exc.message

    def _normalise(self, obj: Any, attr: str, path: str) -> Iterator[tuple[str, str]]:
        raw = getattr(obj, attr)
        if raw is None:
            return
        try:
            setattr(obj, attr, self.number(raw, path))
        except InvalidInput as exc:
            yield path, exc.message

    def _held_org_numbers(self, invalid: set[str]) -> Iterator[tuple[str, str]]:
        """The principal and agent-leg numbers are presented: they must be the org's own.

        The principal is every call's last resort, so it must also be active; the
        agent leg is shown only to the organization's own agents, so a paused number
        (not presented to callees) may serve as one.
        """
        statuses = {n.number: n.status for n in self.doc.numbers}
        principal, agent_leg = self.doc.principal_number, self.doc.agent_leg_number
        if "principal_number" not in invalid:
            status = statuses.get(principal)
            if status is None:
                yield "principal_number", f"{principal} is not one of the organization's numbers"
            elif status != "active":
                yield ("principal_number", f"{principal} is {status}; the principal number "
                       "is the last resort of every call and must be active")
        if agent_leg is not None and "agent_leg_number" not in invalid \
                and agent_leg not in statuses:
            yield "agent_leg_number", f"{agent_leg} is not one of the organization's numbers"

    def _numbers(self) -> Iterator[tuple[str, str]]:
        seen: set[str] = set()
        for i, entry in enumerate(self.doc.numbers):
            path = f"numbers[{i}]"
            problems = list(self._normalise(entry, "number", f"{path}.number"))
            yield from problems
            if problems:
                continue
            if entry.number in seen:
                yield f"{path}.number", f"{entry.number} is listed twice"
            seen.add(entry.number)
            country = phone.facts_for(entry.number, self.country, field="number").country
            for j, code in enumerate(entry.area_codes):
                if not phone.valid_area_code(code, country):
                    yield (f"{path}.area_codes[{j}]",
                           f"{code!r} is not a geographic area code of {country}")

    def _users(self, owned: set[str]) -> Iterator[tuple[str, str]]:
        seen: set[str] = set()
        direct: dict[str, str] = {}
        for i, user in enumerate(self.doc.users):
            path = f"users[{i}]"
            if user.id in seen:
                yield f"{path}.id", f"user {user.id!r} is listed twice"
            seen.add(user.id)
            yield from self._normalise(user, "work_phone", f"{path}.work_phone")
            yield from self._allowed_caller_ids(user, path, owned)
            for attr in ("caller_id", "direct_number"):
                problems = list(self._normalise(user, attr, f"{path}.{attr}"))
                yield from problems
                value = getattr(user, attr)
                if not problems and value is not None and value not in owned:
                    yield f"{path}.{attr}", f"{value} is not one of the organization's numbers"
            if self.doc.restrict_caller_ids and user.caller_id is not None \
                    and user.caller_id not in user.allowed_caller_ids:
                # Else the caller ID would silently never be presented (SPEC 2).
                yield (f"{path}.caller_id", f"{user.caller_id} is not among {user.id}'s "
                       "allowed caller IDs, and the organization restricts caller IDs")
            if user.direct_number is not None:
                if user.direct_number in direct:
                    yield (f"{path}.direct_number", f"{user.direct_number} is already the direct "
                           f"number of {direct[user.direct_number]!r}")
                direct[user.direct_number] = user.id

    def _allowed_caller_ids(self, user: UserDoc, path: str,
                            owned: set[str]) -> Iterator[tuple[str, str]]:
        for j, raw in enumerate(user.allowed_caller_ids):
            item = f"{path}.allowed_caller_ids[{j}]"
            try:
                number = self.number(raw, item)
            except InvalidInput as exc:
                yield item, exc.message
                continue
            user.allowed_caller_ids[j] = number
            if number not in owned:
                yield item, f"{number} is not one of the organization's numbers"

    def _contacts(self) -> Iterator[tuple[str, str]]:
        users = {u.id for u in self.doc.users}
        seen: set[str] = set()
        for i, contact in enumerate(self.doc.contacts):
            path = f"contacts[{i}]"
            problems = list(self._normalise(contact, "phone", f"{path}.phone"))
            yield from problems
            if not problems and contact.phone in seen:
                yield f"{path}.phone", f"{contact.phone} is listed twice"
            seen.add(contact.phone)
            if contact.owner is not None and contact.owner not in users:
                yield f"{path}.owner", f"{contact.owner!r} is not a user of the organization"
            yield from address_problems(contact, path)

    def _projects(self, owned: set[str]) -> Iterator[tuple[str, str]]:
        seen: set[str] = set()
        for i, project in enumerate(self.doc.projects):
            path = f"projects[{i}]"
            if project.id in seen:
                yield f"{path}.id", f"project {project.id!r} is listed twice"
            seen.add(project.id)
            yield from self._pool(project, path, owned)
            pool = set(project.numbers)
            yield from self._first_call(project, path, pool)
            yield from self._outcome_numbers(project, path, pool)

    def _pool(self, project: ProjectDoc, path: str,
              owned: set[str]) -> Iterator[tuple[str, str]]:
        """The project's numbers, each one of the organization's, none twice."""
        for j, raw in enumerate(project.numbers):
            item = f"{path}.numbers[{j}]"
            try:
                project.numbers[j] = self.number(raw, item)
            except InvalidInput as exc:
                yield item, exc.message
                continue
            if project.numbers[j] not in owned:
                yield item, f"{project.numbers[j]} is not one of the organization's numbers"
        if len(set(project.numbers)) != len(project.numbers):
            yield f"{path}.numbers", "a number is listed twice"

    def _first_call(self, project: ProjectDoc, path: str,
                    pool: set[str]) -> Iterator[tuple[str, str]]:
        """A logic by name, or a number of the pool."""
        if project.first_call in (Logic.RANDOM, Logic.REGIONALLY_RANDOM):
            return
        item = f"{path}.first_call"
        try:
            project.first_call = self.number(project.first_call, item)
        except InvalidInput:
            yield item, (f"{project.first_call!r} is neither random, regionally_random "
                         "nor a valid phone number")
            return
        if project.first_call not in pool:
            yield item, f"{project.first_call} is not in the pool"

    def _outcome_numbers(self, project: ProjectDoc, path: str,
                         pool: set[str]) -> Iterator[tuple[str, str]]:
        """Each outcome's number, one of the pool."""
        for outcome, raw in project.outcome_numbers.items():
            item = f"{path}.outcome_numbers.{outcome}"
            try:
                project.outcome_numbers[outcome] = number = self.number(raw, item)
            except InvalidInput as exc:
                yield item, exc.message
                continue
            if number not in pool:
                yield item, f"{number} is not in the pool"


def health_problems(health: HealthDoc) -> Iterator[tuple[str, str]]:
    """The health policy's bounds in their order, rest <= watch <= healthy with rest <
    healthy (hysteresis), and no more calls asked for than the window holds."""
    if health.watch_below < health.rest_below:
        yield ("health.watch_below",
               f"must be at least health.rest_below ({health.rest_below})")
    if health.healthy_at <= health.rest_below:
        yield ("health.healthy_at", f"must be above health.rest_below ({health.rest_below}): "
               "a number comes back at a higher score than it rests at")
    elif health.healthy_at < health.watch_below:
        yield ("health.healthy_at",
               f"must be at least health.watch_below ({health.watch_below})")
    for name in ("min_calls", "warming_min_calls"):
        if getattr(health, name) > health.window_calls:
            yield (f"health.{name}", f"must be at most health.window_calls "
                   f"({health.window_calls}): the window holds no more calls")


def address_problems(contact: ContactDoc, path: str) -> Iterator[tuple[str, str]]:
    """The contact's time zone, state and ZIP code, each one the compliance rules can read;
    the state comes out as its two-letter code."""
    if contact.timezone is not None and not known_zone(contact.timezone):
        yield f"{path}.timezone", (f"{contact.timezone!r} is not an IANA time zone "
                                   "(e.g. America/New_York)")
    if contact.state is not None:
        code = state_code(contact.state)
        if code is None:
            yield f"{path}.state", f"{contact.state!r} is not a US state (e.g. FL or Florida)"
        else:
            contact.state = code
    if contact.postal_code is not None and zip_place(contact.postal_code) == (None, None):
        yield f"{path}.postal_code", f"{contact.postal_code!r} is not a known US ZIP code"


def compliance_problems(doc: OrgDocument) -> Iterator[tuple[str, str]]:
    """The organization's and each project's compliance settings (SPEC 10), a project's
    only tightening the organization's."""
    try:
        org = organization_policy(doc.compliance)
    except ConfigError as exc:
        yield from exc.problems
        org = CompliancePolicy()
    for i, project in enumerate(doc.projects):
        if project.compliance is None:
            continue
        try:
            project_policy(project.compliance, org, f"projects[{i}].compliance")
        except ConfigError as exc:
            yield from exc.problems
