"""Volume shaping (SPEC 9): the warm-up ramp and the per-minute, per-hour and per-day
limits, as a verdict on whether a number may be presented now, with the reason.

The counts are the caller's (the store counts atomically); this only judges them, and
says what a claim of the number must stay within (``Limits``), so that the store's test
and this one agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from callsign.domain.health import day
from callsign.domain.health_policy import HealthPolicy
from callsign.domain.health_states import Health, HealthState, new_number

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
# A number added a little "after" the decision's time (servers' clocks differ a little)
# still counts as new; one added long after (a replayed time) does not.
CLOCK_SKEW = timedelta(minutes=5)


def is_new(added_at: datetime | None, policy: HealthPolicy, now: datetime) -> bool:
    """Was the number added recently enough to be on its warm-up ramp? (None: added
    before added times were kept, an old number.)"""
    return added_at is not None and added_at - CLOCK_SKEW <= now \
        and now < added_at + timedelta(days=policy.ramp_days)


def as_added(health: Health | None, added_at: datetime | None, policy: HealthPolicy,
             now: datetime) -> Health | None:
    """The health of a number never judged, as its added time makes it: warming from
    the day it was added while that is recent, else unchanged (None: healthy)."""
    if health is None and added_at is not None and is_new(added_at, policy, now):
        return new_number(min(added_at, now))
    return health


@dataclass(frozen=True)
class Usage:
    """A number's presentations in the last minute and hour, and today (the
    organization's calendar day, as for the daily cap)."""

    minute: int = 0
    hour: int = 0
    day: int = 0


def usage_of(recent: Iterable[datetime], today: int, now: datetime, *,
             per_minute: int | None = None, per_hour: int | None = None) -> Usage:
    """The usage of a number presented at ``recent`` (its last presentations, newest
    first), ``today`` times today: a presentation counts in the last minute while ``now``
    is less than a minute after it (likewise the hour).

    With the limits: the store lets a claim in only if the limit-th presentation kept is
    out of the window. Kept in the order they were made, presentations of servers whose
    times differ a little are not quite in time order, so that test can refuse where the
    count would not: such a count reads as the limit, and the decision never picks a
    number its claim would refuse (it would read and decide again, without end)."""
    times = list(recent)
    minute = sum(t > now - MINUTE for t in times)
    hour = sum(t > now - HOUR for t in times)
    if per_minute is not None and len(times) >= per_minute \
            and times[per_minute - 1] > now - MINUTE:
        minute = max(minute, per_minute)
    if per_hour is not None and len(times) >= per_hour and times[per_hour - 1] > now - HOUR:
        hour = max(hour, per_hour)
    return Usage(minute, hour, today)


@dataclass(frozen=True)
class Pace:
    """Whether a number may be presented now; if not, why, in words."""

    allowed: bool
    reason: str = ""


@dataclass(frozen=True)
class DayLimit:
    """The calls a number may make today and what sets that: the policy's ``limit``, the
    number's daily ``cap``, or the warm-up ``ramp`` (on day ``day`` of ``days``)."""

    calls: int
    source: str
    day: int = 0
    days: int = 0


def day_limit(health: Health, policy: HealthPolicy, now: datetime,
              daily_cap: int | None = None) -> DayLimit:
    """The calls a day this number may make, and what sets that limit."""
    limit = DayLimit(policy.per_day, "limit")
    if daily_cap is not None and daily_cap < limit.calls:
        limit = DayLimit(daily_cap, "cap")
    if health.state is HealthState.WARMING:
        age = max(0, (now - health.since).days)
        ramp = policy.ramp_allows(age)
        if ramp is not None and ramp < limit.calls:
            limit = DayLimit(ramp, "ramp", age + 1, policy.ramp_days)
    return limit


def daily_limit(health: Health, policy: HealthPolicy, now: datetime,
                daily_cap: int | None = None) -> tuple[int, str]:
    """The calls a day this number may make, and what sets that limit, in words."""
    limit = day_limit(health, policy, now, daily_cap)
    words = {"limit": "limit", "cap": "the number's daily cap"}
    return limit.calls, words.get(limit.source, f"warming day {limit.day} of {limit.days}")


def live_after(policy: HealthPolicy, now: datetime) -> datetime | None:
    """With one live call per number: a call presented at or before this is no longer
    live, result or not (None: the option is off)."""
    if not policy.one_live_call:
        return None
    return now - timedelta(minutes=policy.live_call_minutes)


def pace(health: Health, usage: Usage, policy: HealthPolicy, now: datetime,
         daily_cap: int | None = None, *, paused: bool = False,
         added_at: datetime | None = None, live_since: datetime | None = None) -> Pace:
    """May the number be presented now? Paused or resting never; else within limits.
    ``added_at``: when the number was added (a new number's ramp says so);
    ``live_since``: its last call without a result yet (one live call per number)."""
    if paused:
        return Pace(False, "paused")
    if health.state is HealthState.RESTING:
        return Pace(False, health.summary())
    after = live_after(policy, now)
    if after is not None and live_since is not None and live_since > after:
        return Pace(False, f"on a live call since {live_since:%H:%M} UTC (one live call "
                           f"per number; no result yet, held up to "
                           f"{policy.live_call_minutes} min)")
    if usage.minute >= policy.per_minute:
        return Pace(False, f"throttled: {usage.minute} calls in the last minute, "
                           f"limit {policy.per_minute}/min")
    if usage.hour >= policy.per_hour:
        return Pace(False, f"throttled: {usage.hour} calls in the last hour, "
                           f"limit {policy.per_hour}/h")
    limit = day_limit(health, policy, now, daily_cap)
    if usage.day < limit.calls:
        return Pace(True)
    if limit.source == "ramp" and added_at is not None and health.since <= added_at:
        return Pace(False, f"warming: added {day(added_at)}, day {limit.day} of the ramp: "
                           f"{limit.calls} calls a day ({usage.day} today)")
    if limit.source == "ramp":
        return Pace(False, f"warming: day {limit.day} of {limit.days}, "
                           f"{usage.day} of {limit.calls} calls today")
    if limit.source == "cap":
        return Pace(False, f"reached its daily cap ({usage.day}/{limit.calls})")
    return Pace(False, f"throttled: {usage.day} calls today, limit {limit.calls}/day")


@dataclass(frozen=True)
class Limits:
    """What one claim of a number stays within, beside its daily cap (which the store
    applies itself): presentations in the last minute and hour, and today's (the policy's
    per-day limit or, warming, the ramp's). ``enforced`` False: none of them applies,
    yet the store keeps the number's last ``keep`` presentations to count them later."""

    per_minute: int
    per_hour: int
    per_day: int
    enforced: bool = True
    live_after: datetime | None = None  # one live call per number; None: off

    @property
    def keep(self) -> int:
        return max(self.per_minute, self.per_hour)


@dataclass(frozen=True)
class Shaping:
    """Volume shaping as one decision applies it: the organization's policy and the
    decision's time (``policy.shaping`` False: nothing is paced, only counted)."""

    policy: HealthPolicy
    now: datetime

    @property
    def on(self) -> bool:
        return self.policy.shaping

    def pace(self, health: Health | None, recent: Iterable[datetime], today: int,
             added_at: datetime | None = None, live_since: datetime | None = None) -> Pace:
        """May a number with this health, presented at ``recent`` and ``today`` times
        today, added at ``added_at``, be presented now? (Always, with shaping off.)"""
        if not self.on:
            return Pace(True)
        policy = self.policy
        usage = usage_of(recent, today, self.now, per_minute=policy.per_minute,
                         per_hour=policy.per_hour)
        return pace(self._presented(health, added_at), usage, policy, self.now,
                    added_at=added_at, live_since=live_since)

    def limits(self, health: Health | None, added_at: datetime | None = None) -> Limits:
        """What a claim of a number with this health (added at ``added_at``) stays
        within."""
        policy = self.policy
        today = day_limit(self._presented(health, added_at), policy, self.now)
        return Limits(policy.per_minute, policy.per_hour, today.calls, enforced=self.on,
                      live_after=live_after(policy, self.now))

    def _presented(self, health: Health | None, added_at: datetime | None = None) -> Health:
        """The health of a number the decision may present (its status is active): never
        judged reads as healthy, or as warming from the day it was added while it is
        new; rested by health, then made active by hand, as warming from now (health
        records that on the number's next judgement)."""
        health = as_added(health, added_at, self.policy, self.now)
        if health is None:
            return Health(HealthState.HEALTHY, self.now)
        if health.state is HealthState.RESTING:
            return Health(HealthState.WARMING, self.now)
        return health
