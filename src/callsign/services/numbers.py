"""Use cases on the number inventory: list, search, add, map, pause, resume, release."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callsign.domain import limits, phone
from callsign.domain.document import GROUP_PATTERN, PATTERN_WORDS
from callsign.domain.errors import Conflict, InvalidInput, NotFound
from callsign.domain.health_report import health_state
from callsign.domain.model import NumberStatus, today
from callsign.store import numbers as number_store
from callsign.store.calls import org_id_and_policy
from callsign.store.numbers import NumberRow
from callsign.store.orgs import hold_number, refuse_if_principal, release_number, set_area_codes
from callsign.store.uow import Connection, UnitOfWork


@dataclass(frozen=True)
class NumberView:
    """A number as listed to people: what it serves, its state, today's use."""

    number: str
    label: str
    group: str
    status: str
    area_codes: tuple[str, ...]
    region: str | None
    daily_cap: int | None
    used_today: int
    assigned_user: str | None
    projects: int
    provider: str

    def as_dict(self) -> dict[str, object]:
        return {**self.__dict__, "area_codes": list(self.area_codes)}


def list_numbers(uow: UnitOfWork, org: str, *, search: str = "", area_code: str = "",
                 group: str = "", status: str = "", for_project: bool = False,
                 now: datetime) -> list[NumberView]:
    """Numbers matching every filter; ``for_project`` orders them as SPEC 5 says."""
    with uow:
        conn = uow.connection
        org_id, policy = org_id_and_policy(conn, org)
        rows = number_store.matching_numbers(
            conn, org_id, status=_status(status) if status else None, search=search,
            group=group, area_code=area_code)
        views = _views(conn, org_id, rows, today(policy, now))
    if for_project:
        # SPEC 5: numbers in no project first, then numbers in a group, then the rest.
        views.sort(key=lambda v: (v.projects > 0, not v.group, v.number))
    return views


def _views(conn: Connection, org_id: int, rows: Sequence[NumberRow],
           day: str) -> list[NumberView]:
    ids = [r.id for r in rows]
    codes = number_store.area_codes_of(conn, ids)
    in_projects = number_store.project_counts(conn, ids)
    used = number_store.used_on(conn, ids, day)
    assigned = number_store.direct_number_users(conn, org_id)
    return [
        NumberView(
            number=r.e164, label=r.label, group=r.group_name, status=r.status,
            area_codes=tuple(codes.get(r.id, ())), region=r.region, daily_cap=r.daily_cap,
            used_today=used.get(r.id, 0),
            assigned_user=assigned.get(r.e164), projects=in_projects.get(r.id, 0),
            provider=r.provider,
        )
        for r in rows
    ]


def _status(text: str) -> NumberStatus:
    try:
        return NumberStatus(text)
    except ValueError:
        names = ", ".join(s.value for s in NumberStatus)
        raise InvalidInput(f"{text!r} is not a status ({names})", field="status") from None


def _check_bounds(daily_cap: int | None, label: str | None, group: str | None) -> None:
    """The bounds of limits.py, for callers that do not go through a validated body."""
    if daily_cap is not None and not 1 <= daily_cap <= limits.MAX_DAILY_CAP:
        raise InvalidInput(f"must be between 1 and {limits.MAX_DAILY_CAP:,}", field="daily_cap")
    if label is not None and len(label) > limits.MAX_NAME:
        raise InvalidInput(f"must be at most {limits.MAX_NAME} characters", field="label")
    if group and not re.fullmatch(GROUP_PATTERN, group):
        raise InvalidInput(PATTERN_WORDS[GROUP_PATTERN], field="group")


def add_number(uow: UnitOfWork, org: str, raw: str, *, label: str = "", group: str = "",
               area_codes: tuple[str, ...] = (), daily_cap: int | None = None,
               provider: str = "manual", now: datetime | None = None) -> str:
    """Add a number the organization already owns (added ``now``: it warms up, SPEC 9);
    returns it in E.164."""
    _check_bounds(daily_cap, label, group)
    with uow:
        conn = uow.connection
        org_id, policy = org_id_and_policy(conn, org)
        facts = phone.facts_for(raw, policy.default_country, field="number")
        _check_area_codes(area_codes, facts.country)
        held = number_store.holder(conn, facts.e164)
        if held is not None:
            owner = "this organization" if held == org_id else "another organization"
            raise Conflict(f"{facts.e164} already belongs to {owner}", field="number")
        number_id = hold_number(
            conn, org_id, facts.e164, label=label, group_name=group,
            status=NumberStatus.ACTIVE, area_code=facts.area_code, region=facts.region,
            daily_cap=daily_cap, provider=provider, provider_sid=None, call_path=None,
            added_at=now)
        set_area_codes(conn, org_id, number_id, facts.area_code, list(area_codes), active=True)
        uow.commit()
        return facts.e164


def _check_area_codes(area_codes: tuple[str, ...], country: str) -> None:
    for code in area_codes:
        if not phone.valid_area_code(code, country):
            raise InvalidInput(f"{code!r} is not a geographic area code of {country}",
                               field="area_code")


def _held(conn: Connection, org: str, raw: str) -> tuple[int, NumberRow]:
    org_id, policy = org_id_and_policy(conn, org)
    e164 = phone.parse_number(raw, policy.default_country, field="number")
    row = number_store.held_number(conn, org_id, e164)
    if row is None:
        raise NotFound(f"{e164} is not a number of organization {org!r}", field="number")
    return org_id, row


def map_area_codes(uow: UnitOfWork, org: str, raw: str, area_codes: tuple[str, ...],
                   *, unmap: bool = False) -> tuple[str, tuple[str, ...]]:
    """Add (or remove) mapped area codes; returns the number and all the codes it serves."""
    if not area_codes:
        raise InvalidInput("name at least one area code", field="area_code")
    with uow:
        conn = uow.connection
        org_id, row = _held(conn, org, raw)
        current = number_store.mapped_area_codes(conn, row.id)
        if unmap:
            missing = [c for c in area_codes if c not in current]
            if missing:
                what = "its own area code" if row.area_code in missing else "not mapped"
                raise InvalidInput(f"{', '.join(missing)}: {what} for {row.e164}",
                                   field="area_code")
            current -= set(area_codes)
        else:
            country = phone.facts_for(row.e164, "US", field="number").country
            _check_area_codes(area_codes, country)
            current |= set(area_codes)
        set_area_codes(conn, org_id, row.id, row.area_code, sorted(current - {row.area_code}),
                       active=row.status == NumberStatus.ACTIVE)
        uow.commit()
        own = (row.area_code,) if row.area_code else ()
        return str(row.e164), own + tuple(sorted(current - {row.area_code}))


def get_number(uow: UnitOfWork, org: str, raw: str, *, now: datetime) -> NumberView:
    with uow:
        conn = uow.connection
        org_id, row = _held(conn, org, raw)
        policy = org_id_and_policy(conn, org)[1]
        return _views(conn, org_id, [row], today(policy, now))[0]


@dataclass(frozen=True)
class NumberFilter:
    """What a long list of numbers is narrowed to; every field empty matches all held ones.

    ``health`` is a health state (``healthy`` includes the numbers never judged, which
    are read as healthy); an unknown one is InvalidInput naming ``health``.
    """

    search: str = ""
    area_code: str = ""
    region: str = ""
    status: str = ""
    group: str = ""
    health: str = ""


@dataclass(frozen=True)
class NumberPage:
    numbers: list[NumberView]
    total: int  # how many match the filter, on every page
    offset: int
    limit: int


@dataclass(frozen=True)
class AreaCodeSummary:
    """One area code of the org's numbers (their own area code), counted by status."""

    area_code: str
    region: str | None
    numbers: int
    active: int
    paused: int
    resting: int
    served_by: int  # numbers that serve it, its own and mapped ones


def _filters(found: NumberFilter) -> dict[str, Any]:
    return {"status": _status(found.status) if found.status else None,
            "search": found.search, "group": found.group, "region": found.region,
            "area_code": found.area_code,
            "health": health_state(found.health, field="health") if found.health else None}


def find_numbers(uow: UnitOfWork, org: str, found: NumberFilter, *, offset: int = 0,
                 limit: int = 50, now: datetime) -> NumberPage:
    """One page of the numbers matching ``found``, in number order, and how many match."""
    offset, limit = max(offset, 0), min(max(limit, 1), 500)
    with uow:
        conn = uow.connection
        org_id, policy = org_id_and_policy(conn, org)
        total = number_store.count_matching(conn, org_id, **_filters(found))
        rows = number_store.matching_numbers(conn, org_id, **_filters(found), offset=offset,
                                             limit=limit)
        views = _views(conn, org_id, rows, today(policy, now))
    return NumberPage(views, total, offset, limit)


def area_code_summary(uow: UnitOfWork, org: str) -> list[AreaCodeSummary]:
    """Per own area code of the held numbers: how many, by status, and how many serve it."""
    with uow:
        conn = uow.connection
        org_id, _ = org_id_and_policy(conn, org)
        counts: dict[str, dict[str, Any]] = {}
        for code, region, status, count in number_store.counts_by_own_area_code(conn, org_id):
            entry = counts.setdefault(code, {"region": region, "active": 0, "paused": 0,
                                             "resting": 0})
            entry[str(status)] = entry.get(str(status), 0) + int(count)
        serving = number_store.serving_counts(conn, org_id)
    return [AreaCodeSummary(code, entry["region"],
                            entry["active"] + entry["paused"] + entry["resting"],
                            entry["active"], entry["paused"], entry["resting"],
                            int(serving.get(code, 0)))
            for code, entry in sorted(counts.items())]


def update_number(uow: UnitOfWork, org: str, raw: str, *, label: str | None = None,
                  group: str | None = None, daily_cap: int | None = None,
                  clear_cap: bool = False) -> str:
    """Change a number's label, group or daily cap (``clear_cap`` removes the cap)."""
    _check_bounds(daily_cap, label, group)
    values: dict[str, object] = {}
    if label is not None:
        values["label"] = label
    if group is not None:
        values["group_name"] = group
    if daily_cap is not None or clear_cap:
        values["daily_cap"] = daily_cap
    with uow:
        _, row = _held(uow.connection, org, raw)
        if values:
            number_store.change_number(uow.connection, row.id, **values)
        uow.commit()
        return str(row.e164)


def set_status(uow: UnitOfWork, org: str, raw: str, status: NumberStatus) -> str:
    """Pause, resume or rest a number; it keeps routing calls back either way.

    The principal number stays active: it is every call's last resort.
    """
    with uow:
        conn = uow.connection
        org_id, row = _held(conn, org, raw)
        if status != NumberStatus.ACTIVE:
            action = "pause" if status == NumberStatus.PAUSED else f"mark {status}"
            refuse_if_principal(conn, org_id, row.e164, action)
        # A trigger marks the number's area codes active or not to match.
        number_store.change_number(conn, row.id, status=status)
        uow.commit()
        return str(row.e164)


def release(uow: UnitOfWork, org: str, raw: str, *, force: bool = False) -> tuple[str, str]:
    """Release a number in the store only; its call history stays. Returns (number,
    released|deleted). See ``purchasing.release`` for the release that tells the provider."""
    with uow:
        conn = uow.connection
        org_id, row = _held(conn, org, raw)
        outcome, _ = release_number(conn, org_id, row.id, row.e164, force=force)
        uow.commit()
        return str(row.e164), outcome
