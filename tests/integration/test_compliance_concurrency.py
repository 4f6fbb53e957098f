"""Two processes calling one contact at once never exceed its frequency cap (SPEC 10):
the cap counts the contact's calls under the contact's lock, as the daily cap's claim."""

from __future__ import annotations

import multiprocessing
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from callsign.domain.document import parse_document
from callsign.domain.errors import NotCompliant
from callsign.domain.model import OutboundRequest
from callsign.services import calls as calls_service
from callsign.store import orgs as org_store
from callsign.store.db import create_store_engine
from callsign.store.tables import calls
from callsign.store.uow import UnitOfWork

CAP = 5
CALLS_PER_PROCESS = 12
HANG_GUARD = 600  # seconds: a process that never comes breaks the barrier
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CONTACT = "+13125550188"
ORG = {
    "org": "race", "principal_number": "+12125550100",
    "numbers": [{"number": "+13125550101"}, {"number": "+12125550100"}],
    "users": [{"id": "u1", "caller_id": "+13125550101"}, {"id": "u2"}],
    "compliance": {"caps": [{"calls": CAP, "hours": 24}]},
}


SUBJECTS = ("debt-1", "debt-2")
SUBJECT_ORG = {**ORG, "org": "race-subjects",
               "compliance": {"caps": [{"calls": CAP, "hours": 24, "per": "subject"}]}}


def _call_one_contact(url: str, user: str, seed: int, start: Any,
                      org: str = "race", subjects: bool = False) -> tuple[int, list[str]]:
    """(placed, the rules that refused) of this process's calls to the one contact; with
    ``subjects``, the calls alternate between two subjects."""
    engine = create_store_engine(url)
    rng = random.Random(seed)
    placed, refusals = 0, []
    for i in range(CALLS_PER_PROCESS):
        request = OutboundRequest(org=org, user=user, to=CONTACT,
                                  subject=SUBJECTS[i % 2] if subjects else None)
        at = START + timedelta(milliseconds=2 * i + seed)
        start.wait(timeout=HANG_GUARD)  # call i of each process leaves together: a race
        try:
            calls_service.place_call(UnitOfWork(engine), request, now=at, rng=rng)
        except NotCompliant as exc:
            refusals.append(str(exc.details["rule"]))
        else:
            placed += 1
    engine.dispose()
    return placed, refusals


def test_two_processes_calling_one_contact_never_exceed_its_frequency_cap(
        db_url: str) -> None:
    """5 calls in 24 h: of 24 racing calls exactly 5 are placed and recorded."""
    engine = create_store_engine(db_url)
    with UnitOfWork(engine) as uow:
        org_store.apply_document(uow.connection, parse_document(ORG))
        uow.commit()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        start = manager.Barrier(2)
        results = pool.starmap(_call_one_contact,
                               [(db_url, "u1", 1, start), (db_url, "u2", 2, start)])
    with engine.connect() as conn:
        recorded = conn.execute(select(func.count()).select_from(calls)
                                .where(calls.c.to_number == CONTACT)).scalar_one()
    engine.dispose()

    assert sum(placed for placed, _ in results) == CAP
    refused = [rule for _, rules in results for rule in rules]
    assert refused == ["organization.caps[0]"] * (2 * CALLS_PER_PROCESS - CAP)
    assert recorded == CAP


def test_two_processes_never_exceed_a_cap_per_subject_on_either_subject(db_url: str) -> None:
    """5 calls in 24 h per subject: of 24 racing calls on two subjects, 5 on each are placed
    and recorded with their subject."""
    engine = create_store_engine(db_url)
    with UnitOfWork(engine) as uow:
        org_store.apply_document(uow.connection, parse_document(SUBJECT_ORG))
        uow.commit()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        start = manager.Barrier(2)
        results = pool.starmap(_call_one_contact, [
            (db_url, "u1", 1, start, "race-subjects", True),
            (db_url, "u2", 2, start, "race-subjects", True)])
    with engine.connect() as conn:
        recorded: dict[str | None, int] = dict(conn.execute(
            select(calls.c.subject, func.count()).where(calls.c.to_number == CONTACT)
            .group_by(calls.c.subject)).all())
    engine.dispose()

    assert sum(placed for placed, _ in results) == 2 * CAP
    refused = [rule for _, rules in results for rule in rules]
    assert refused == ["organization.caps[0]"] * (2 * CALLS_PER_PROCESS - 2 * CAP)
    assert recorded == dict.fromkeys(SUBJECTS, CAP)
