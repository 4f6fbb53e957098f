"""SPEC 9 in the decision: a number passed over for its health or its volume says why.

The pure core decides from facts: each number's health, its last presentations and
today's count, and the organization's policy with the decision's time (``Shaping``).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

from callsign.domain.health_policy import HealthPolicy
from callsign.domain.health_states import Health, HealthState
from callsign.domain.model import (
    Decision,
    NumberState,
    NumberStatus,
    OutboundFacts,
    ProjectPolicy,
)
from callsign.domain.outbound import decide_outbound, why_not_presentable
from callsign.domain.warmup import Limits, Shaping
from tests.strategies import NOW, PRINCIPAL
from tests.unit.test_outbound import CHICAGO, CHICAGO_2, REQUEST, facts

LOCAL = replace(facts().org, local_presence=True, health=HealthPolicy(shaping=True))
SHAPING = Shaping(LOCAL.health, NOW)
BURNED = Health(HealthState.RESTING, datetime(2026, 11, 28, 9, 0, tzinfo=NOW.tzinfo), 0,
                ("answer rate 4% over the last 50 calls",))


def local(*numbers: NumberState | str, **changes: object) -> OutboundFacts:
    return facts(*numbers, **{"org": LOCAL, "shaping": SHAPING, **changes})


def decide(f: OutboundFacts) -> Decision:
    return decide_outbound(REQUEST, f, random.Random(1), NOW)


def passed(decision: Decision) -> list[tuple[str, str | None]]:
    """The passed lines after the first (the user's caller ID serves another area)."""
    return [(s.detail, s.number) for s in decision.trace
            if s.result == "passed" and s.step != "agent_area_code"]


def ago(*seconds: float) -> tuple[datetime, ...]:
    return tuple(NOW - timedelta(seconds=s) for s in seconds)


def test_a_number_health_rests_is_passed_over_saying_since_when_and_why() -> None:
    resting = NumberState(CHICAGO, status=NumberStatus.RESTING, health=BURNED)
    decision = decide(local(resting, CHICAGO_2))

    assert decision.caller_id == CHICAGO_2
    assert passed(decision) == [
        ("is resting since 11-28: answer rate 4% over the last 50 calls", CHICAGO)]


def test_a_number_rested_by_hand_says_only_that_it_is_resting() -> None:
    by_hand = NumberState(CHICAGO, status=NumberStatus.RESTING)
    assert why_not_presentable(local(by_hand), CHICAGO) == "is resting"
    assert passed(decide(local(by_hand, CHICAGO_2))) == []


def test_a_number_at_its_minute_limit_is_throttled() -> None:
    busy = NumberState(CHICAGO, used_today=3, recent=ago(1, 20, 59.9))
    decision = decide(local(busy, CHICAGO_2))

    assert decision.caller_id == CHICAGO_2
    assert passed(decision) == [
        ("is throttled: 3 calls in the last minute, limit 3/min", CHICAGO)]


def test_a_presentation_a_minute_old_is_out_of_the_minute() -> None:
    spaced = NumberState(CHICAGO, used_today=3, recent=ago(1, 20, 60))
    assert why_not_presentable(local(spaced), CHICAGO) is None


def test_a_number_at_its_hour_limit_is_throttled() -> None:
    busy = NumberState(CHICAGO, used_today=15, recent=ago(*range(120, 120 + 15 * 200, 200)))
    assert why_not_presentable(local(busy), CHICAGO) \
        == "is throttled: 15 calls in the last hour, limit 15/h"


def test_a_number_at_the_policys_daily_limit_is_throttled() -> None:
    full = NumberState(CHICAGO, used_today=100, recent=ago(7200))
    assert why_not_presentable(local(full), CHICAGO) \
        == "is throttled: 100 calls today, limit 100/day"


def test_a_warming_number_with_todays_allowance_used_says_its_day_of_the_ramp() -> None:
    warming = Health(HealthState.WARMING, NOW - timedelta(days=3, hours=2))
    full = NumberState(CHICAGO, used_today=10, recent=ago(7200), health=warming)
    decision = decide(local(full, CHICAGO_2))

    assert decision.caller_id == CHICAGO_2
    assert passed(decision) == [("is warming: day 4 of 21, 10 of 10 calls today", CHICAGO)]
    assert why_not_presentable(local(replace(full, used_today=9)), CHICAGO) is None


def test_a_pool_number_passed_over_for_its_volume_is_in_the_pools_trace() -> None:
    busy = NumberState(CHICAGO, recent=ago(1, 2, 3))
    pool = ProjectPolicy(id="renewals", pool=(CHICAGO, CHICAGO_2))
    decision = decide(local(busy, CHICAGO_2, project=pool))

    assert decision.caller_id == CHICAGO_2
    assert ("pool", "passed", "pool number is throttled: 3 calls in the last minute, "
            "limit 3/min", CHICAGO) in [(s.step, s.result, s.detail, s.number)
                                        for s in decision.trace]


def test_when_every_local_number_is_passed_over_the_principal_answers_with_the_reasons(
) -> None:
    resting = NumberState(CHICAGO, status=NumberStatus.RESTING, health=BURNED)
    busy = NumberState(CHICAGO_2, recent=ago(5, 6, 7))
    decision = decide(local(resting, busy))

    assert decision.caller_id == PRINCIPAL
    assert passed(decision)[:3] == [
        ("is resting since 11-28: answer rate 4% over the last 50 calls", CHICAGO),
        ("is throttled: 3 calls in the last minute, limit 3/min", CHICAGO_2),
        ("no presentable number serves area code 312", None)]


def test_with_shaping_off_only_health_rests_pass_numbers_over() -> None:
    off = Shaping(HealthPolicy(shaping=False), NOW)
    busy = NumberState(CHICAGO, used_today=500, recent=ago(*range(50)))
    assert why_not_presentable(local(busy, shaping=off), CHICAGO) is None
    assert off.limits(None) == Limits(3, 15, 100, enforced=False)


def test_a_claim_is_limited_by_the_ramp_while_warming_and_by_the_policy_after() -> None:
    warming = Health(HealthState.WARMING, NOW - timedelta(days=8))
    assert SHAPING.limits(warming) == Limits(3, 15, 20)
    assert SHAPING.limits(replace(warming, since=NOW - timedelta(days=21))) \
        == Limits(3, 15, 100)
    assert SHAPING.limits(None) == Limits(3, 15, 100)


def test_a_number_health_rested_then_made_active_by_hand_warms_up_from_now() -> None:
    """Health records the manual change on its next judgement; the decision meanwhile
    treats it as warming from day 1, never as resting."""
    resumed = NumberState(CHICAGO, used_today=10, health=BURNED)
    assert why_not_presentable(local(resumed), CHICAGO) \
        == "is warming: day 1 of 21, 10 of 10 calls today"
    assert SHAPING.limits(BURNED).per_day == 10


def test_presentations_out_of_time_order_never_let_the_decision_pick_what_the_claim_refuses(
) -> None:
    """Servers' clocks differ a little: the presentation kept last can be older than the
    one before it. The claim tests the limit-th presentation kept (here the 3rd, 30 s
    old: in the minute); the decision agrees, though only 2 are within the minute."""
    skewed = NumberState(CHICAGO, recent=ago(61, 10, 30))
    assert why_not_presentable(local(skewed), CHICAGO) \
        == "is throttled: 3 calls in the last minute, limit 3/min"
    assert why_not_presentable(local(replace(skewed, recent=ago(10, 30, 61))), CHICAGO) is None
