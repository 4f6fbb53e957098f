"""A seeded traffic model over a pool of numbers, some of which burn (SPEC 9), and a driver
that runs number health's pure core over it.

The model: each area code gets a call every ``every`` within calling hours; the dialer
presents one of the area code's numbers that health and pace allow, at random. A healthy
number is answered at ``answer``; once it burns (labelled "Spam Likely") it is answered at
``burned_answer``, answered calls are often short, and the carriers reject calls with 603
and 608. A burned number's label clears once it has rested. The full-stack simulation may
reuse ``Traffic``, ``SimNumber``, ``pool_of`` and ``outcome`` with the real services.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from callsign.domain.health import CallResult, Window, failure_class, sweep
from callsign.domain.health_policy import HealthPolicy
from callsign.domain.health_states import Health, HealthState, Proposal, Standing, review
from callsign.domain.warmup import Usage, pace

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class Traffic:
    """The rates of the traffic model."""

    answer: float = 0.45
    short: float = 0.05  # of answered calls, shorter than 6 s
    decline: float = 0.01  # a person's 603
    burned_answer: float = 0.04
    burned_short: float = 0.30
    burned_603: float = 0.10
    burned_608: float = 0.12
    every: timedelta = timedelta(minutes=3)  # one call per area code
    hours: tuple[int, int] = (9, 17)


@dataclass(frozen=True)
class SimNumber:
    e164: str
    area_code: str
    burns_at: datetime | None = None


def pool_of(sizes: dict[str, int], burns: dict[str, list[timedelta]]) -> list[SimNumber]:
    """``sizes[code]`` numbers per area code; the first of each burn at the offsets given."""
    numbers = []
    for code, size in sizes.items():
        offsets = burns.get(code, [])
        for i in range(size):
            burns_at = START + offsets[i] if i < len(offsets) else None
            numbers.append(SimNumber(f"+1{code}555{i:04d}", code, burns_at))
    return numbers


def call_times(days: int, traffic: Traffic) -> Iterator[datetime]:
    """Every ``traffic.every`` within calling hours, day after day."""
    for day in range(days):
        at = START + timedelta(days=day, hours=traffic.hours[0])
        end = START + timedelta(days=day, hours=traffic.hours[1])
        while at < end:
            yield at
            at += traffic.every


def outcome(rng: random.Random, at: datetime, burned: bool, traffic: Traffic) -> CallResult:
    """One call's result from a number, burned or not."""
    if rng.random() < (traffic.burned_answer if burned else traffic.answer):
        short = rng.random() < (traffic.burned_short if burned else traffic.short)
        return CallResult(at, True, rng.randint(1, 5) if short else rng.randint(6, 600), 200)
    roll = rng.random()
    if burned and roll < traffic.burned_608:
        sip: int | None = 608
    elif roll < (traffic.burned_608 + traffic.burned_603 if burned else traffic.decline):
        sip = 603
    else:
        sip = rng.choice([480, 486, 487, None])
    return CallResult(at, False, 0, sip, failure_class(False, sip))


@dataclass
class Tracked:
    """One number as the driver keeps it: its health, window and history."""

    number: SimNumber
    health: Health
    window: Window
    results: list[CallResult] = field(default_factory=list)
    rested_at: list[datetime] = field(default_factory=list)
    states: list[tuple[datetime, HealthState, tuple[str, ...]]] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)  # every reason it was ever given

    def burned(self, at: datetime) -> bool:
        burns = self.number.burns_at
        return burns is not None and burns <= at and not any(r > burns for r in self.rested_at)

    def calls_after_burn(self, until: datetime) -> int:
        burns = self.number.burns_at
        return sum(burns is not None and burns <= r.at <= until for r in self.results)


class Simulation:
    """Runs health's pure core over the traffic model, as the service would."""

    def __init__(self, numbers: list[SimNumber], policy: HealthPolicy, traffic: Traffic,
                 seed: int) -> None:
        self.policy, self.traffic, self.rng = policy, traffic, random.Random(seed)
        past = START - timedelta(days=60)
        self.tracked = {n.e164: Tracked(n, Health(HealthState.HEALTHY, past), Window(policy))
                        for n in numbers}
        self.coverage_checks = 0

    def run(self, days: int) -> None:
        hour = None
        for at in call_times(days, self.traffic):
            if at.hour != hour:  # the sweep: time passes for every number
                hour = at.hour
                self._apply(review(self._standings(at), self.policy, at), at)
            for code in sorted({t.number.area_code for t in self.tracked.values()}):
                self._call(code, at)

    def _call(self, code: str, at: datetime) -> None:
        standings = self._standings(at, code)
        allowed = [e164 for e164, standing in standings.items() if self._allowed(standing, at)]
        if not allowed:
            return
        chosen = self.tracked[self.rng.choice(allowed)]
        result = outcome(self.rng, at, chosen.burned(at), self.traffic)
        chosen.window.add(result)
        chosen.results.append(result)
        e164 = chosen.number.e164
        standings[e164] = replace(standings[e164], metrics=chosen.window.metrics(at))
        self._apply(review(standings, self.policy, at, only=[e164]), at)

    def _allowed(self, standing: Standing, at: datetime) -> bool:
        metrics = standing.metrics
        usage = Usage(metrics.calls_last_minute, metrics.calls_last_hour,
                      metrics.calls_last_day)
        return pace(standing.health, usage, self.policy, at).allowed

    def _standings(self, at: datetime, code: str | None = None) -> dict[str, Standing]:
        """Every number's standing, or those of one area code (all coverage needs)."""
        return {e164: Standing(t.health, t.window.metrics(at), frozenset({t.number.area_code}))
                for e164, t in self.tracked.items()
                if code is None or t.number.area_code == code}

    def _apply(self, proposals: dict[str, Proposal], at: datetime) -> None:
        for e164, proposal in proposals.items():
            tracked = self.tracked[e164]
            if proposal.restart_window:
                tracked.window.restart(at)
            if proposal.health.state is not tracked.health.state:
                tracked.states.append((at, proposal.health.state, proposal.health.reasons))
                if proposal.health.state is HealthState.RESTING:
                    tracked.rested_at.append(at)
            tracked.health = proposal.health
            tracked.reasons.update(proposal.health.reasons)
        self._check_coverage({self.tracked[n].number.area_code for n in proposals})

    def _check_coverage(self, codes: set[str]) -> None:
        """No area code has more than the share of its numbers resting, ever."""
        self.coverage_checks += 1
        for code in codes:
            numbers = [t for t in self.tracked.values() if t.number.area_code == code]
            resting = sum(t.health.state is HealthState.RESTING for t in numbers)
            assert resting <= len(numbers) * self.policy.max_resting_share // 100, code

    def swept(self, e164: str, at: datetime) -> bool:
        """The number's window reads as the sweep over its results."""
        tracked = self.tracked[e164]
        return tracked.window.metrics(at) == sweep(tracked.results, [], at, self.policy,
                                                   tracked.window.since)
