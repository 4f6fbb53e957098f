"""Rule packs shipped as data (``packs/*.json``): read, validated and turned into rules.

Each pack file names its id, version, where it applies and its rules, each rule with its
legal source. Reading the files is reading the package's own data, like
libphonenumber's metadata; it happens once, on first use, never at import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from callsign.domain.compliance.hours import HolidayCalendar, HoursError, WeeklyHours
from callsign.domain.compliance.rules import (
    Applies,
    CapRule,
    HolidayRule,
    Pack,
    Rule,
    Source,
    WindowRule,
    cap_of,
)
from callsign.domain.errors import ConfigError
from callsign.domain.problems import validation_problems

PackId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}$")]
StateCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
MAX_CAP_CALLS = 10_000
MAX_CAP_DAYS = 366


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SourceDoc(_Doc):
    citation: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    url: Annotated[str, StringConstraints(max_length=500)] = ""


class AppliesDoc(_Doc):
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    states: list[StateCode] = Field(default_factory=list)
    area_code_presumption: bool = False


class CapDoc(_Doc):
    """A frequency cap: ``calls`` within ``hours`` or ``days`` (one of them)."""

    calls: int = Field(ge=1, le=MAX_CAP_CALLS)
    hours: float | None = Field(default=None, gt=0, le=MAX_CAP_DAYS * 24)
    days: float | None = Field(default=None, gt=0, le=MAX_CAP_DAYS)
    per: Literal["contact", "subject"] = "contact"
    across: Literal["organization", "project"] = "organization"


class RuleDoc(_Doc):
    id: RuleId
    kind: Literal["window", "holidays", "cap"]
    source: SourceDoc
    hours: Any = None  # a window's hours (WeeklyHours.parse), or a cap's window in hours
    days: float | None = Field(default=None, gt=0, le=MAX_CAP_DAYS)
    calls: int | None = Field(default=None, ge=1, le=MAX_CAP_CALLS)
    per: Literal["contact", "subject"] = "contact"
    across: Literal["organization", "project"] = "organization"
    country: str | None = None
    subdivision: str | None = None


class PackDoc(_Doc):
    id: PackId
    version: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    applies_to: AppliesDoc
    source: SourceDoc
    rules: list[RuleDoc] = Field(min_length=1)


def source_of(doc: SourceDoc) -> Source:
    return Source(doc.citation, doc.url)


def parse_pack(data: Any, path: str = "") -> Pack:
    """A pack from its decoded JSON; ConfigError names each problem by its path."""
    try:
        doc = PackDoc.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([(_join(path, p), m) for p, m in validation_problems(exc)]) from exc
    problems: list[tuple[str, str]] = []
    rules: list[Rule] = []
    for i, rule in enumerate(doc.rules):
        where = _join(path, f"rules[{i}]")
        if not rule.id.startswith(f"{doc.id}."):
            problems.append((f"{where}.id", f"must start with the pack's id: {doc.id}."))
        try:
            rules.append(_rule(rule, doc.id, where))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if len({r.id for r in doc.rules}) != len(doc.rules):
        problems.append((_join(path, "rules"), "a rule id is used twice"))
    if problems:
        raise ConfigError(problems)
    applies = Applies(doc.applies_to.country, tuple(doc.applies_to.states),
                      doc.applies_to.area_code_presumption)
    return Pack(doc.id, doc.version, doc.title, applies, source_of(doc.source), tuple(rules))


def _rule(doc: RuleDoc, pack: str, where: str) -> Rule:
    source = source_of(doc.source)
    if doc.kind == "window":
        return WindowRule(doc.id, hours_of(doc.hours, f"{where}.hours"), source, pack)
    if doc.kind == "holidays":
        calendar = HolidayCalendar(doc.country or "", doc.subdivision)
        problem = calendar.validate()
        if problem:
            raise ConfigError([(f"{where}.country", problem)])
        return HolidayRule(doc.id, calendar, source, pack)
    if doc.calls is None:
        raise ConfigError([(f"{where}.calls", "is required for a cap")])
    hours = _cap_hours(doc.hours, doc.days, where)
    return CapRule(doc.id, cap_of(doc.calls, hours, doc.days, doc.per, doc.across), source,
                   pack)


def _cap_hours(hours: Any, days: float | None, where: str) -> float | None:
    if (hours is None) == (days is None):
        raise ConfigError([(where, "a cap gives its window in hours or in days (one of them)")])
    if hours is None:
        return None
    if isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0:
        raise ConfigError([(f"{where}.hours", "a cap's window must be a positive number of "
                                              "hours")])
    return float(hours)


def hours_of(data: Any, where: str) -> WeeklyHours:
    """Weekly hours from a mapping; ConfigError names the day at fault by its path."""
    try:
        return WeeklyHours.parse(data)
    except HoursError as exc:
        raise ConfigError([(_join(where, exc.path), exc.message)]) from exc


def _join(path: str, tail: str) -> str:
    if not tail:
        return path
    if not path:
        return tail
    if path.endswith(":"):  # a file's name: "packs/florida.json: rules[0].id"
        return f"{path} {tail}"
    return f"{path}{tail}" if tail.startswith("[") else f"{path}.{tail}"


@cache
def shipped_packs() -> Mapping[str, Pack]:
    """Every pack shipped with callsign, by id, read from ``packs/*.json`` once."""
    found: dict[str, Pack] = {}
    for entry in sorted(resources.files(__package__).joinpath("packs").iterdir(),
                        key=lambda e: e.name):
        if entry.name.endswith(".json"):
            pack = parse_pack(json.loads(entry.read_text(encoding="utf-8")),
                              f"packs/{entry.name}:")
            found[pack.id] = pack
    return found
