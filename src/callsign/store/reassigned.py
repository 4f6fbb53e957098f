"""Reassigned-numbers lookups in the store (SPEC 10): the contacts with a consent date,
with the answer stored for each one's number, and the answers a scrub step stores.
Every read and write is scoped by the organization's id."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, select
from sqlalchemy.dialects import postgresql, sqlite

from callsign.domain.compliance.reassigned import Answer, Consent, ReassignedCheck
from callsign.store.tables import contacts, reassigned_checks

BATCH = 1000  # contacts read a query


def consents(conn: Connection, org_id: int) -> list[tuple[str, Consent]]:
    """Each contact with a consent date, by number: (number, its consent and stored
    answer), in number order."""
    r = reassigned_checks.c
    query = (select(contacts.c.phone, contacts.c.consented_on, r.since, r.answer,
                    r.checked_at, r.source)
             .select_from(contacts.outerjoin(reassigned_checks, and_(
                 r.org_id == contacts.c.org_id, r.number == contacts.c.phone)))
             .where(contacts.c.org_id == org_id, contacts.c.consented_on.is_not(None))
             .order_by(contacts.c.phone))
    found = []
    for number, consented_on, since, answer, checked_at, source in conn.execute(query):
        check = None if since is None else ReassignedCheck(since, answer, checked_at, source)
        found.append((str(number), Consent(consented_on, check)))
    return found


def store(conn: Connection, org_id: int, answers: Iterable[tuple[str, date, Answer]], *,
          source: str, at: datetime) -> int:
    """Store (number, date asked, answer) rows: each replaces the number's earlier one."""
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    count = 0
    for number, since, answer in answers:
        values = {"since": since, "answer": answer, "checked_at": at, "source": source[:200]}
        statement = dialect.insert(reassigned_checks).values(org_id=org_id, number=number,
                                                             **values)
        conn.execute(statement.on_conflict_do_update(
            index_elements=["org_id", "number"],
            set_={k: statement.excluded[k] for k in values}))
        count += 1
    return count
