"""A month of realistic outbound traffic for the demo organization, written straight into
a server's store, for the health pages: most numbers answer a third of their calls; two
burn five days ago (Chicago 2 and Newark 2: their answer rate collapses, short calls and
603/607/608 appear). Then the organization's sweep (the real service, through the API)
rests what it finds burned.

Seeded, so every run writes the same calls relative to the day it runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, insert, select
from sqlalchemy.pool import NullPool

from callsign.store.tables import calls, number_health, number_health_events, numbers, orgs

DAYS = 30
BURN_DAYS = 5  # the burned numbers collapse this many days ago


@dataclass(frozen=True)
class Traffic:
    number: str
    per_day: int
    rules: tuple[str, ...]
    answer_rate: float = 0.34
    burned: bool = False


ACME = (
    Traffic("+12125550100", 6, ("principal",), 0.30),
    Traffic("+13125550101", 46, ("user_caller_id", "local_presence")),
    Traffic("+13125550102", 40, ("regionally_random", "local_presence"), burned=True),
    Traffic("+16305550142", 24, ("local_presence", "local_presence_region"), 0.38),
    Traffic("+14155550105", 34, ("user_caller_id", "local_presence"), 0.29),
    Traffic("+12015550106", 38, ("regionally_random", "outcome_number"), 0.36),
    Traffic("+12015550107", 36, ("regionally_random", "different_each_attempt"), burned=True),
)
BURNED = [t.number for t in ACME if t.burned]


def _result(rng: random.Random, traffic: Traffic, burning: bool) -> dict[str, Any]:
    rate = 0.05 if burning else traffic.answer_rate
    if rng.random() < rate:
        short = rng.random() < (0.4 if burning else 0.06)
        return {"answered": True, "duration_s": rng.randint(1, 5) if short
                else rng.randint(25, 420), "sip_code": 200, "failure_class": "answered"}
    if burning and rng.random() < 0.3:
        return {"answered": False, "duration_s": 0, "sip_code": rng.choice((603, 607, 608)),
                "failure_class": "rejected_by_analytics"}
    code = rng.choice((480, 480, 480, 486, 487))
    kind = {480: "no_answer", 486: "busy", 487: "cancelled"}[code]
    return {"answered": False, "duration_s": 0, "sip_code": code, "failure_class": kind}


def seed(db_url: str, now: datetime, slug: str = "acme") -> None:
    """Write the month's calls and the health the numbers had before the burn."""
    rng = random.Random(13)
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            org_id = conn.execute(select(orgs.c.id).where(orgs.c.slug == slug)).scalar_one()
            ids = dict(conn.execute(select(numbers.c.e164, numbers.c.id).where(
                numbers.c.org_id == org_id, numbers.c.status != "released")).all())
            rows = list(_calls(rng, org_id, now))
            conn.execute(insert(calls), rows)
            for traffic in ACME:
                _history(conn, org_id, ids[traffic.number], traffic, now)
    finally:
        engine.dispose()


def _calls(rng: random.Random, org_id: int, now: datetime) -> Any:
    count = 0
    for day in range(DAYS, 0, -1):
        start = now - timedelta(days=day)
        for traffic in ACME:
            burning = traffic.burned and day <= BURN_DAYS
            for _ in range(max(traffic.per_day + rng.randint(-6, 6), 0)):
                at = start + timedelta(seconds=rng.randint(0, 86_399))
                count += 1
                yield {"id": f"seed{count:07d}", "org_id": org_id, "at": at,
                       "user_key": rng.choice(("alice", "bob", "carol")),
                       "to_number": f"+1{rng.choice(('312', '415', '201', '630', '773'))}"
                                    f"555{rng.randint(0, 9999):04d}",
                       "caller_id": traffic.number, "rule": rng.choice(traffic.rules),
                       "channel": "dialer", "trace": [],
                       "result_at": at + timedelta(minutes=2), "result_source": "api",
                       **_result(rng, traffic, burning)}


def _history(conn: Any, org_id: int, number_id: int, traffic: Traffic, now: datetime) -> None:
    """Judged healthy a month ago; the burned ones watched since the day after the burn."""
    first = now - timedelta(days=DAYS - 2)
    events: list[tuple[datetime, str | None, str, str]] = [
        (first, None, "healthy", "first judged: score 100")]
    state, since, score, reasons = "healthy", first, 100, []
    if traffic.burned:
        since = now - timedelta(days=BURN_DAYS - 1)
        why = "score 64 (watch below 70): answer rate 13% over the last 50 calls (bound 15%)"
        events.append((since, "healthy", "watch", why))
        state, score, reasons = "watch", 64, [why]
    conn.execute(insert(number_health).values(
        number_id=number_id, org_id=org_id, state=state, score=score, reasons=reasons,
        since=since, updated_at=since))
    for at, from_state, to_state, reason in events:
        conn.execute(insert(number_health_events).values(
            org_id=org_id, number_id=number_id, from_state=from_state, to_state=to_state,
            reason=reason, at=at, source="automatic"))


def utc_now() -> datetime:
    return datetime.now(UTC)
