"""What the admin's Compliance page shows (SPEC 10), read-only: the organization's and
each project's calling windows, holidays, caps and enabled packs (each rule with its
source), and the do-not-call list's size with its first entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from callsign.domain.compliance.policy import (
    CompliancePolicy,
    organization_policy,
    project_policy,
)
from callsign.domain.compliance.rules import CapRule, HolidayRule, Pack, Rule, WindowRule
from callsign.domain.errors import ConfigError
from callsign.services import dnc, organization
from callsign.store.uow import UnitOfWork

LISTED_SHOWN = 50  # do-not-call entries shown on the page; the rest through the API or CLI


@dataclass(frozen=True)
class RuleView:
    id: str
    kind: str  # "window", "holidays" or "cap"
    what: str  # the rule in words
    citation: str
    url: str
    overridden: bool = False  # an organization override tightened the pack's rule


@dataclass(frozen=True)
class PackView:
    id: str
    version: str
    title: str
    applies: str  # where it applies, in words
    citation: str
    url: str
    rules: tuple[RuleView, ...]


@dataclass(frozen=True)
class PolicyView:
    """The rules of the organization or of one project (its own, not the joined ones)."""

    owner: str  # "organization" or the project's id
    name: str = ""
    rules: tuple[RuleView, ...] = ()  # its own hours, holidays and caps
    packs: tuple[PackView, ...] = ()
    problem: str = ""  # settings that no longer read (shown, never a 500)

    @property
    def empty(self) -> bool:
        return not self.rules and not self.packs and not self.problem


@dataclass(frozen=True)
class CompliancePage:
    calling_hours: str | None  # the single daily window of SPEC 3.4, if set
    timezone: str
    organization: PolicyView
    projects: tuple[PolicyView, ...]
    listed: int  # the do-not-call list's size
    entries: list[dict[str, Any]] = field(default_factory=list)  # its first entries


def page(uow: UnitOfWork, org: str, *, after: str | None = None) -> CompliancePage:
    settings = organization.get_settings(uow, org)
    hours = settings.get("calling_hours")
    own, org_view = _organization(settings.get("compliance"))
    projects = tuple(
        _project(p.id, p.name, p.compliance, own) for p in organization.list_projects(uow, org)
    )
    listed = dnc.listed(uow, org, limit=LISTED_SHOWN, after=after or None)
    return CompliancePage(
        calling_hours=f"{hours['start']}–{hours['end']}" if hours else None,
        timezone=str(settings.get("timezone") or "UTC"),
        organization=org_view,
        projects=projects,
        listed=int(listed["size"]),
        entries=list(listed["entries"]),
    )


def _organization(data: Any) -> tuple[CompliancePolicy, PolicyView]:
    try:
        policy = organization_policy(data)
    except ConfigError as exc:
        return CompliancePolicy(), PolicyView("organization", problem=_problem(exc))
    return policy, _view("organization", "", policy)


def _project(key: str, name: str, data: Any, org: CompliancePolicy) -> PolicyView:
    if data is None:
        return PolicyView(key, name)
    try:
        policy = project_policy(data, org, "compliance")
    except ConfigError as exc:
        return PolicyView(key, name, problem=_problem(exc))
    return _view(key, name, policy)


def _problem(exc: ConfigError) -> str:
    return "; ".join(f"{path}: {message}" for path, message in exc.problems)


def _view(owner: str, name: str, policy: CompliancePolicy) -> PolicyView:
    return PolicyView(
        owner, name, tuple(_rule(r) for r in policy.rules), tuple(_pack(p) for p in policy.packs)
    )


def _pack(pack: Pack) -> PackView:
    from callsign.domain.compliance.packs import shipped_packs

    shipped = shipped_packs().get(pack.id)
    applies = pack.applies
    where = (
        f"callees in {', '.join(applies.states)}"
        if applies.states
        else f"every {applies.country} number"
    )
    if applies.area_code_presumption:
        where += (
            f", or a number whose area code is in {', '.join(applies.states)} (presumed a resident)"
        )
    rules = tuple(
        _rule(r, overridden=shipped is not None and shipped.rule(r.id) != r) for r in pack.rules
    )
    return PackView(
        pack.id, pack.version, pack.title, where, pack.source.citation, pack.source.url, rules
    )


def _rule(rule: Rule, *, overridden: bool = False) -> RuleView:
    if isinstance(rule, WindowRule):
        kind, what = "window", f"calls only {rule.hours}"
    elif isinstance(rule, HolidayRule):
        kind, what = "holidays", f"no calls on the {rule.calendar}"
    else:
        assert isinstance(rule, CapRule)
        kind, what = "cap", str(rule.cap)
    return RuleView(rule.id, kind, what, rule.source.citation, rule.source.url, overridden)
