"""An organization's or a project's compliance settings: validated, tighten-only.

The organization's document carries, under ``compliance``::

    hours: {mon-fri: ["08:00-21:00"], sat: ["09:00-17:00"]}   # a day not named: closed
    holidays: {country: US, subdivision: callee}   # callee: the callee's own state
    packs: [federal, florida, oklahoma, maryland]
    caps: [{calls: 2, hours: 24, per: contact}]
    overrides: {maryland.frequency: {calls: 2}, federal.hours: {hours: {daily: ["09:00-20:00"]}}}

A project carries the same but ``overrides``. Every rule is checked with every other, so
a project's settings can only add restrictions; a project's hours reaching outside the
organization's, or an override loosening its pack's rule, is refused with the field's
path and why.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from typing import Any

from pydantic import Field, ValidationError

from callsign.domain.compliance.hours import (
    MINUTES_PER_DAY,
    HolidayCalendar,
    Interval,
    WeeklyHours,
)
from callsign.domain.compliance.packs import (
    MAX_CAP_DAYS,
    CapDoc,
    PackId,
    RuleId,
    _Doc,
    _join,
    hours_of,
    shipped_packs,
)
from callsign.domain.compliance.rules import (
    ORG_SOURCE,
    PROJECT_SOURCE,
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


class HolidaysDoc(_Doc):
    country: str = Field(pattern=r"^([A-Z]{2,3}|callee)$")  # or the callee's country
    subdivision: str | None = None  # a state or province code, or "callee"


class OverrideDoc(_Doc):
    """A tighter value for one pack rule: hours for a window, a cap's calls or window."""

    hours: Any = None
    days: float | None = Field(default=None, gt=0, le=MAX_CAP_DAYS)
    calls: int | None = Field(default=None, ge=1)


class ComplianceDoc(_Doc):
    hours: dict[str, Any] | None = None
    holidays: HolidaysDoc | None = None
    packs: list[PackId] = Field(default_factory=list)
    caps: list[CapDoc] = Field(default_factory=list)
    overrides: dict[RuleId, OverrideDoc] = Field(default_factory=dict)


@dataclass(frozen=True)
class CompliancePolicy:
    """The rules of an organization or a project: its own, and its packs' (overridden)."""

    rules: tuple[Rule, ...] = ()
    packs: tuple[Pack, ...] = ()
    # Which rules apply to a kind of place, kept by the evaluation (a pure function's memo).
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False,
                                 repr=False)

    def with_project(self, project: CompliancePolicy | None) -> CompliancePolicy:
        """The organization's rules and the project's together (every one applies)."""
        if project is None:
            return self
        ids = {p.id for p in self.packs}
        return CompliancePolicy(self.rules + project.rules,
                                self.packs + tuple(p for p in project.packs if p.id not in ids))

    @property
    def hours(self) -> WeeklyHours | None:
        """The own weekly hours (not the packs'), for a project's tightening check."""
        return next((r.hours for r in self.rules if isinstance(r, WindowRule)), None)


def policies_of(org: Any, projects: Mapping[str, Any]) -> dict[str | None, CompliancePolicy]:
    """The rules of an organization (key None) and of each project joined with the
    organization's (key: the project's), from their stored settings; settings that add
    no rule are left out."""
    own = organization_policy(org)
    found: dict[str | None, CompliancePolicy] = {}
    if own.rules or own.packs:
        found[None] = own
    for i, (key, data) in enumerate(sorted(projects.items())):
        if data is None:
            continue
        project = project_policy(data, own, f"projects[{i}].compliance")
        if project.rules or project.packs:
            found[key] = own.with_project(project)
    return found


def calling_hours_rule(start: time, end: time) -> WindowRule:
    """The single daily window of SPEC 3.4 (``calling_hours``) as a weekly window rule; a
    window across midnight becomes two, one each side."""
    first, last = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    if first < last:
        day: tuple[Interval, ...] = (Interval(first, last),)
    else:
        day = tuple(i for i in (Interval(0, last), Interval(first, MINUTES_PER_DAY))
                    if i.start < i.end)
    return WindowRule("organization.calling_hours", WeeklyHours((day,) * 7), ORG_SOURCE)


def organization_policy(data: Any, path: str = "compliance") -> CompliancePolicy:
    """An organization's compliance settings, or ConfigError naming each field at fault."""
    return _policy(data, path, ORG_SOURCE, "organization", None)


def project_policy(data: Any, org: CompliancePolicy, path: str) -> CompliancePolicy:
    """A project's settings, which may only tighten the organization's ``org``."""
    return _policy(data, path, PROJECT_SOURCE, "project", org)


def _policy(data: Any, path: str, source: Source, owner: str,
            org: CompliancePolicy | None) -> CompliancePolicy:
    try:
        doc = ComplianceDoc.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise ConfigError([(_join(path, p), m) for p, m in validation_problems(exc)]) from exc
    problems: list[tuple[str, str]] = []
    rules = [*_own_rules(doc, path, source, owner, org, problems)]
    packs = list(_packs(doc.packs, f"{path}.packs", problems))
    if doc.overrides and org is not None:
        problems.append((f"{path}.overrides", "only the organization overrides a pack's "
                                              "rules; a project adds its own rules instead"))
    packs = [_overridden(p, doc.overrides, path, problems) for p in packs]
    problems.extend(_overrides_of_packs_not_enabled(doc.overrides, packs, path))
    if problems:
        raise ConfigError(problems)
    return CompliancePolicy(tuple(rules), tuple(packs))  # a fresh memo


def _own_rules(doc: ComplianceDoc, path: str, source: Source, owner: str,
               org: CompliancePolicy | None, problems: list[tuple[str, str]]) -> Iterator[Rule]:
    """The weekly hours, holidays and caps written in the settings themselves."""
    if doc.hours is not None:
        try:
            hours = hours_of(doc.hours, f"{path}.hours")
        except ConfigError as exc:
            problems.extend(exc.problems)
        else:
            if not any(hours.days):
                problems.append((f"{path}.hours", "no day has a window: no call could ever "
                                 "be made (leave hours out for no weekly window)"))
            problems.extend(_tighter_hours(hours, org, f"{path}.hours"))
            yield WindowRule(f"{owner}.hours", hours, source)
    if doc.holidays is not None:
        calendar = HolidayCalendar(doc.holidays.country, doc.holidays.subdivision)
        problem = calendar.validate()
        if problem:
            problems.append((f"{path}.holidays", problem))
        yield HolidayRule(f"{owner}.holidays", calendar, source)
    for i, cap in enumerate(doc.caps):
        if (cap.hours is None) == (cap.days is None):
            problems.append((f"{path}.caps[{i}]",
                             "a cap gives its window in hours or in days (one of them)"))
            continue
        yield CapRule(f"{owner}.caps[{i}]",
                      cap_of(cap.calls, cap.hours, cap.days, cap.per, cap.across), source)


def _tighter_hours(hours: WeeklyHours, org: CompliancePolicy | None,
                   path: str) -> Iterator[tuple[str, str]]:
    wider = org.hours if org is not None else None
    if wider is None:
        return
    for day in hours.within(wider):
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(day)
        yield (f"{path}.{day}", f"{hours.describe_day(weekday)} reaches outside the "
               f"organization's {wider.describe_day(weekday)}: a project may only tighten")


def _packs(ids: list[str], path: str, problems: list[tuple[str, str]]) -> Iterator[Pack]:
    known = shipped_packs()
    for i, pack_id in enumerate(ids):
        if pack_id not in known:
            problems.append((f"{path}[{i}]", f"{pack_id!r} is not a pack; the packs are "
                             + ", ".join(sorted(known))))
        elif pack_id in ids[:i]:
            problems.append((f"{path}[{i}]", f"{pack_id!r} is listed twice"))
        else:
            yield known[pack_id]


def _overridden(pack: Pack, overrides: Mapping[str, OverrideDoc], path: str,
                problems: list[tuple[str, str]]) -> Pack:
    rules = []
    for rule in pack.rules:
        override = overrides.get(rule.id)
        where = f"{path}.overrides.{rule.id}"
        try:
            rules.append(rule if override is None else _tightened(rule, override, where))
        except ConfigError as exc:
            problems.extend(exc.problems)
            rules.append(rule)
    return replace(pack, rules=tuple(rules))


def _tightened(rule: Rule, override: OverrideDoc, where: str) -> Rule:
    """``rule`` with the override's values, which may only tighten it."""
    if isinstance(rule, WindowRule):
        if override.hours is None or override.calls is not None or override.days is not None:
            raise ConfigError([(where, "a window's override gives hours only")])
        hours = hours_of(override.hours, f"{where}.hours")
        loose = list(hours.within(rule.hours))
        if loose:
            raise ConfigError([(f"{where}.hours.{loose[0]}", f"reaches outside the pack's "
                                f"{rule.hours}: an override may only tighten")])
        return replace(rule, hours=hours)
    if isinstance(rule, CapRule):
        return _tightened_cap(rule, override, where)
    raise ConfigError([(where, "a holiday rule has nothing to override")])


def _tightened_cap(rule: CapRule, override: OverrideDoc, where: str) -> CapRule:
    cap = rule.cap
    if override.hours is not None and not isinstance(override.hours, int | float):
        raise ConfigError([(f"{where}.hours", "a cap's window is a number of hours")])
    hours = float(override.hours) if override.hours is not None else None
    days = override.days
    if hours is not None and days is not None:
        raise ConfigError([(where, "a cap gives its window in hours or in days (one of them)")])
    calls = override.calls if override.calls is not None else cap.calls
    new = cap_of(calls, hours, days, cap.per, cap.across) if (hours or days) else \
        replace(cap, calls=calls)
    if new.calls > cap.calls:
        raise ConfigError([(f"{where}.calls", f"{new.calls} is more than the pack's "
                            f"{cap.calls}: an override may only tighten")])
    if new.window < cap.window:
        raise ConfigError([(f"{where}.{'days' if days else 'hours'}",
                            f"a window shorter than the pack's {cap.window} loosens it: "
                            "an override may only tighten")])
    return replace(rule, cap=new)


def _overrides_of_packs_not_enabled(overrides: Mapping[str, OverrideDoc], packs: list[Pack],
                                    path: str) -> Iterator[tuple[str, str]]:
    known = {rule.id for pack in packs for rule in pack.rules}
    for rule_id in overrides:
        if rule_id not in known:
            pack_id = rule_id.partition(".")[0]
            why = ("is not a rule of pack " + repr(pack_id)
                   if pack_id in {p.id for p in packs} else f"pack {pack_id!r} is not enabled")
            yield f"{path}.overrides.{rule_id}", why
