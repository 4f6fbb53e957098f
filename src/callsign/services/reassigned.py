"""Reassigned numbers as a scrub step (SPEC 10, 47 C.F.R. § 64.1200(m)): look up each
contact with a consent date in a reassigned-numbers database and store the answers,
which every decision then reads with the contact (one point lookup, no network).

The lookup runs between two short transactions, never inside a decision's lock nor on
the event loop: the first reads the contacts whose answer is missing, asked about
another date, or older than ``max_age`` (a "yes" stays true); the database is asked
with no transaction held; the second stores the answers. A contact whose consent date
changed meanwhile keeps the answer for the old date, which its decisions do not use.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from callsign.domain.compliance.reassigned import MAX_AGE, NO_DATA, YES, needs_check
from callsign.domain.errors import InvalidInput, ProviderError
from callsign.services.ports import ReassignedLookup
from callsign.store import orgs as org_store
from callsign.store import reassigned as store
from callsign.store.uow import UnitOfWork

MAX_AGE_DAYS = 366  # the longest an answer may be reused


def check(uow: UnitOfWork, org: str, lookup: ReassignedLookup, *, now: datetime,
          max_age: timedelta = MAX_AGE) -> dict[str, Any]:
    """Look up the contacts due (see the module) and store the answers; a summary."""
    if not timedelta(0) <= max_age <= timedelta(days=MAX_AGE_DAYS):
        raise InvalidInput(f"must be between 0 and {MAX_AGE_DAYS} days", field="max_age_days")
    with uow:
        org_id = org_store.org_row(uow.connection, org).id
        consents = store.consents(uow.connection, org_id)
    due = [(number, consent.consented_on) for number, consent in consents
           if needs_check(consent, now, max_age)]
    answers = lookup.lookup(due) if due else {}  # no transaction held meanwhile
    unasked = set(answers) - {number for number, _ in due}
    if unasked:
        raise ProviderError(f"the reassigned numbers database answered for "
                            f"{min(unasked)}, which was not asked about", field="url")
    rows = [(number, day, answers[number]) for number, day in due if number in answers]
    with uow:
        org_id = org_store.org_row(uow.connection, org).id
        store.store(uow.connection, org_id, rows, source=lookup.name, at=now)
        uow.commit()
    return {"contacts": len(consents), "looked_up": len(rows),
            "reused": len(consents) - len(due),
            "unanswered": sorted(number for number, _ in due if number not in answers),
            "disconnected": sorted(number for number, _, answer in rows if answer == YES),
            "no_data": sum(1 for *_, answer in rows if answer == NO_DATA),
            "source": lookup.name}
