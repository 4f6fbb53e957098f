"""Configuration as code (SPEC 6): read, validate and normalise an organization file.

Validation runs over the whole document before anything is written, and every problem
is reported with its path, e.g. ``projects[1].first_call: +13125550101 is not in the pool``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from callsign.domain import phone
from callsign.domain.errors import ConfigError, InvalidInput
from callsign.domain.model import DEFAULT_CALL_PATH, DEFAULT_LAST_CALLER_DAYS, InboundStep, Logic

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NumberDoc(_Doc):
    number: str
    label: str = ""
    group: str = ""
    area_codes: list[str] = Field(default_factory=list)  # mapped area codes besides its own
    daily_cap: int | None = Field(default=None, ge=1)
    status: Literal["active", "paused", "resting"] = "active"
    provider: str = "manual"
    call_path: list[InboundStep] | None = None

    @field_validator("area_codes", mode="before")
    @classmethod
    def _area_codes_as_text(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value


class UserDoc(_Doc):
    id: str = Field(pattern=_KEY)
    name: str = ""
    work_phone: str | None = None
    caller_id: str | None = None
    direct_number: str | None = None
    allowed_caller_ids: list[str] = Field(default_factory=list)
    active: bool = True


class ContactDoc(_Doc):
    phone: str
    owner: str | None = None
    line_type: Literal["landline", "mobile", "unknown"] = "unknown"


class ProjectDoc(_Doc):
    id: str = Field(pattern=_KEY)
    name: str = ""
    numbers: list[str] = Field(default_factory=list)
    first_call: str = Logic.RANDOM
    keep_previous_number: bool = False
    next_calls: Logic = Logic.RANDOM
    outcome_numbers: dict[str, str] = Field(default_factory=dict)
    agent_number: Literal["use_agent", "use_project"] = "use_project"


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
    """The organization's Twilio account; the auth token stays in the environment."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
                                description="Name of the environment variable holding "
                                            "the account's auth token")


class InboundDoc(_Doc):
    path: list[InboundStep] = Field(default_factory=lambda: list(DEFAULT_CALL_PATH))
    last_caller_days: int = Field(default=DEFAULT_LAST_CALLER_DAYS, ge=1, le=3650)


class OrgDocument(_Doc):
    org: str = Field(pattern=_KEY)
    default_country: str = "US"
    timezone: str = "UTC"
    principal_number: str
    forwarding_number: str | None = None
    agent_leg_number: str | None = None
    local_presence: bool = False
    local_presence_fallback: Literal["none", "region"] = "none"
    restrict_caller_ids: bool = False
    calling_hours: CallingHoursDoc | None = None
    numbers: list[NumberDoc] = Field(default_factory=list)
    users: list[UserDoc] = Field(default_factory=list)
    contacts: list[ContactDoc] = Field(default_factory=list)
    projects: list[ProjectDoc] = Field(default_factory=list)
    inbound: InboundDoc = Field(default_factory=InboundDoc)
    twilio: TwilioDoc | None = None


def load_yaml(text: str, *, source: str = "file") -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([("", f"{source} is not valid YAML{where}: {problem}")]) from exc


def parse_document(data: Any) -> OrgDocument:
    """Validate a decoded document (YAML or JSON) and return it with numbers in E.164."""
    if not isinstance(data, dict):
        raise ConfigError([("", "the document must be a mapping with 'org' at the top")])
    try:
        document = OrgDocument.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([(_path(e["loc"]), _message(e)) for e in exc.errors()]) from exc
    problems = list(_Checker(document).problems())
    if problems:
        raise ConfigError(problems)
    return document


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "is not a known setting"
    if error["type"] == "missing":
        return "is required"
    return str(error["msg"]).removeprefix("Value error, ")


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

    def _projects(self, owned: set[str]) -> Iterator[tuple[str, str]]:
        seen: set[str] = set()
        for i, project in enumerate(self.doc.projects):
            path = f"projects[{i}]"
            if project.id in seen:
                yield f"{path}.id", f"project {project.id!r} is listed twice"
            seen.add(project.id)
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
            pool = set(project.numbers)
            if project.first_call not in (Logic.RANDOM, Logic.REGIONALLY_RANDOM):
                item = f"{path}.first_call"
                try:
                    project.first_call = self.number(project.first_call, item)
                except InvalidInput:
                    yield item, (f"{project.first_call!r} is neither random, regionally_random "
                                 "nor a valid phone number")
                else:
                    if project.first_call not in pool:
                        yield item, f"{project.first_call} is not in the pool"
            for outcome, raw in project.outcome_numbers.items():
                item = f"{path}.outcome_numbers.{outcome}"
                try:
                    project.outcome_numbers[outcome] = number = self.number(raw, item)
                except InvalidInput as exc:
                    yield item, exc.message
                    continue
                if number not in pool:
                    yield item, f"{number} is not in the pool"


def dump_document(document: OrgDocument) -> str:
    """The document as YAML, leaving out what equals the defaults."""
    data = document.model_dump(mode="json", exclude_defaults=True)
    data = {"org": document.org, "principal_number": document.principal_number, **data}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
