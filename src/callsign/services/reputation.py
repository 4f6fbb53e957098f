"""Reputation labels as a service (SPEC 9): import scan results, pull them through a
feed, and re-judge each labelled number's health in the same transaction.

An import is all or nothing: every row is checked first (its number, engine or carrier,
label and time; the number must be one the organization holds), every problem named by
its row and column, and nothing is stored if any row is wrong. Then each reading is
stored with its history and each number it labels is judged afresh
(``services.health.judge``): a flag the policy names (``rest_on_flag``) rests it, with
the coverage guard, and a clean re-check restores it (``flag_restore``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from callsign.domain import scans
from callsign.domain.errors import InvalidScan, ProviderError
from callsign.domain.reputation import Label
from callsign.services import health
from callsign.services.ports import ReputationFeed
from callsign.store import health as health_store
from callsign.store import orgs as org_store
from callsign.store import reputation as store
from callsign.store.uow import Connection, UnitOfWork

CSV, API = "csv", "api"  # the sources of imported labels (a feed's: "feed:NAME")


@dataclass(frozen=True)
class LabelReport:
    """What an import or a scan stored, and the health changes it made."""

    labels: int
    numbers: int
    changes: list[health.Change] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "numbers": self.numbers,
                "changes": [c.as_dict() for c in self.changes]}


def import_csv(uow: UnitOfWork, org: str, text: str, *, now: datetime,
               source: str = CSV) -> LabelReport:
    """Import a CSV scan (``number, engine|carrier, label, checked_at``) for ``org``."""
    return _import(uow, org, lambda context: scans.parse_csv(text, context), now, source)


def import_rows(uow: UnitOfWork, org: str, rows: Any, *, now: datetime,
                source: str = API) -> LabelReport:
    """Import a scan given as a list of objects with the CSV's columns as keys."""
    return _import(uow, org, lambda context: scans.parse_rows(rows, context), now, source)


def _import(uow: UnitOfWork, org: str, parse: Any, now: datetime,
            source: str) -> LabelReport:
    with uow:
        conn = uow.connection
        org_row = org_store.org_row(conn, org)
        context = scans.ScanContext(org_row.default_country, org_row.timezone, now, source)
        rows: list[scans.ScanRow] = parse(context)
        ids = store.held(conn, org_row.id, {row.number for row in rows})
        problems = [(f"{row.where}, column number" if row.where.startswith("row")
                     else f"{row.where}.number",
                     f"{row.number} is not a number of organization {org!r}")
                    for row in rows if row.number not in ids]
        if problems:
            raise InvalidScan(problems)
        report = _store_and_judge(conn, org_row.id, [(r.number, r.label) for r in rows],
                                  ids, now)
        uow.commit()
    return report


def _store_and_judge(conn: Connection, org_id: int, readings: Sequence[tuple[str, Label]],
                     ids: dict[str, int], now: datetime) -> LabelReport:
    store.add(conn, org_id, [(ids[number], label) for number, label in readings], at=now)
    labelled = sorted({number for number, _ in readings})
    changes = []
    for number in labelled:
        before = store_state(conn, org_id, number) or "healthy"  # never judged: healthy
        after = health.judge(conn, org_id, number, now, source=health.FEED)
        if after is not None and after.state.value != before:
            changes.append(health.Change(number, before, after.state.value, after.reasons))
    return LabelReport(len(readings), len(labelled), changes)


def store_state(conn: Connection, org_id: int, e164: str) -> str | None:
    """The number's stored health state (None: never judged)."""
    row = health_store.number(conn, org_id, e164)
    return None if row is None or row.state is None else str(row.state)


def scan(uow: UnitOfWork, org: str, feed: ReputationFeed, *, now: datetime) -> LabelReport:
    """Pull the labels of every number the organization holds through ``feed``; store
    them and judge each labelled number."""
    with uow:
        conn = uow.connection
        org_id = org_store.org_row(conn, org).id
        numbers = [row.e164 for row in health_store.numbers_of(conn, org_id)]
    readings = feed.fetch(numbers) if numbers else []  # no transaction held meanwhile
    found, asked = [], set(numbers)
    for number, label in readings:
        if number not in asked:
            raise ProviderError(f"the reputation feed answered for {number}, which was "
                                "not asked for", field="feed")
        # A scanner's clock ahead of ours: the reading counts as of now.
        found.append((number, replace(label, checked_at=min(label.checked_at, now))))
    with uow:
        conn = uow.connection
        org_id = org_store.org_row(conn, org).id
        ids = store.held(conn, org_id, {number for number, _ in found})
        kept = [(number, label) for number, label in found if number in ids]
        report = _store_and_judge(conn, org_id, kept, ids, now)
        uow.commit()
    return report

