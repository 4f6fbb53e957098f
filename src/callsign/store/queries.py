"""The reads and writes of the call path: gather facts, claim a number, record a call.

Each function runs one or two indexed statements on the caller's connection; the
services compose them inside one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time
from typing import Any

from sqlalchemy import Connection, and_, case, exists, insert, literal, or_, select, union, update

from callsign.domain.errors import NotFound
from callsign.domain.model import (
    Agent,
    CallingHours,
    Decision,
    InboundStep,
    Logic,
    NumberState,
    NumberStatus,
    OrgPolicy,
    PastCall,
    ProjectPolicy,
    Route,
)
from callsign.store.tables import (
    NEVER,
    calls,
    contacts,
    inbound_calls,
    number_area_codes,
    numbers,
    orgs,
    project_numbers,
    projects,
    users,
)

HISTORY_LIMIT = 500  # a contact's calls read per decision; far more than any cadence uses
LRU_CANDIDATES = 32  # least recently presented numbers read per area code or region


def _time(text: str | None) -> time | None:
    return time.fromisoformat(text) if text else None


def org_policy(row: Any) -> OrgPolicy:
    start, end = _time(row.calling_hours_start), _time(row.calling_hours_end)
    return OrgPolicy(
        slug=row.slug,
        principal_number=row.principal_number,
        default_country=row.default_country,
        timezone=row.timezone,
        forwarding_number=row.forwarding_number,
        agent_leg_number=row.agent_leg_number,
        local_presence=row.local_presence,
        local_presence_fallback=row.local_presence_fallback,
        restrict_caller_ids=row.restrict_caller_ids,
        calling_hours=CallingHours(start, end) if start and end else None,
        call_path=tuple(InboundStep(step) for step in row.call_path),
        last_caller_days=row.last_caller_days,
    )


def agent(row: Any) -> Agent:
    return Agent(
        id=row.key,
        name=row.name,
        work_phone=row.work_phone,
        caller_id=row.caller_id,
        direct_number=row.direct_number,
        allowed_caller_ids=frozenset(row.allowed_caller_ids or ()),
        active=row.active,
    )


_USER_COLUMNS = [users.c.key, users.c.name, users.c.work_phone, users.c.caller_id,
                 users.c.direct_number, users.c.allowed_caller_ids, users.c.active]


def org_id_and_policy(conn: Connection, slug: str) -> tuple[int, OrgPolicy]:
    row = conn.execute(select(orgs).where(orgs.c.slug == slug)).first()
    if row is None:
        raise NotFound(f"no organization {slug!r}", field="org")
    return row.id, org_policy(row)


def org_and_user(conn: Connection, slug: str, user_key: str) -> tuple[int, OrgPolicy, Agent]:
    """The organization and one of its users, in one read."""
    query = (
        select(orgs, *_USER_COLUMNS)
        .select_from(orgs.outerjoin(users, and_(users.c.org_id == orgs.c.id,
                                                users.c.key == user_key)))
        .where(orgs.c.slug == slug)
    )
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no organization {slug!r}", field="org")
    if row.key is None:
        raise NotFound(f"no user {user_key!r} in organization {slug!r}", field="user")
    return row.id, org_policy(row), agent(row)


def project_policy(conn: Connection, org_id: int, key: str) -> tuple[int, ProjectPolicy]:
    row = conn.execute(
        select(projects).where(projects.c.org_id == org_id, projects.c.key == key)
    ).first()
    if row is None:
        raise NotFound(f"no project {key!r}", field="project")
    pool = conn.execute(
        select(numbers.c.e164)
        .join(project_numbers, project_numbers.c.number_id == numbers.c.id)
        .where(project_numbers.c.project_id == row.id)
        .order_by(project_numbers.c.position)
    ).scalars().all()
    return row.id, ProjectPolicy(
        id=row.key,
        pool=tuple(pool),
        first_call=row.first_call,
        keep_previous_number=row.keep_previous_number,
        next_calls=Logic(row.next_calls),
        outcome_numbers=dict(row.outcome_numbers),
        agent_number=row.agent_number,
    )


def contact_line_type(conn: Connection, org_id: int, phone: str) -> str | None:
    return conn.execute(
        select(contacts.c.line_type).where(contacts.c.org_id == org_id, contacts.c.phone == phone)
    ).scalar()


def history(conn: Connection, org_id: int, phone: str) -> tuple[PastCall, ...]:
    """This organization's outbound calls to ``phone``, newest first."""
    rows = conn.execute(
        select(calls.c.id, calls.c.at, calls.c.caller_id, calls.c.user_key,
               calls.c.project_key, calls.c.outcome)
        .where(calls.c.org_id == org_id, calls.c.to_number == phone)
        .order_by(calls.c.at.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    return tuple(PastCall(r.id, r.at, r.caller_id, r.user_key, r.project_key, r.outcome)
                 for r in rows)


def candidate_numbers(
    conn: Connection,
    org_id: int,
    *,
    day: str,
    area_code: str | None,
    region: str | None,
    specific: Iterable[str],
    project_id: int | None,
) -> tuple[dict[str, NumberState], frozenset[str]]:
    """The org numbers the rules may consider, and which of them serve ``area_code``.

    Reads the named numbers, the project's pool, and the least recently presented
    active numbers serving the area code (and in the region), by index ranges.
    """
    wanted = [
        select(numbers.c.id).where(numbers.c.org_id == org_id,
                                   numbers.c.e164.in_(sorted(set(specific)))),
    ]
    if project_id is not None:
        wanted.append(select(project_numbers.c.number_id)
                      .where(project_numbers.c.project_id == project_id))
    if area_code is not None:
        wanted.append(select(
            select(number_area_codes.c.number_id)
            .where(number_area_codes.c.org_id == org_id,
                   number_area_codes.c.area_code == area_code,
                   number_area_codes.c.active.is_(True))
            .order_by(number_area_codes.c.last_presented_at)
            .limit(LRU_CANDIDATES).subquery().c.number_id))
    if region is not None:
        wanted.append(select(
            select(numbers.c.id)
            .where(numbers.c.org_id == org_id, numbers.c.region == region,
                   numbers.c.status == NumberStatus.ACTIVE)
            .order_by(numbers.c.last_presented_at)
            .limit(LRU_CANDIDATES).subquery().c.id))
    serves = (
        exists().where(number_area_codes.c.number_id == numbers.c.id,
                       number_area_codes.c.area_code == area_code)
        if area_code is not None else literal(False)
    )
    rows = conn.execute(
        select(numbers.c.e164, numbers.c.status, numbers.c.region, numbers.c.daily_cap,
               numbers.c.usage_day, numbers.c.usage_count, numbers.c.last_presented_at,
               serves.label("serves"))
        .where(numbers.c.id.in_(union(*wanted)), numbers.c.status != NumberStatus.RELEASED)
    ).all()
    states = {
        r.e164: NumberState(
            e164=r.e164,
            status=NumberStatus(r.status),
            region=r.region,
            daily_cap=r.daily_cap,
            used_today=r.usage_count if r.usage_day == day else 0,
            last_presented_at=None if r.last_presented_at == NEVER else r.last_presented_at,
        )
        for r in rows
    }
    return states, frozenset(r.e164 for r in rows if r.serves)


def claim_number(
    conn: Connection, org_id: int, e164: str, *, day: str, now: datetime, within_cap: bool
) -> bool:
    """Count one presentation of ``e164`` today, atomically; False if its cap is reached.

    One conditional UPDATE: the cap test and the increment are a single statement, so
    concurrent transactions can never both take the last slot. A number outside the
    inventory (a principal number that is not stored) has nothing to count.
    """
    under_cap = or_(numbers.c.daily_cap.is_(None), numbers.c.usage_day != day,
                    numbers.c.usage_day.is_(None), numbers.c.usage_count < numbers.c.daily_cap)
    conditions = [numbers.c.org_id == org_id, numbers.c.e164 == e164,
                  numbers.c.status != NumberStatus.RELEASED]
    if within_cap:
        conditions.append(under_cap)
    counted = conn.execute(
        update(numbers)
        .where(*conditions)
        .values(usage_count=_next_count(day), usage_day=day, last_presented_at=now)
        .returning(numbers.c.id)
    ).scalar()
    if counted is None:
        return not within_cap or not _held(conn, org_id, e164)
    conn.execute(update(number_area_codes)
                 .where(number_area_codes.c.number_id == counted)
                 .values(last_presented_at=now))
    return True


def _next_count(day: str) -> Any:
    return case((numbers.c.usage_day == day, numbers.c.usage_count + 1), else_=1)


def _held(conn: Connection, org_id: int, e164: str) -> bool:
    return conn.execute(
        select(numbers.c.id).where(numbers.c.org_id == org_id, numbers.c.e164 == e164,
                                   numbers.c.status != NumberStatus.RELEASED)
    ).first() is not None


def record_call(
    conn: Connection, org_id: int, decision: Decision, *, user: str, project: str | None,
    channel: str, at: datetime,
) -> None:
    conn.execute(insert(calls).values(
        id=decision.call_id, org_id=org_id, at=at, user_key=user, to_number=decision.to,
        caller_id=decision.caller_id, rule=decision.rule, project_key=project, channel=channel,
        trace=[step.as_dict() for step in decision.trace],
    ))


def set_outcome(conn: Connection, call_id: str, outcome: str, at: datetime,
                org_id: int | None = None) -> bool:
    conditions = [calls.c.id == call_id]
    if org_id is not None:
        conditions.append(calls.c.org_id == org_id)
    result = conn.execute(update(calls).where(*conditions).values(outcome=outcome, outcome_at=at))
    return bool(result.rowcount)


# -- inbound --------------------------------------------------------------------------

def number_owner(conn: Connection, e164: str) -> Any | None:
    """The organization row holding ``e164``, with the number's own ``number_path``."""
    return conn.execute(
        select(orgs, numbers.c.call_path.label("number_path"))
        .join(numbers, orgs.c.id == numbers.c.org_id)
        .where(numbers.c.e164 == e164, numbers.c.status != NumberStatus.RELEASED)
    ).first()


def user_by(conn: Connection, org_id: int, **match: str) -> Agent | None:
    (column, value), = match.items()
    row = conn.execute(
        select(*_USER_COLUMNS).where(users.c.org_id == org_id, users.c[column] == value).limit(1)
    ).first()
    return agent(row) if row is not None else None


def contact_owner(conn: Connection, org_id: int, phone: str) -> str | None:
    return conn.execute(
        select(contacts.c.owner).where(contacts.c.org_id == org_id, contacts.c.phone == phone)
    ).scalar()


def record_inbound(conn: Connection, org_id: int, route: Route, *, called: str, caller: str,
                   at: datetime) -> None:
    conn.execute(insert(inbound_calls).values(
        id=route.call_id, org_id=org_id, at=at, to_number=called, from_number=caller,
        destination=route.destination, rule=route.rule, user_key=route.user,
        trace=[step.as_dict() for step in route.trace],
    ))


def users_by_key(conn: Connection, org_id: int, keys: Iterable[str]) -> Mapping[str, Agent]:
    rows = conn.execute(
        select(*_USER_COLUMNS).where(users.c.org_id == org_id, users.c.key.in_(sorted(set(keys))))
    ).all()
    return {row.key: agent(row) for row in rows}
