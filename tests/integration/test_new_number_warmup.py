"""SPEC 9: a new number warms up over the ramp from the day it was added, on SQLite and
PostgreSQL; a number held before added times were kept counts as old.

The ramp's default: 10 calls a day for the first 7 days. A number added by any path
(the org file, REST, the CLI, a purchase) records when; the decision reads it with the
candidates and passes the number over, saying so, once the day's ramp is used.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from callsign.domain.model import OutboundRequest
from callsign.domain.results import ResultSource
from callsign.providers.base import ProviderSettings
from callsign.services import calls as calls_service
from callsign.services import health as health_service
from callsign.services import numbers as numbers_service
from callsign.services import purchasing, results
from callsign.store.tables import number_health, numbers
from callsign.store.uow import UnitOfWork

ADDED = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
DAY_3 = ADDED + timedelta(days=2, hours=3)
LOCAL = "+13125550101"
PRINCIPAL = "+12125550100"


def org(**health: Any) -> dict[str, Any]:
    return {"org": "ramp", "principal_number": PRINCIPAL, "local_presence": True,
            "numbers": [{"number": PRINCIPAL}], "users": [{"id": "u1"}],
            "health": {"shaping": True, "per_minute": 100, "per_hour": 1000, **health}}


def place(engine: Engine, at: datetime, to: str = "+13125551999") -> Any:
    request = OutboundRequest(org="ramp", user="u1", to=to)
    return calls_service.place_call(UnitOfWork(engine), request, now=at,
                                    rng=random.Random(0))


def added_at(engine: Engine, e164: str) -> datetime | None:
    with engine.connect() as conn:
        value = conn.execute(select(numbers.c.added_at).where(numbers.c.e164 == e164)).scalar()
    return value


def test_a_number_added_three_days_ago_is_presented_ten_times_a_day_and_the_trace_says_why(
        engine: Engine, apply_org: Any) -> None:
    apply_org(org())
    numbers_service.add_number(UnitOfWork(engine), "ramp", LOCAL, now=ADDED)
    assert added_at(engine, LOCAL) == ADDED

    chosen = [place(engine, DAY_3).caller_id for _ in range(11)]
    assert chosen == [LOCAL] * 10 + [PRINCIPAL]
    passed = place(engine, DAY_3)
    assert passed.caller_id == PRINCIPAL
    assert ("local_presence", "passed",
            "is warming: added 11-28, day 3 of the ramp: 10 calls a day (10 today)",
            LOCAL) in [(s.step, s.result, s.detail, s.number) for s in passed.trace]
    # The next day's allowance is the ramp's again.
    assert place(engine, DAY_3 + timedelta(days=1)).caller_id == LOCAL


def test_past_the_ramp_or_held_before_added_times_a_number_is_not_warming(
        engine: Engine, apply_org: Any) -> None:
    apply_org(org())
    numbers_service.add_number(UnitOfWork(engine), "ramp", LOCAL, now=ADDED)
    after_ramp = ADDED + timedelta(days=21, hours=1)  # the default ramp: 3 × 7 days
    assert [place(engine, after_ramp).caller_id for _ in range(12)] == [LOCAL] * 12

    with engine.begin() as conn:  # as migration 0016 leaves a number held before it
        conn.execute(update(numbers).where(numbers.c.e164 == LOCAL).values(added_at=None))
    later = DAY_3 + timedelta(days=2)
    assert [place(engine, later).caller_id for _ in range(12)] == [LOCAL] * 12


def test_health_judges_a_new_number_as_warming_from_the_day_it_was_added(
        engine: Engine, apply_org: Any) -> None:
    apply_org(org())
    numbers_service.add_number(UnitOfWork(engine), "ramp", LOCAL, now=ADDED)
    decision = place(engine, DAY_3)
    results.record_result(UnitOfWork(engine), "ramp", decision.call_id,
                          source=ResultSource.API, now=DAY_3, was_answered=True, duration_s=60)
    with engine.connect() as conn:
        state, since, reasons = conn.execute(
            select(number_health.c.state, number_health.c.since, number_health.c.reasons)
            .join(numbers, numbers.c.id == number_health.c.number_id)
            .where(numbers.c.e164 == LOCAL)).one()
    assert (state, since) == ("warming", ADDED)
    assert "warming day 3 of 21: 10 calls a day" in reasons
    # Judged, it is still passed over for its ramp, and the trace still says "added".
    for _ in range(9):
        place(engine, DAY_3)
    passed = place(engine, DAY_3)
    assert passed.caller_id == PRINCIPAL
    assert any("warming: added 11-28, day 3 of the ramp" in s.detail for s in passed.trace)
    view = health_service.number_health(UnitOfWork(engine), "ramp", LOCAL, now=DAY_3)
    assert view["state"] == "warming"


def test_the_org_file_records_when_it_added_a_number(engine: Engine, apply_org: Any) -> None:
    before = datetime.now(UTC)
    document = org()
    apply_org(document)
    document["numbers"].append({"number": LOCAL})
    apply_org(document)
    first, second = added_at(engine, PRINCIPAL), added_at(engine, LOCAL)
    assert first is not None
    assert second is not None
    assert before <= first <= second
    apply_org(document)  # applied again: the number is not added again
    assert added_at(engine, LOCAL) == second


def test_a_bought_number_records_the_purchase_time_and_warms_up(
        engine: Engine, apply_org: Any) -> None:
    apply_org(org())
    bought = purchasing.purchase(lambda: UnitOfWork(engine), "ramp", "312", 1, "sandbox",
                                 now=ADDED, settings=ProviderSettings())
    assert len(bought.bought) == 1
    assert added_at(engine, bought.bought[0]) == ADDED
    chosen = [place(engine, DAY_3).caller_id for _ in range(11)]
    assert chosen == [bought.bought[0]] * 10 + [PRINCIPAL]
