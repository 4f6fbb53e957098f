"""Use cases on one user, contact or project at a time, and on the org's settings.

Each change is validated by the same rules as a whole organization file: the entity is
checked inside a small document holding just the numbers and users it refers to, so an
API call and `callsign apply` accept and refuse exactly the same things.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from callsign.domain import phone
from callsign.domain.document import ContactDoc, OrgDocument, ProjectDoc, UserDoc, parse_document
from callsign.domain.errors import ConfigError, Conflict, InvalidInput, NotFound
from callsign.orgfile import load_document
from callsign.providers.base import ProviderSettings
from callsign.services import purchasing
from callsign.services.purchasing import UowFactory
from callsign.store import orgs as org_store
from callsign.store.numbers import held_statuses
from callsign.store.uow import Connection, UnitOfWork

Entity = UserDoc | ContactDoc | ProjectDoc
_KINDS: dict[type[Any], tuple[str, str]] = {
    UserDoc: ("users", "user"), ContactDoc: ("contacts", "contact"),
    ProjectDoc: ("projects", "project"),
}


def _held(conn: Connection, org_id: int, country: str,
          raws: Iterable[str | None]) -> list[dict[str, str]]:
    """Which of ``raws`` (in any format) are numbers the org holds: E.164 and status."""
    wanted = set()
    for raw in raws:
        if raw:
            try:
                wanted.add(phone.parse_number(raw, country, field="number"))
            except InvalidInput:
                continue  # reported with its path by the document check
    return [{"number": e164, "status": status}
            for e164, status in held_statuses(conn, org_id, wanted)]


def _referenced(entity: Entity) -> list[str | None]:
    if isinstance(entity, UserDoc):
        return [entity.caller_id, entity.direct_number, *entity.allowed_caller_ids]
    if isinstance(entity, ProjectDoc):
        return [*entity.numbers, entity.first_call, *entity.outcome_numbers.values()]
    return []


def validated(conn: Connection, org: str, entity: Entity) -> tuple[int, Entity]:
    """The entity with numbers in E.164, checked as part of the organization."""
    row = org_store.org_row(conn, org)
    settings = org_store.settings_of(row)
    held = _held(conn, row.id, row.default_country, [
        row.principal_number, row.agent_leg_number, *_referenced(entity)])
    plural, _ = _KINDS[type(entity)]
    data: dict[str, Any] = {
        **{k: v for k, v in settings.items() if k not in ("calling_hours", "inbound", "twilio",
                                                      "health")},
        "numbers": held,
        plural: [entity.model_dump(mode="json")],
    }
    if isinstance(entity, ContactDoc) and entity.owner \
            and org_store.user_exists(conn, row.id, entity.owner):
        data["users"] = [{"id": entity.owner}]
    try:
        document = parse_document(data)
    except ConfigError as exc:
        prefix = f"{plural}[0]."
        raise ConfigError([(path.removeprefix(prefix), message)
                           for path, message in exc.problems]) from exc
    checked: Entity = getattr(document, plural)[0]
    if isinstance(checked, UserDoc) and checked.direct_number:
        other = org_store.direct_number_holder(conn, row.id, checked.direct_number,
                                               besides=checked.id)
        if other is not None:
            raise Conflict(f"{checked.direct_number} is already the direct number of "
                           f"{other!r}", field="direct_number")
    return int(row.id), checked


def _key_of(entity: Entity) -> str:
    return entity.phone if isinstance(entity, ContactDoc) else entity.id


def _exists(conn: Connection, org_id: int, entity: Entity) -> bool:
    return org_store.entity_exists(conn, org_id, _KINDS[type(entity)][1], _key_of(entity))


def create(uow: UnitOfWork, org: str, entity: Entity) -> Entity:
    """Create one user, contact or project; Conflict if it exists."""
    return put(uow, org, entity, create_only=True)


def put(uow: UnitOfWork, org: str, entity: Entity, *, key: str | None = None,
        create_only: bool = False) -> Entity:
    """Create or replace one user, contact or project (``key``: the one named in the URL)."""
    with uow:
        conn = uow.connection
        org_id, checked = validated(conn, org, entity)
        field = "phone" if isinstance(checked, ContactDoc) else "id"
        if key is not None:
            named = key
            if isinstance(checked, ContactDoc):
                row = org_store.org_row(conn, org)
                named = phone.parse_number(key, row.default_country, field=field)
            if named != _key_of(checked):
                raise InvalidInput(f"{_key_of(checked)!r} differs from {named!r} in the URL",
                                   field=field)
        if create_only and _exists(conn, org_id, checked):
            _, singular = _KINDS[type(checked)]
            raise Conflict(f"{singular} {_key_of(checked)!r} exists already", field=field)
        if isinstance(checked, UserDoc):
            org_store.upsert_user(conn, org_id, checked)
        elif isinstance(checked, ContactDoc):
            org_store.upsert_contact(conn, org_id, checked)
        else:
            org_store.upsert_project(conn, org_id, checked)
        uow.commit()
        return checked


def list_users(uow: UnitOfWork, org: str) -> list[UserDoc]:
    with uow:
        return org_store.users_of(uow.connection, org_store.org_row(uow.connection, org).id)


def get_user(uow: UnitOfWork, org: str, key: str) -> UserDoc:
    with uow:
        found = org_store.users_of(uow.connection, org_store.org_row(uow.connection, org).id, key)
    if not found:
        raise NotFound(f"no user {key!r}", field="user")
    return found[0]


def list_projects(uow: UnitOfWork, org: str) -> list[ProjectDoc]:
    with uow:
        return org_store.projects_of(uow.connection,
                                     org_store.org_row(uow.connection, org).id)


def get_project(uow: UnitOfWork, org: str, key: str) -> ProjectDoc:
    with uow:
        found = org_store.projects_of(uow.connection,
                                      org_store.org_row(uow.connection, org).id, key)
    if not found:
        raise NotFound(f"no project {key!r}", field="project")
    return found[0]


def list_contacts(uow: UnitOfWork, org: str, *, owner: str | None = None, limit: int = 100,
                  after: str | None = None) -> list[ContactDoc]:
    if not 1 <= limit <= 1000:
        raise InvalidInput("must be between 1 and 1000", field="limit")
    with uow:
        org_id = org_store.org_row(uow.connection, org).id
        return org_store.contacts_of(uow.connection, org_id, owner=owner, limit=limit,
                                     after=after)


def get_contact(uow: UnitOfWork, org: str, raw_phone: str) -> ContactDoc:
    with uow:
        row = org_store.org_row(uow.connection, org)
        e164 = phone.parse_number(raw_phone, row.default_country, field="phone")
        found = org_store.contacts_of(uow.connection, row.id, e164)
    if not found:
        raise NotFound(f"no contact {e164}", field="phone")
    return found[0]


def delete(uow: UnitOfWork, org: str, kind: type[Entity], key: str) -> None:
    """Delete one user, contact or project; call history stays."""
    _, singular = _KINDS[kind]
    with uow:
        conn = uow.connection
        row = org_store.org_row(conn, org)
        if kind is ContactDoc:
            key = phone.parse_number(key, row.default_country, field="phone")
        if kind is UserDoc:
            _refuse_if_owner(conn, row.id, key)
        if not org_store.delete_entity(conn, row.id, singular, key):
            raise NotFound(f"no {singular} {key!r}", field=singular)
        uow.commit()


def _refuse_if_owner(conn: Connection, org_id: int, key: str) -> None:
    owned = org_store.a_contact_owned_by(conn, org_id, key)
    if owned is not None:
        raise Conflict(f"user {key!r} owns contacts (e.g. {owned}); reassign them first",
                           field="user")


_ENTITIES = {"numbers", "users", "contacts", "projects"}


def get_settings(uow: UnitOfWork, org: str) -> dict[str, Any]:
    """The organization-level settings, as in the organization file."""
    with uow:
        return _settings(uow.connection, org)


def _settings(conn: Connection, org: str) -> dict[str, Any]:
    settings = org_store.settings_of(org_store.org_row(conn, org))
    return OrgDocument(**settings).model_dump(mode="json", exclude=_ENTITIES)


def update_settings(uow: UnitOfWork, org: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change organization-level settings; numbers, users and the rest stay."""
    if "org" in changes and changes["org"] != org:
        raise InvalidInput("the organization's id cannot be changed", field="org")
    for entity in sorted(_ENTITIES & set(changes)):
        raise InvalidInput("is not a setting; it has endpoints of its own", field=entity)
    with uow:
        conn = uow.connection
        row = org_store.org_row(conn, org)
        current = _settings(conn, org)
        data = {**current, **changes, "org": org}
        if "health" in changes:
            data["health"] = _health_change(current["health"], changes["health"])
        country = data.get("default_country")
        country = country if isinstance(country, str) else str(row.default_country)
        named = [data.get(key) for key in ("principal_number", "agent_leg_number")]
        # The principal and agent-leg numbers must be the organization's own (SPEC 2).
        data["numbers"] = _held(conn, row.id, country,
                                [n if isinstance(n, str) else None for n in named])
        document = parse_document(data)
        if document.restrict_caller_ids:
            _refuse_unallowed_caller_ids(conn, row.id)
        org_store.update_org(conn, document)
        uow.commit()
    return document.model_dump(mode="json", exclude=_ENTITIES)


def _health_change(current: dict[str, Any], change: Any) -> Any:
    """``health`` changes field by field: a mapping changes the fields it names and keeps
    the others; null restores the defaults; anything else is refused by the document."""
    if change is None:
        return {}
    if isinstance(change, dict):
        return {**current, **change}
    return change


def _refuse_unallowed_caller_ids(conn: Connection, org_id: int) -> None:
    """Restricting caller IDs must not leave a user with a caller ID they may not present."""
    problems = [f"{user.id}'s caller ID {user.caller_id}"
                for user in org_store.users_of(conn, org_id)
                if user.caller_id is not None and user.caller_id not in user.allowed_caller_ids]
    if problems:
        raise ConfigError([("restrict_caller_ids", "these caller IDs are outside their user's "
                            f"allowed caller IDs: {', '.join(problems)}; allow or clear them "
                            "first")])


def put_config(uow: UnitOfWork, org: str, data: Any, *,
               providers: ProviderSettings | None = None, force: bool = False,
               now: datetime | None = None) -> OrgDocument:
    """Replace the whole organization with a document (SPEC 6); numbers it leaves out are
    released, their provider told first (those presented within the release guard only
    with ``force``)."""
    document = parse_document(data)
    if document.org != org:
        raise InvalidInput(f"the document is for {document.org!r}, but the key is for {org!r}",
                           field="org")
    purchasing.apply_document(lambda: uow, document, settings=providers or ProviderSettings(),
                              force=force, now=now)
    return document


def apply_text(uow: UowFactory, text: str, *, source: str,
               providers: ProviderSettings | None = None, force: bool = False) -> OrgDocument:
    """Make the organization an organization file names equal to it (SPEC 6): the file's
    text is validated whole first; ``source`` names it in problems. Numbers it leaves out
    that were presented within the release guard are released only with ``force``."""
    document = parse_document(load_document(text, source=source))
    purchasing.apply_document(uow, document, settings=providers or ProviderSettings(),
                              force=force)
    return document


def get_config(uow: UnitOfWork, org: str) -> OrgDocument:
    with uow:
        return org_store.export_document(uow.connection, org)
