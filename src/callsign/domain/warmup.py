"""Volume shaping (SPEC 9): the warm-up ramp and the per-minute, per-hour and per-day
limits, as a verdict on whether a number may be presented now, with the reason.

The counts are the caller's (the store counts atomically); this only judges them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from callsign.domain.health_policy import HealthPolicy
from callsign.domain.health_states import Health, HealthState


@dataclass(frozen=True)
class Usage:
    """A number's presentations in the last minute, hour and day."""

    minute: int = 0
    hour: int = 0
    day: int = 0


@dataclass(frozen=True)
class Pace:
    """Whether a number may be presented now; if not, why, in words."""

    allowed: bool
    reason: str = ""


def daily_limit(health: Health, policy: HealthPolicy, now: datetime,
                daily_cap: int | None = None) -> tuple[int, str]:
    """The calls a day this number may make, and what sets that limit."""
    limit, source = policy.per_day, "limit"
    if daily_cap is not None and daily_cap < limit:
        limit, source = daily_cap, "the number's daily cap"
    if health.state is HealthState.WARMING:
        age = max(0, (now - health.since).days)
        ramp = policy.ramp_allows(age)
        if ramp is not None and ramp < limit:
            limit, source = ramp, f"warming day {age + 1} of {policy.ramp_days}"
    return limit, source


def pace(health: Health, usage: Usage, policy: HealthPolicy, now: datetime,
         daily_cap: int | None = None, *, paused: bool = False) -> Pace:
    """May the number be presented now? Paused or resting never; else within limits."""
    if paused:
        return Pace(False, "paused")
    if health.state is HealthState.RESTING:
        return Pace(False, health.summary())
    if usage.minute >= policy.per_minute:
        return Pace(False, f"{usage.minute} calls in the last minute "
                           f"(limit {policy.per_minute})")
    if usage.hour >= policy.per_hour:
        return Pace(False, f"{usage.hour} calls in the last hour (limit {policy.per_hour})")
    limit, source = daily_limit(health, policy, now, daily_cap)
    if usage.day >= limit:
        return Pace(False, f"{usage.day} calls in the last day ({source}: {limit})")
    return Pace(True)
