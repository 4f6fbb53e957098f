"""Daily caps count each calendar day on its own; a lost rotation turn never fails a call.

A decision dated another day (a node whose clock runs ahead at midnight, a replay with
``--at``) counts on that day's row and leaves today's count alone. A rotating decision
whose number keeps being presented by concurrent calls takes the next one out of turn.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, select, update

from callsign.domain.model import OutboundFacts, OutboundRequest
from callsign.services import calls
from callsign.services import numbers as numbers_service
from callsign.store.calls import SqlCalls
from callsign.store.tables import number_usage, numbers
from callsign.store.uow import UnitOfWork

CAP = 20
CAPPED = "+13125550101"
PRINCIPAL = "+12125550100"
TODAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 09:00 in Chicago
TOMORROW = TODAY + timedelta(days=1)
ROTATION = ["+13125550111", "+13125550112", "+13125550113"]


def org(numbers_: list[dict[str, Any]]) -> dict[str, Any]:
    return {"org": "acme", "timezone": "America/Chicago", "principal_number": PRINCIPAL,
            "local_presence": True, "numbers": [{"number": PRINCIPAL}, *numbers_],
            "users": [{"id": "alice"}]}


def place(engine: Engine, to: str, at: datetime) -> Any:
    request = OutboundRequest(org="acme", user="alice", to=to)
    return calls.place_call(UnitOfWork(engine), request, now=at, rng=random.Random(0))


def usage_by_day(engine: Engine, e164: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(number_usage.c.day, number_usage.c.used)
                            .join_from(number_usage, numbers)
                            .where(numbers.c.e164 == e164)).all()
    return {str(day): int(used) for day, used in rows}


def test_decisions_dated_tomorrow_never_reset_todays_count(apply_org: Any,
                                                           engine: Engine) -> None:
    """Today and tomorrow interleaved on one number capped at 20: exactly 20 each day.

    Before usage was counted per day, each decision dated tomorrow reset the number's
    single counter, and today's calls presented it far past its cap.
    """
    apply_org(org([{"number": CAPPED, "daily_cap": CAP}]))
    presented: dict[str, Counter[str]] = {"today": Counter(), "tomorrow": Counter()}
    for i in range(2 * CAP + 10):
        for name, day in (("today", TODAY), ("tomorrow", TOMORROW)):
            at = day + timedelta(seconds=i)
            decision = place(engine, f"+1312555{2000 + i}", at)
            presented[name][decision.caller_id] += 1

    assert presented["today"] == {CAPPED: CAP, PRINCIPAL: CAP + 10}
    assert presented["tomorrow"] == {CAPPED: CAP, PRINCIPAL: CAP + 10}
    assert usage_by_day(engine, CAPPED) == {"2026-03-02": CAP, "2026-03-03": CAP}
    listed = numbers_service.list_numbers(UnitOfWork(engine), "acme", now=TODAY)
    assert {v.number: v.used_today for v in listed} == {CAPPED: CAP, PRINCIPAL: CAP + 10}


def test_a_late_decision_of_yesterday_counts_on_yesterday(apply_org: Any,
                                                          engine: Engine) -> None:
    """A decision dated the day before (a clock behind) neither resets nor adds to today."""
    apply_org(org([{"number": CAPPED, "daily_cap": 2}]))
    assert place(engine, "+13125552000", TODAY).caller_id == CAPPED
    assert place(engine, "+13125552001", TODAY - timedelta(days=1)).caller_id == CAPPED
    assert place(engine, "+13125552002", TODAY).caller_id == CAPPED
    assert place(engine, "+13125552003", TODAY).caller_id == PRINCIPAL

    assert usage_by_day(engine, CAPPED) == {"2026-03-01": 1, "2026-03-02": 2}


def test_a_call_whose_turns_are_taken_presents_a_number_out_of_turn(
    apply_org: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every read is followed by another call presenting the numbers read (in the same
    transaction, as a concurrent server would between read and claim): after three lost
    turns the call takes the least recently presented number out of turn, and says so.

    Before, the call re-decided eight times and failed with 409.
    """
    apply_org(org([{"number": n} for n in ROTATION]))
    gather = calls._gather
    reads = 0

    def gather_then_lose_the_turn(store: SqlCalls, *args: Any) -> OutboundFacts:
        nonlocal reads
        facts = gather(store, *args)
        reads += 1
        # Another call presents every number after it was read; times keep their order.
        store.conn.execute(update(numbers).where(numbers.c.e164 == bindparam("n"))
                     .values(last_presented_at=bindparam("t")),
                     [{"t": TODAY - timedelta(minutes=10 - i) + timedelta(seconds=reads),
                       "n": n} for i, n in enumerate(ROTATION)])
        return facts

    monkeypatch.setattr(calls, "_gather", gather_then_lose_the_turn)
    decision = place(engine, "+13125552000", TODAY)

    assert reads == calls.MAX_LOST_TURNS + 1
    assert decision.rule == "local_presence"
    assert decision.caller_id == ROTATION[0]  # the least recently presented as last read
    out_of_turn = [s for s in decision.trace if s.step == "rotation"]
    assert [(s.result, s.detail, s.number) for s in out_of_turn] == [
        ("checked", f"took {ROTATION[0]} out of turn: 3 concurrent calls took the turns of "
         "the numbers chosen before", ROTATION[0])]
    assert usage_by_day(engine, ROTATION[0]) == {"2026-03-02": 1}
    assert all(usage_by_day(engine, n) in ({}, {"2026-03-02": 0}) for n in ROTATION[1:])


def test_a_call_taking_its_turn_says_nothing_of_rotation(apply_org: Any,
                                                         engine: Engine) -> None:
    """Uncontended, rotation claims in turn and the trace has no out-of-turn step."""
    apply_org(org([{"number": n} for n in ROTATION]))
    decisions = [place(engine, f"+1312555{2000 + i}", TODAY + timedelta(seconds=i))
                 for i in range(6)]

    assert Counter(d.caller_id for d in decisions) == dict.fromkeys(ROTATION, 2)
    assert not [s for d in decisions for s in d.trace if s.step == "rotation"]
