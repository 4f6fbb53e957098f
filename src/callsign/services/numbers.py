"""Use cases on the number inventory: list, search, add, map, pause, resume, release."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, exists, func, or_, select, update

from callsign import limits
from callsign.domain import phone
from callsign.domain.errors import Conflict, InvalidInput, NotFound
from callsign.domain.model import NumberStatus
from callsign.orgfile import GROUP_PATTERN, PATTERN_WORDS
from callsign.services.calls import today
from callsign.store import queries
from callsign.store.orgs import hold_number, refuse_if_principal, release_number, set_area_codes
from callsign.store.tables import (
    number_area_codes,
    number_usage,
    numbers,
    project_numbers,
    users,
)
from callsign.store.uow import UnitOfWork


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
        org_id, policy = queries.org_id_and_policy(conn, org)
        query = select(numbers).where(numbers.c.org_id == org_id)
        if status:
            query = query.where(numbers.c.status == _status(status))
        else:
            query = query.where(numbers.c.status != NumberStatus.RELEASED)
        if search:
            digits = "".join(ch for ch in search if ch.isdigit())
            text = f"%{search.lower()}%"
            matches: list[ColumnElement[bool]] = [func.lower(numbers.c.label).like(text),
                       func.lower(numbers.c.group_name).like(text)]
            if digits:
                matches.append(numbers.c.e164.like(f"%{digits}%"))
                # SPEC 5: search by area code too, mapped ones included.
                matches.append(exists().where(number_area_codes.c.number_id == numbers.c.id,
                                              number_area_codes.c.area_code == digits))
            query = query.where(or_(*matches))
        if group:
            query = query.where(numbers.c.group_name == group)
        if area_code:
            query = query.where(exists().where(number_area_codes.c.number_id == numbers.c.id,
                                               number_area_codes.c.area_code == area_code))
        rows = conn.execute(query.order_by(numbers.c.e164)).all()
        views = _views(conn, org_id, rows, today(policy, now))
    if for_project:
        # SPEC 5: numbers in no project first, then numbers in a group, then the rest.
        views.sort(key=lambda v: (v.projects > 0, not v.group, v.number))
    return views


def _views(conn: Connection, org_id: int, rows: Sequence[Any],
           day: str) -> list[NumberView]:
    ids = [r.id for r in rows]
    codes: dict[int, list[str]] = {}
    for number_id, code in conn.execute(
            select(number_area_codes.c.number_id, number_area_codes.c.area_code)
            .where(number_area_codes.c.number_id.in_(ids))
            .order_by(number_area_codes.c.mapped, number_area_codes.c.area_code)):
        codes.setdefault(number_id, []).append(code)
    in_projects: dict[int, int] = dict(conn.execute(
        select(project_numbers.c.number_id, func.count())
        .where(project_numbers.c.number_id.in_(ids))
        .group_by(project_numbers.c.number_id)).all())
    used: dict[int, int] = dict(conn.execute(
        select(number_usage.c.number_id, number_usage.c.used)
        .where(number_usage.c.number_id.in_(ids), number_usage.c.day == day)).all())
    assigned = dict(conn.execute(
        select(users.c.direct_number, users.c.key)
        .where(users.c.org_id == org_id, users.c.direct_number.is_not(None))).all())
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
               provider: str = "manual") -> str:
    """Add a number the organization already owns; returns it in E.164."""
    _check_bounds(daily_cap, label, group)
    with uow:
        conn = uow.connection
        org_id, policy = queries.org_id_and_policy(conn, org)
        facts = phone.facts_for(raw, policy.default_country, field="number")
        _check_area_codes(area_codes, facts.country)
        held = conn.execute(select(numbers.c.org_id).where(
            numbers.c.e164 == facts.e164, numbers.c.status != NumberStatus.RELEASED)).scalar()
        if held is not None:
            owner = "this organization" if held == org_id else "another organization"
            raise Conflict(f"{facts.e164} already belongs to {owner}", field="number")
        number_id = hold_number(
            conn, org_id, facts.e164, label=label, group_name=group,
            status=NumberStatus.ACTIVE, area_code=facts.area_code, region=facts.region,
            daily_cap=daily_cap, provider=provider, provider_sid=None, call_path=None)
        set_area_codes(conn, org_id, number_id, facts.area_code, list(area_codes), active=True)
        uow.commit()
        return facts.e164


def _check_area_codes(area_codes: tuple[str, ...], country: str) -> None:
    for code in area_codes:
        if not phone.valid_area_code(code, country):
            raise InvalidInput(f"{code!r} is not a geographic area code of {country}",
                               field="area_code")


def _held(conn: Connection, org: str, raw: str) -> tuple[int, Row[tuple[object, ...]]]:
    org_id, policy = queries.org_id_and_policy(conn, org)
    e164 = phone.parse_number(raw, policy.default_country, field="number")
    row = conn.execute(select(numbers).where(
        numbers.c.org_id == org_id, numbers.c.e164 == e164,
        numbers.c.status != NumberStatus.RELEASED)).first()
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
        current = set(conn.execute(select(number_area_codes.c.area_code).where(
            number_area_codes.c.number_id == row.id,
            number_area_codes.c.mapped.is_(True))).scalars())
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
        policy = queries.org_id_and_policy(conn, org)[1]
        return _views(conn, org_id, [row], today(policy, now))[0]


@dataclass(frozen=True)
class NumberFilter:
    """What a long list of numbers is narrowed to; every field empty matches all held ones.

    Number health (answer rates, spam labels) arrives later: its filter joins here as
    one more field, applied in ``_filtered`` like ``status``.
    """

    search: str = ""
    area_code: str = ""
    region: str = ""
    status: str = ""
    group: str = ""


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


def _filtered(query: Any, org_id: int, found: NumberFilter) -> Any:
    query = query.where(numbers.c.org_id == org_id)
    if found.status:
        query = query.where(numbers.c.status == _status(found.status))
    else:
        query = query.where(numbers.c.status != NumberStatus.RELEASED)
    if found.search:
        digits = "".join(ch for ch in found.search if ch.isdigit())
        text = f"%{found.search.lower()}%"
        matches: list[ColumnElement[bool]] = [func.lower(numbers.c.label).like(text),
                                              func.lower(numbers.c.group_name).like(text)]
        if digits:
            matches.append(numbers.c.e164.like(f"%{digits}%"))
            matches.append(exists().where(number_area_codes.c.number_id == numbers.c.id,
                                          number_area_codes.c.area_code == digits))
        query = query.where(or_(*matches))
    if found.group:
        query = query.where(numbers.c.group_name == found.group)
    if found.region:
        query = query.where(numbers.c.region == found.region)
    if found.area_code:
        query = query.where(exists().where(number_area_codes.c.number_id == numbers.c.id,
                                           number_area_codes.c.area_code == found.area_code))
    return query


def find_numbers(uow: UnitOfWork, org: str, found: NumberFilter, *, offset: int = 0,
                 limit: int = 50, now: datetime) -> NumberPage:
    """One page of the numbers matching ``found``, in number order, and how many match."""
    offset, limit = max(offset, 0), min(max(limit, 1), 500)
    with uow:
        conn = uow.connection
        org_id, policy = queries.org_id_and_policy(conn, org)
        total = int(conn.execute(_filtered(select(func.count()).select_from(numbers),
                                           org_id, found)).scalar_one())
        rows = conn.execute(_filtered(select(numbers), org_id, found)
                            .order_by(numbers.c.e164).offset(offset).limit(limit)).all()
        views = _views(conn, org_id, rows, today(policy, now))
    return NumberPage(views, total, offset, limit)


def area_code_summary(uow: UnitOfWork, org: str) -> list[AreaCodeSummary]:
    """Per own area code of the held numbers: how many, by status, and how many serve it."""
    with uow:
        conn = uow.connection
        org_id, _ = queries.org_id_and_policy(conn, org)
        counts: dict[str, dict[str, Any]] = {}
        for code, region, status, count in conn.execute(
                select(numbers.c.area_code, numbers.c.region, numbers.c.status, func.count())
                .where(numbers.c.org_id == org_id, numbers.c.status != NumberStatus.RELEASED,
                       numbers.c.area_code.is_not(None))
                .group_by(numbers.c.area_code, numbers.c.region, numbers.c.status)):
            entry = counts.setdefault(code, {"region": region, "active": 0, "paused": 0,
                                             "resting": 0})
            entry[str(status)] = entry.get(str(status), 0) + int(count)
        serving: dict[str, int] = dict(conn.execute(
            select(number_area_codes.c.area_code, func.count())
            .join(numbers, numbers.c.id == number_area_codes.c.number_id)
            .where(number_area_codes.c.org_id == org_id,
                   numbers.c.status != NumberStatus.RELEASED)
            .group_by(number_area_codes.c.area_code)).all())
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
            uow.connection.execute(update(numbers).where(numbers.c.id == row.id).values(**values))
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
        conn.execute(update(numbers).where(numbers.c.id == row.id).values(status=status))
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
