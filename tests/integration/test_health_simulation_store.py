"""SPEC 9, full stack: tests/simulation.py's seeded traffic model fed through the real
decision and the result use case on the store. Three of eight numbers burn; exactly they
are rested (status ``resting`` in the store) soon after their burn, the decision never
presents a resting number, every area code keeps at least half its numbers, no healthy
number is touched, and a sweep once the rest is over restores the three, warming."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from callsign.domain.health_policy import HealthPolicy
from callsign.domain.model import Decision
from callsign.domain.results import ResultSource
from callsign.services import health, results
from callsign.store.tables import number_health, number_health_events, numbers
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg
from tests.simulation import SimNumber, Traffic, call_times, outcome, pool_of

H, D = timedelta(hours=1), timedelta(days=1)
POLICY = HealthPolicy()
DAYS = 3
SEED = 13
TRAFFIC = Traffic(every=timedelta(minutes=10))
POOL = pool_of({"312": 4, "415": 4}, {"312": [10 * H, 13 * H], "415": [D + 11 * H]})


def document(pool: list[SimNumber]) -> dict[str, Any]:
    return {"org": "acme", "default_country": "US", "timezone": "America/New_York",
            "principal_number": "+12125550100", "local_presence": True,
            "numbers": [{"number": "+12125550100"}, *({"number": n.e164} for n in pool)],
            "users": [{"id": "alice"}]}


@dataclass
class Run:
    """What the driver saw: each number's calls and when it was rested."""

    presented: dict[str, list[datetime]] = field(default_factory=dict)
    rested_at: dict[str, datetime] = field(default_factory=dict)
    most_resting: dict[str, int] = field(default_factory=dict)  # per area code, ever


def statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.e164: r.status for r in conn.execute(select(numbers.c.e164, numbers.c.status))}


@pytest.fixture
def run(engine: Engine, apply_org: ApplyOrg, dial: Callable[..., Decision]) -> Run:
    """Three days of traffic: every call decided by the service, its result reported."""
    apply_org(document(POOL))
    by_number = {n.e164: n for n in POOL}
    rng, seen = random.Random(SEED), Run()
    for i, at in enumerate(call_times(DAYS, TRAFFIC)):
        for code in ("312", "415"):
            decision = dial(user="alice", to=f"+1{code}555{2000 + i % 8000:04d}", at=at,
                            seed=i)
            number = by_number[decision.caller_id]  # always one of the code's own
            assert decision.caller_id not in seen.rested_at, "a resting number presented"
            seen.presented.setdefault(number.e164, []).append(at)
            burned = number.burns_at is not None and number.burns_at <= at \
                and number.e164 not in seen.rested_at  # its label clears once rested
            result = outcome(rng, at, burned, TRAFFIC)
            results.record_result(
                UnitOfWork(engine), "acme", decision.call_id, source=ResultSource.API,
                now=at + timedelta(seconds=result.duration_s + 30),
                was_answered=result.answered, duration_s=result.duration_s,
                sip_code=result.sip_code)
            if statuses(engine)[number.e164] == "resting":
                seen.rested_at.setdefault(number.e164, at)
            resting = sum(n.area_code == code for n in POOL if n.e164 in seen.rested_at)
            seen.most_resting[code] = max(seen.most_resting.get(code, 0), resting)
    return seen


def test_exactly_the_burned_numbers_rest_soon_and_the_store_says_so(
        engine: Engine, run: Run) -> None:
    burned = {n.e164 for n in POOL if n.burns_at is not None}
    assert set(run.rested_at) == burned
    stored = statuses(engine)
    assert {e for e, s in stored.items() if s == "resting"} == burned
    for number in POOL:
        if number.burns_at is None:
            continue
        calls_after_burn = [at for at in run.presented[number.e164]
                            if number.burns_at <= at <= run.rested_at[number.e164]]
        assert 1 <= len(calls_after_burn) <= POLICY.window_calls, number.e164
    with engine.connect() as conn:
        rested_ever = set(conn.execute(
            select(numbers.c.e164).join(number_health_events,
                                        number_health_events.c.number_id == numbers.c.id)
            .where(number_health_events.c.to_state == "resting")).scalars())
    assert rested_ever == burned  # no healthy number was ever rested


def test_every_area_code_keeps_at_least_half_its_numbers(run: Run) -> None:
    share = POLICY.max_resting_share
    for code, most in run.most_resting.items():
        serving = sum(n.area_code == code for n in POOL)
        assert most <= serving * share // 100, code
    assert run.most_resting == {"312": 2, "415": 1}


def test_a_sweep_after_the_rest_restores_them_warming(engine: Engine, run: Run) -> None:
    burned = set(run.rested_at)
    last_rest = max(run.rested_at.values())
    early = health.sweep_org(UnitOfWork(engine), "acme",
                             now=min(run.rested_at.values()) + timedelta(days=6))
    assert early.changes == []

    swept = health.sweep_org(UnitOfWork(engine), "acme",
                             now=last_rest + timedelta(days=POLICY.rest_days, hours=1))

    assert {(c.number, c.from_state, c.to_state) for c in swept.changes} \
        == {(e, "resting", "warming") for e in burned}
    stored = statuses(engine)
    assert all(stored[e] == "active" for e in burned)
    with engine.connect() as conn:
        states = dict(conn.execute(select(numbers.c.e164, number_health.c.state).join(
            number_health, number_health.c.number_id == numbers.c.id)).all())
    assert {e for e, s in states.items() if s == "warming"} == burned
    assert all(states[n.e164] == "healthy" for n in POOL
               if n.e164 not in burned and n.e164 in states)
