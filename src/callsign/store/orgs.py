"""Write an organization document to the store, and read one back (SPEC 6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, update

from callsign.domain import phone, release
from callsign.domain.document import (
    CallingHoursDoc,
    ContactDoc,
    HealthDoc,
    InboundDoc,
    NumberDoc,
    OrgDocument,
    ProjectDoc,
    ProximityDoc,
    TwilioDoc,
    UserDoc,
)
from callsign.domain.errors import ConfigError, NotFound
from callsign.domain.model import NumberStatus
from callsign.store.numbers import held_ids, holders
from callsign.store.tables import (
    NEVER,
    calls,
    contacts,
    inbound_calls,
    number_area_codes,
    number_health,
    numbers,
    orgs,
    project_numbers,
    projects,
    purchases,
    users,
)


def apply_document(conn: Connection, doc: OrgDocument) -> int:
    """Make the stored organization equal to ``doc``; returns the org id. Call history stays."""
    check_document(conn, doc)
    org_id = _upsert_org(conn, doc)
    _apply_numbers(conn, org_id, doc)
    _apply_users(conn, org_id, doc.users)
    _apply_contacts(conn, org_id, doc.contacts)
    _apply_projects(conn, org_id, doc.projects)
    return org_id


def _org_values(doc: OrgDocument) -> dict[str, Any]:
    hours = doc.calling_hours
    return {
        "default_country": doc.default_country, "timezone": doc.timezone,
        "principal_number": doc.principal_number, "forwarding_number": doc.forwarding_number,
        "agent_leg_number": doc.agent_leg_number, "local_presence": doc.local_presence,
        "local_presence_fallback": doc.local_presence_fallback,
        "restrict_caller_ids": doc.restrict_caller_ids,
        "calling_hours_start": hours.start if hours else None,
        "calling_hours_end": hours.end if hours else None,
        "call_path": [str(step) for step in doc.inbound.path],
        "last_caller_days": doc.inbound.last_caller_days,
        "twilio_account_sid": doc.twilio.account_sid if doc.twilio else None,
        "health": doc.health.model_dump(mode="json"),
        "compliance": doc.compliance,
        "proximity": doc.proximity.model_dump(mode="json"),
        "release_guard_days": doc.release_guard_days,
    }


def update_org(conn: Connection, doc: OrgDocument) -> None:
    """Change only the organization-level settings of an existing organization."""
    _refuse_others_principal(conn, doc)
    conn.execute(update(orgs).where(orgs.c.slug == doc.org).values(**_org_values(doc)))


def _refuse_others_principal(conn: Connection, doc: OrgDocument) -> None:
    """The principal number is presented as a last resort: it cannot be another org's."""
    holder = holders(conn, [doc.principal_number]).get(doc.principal_number)
    if holder is not None and holder != doc.org:
        raise ConfigError([("principal_number",
                            f"{doc.principal_number} belongs to another organization")])


def check_document(conn: Connection, doc: OrgDocument) -> None:
    """Refuse a document naming numbers another organization holds."""
    _refuse_others_principal(conn, doc)
    held = holders(conn, [n.number for n in doc.numbers])
    problems = [(f"numbers[{i}].number", f"{n.number} belongs to another organization")
                for i, n in enumerate(doc.numbers)
                if n.number in held and held[n.number] != doc.org]
    if problems:
        raise ConfigError(problems)


def _upsert_org(conn: Connection, doc: OrgDocument) -> int:
    org_id = conn.execute(select(orgs.c.id).where(orgs.c.slug == doc.org)).scalar()
    if org_id is None:
        return int(conn.execute(
            insert(orgs).values(slug=doc.org, **_org_values(doc)).returning(orgs.c.id)
        ).scalar_one())
    conn.execute(update(orgs).where(orgs.c.id == org_id).values(**_org_values(doc)))
    return int(org_id)


def _apply_numbers(conn: Connection, org_id: int, doc: OrgDocument) -> dict[str, int]:
    held = held_ids(conn, org_id, [n.number for n in doc.numbers])
    rested = health_rested(conn, org_id)
    ids: dict[str, int] = {}
    for entry in doc.numbers:
        facts = phone.facts_for(entry.number, doc.default_country, field="number")
        status: str = entry.status
        if status == "active" and held.get(entry.number) in rested:
            status = "resting"  # health's rest stays until health restores it
        values: dict[str, Any] = {
            "label": entry.label, "group_name": entry.group, "status": status,
            "daily_cap": entry.daily_cap, "provider": entry.provider,
            "call_path": [str(s) for s in entry.call_path] if entry.call_path else None}
        if entry.number in held:
            number_id = held[entry.number]
            conn.execute(update(numbers).where(numbers.c.id == number_id).values(**values))
        else:
            number_id = hold_number(conn, org_id, entry.number, area_code=facts.area_code,
                                    region=facts.region, **values)
        ids[entry.number] = number_id
        set_area_codes(conn, org_id, number_id, facts.area_code, entry.area_codes,
                       active=status == "active")
    _drop_numbers(conn, org_id, keep=set(ids))
    return ids


def health_rested(conn: Connection, org_id: int) -> set[int]:
    """The ids of the numbers number health rests (status resting because health says so).

    The organization document holds what people decide: such a number is ``active`` in
    it (health's rest is not configuration), and applying ``active`` to it keeps the rest.
    """
    return set(conn.execute(select(numbers.c.id).join(
        number_health, number_health.c.number_id == numbers.c.id).where(
        numbers.c.org_id == org_id, numbers.c.status == NumberStatus.RESTING,
        number_health.c.state == "resting")).scalars())


def hold_number(conn: Connection, org_id: int, e164: str, *, added_at: datetime | None = None,
                **values: Any) -> int:
    """Store a number the organization now holds, added at ``added_at`` (default: now;
    a new number warms up, SPEC 9); returns its row id.

    A number the organization released before gets its old row back (same id), so its
    usage today and its presentation times stay with it instead of starting a second row.
    """
    values.setdefault("provider_sid", None)  # a released number's old SID is stale
    values["added_at"] = added_at or datetime.now(UTC)  # held again: new again
    released = conn.execute(select(numbers.c.id).where(
        numbers.c.org_id == org_id, numbers.c.e164 == e164,
        numbers.c.status == NumberStatus.RELEASED).order_by(numbers.c.id.desc())).first()
    if released is not None:
        conn.execute(update(numbers).where(numbers.c.id == released.id).values(**values))
        return int(released.id)
    return int(conn.execute(insert(numbers).values(
        org_id=org_id, e164=e164, last_presented_at=NEVER, **values,
    ).returning(numbers.c.id)).scalar_one())


def set_area_codes(conn: Connection, org_id: int, number_id: int, own: str | None,
                   mapped: list[str], *, active: bool) -> None:
    """Replace a number's area-code mappings, keeping its presentation time."""
    last = conn.execute(select(numbers.c.last_presented_at)
                        .where(numbers.c.id == number_id)).scalar_one()
    conn.execute(delete(number_area_codes).where(number_area_codes.c.number_id == number_id))
    codes = dict.fromkeys(mapped, True)
    if own is not None:
        codes[own] = False
    if codes:
        conn.execute(insert(number_area_codes), [
            {"number_id": number_id, "org_id": org_id, "area_code": code, "mapped": is_mapped,
             "active": active, "last_presented_at": last}
            for code, is_mapped in codes.items()
        ])


def _drop_numbers(conn: Connection, org_id: int, keep: set[str]) -> None:
    """Numbers left out of the file: released if they have history, else deleted.

    The file is the whole organization: its users and projects name only numbers it
    keeps, so nothing that depends on a dropped number survives the apply.
    """
    for row in numbers_left_out(conn, org_id, keep):
        release_number(conn, org_id, row.id, row.e164, force=True)


def numbers_left_out(conn: Connection, org_id: int, keep: set[str]) -> list[Any]:
    """The held numbers (id, e164, provider, provider_sid) not in ``keep``."""
    return list(conn.execute(select(
        numbers.c.id, numbers.c.e164, numbers.c.provider, numbers.c.provider_sid).where(
        numbers.c.org_id == org_id, numbers.c.status != NumberStatus.RELEASED,
        numbers.c.e164.not_in(sorted(keep)))).all())


def has_history(conn: Connection, org_id: int, e164: str) -> bool:
    used = conn.execute(select(calls.c.id).where(
        calls.c.org_id == org_id, calls.c.caller_id == e164).limit(1)).first()
    called = conn.execute(select(inbound_calls.c.id).where(
        inbound_calls.c.org_id == org_id, inbound_calls.c.to_number == e164).limit(1)).first()
    return used is not None or called is not None


def refuse_if_principal(conn: Connection, org_id: int, e164: str, action: str) -> None:
    """The principal number is every call's last resort: it cannot stop being presentable."""
    principal = conn.execute(select(orgs.c.principal_number)
                             .where(orgs.c.id == org_id)).scalar_one()
    release.refuse_principal(e164, principal_number=principal, action=action)


def _named_numbers(conn: Connection, org_id: int) -> tuple[
        str | None, list[release.UserNumbers], list[release.ProjectNumbers]]:
    """The numbers the organization's settings name: its agent leg, users' and projects'."""
    agent_leg = conn.execute(select(orgs.c.agent_leg_number)
                             .where(orgs.c.id == org_id)).scalar_one()
    named_by_users = [release.UserNumbers(u.id, u.caller_id, u.direct_number,
                                          tuple(u.allowed_caller_ids))
                      for u in users_of(conn, org_id)]
    named_by_projects = [release.ProjectNumbers(p.id, tuple(p.numbers), p.first_call,
                                                dict(p.outcome_numbers))
                         for p in projects_of(conn, org_id)]
    return agent_leg, named_by_users, named_by_projects


def dependents(conn: Connection, org_id: int, e164: str) -> list[str]:
    """What names ``e164``, in the domain's words: the agent leg, users' numbers, projects'
    pools and settings."""
    agent_leg, named_by_users, named_by_projects = _named_numbers(conn, org_id)
    return release.what_names(e164, agent_leg_number=agent_leg, users=named_by_users,
                              projects=named_by_projects)


def _forget_number(conn: Connection, org_id: int, e164: str) -> None:
    """Write back what the domain's ``release.forget`` leaves of every setting that names
    ``e164``, so the organization stays valid (its pools lose it with its rows)."""
    agent_leg, named_by_users, named_by_projects = _named_numbers(conn, org_id)
    forgotten = release.forget(e164, agent_leg_number=agent_leg, users=named_by_users,
                               projects=named_by_projects)
    if forgotten.agent_leg:
        conn.execute(update(orgs).where(orgs.c.id == org_id).values(agent_leg_number=None))
    for user in forgotten.users:
        conn.execute(update(users).where(users.c.org_id == org_id, users.c.key == user.id)
                     .values(caller_id=user.caller_id, direct_number=user.direct_number,
                             allowed_caller_ids=list(user.allowed_caller_ids)))
    for project in forgotten.projects:
        conn.execute(update(projects).where(projects.c.org_id == org_id,
                                            projects.c.key == project.id)
                     .values(first_call=str(project.first_call),
                             outcome_numbers=dict(project.outcome_numbers)))


def last_presented(conn: Connection, org_id: int, e164: str) -> datetime | None:
    """When the organization last presented ``e164`` as a caller ID (its newest call), if
    ever."""
    at = conn.execute(select(func.max(calls.c.at)).where(
        calls.c.org_id == org_id, calls.c.caller_id == e164)).scalar()
    return at if isinstance(at, datetime) else None


def guard_days(conn: Connection, org_id: int) -> int:
    """The organization's release guard in days (0: off)."""
    return int(conn.execute(select(orgs.c.release_guard_days)
                            .where(orgs.c.id == org_id)).scalar_one())


def check_release(conn: Connection, org_id: int, e164: str, *, force: bool,
                  force_recent: bool | None = None, now: datetime | None = None) -> list[str]:
    """What names the number (see ``dependents``); Conflict for the principal, for a number
    presented within the release guard unless ``force_recent`` (default: ``force``), and
    for a number in use unless ``force``."""
    principal = conn.execute(select(orgs.c.principal_number)
                             .where(orgs.c.id == org_id)).scalar_one()
    release.refuse_principal(e164, principal_number=principal, action="release")
    release.check_recent(e164, last_presented=last_presented(conn, org_id, e164),
                         guard_days=guard_days(conn, org_id), now=now or datetime.now(UTC),
                         force=force if force_recent is None else force_recent)
    named = dependents(conn, org_id, e164)
    release.check_release(e164, principal_number=principal, named=named, force=force)
    return named


def release_number(conn: Connection, org_id: int, number_id: int, e164: str, *,
                   force: bool = False, force_recent: bool | None = None,
                   now: datetime | None = None) -> tuple[str, list[str]]:
    """Release a number (kept for its history) or delete it if it has none; returns
    (released|deleted, what was cleared because it named the number).

    The principal number is never released. A number presented within the release guard
    is refused unless ``force_recent`` (default: ``force``); a number that users, projects
    or the agent leg depend on is refused (Conflict listing them) unless ``force``: then
    they forget it; a project whose first call used it falls back to random, as SPEC 3.2
    does for a first-call number no longer presentable. The release is written down with
    the purchases, as forced when force let it past the guard or the settings naming it.
    """
    now = now or datetime.now(UTC)
    named = check_release(conn, org_id, e164, force=force, force_recent=force_recent, now=now)
    _record_release(conn, org_id, number_id, e164, named, now)
    conn.execute(delete(project_numbers).where(project_numbers.c.number_id == number_id))
    conn.execute(delete(number_area_codes).where(number_area_codes.c.number_id == number_id))
    _forget_number(conn, org_id, e164)
    if has_history(conn, org_id, e164):
        conn.execute(update(numbers).where(numbers.c.id == number_id)
                     .values(status=NumberStatus.RELEASED))
        return "released", named
    conn.execute(delete(numbers).where(numbers.c.id == number_id))
    return "deleted", named


def _record_release(conn: Connection, org_id: int, number_id: int, e164: str,
                    named: list[str], now: datetime) -> None:
    """A release joins the purchases: ``forced`` (its detail says past what) or
    ``released``."""
    row = conn.execute(select(numbers.c.provider, numbers.c.area_code)
                       .where(numbers.c.id == number_id)).one()
    forced = release.forced_past(e164, last_presented=last_presented(conn, org_id, e164),
                                 guard_days=guard_days(conn, org_id), now=now, named=named)
    conn.execute(insert(purchases).values(
        org_id=org_id, provider=row.provider, area_code=row.area_code or "", e164=e164,
        state="forced" if forced else "released", detail=forced[:500], created_at=now))


def upsert_user(conn: Connection, org_id: int, user: UserDoc) -> None:
    values = {"name": user.name, "work_phone": user.work_phone, "caller_id": user.caller_id,
              "direct_number": user.direct_number,
              "allowed_caller_ids": list(user.allowed_caller_ids), "active": user.active}
    done = conn.execute(update(users).where(users.c.org_id == org_id, users.c.key == user.id)
                        .values(**values))
    if not done.rowcount:
        conn.execute(insert(users).values(org_id=org_id, key=user.id, **values))


def upsert_contact(conn: Connection, org_id: int, contact: ContactDoc) -> None:
    values = {"owner": contact.owner, "line_type": contact.line_type,
              "timezone": contact.timezone, "state": contact.state,
              "postal_code": contact.postal_code, "consented_on": contact.consented_on}
    done = conn.execute(update(contacts).where(contacts.c.org_id == org_id,
                                               contacts.c.phone == contact.phone)
                        .values(**values))
    if not done.rowcount:
        conn.execute(insert(contacts).values(org_id=org_id, phone=contact.phone, **values))


def upsert_project(conn: Connection, org_id: int, project: ProjectDoc) -> None:
    """Create or replace a project and its pool (pool numbers must be held by the org)."""
    values = {"name": project.name, "first_call": project.first_call,
              "keep_previous_number": project.keep_previous_number,
              "next_calls": str(project.next_calls),
              "outcome_numbers": dict(project.outcome_numbers),
              "agent_number": project.agent_number, "compliance": project.compliance,
              "proximity": project.proximity.model_dump(mode="json")
              if project.proximity else None,
              "local_only": project.local_only}
    project_id = conn.execute(select(projects.c.id).where(
        projects.c.org_id == org_id, projects.c.key == project.id)).scalar()
    if project_id is None:
        project_id = conn.execute(insert(projects).values(
            org_id=org_id, key=project.id, **values).returning(projects.c.id)).scalar_one()
    else:
        conn.execute(update(projects).where(projects.c.id == project_id).values(**values))
    conn.execute(delete(project_numbers).where(project_numbers.c.project_id == project_id))
    if project.numbers:
        ids = held_ids(conn, org_id, project.numbers)
        conn.execute(insert(project_numbers), [
            {"project_id": project_id, "number_id": ids[n], "position": i}
            for i, n in enumerate(project.numbers)])


def delete_rows(conn: Connection, table: Table, org_id: int, column: str,
                keys: set[str]) -> int:
    """Delete the org's rows of ``table`` whose ``column`` is in ``keys``."""
    if not keys:
        return 0
    done = conn.execute(delete(table).where(table.c.org_id == org_id,
                                            table.c[column].in_(sorted(keys))))
    return int(done.rowcount)


def _keys(conn: Connection, table: Table, org_id: int, column: str) -> set[str]:
    return set(conn.execute(select(table.c[column]).where(table.c.org_id == org_id)).scalars())


def _apply_users(conn: Connection, org_id: int, docs: list[UserDoc]) -> None:
    stale = _keys(conn, users, org_id, "key") - {u.id for u in docs}
    delete_rows(conn, users, org_id, "key", stale)
    for user in docs:
        upsert_user(conn, org_id, user)


def _apply_contacts(conn: Connection, org_id: int, docs: list[ContactDoc]) -> None:
    delete_rows(conn, contacts, org_id, "phone",
                _keys(conn, contacts, org_id, "phone") - {c.phone for c in docs})
    for contact in docs:
        upsert_contact(conn, org_id, contact)


def _apply_projects(conn: Connection, org_id: int, docs: list[ProjectDoc]) -> None:
    delete_rows(conn, projects, org_id, "key",
                _keys(conn, projects, org_id, "key") - {p.id for p in docs})
    for project in docs:
        upsert_project(conn, org_id, project)


def users_of(conn: Connection, org_id: int, key: str | None = None) -> list[UserDoc]:
    query = select(users).where(users.c.org_id == org_id).order_by(users.c.id)
    if key is not None:
        query = query.where(users.c.key == key)
    return [UserDoc(id=r.key, name=r.name, work_phone=r.work_phone, caller_id=r.caller_id,
                    direct_number=r.direct_number, allowed_caller_ids=list(r.allowed_caller_ids),
                    active=r.active)
            for r in conn.execute(query)]


def contacts_of(conn: Connection, org_id: int, phone: str | None = None, *,
                owner: str | None = None, limit: int | None = None,
                after: str | None = None) -> list[ContactDoc]:
    query = select(contacts).where(contacts.c.org_id == org_id).order_by(contacts.c.phone)
    if phone is not None:
        query = query.where(contacts.c.phone == phone)
    if owner is not None:
        query = query.where(contacts.c.owner == owner)
    if after is not None:
        query = query.where(contacts.c.phone > after)
    if limit is not None:
        query = query.limit(limit)
    return [ContactDoc(phone=r.phone, owner=r.owner, line_type=r.line_type,
                       timezone=r.timezone, state=r.state, postal_code=r.postal_code,
                       consented_on=r.consented_on)
            for r in conn.execute(query)]


def projects_of(conn: Connection, org_id: int, key: str | None = None) -> list[ProjectDoc]:
    query = select(projects).where(projects.c.org_id == org_id).order_by(projects.c.id)
    if key is not None:
        query = query.where(projects.c.key == key)
    rows = conn.execute(query).all()
    pools: dict[int, list[str]] = {}
    for project_id, e164 in conn.execute(
            select(project_numbers.c.project_id, numbers.c.e164)
            .join(numbers, numbers.c.id == project_numbers.c.number_id)
            .where(project_numbers.c.project_id.in_([r.id for r in rows]))
            .order_by(project_numbers.c.position)):
        pools.setdefault(project_id, []).append(e164)
    return [ProjectDoc(id=r.key, name=r.name, numbers=pools.get(r.id, []),
                       first_call=r.first_call, keep_previous_number=r.keep_previous_number,
                       next_calls=r.next_calls, outcome_numbers=r.outcome_numbers,
                       agent_number=r.agent_number, compliance=r.compliance,
                       proximity=ProximityDoc.model_validate(r.proximity)
                       if r.proximity else None, local_only=r.local_only)
            for r in rows]


def orgs_named_alike(conn: Connection, normal: str) -> int:
    """How many organizations' ids read ``normal`` in upper case with '.' and '-' as '_'."""
    mapped = func.upper(func.replace(func.replace(orgs.c.slug, ".", "_"), "-", "_"))
    count = conn.execute(select(func.count()).select_from(orgs).where(mapped == normal)).scalar()
    return int(count or 0)


def user_by_phone(conn: Connection, org_id: int, number: str) -> str | None:
    """The key of the user whose work phone or caller ID is ``number``."""
    key = conn.execute(select(users.c.key).where(
        users.c.org_id == org_id,
        (users.c.work_phone == number) | (users.c.caller_id == number))).scalar()
    return None if key is None else str(key)


def user_work_phone(conn: Connection, org_id: int, key: str) -> tuple[str | None] | None:
    """(work phone,) of a user, or None if the organization has no such user."""
    row = conn.execute(select(users.c.work_phone).where(
        users.c.org_id == org_id, users.c.key == key)).first()
    return None if row is None else (row.work_phone,)


def contact_phones(conn: Connection, org_id: int) -> list[str]:
    return [str(n) for n in conn.execute(select(contacts.c.phone).where(
        contacts.c.org_id == org_id)).scalars()]


@dataclass(frozen=True)
class OrgRecord:
    """An organization's stored row, typed."""

    id: int
    slug: str
    default_country: str
    timezone: str
    principal_number: str
    forwarding_number: str | None
    agent_leg_number: str | None
    local_presence: bool
    local_presence_fallback: str
    restrict_caller_ids: bool
    calling_hours_start: str | None
    calling_hours_end: str | None
    call_path: list[str]
    last_caller_days: int
    twilio_account_sid: str | None
    health: dict[str, Any] | None  # the document's health: mapping; None: the defaults
    compliance: dict[str, Any] | None  # the document's compliance: mapping; None: none
    proximity: dict[str, Any] | None  # the document's proximity: mapping; None: all off
    release_guard_days: int


def find_org_row(conn: Connection, slug: str) -> OrgRecord | None:
    """The organization's row, or None."""
    row = conn.execute(select(orgs).where(orgs.c.slug == slug)).first()
    return OrgRecord(**row._mapping) if row is not None else None


def user_exists(conn: Connection, org_id: int, key: str) -> bool:
    return conn.execute(select(users.c.key).where(
        users.c.org_id == org_id, users.c.key == key)).first() is not None


def direct_number_holder(conn: Connection, org_id: int, number: str, *,
                         besides: str) -> str | None:
    """The key of another user than ``besides`` whose direct number is ``number``."""
    other = conn.execute(select(users.c.key).where(
        users.c.org_id == org_id, users.c.direct_number == number,
        users.c.key != besides)).scalar()
    return None if other is None else str(other)


_ENTITY_TABLES = {"user": (users, "key"), "contact": (contacts, "phone"),
                  "project": (projects, "key")}


def entity_exists(conn: Connection, org_id: int, kind: str, key: str) -> bool:
    """Whether the organization has the user, contact or project (``kind``) ``key``."""
    table, column = _ENTITY_TABLES[kind]
    return conn.execute(select(table.c.id).where(
        table.c.org_id == org_id, table.c[column] == key)).first() is not None


def delete_entity(conn: Connection, org_id: int, kind: str, key: str) -> bool:
    """Delete the organization's user, contact or project ``key``; False if none."""
    table, column = _ENTITY_TABLES[kind]
    return bool(delete_rows(conn, table, org_id, column, {key}))


def a_contact_owned_by(conn: Connection, org_id: int, key: str) -> str | None:
    """One contact's phone that user ``key`` owns, if any."""
    owned = conn.execute(select(contacts.c.phone).where(
        contacts.c.org_id == org_id, contacts.c.owner == key).limit(1)).scalar()
    return None if owned is None else str(owned)


def org_exists(conn: Connection, slug: str) -> bool:
    return conn.execute(select(orgs.c.id).where(orgs.c.slug == slug)).first() is not None


def org_row(conn: Connection, slug: str) -> OrgRecord:
    row = find_org_row(conn, slug)
    if row is None:
        raise NotFound(f"no organization {slug!r}", field="org")
    return row


def settings_of(org: OrgRecord) -> dict[str, Any]:
    """The organization-level fields of the document, from its row."""
    hours = (CallingHoursDoc(start=org.calling_hours_start, end=org.calling_hours_end)
             if org.calling_hours_start and org.calling_hours_end else None)
    return {
        "org": org.slug, "default_country": org.default_country, "timezone": org.timezone,
        "principal_number": org.principal_number, "forwarding_number": org.forwarding_number,
        "agent_leg_number": org.agent_leg_number, "local_presence": org.local_presence,
        "local_presence_fallback": org.local_presence_fallback,
        "restrict_caller_ids": org.restrict_caller_ids, "calling_hours": hours,
        "inbound": InboundDoc(path=org.call_path, last_caller_days=org.last_caller_days),
        "twilio": TwilioDoc(account_sid=org.twilio_account_sid)
        if org.twilio_account_sid else None,
        "health": HealthDoc.model_validate(org.health) if org.health else HealthDoc(),
        "compliance": org.compliance,
        "proximity": ProximityDoc.model_validate(org.proximity) if org.proximity
        else ProximityDoc(),
        "release_guard_days": org.release_guard_days,
    }


def numbers_of(conn: Connection, org_id: int) -> list[NumberDoc]:
    number_rows = conn.execute(select(numbers).where(
        numbers.c.org_id == org_id, numbers.c.status != NumberStatus.RELEASED)
        .order_by(numbers.c.id)).all()
    mapped: dict[int, list[str]] = {}
    for row in conn.execute(select(number_area_codes.c.number_id, number_area_codes.c.area_code)
                            .where(number_area_codes.c.org_id == org_id,
                                   number_area_codes.c.mapped.is_(True))
                            .order_by(number_area_codes.c.area_code)):
        mapped.setdefault(row.number_id, []).append(row.area_code)
    rested = health_rested(conn, org_id)
    return [NumberDoc(number=r.e164, label=r.label, group=r.group_name,
                      area_codes=mapped.get(r.id, []), daily_cap=r.daily_cap,
                      status="active" if r.id in rested else r.status,
                      provider=r.provider, call_path=r.call_path)
            for r in number_rows]


def export_document(conn: Connection, slug: str) -> OrgDocument:
    """The stored organization as a document that applies back to the same state."""
    org = org_row(conn, slug)
    return OrgDocument(
        **settings_of(org),
        numbers=numbers_of(conn, org.id),
        users=users_of(conn, org.id),
        contacts=contacts_of(conn, org.id),
        projects=projects_of(conn, org.id),
    )
