"""The numbers an organization holds: find, list, count, change one.

Holding, mapping and releasing a number (which touch users and projects too) are in
``orgs.py``: ``hold_number``, ``set_area_codes``, ``release_number``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, func, or_, select, update

from callsign.domain.model import NumberStatus
from callsign.store.tables import (
    number_area_codes,
    number_health,
    number_usage,
    numbers,
    orgs,
    project_numbers,
    users,
)

NumberRow = Any  # a row of ``numbers``: id, e164, label, group_name, status, area_code, ...


def held_number(conn: Connection, org_id: int, e164: str) -> NumberRow | None:
    """The organization's row of ``e164``, unless it was released."""
    return conn.execute(select(numbers).where(
        numbers.c.org_id == org_id, numbers.c.e164 == e164,
        numbers.c.status != NumberStatus.RELEASED)).first()


def holder(conn: Connection, e164: str) -> int | None:
    """The id of the organization that holds ``e164``, if any does."""
    found = conn.execute(select(numbers.c.org_id).where(
        numbers.c.e164 == e164, numbers.c.status != NumberStatus.RELEASED)).scalar()
    return None if found is None else int(found)


def held_ids(conn: Connection, org_id: int, e164s: Iterable[str]) -> dict[str, int]:
    """The row ids of those of ``e164s`` the organization holds, by number."""
    return {str(e164): int(number_id) for e164, number_id in conn.execute(
        select(numbers.c.e164, numbers.c.id).where(
            numbers.c.org_id == org_id, numbers.c.e164.in_(list(e164s)),
            numbers.c.status != NumberStatus.RELEASED)).all()}


def holders(conn: Connection, e164s: Iterable[str]) -> dict[str, str]:
    """The id (slug) of the organization holding each of ``e164s`` that one holds."""
    return {str(e164): str(slug) for e164, slug in conn.execute(
        select(numbers.c.e164, orgs.c.slug).join(orgs, orgs.c.id == numbers.c.org_id)
        .where(numbers.c.e164.in_(list(e164s)),
               numbers.c.status != NumberStatus.RELEASED)).all()}


def held_by_anyone(conn: Connection, e164s: Iterable[str]) -> set[str]:
    """Which of ``e164s`` any organization holds."""
    return set(conn.execute(select(numbers.c.e164).where(
        numbers.c.e164.in_(list(e164s)), numbers.c.status != NumberStatus.RELEASED)).scalars())


def held_statuses(conn: Connection, org_id: int, e164s: Iterable[str]) -> list[tuple[str, str]]:
    """(E.164, status) of those of ``e164s`` the organization holds, in number order."""
    return [(str(e164), str(status)) for e164, status in conn.execute(
        select(numbers.c.e164, numbers.c.status).where(
            numbers.c.org_id == org_id, numbers.c.e164.in_(sorted(set(e164s))),
            numbers.c.status != NumberStatus.RELEASED).order_by(numbers.c.e164))]


def _matching(query: Any, org_id: int, *, status: NumberStatus | None, search: str,
              group: str, region: str, area_code: str, health: str | None = None) -> Any:
    query = query.where(numbers.c.org_id == org_id)
    if health is not None:
        query = query.where(_in_health_state(health))
    if status is not None:
        query = query.where(numbers.c.status == status)
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
    if region:
        query = query.where(numbers.c.region == region)
    if area_code:
        query = query.where(exists().where(number_area_codes.c.number_id == numbers.c.id,
                                           number_area_codes.c.area_code == area_code))
    return query


def _in_health_state(state: str) -> ColumnElement[bool]:
    """The number's health is ``state``; a number never judged counts as healthy."""
    judged = exists().where(number_health.c.number_id == numbers.c.id)
    matches = exists().where(number_health.c.number_id == numbers.c.id,
                             number_health.c.state == state)
    return or_(matches, ~judged) if state == "healthy" else matches


def matching_numbers(conn: Connection, org_id: int, *, status: NumberStatus | None = None,
                     search: str = "", group: str = "", region: str = "",
                     area_code: str = "", health: str | None = None, offset: int = 0,
                     limit: int | None = None) -> list[NumberRow]:
    """The organization's numbers matching every filter given, in number order (without
    ``status``: the held ones)."""
    query = _matching(select(numbers), org_id, status=status, search=search, group=group,
                      region=region, area_code=area_code, health=health) \
        .order_by(numbers.c.e164)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).all())


def count_matching(conn: Connection, org_id: int, *, status: NumberStatus | None = None,
                   search: str = "", group: str = "", region: str = "",
                   area_code: str = "", health: str | None = None) -> int:
    return int(conn.execute(_matching(
        select(func.count()).select_from(numbers), org_id, status=status, search=search,
        group=group, region=region, area_code=area_code, health=health)).scalar_one())


def area_codes_of(conn: Connection, number_ids: Sequence[int]) -> dict[int, list[str]]:
    """The area codes each number serves: its own first, then the mapped ones."""
    codes: dict[int, list[str]] = {}
    for number_id, code in conn.execute(
            select(number_area_codes.c.number_id, number_area_codes.c.area_code)
            .where(number_area_codes.c.number_id.in_(number_ids))
            .order_by(number_area_codes.c.mapped, number_area_codes.c.area_code)):
        codes.setdefault(number_id, []).append(code)
    return codes


def mapped_area_codes(conn: Connection, number_id: int) -> set[str]:
    """The area codes mapped to a number (not its own)."""
    return set(conn.execute(select(number_area_codes.c.area_code).where(
        number_area_codes.c.number_id == number_id,
        number_area_codes.c.mapped.is_(True))).scalars())


def project_counts(conn: Connection, number_ids: Sequence[int]) -> dict[int, int]:
    """In how many projects' pools each number is."""
    return {int(k): int(v) for k, v in conn.execute(
        select(project_numbers.c.number_id, func.count())
        .where(project_numbers.c.number_id.in_(number_ids))
        .group_by(project_numbers.c.number_id)).all()}


def used_on(conn: Connection, number_ids: Sequence[int], day: str) -> dict[int, int]:
    """How often each number was presented on ``day``."""
    return {int(k): int(v) for k, v in conn.execute(
        select(number_usage.c.number_id, number_usage.c.used)
        .where(number_usage.c.number_id.in_(number_ids), number_usage.c.day == day)).all()}


def direct_number_users(conn: Connection, org_id: int) -> dict[str, str]:
    """The users with a direct number, by that number."""
    return {str(k): str(v) for k, v in conn.execute(
        select(users.c.direct_number, users.c.key)
        .where(users.c.org_id == org_id, users.c.direct_number.is_not(None))).all()}


def change_number(conn: Connection, number_id: int, **values: Any) -> None:
    """Change a number's label, group_name, daily_cap or status (a trigger keeps its area
    codes active or not to match its status)."""
    conn.execute(update(numbers).where(numbers.c.id == number_id).values(**values))


def counts_by_own_area_code(conn: Connection, org_id: int) -> list[tuple[str, str | None,
                                                                          str, int]]:
    """(area code, region, status, how many) of the held numbers, by their own area code."""
    return [(str(code), region, str(status), int(count)) for code, region, status, count in
            conn.execute(
                select(numbers.c.area_code, numbers.c.region, numbers.c.status, func.count())
                .where(numbers.c.org_id == org_id, numbers.c.status != NumberStatus.RELEASED,
                       numbers.c.area_code.is_not(None))
                .group_by(numbers.c.area_code, numbers.c.region, numbers.c.status))]


def serving_counts(conn: Connection, org_id: int) -> dict[str, int]:
    """How many held numbers serve each area code (own and mapped)."""
    return {str(k): int(v) for k, v in conn.execute(
        select(number_area_codes.c.area_code, func.count())
        .join(numbers, numbers.c.id == number_area_codes.c.number_id)
        .where(number_area_codes.c.org_id == org_id,
               numbers.c.status != NumberStatus.RELEASED)
        .group_by(number_area_codes.c.area_code)).all()}


def served_area_codes(conn: Connection, org_id: int) -> set[str]:
    """The area codes some active number of the organization serves."""
    return set(conn.execute(select(number_area_codes.c.area_code).distinct().where(
        number_area_codes.c.org_id == org_id, number_area_codes.c.active.is_(True)))
        .scalars())
