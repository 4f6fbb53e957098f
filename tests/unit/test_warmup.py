"""SPEC 9: the warm-up ramp and the per-minute, per-hour and per-day limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callsign.domain.health_policy import HealthPolicy, RampStep
from callsign.domain.health_states import Health, HealthState
from callsign.domain.warmup import Pace, Usage, daily_limit, pace

T0 = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
POLICY = HealthPolicy()
HEALTHY = Health(HealthState.HEALTHY, T0 - timedelta(days=60))


@pytest.mark.parametrize(("age", "allowed"), [
    (0, 10), (6, 10), (7, 20), (13, 20), (14, 30), (20, 30), (21, None), (400, None)])
def test_the_default_ramp_is_10_20_30_a_day_for_7_days_each(age: int,
                                                           allowed: int | None) -> None:
    assert POLICY.ramp_allows(age) == allowed


def test_a_policy_without_a_ramp_allows_the_normal_limit_from_day_one() -> None:
    assert HealthPolicy(ramp=()).ramp_allows(0) is None


@pytest.mark.parametrize(("days", "limit", "source"), [
    (0, 10, "warming day 1 of 21"), (9, 20, "warming day 10 of 21"),
    (15, 30, "warming day 16 of 21"), (21, 100, "limit")])
def test_a_warming_numbers_daily_limit_follows_the_ramp(days: int, limit: int,
                                                        source: str) -> None:
    warming = Health(HealthState.WARMING, T0)
    assert daily_limit(warming, POLICY, T0 + timedelta(days=days, hours=3)) == (limit, source)


def test_the_numbers_own_daily_cap_applies_when_lower() -> None:
    assert daily_limit(HEALTHY, POLICY, T0, daily_cap=40) == (40, "the number's daily cap")
    assert daily_limit(Health(HealthState.WARMING, T0), POLICY, T0, daily_cap=40) \
        == (10, "warming day 1 of 21")


@pytest.mark.parametrize(("usage", "expected"), [
    (Usage(2, 14, 99), Pace(True)),
    (Usage(3, 3, 3), Pace(False, "throttled: 3 calls in the last minute, limit 3/min")),
    (Usage(0, 15, 15), Pace(False, "throttled: 15 calls in the last hour, limit 15/h")),
    (Usage(0, 0, 100), Pace(False, "throttled: 100 calls today, limit 100/day"))])
def test_a_healthy_number_is_paced_per_minute_hour_and_day(usage: Usage,
                                                           expected: Pace) -> None:
    assert pace(HEALTHY, usage, POLICY, T0) == expected


def test_a_warming_number_is_held_to_its_ramp() -> None:
    warming = Health(HealthState.WARMING, T0)
    now = T0 + timedelta(days=2)
    assert pace(warming, Usage(day=9), POLICY, now).allowed
    assert pace(warming, Usage(day=10), POLICY, now) == Pace(
        False, "warming: day 3 of 21, 10 of 10 calls today")


def test_resting_and_paused_numbers_are_never_presented() -> None:
    resting = Health(HealthState.RESTING, T0, 0, ("608 Rejected on 11-28 (an analytics "
                                                  "engine rejected the call)",))
    assert pace(resting, Usage(), POLICY, T0) == Pace(
        False, "resting since 11-28: 608 Rejected on 11-28 (an analytics engine rejected "
               "the call)")
    assert pace(HEALTHY, Usage(), POLICY, T0, paused=True) == Pace(False, "paused")


def test_a_custom_ramp_is_followed_step_by_step() -> None:
    policy = HealthPolicy(ramp=(RampStep(2, 5), RampStep(1, 50)))
    assert [policy.ramp_allows(age) for age in range(4)] == [5, 5, 50, None]
