"""A number's health state and its transitions (SPEC 9), with the coverage guard.

    healthy ──score < watch_below──▶ watch ──score ≥ healthy_at──▶ healthy
    healthy / watch / warming ──rest trigger (coverage allowing)──▶ resting
    resting ──rest_days later──▶ warming ──ramp done, ≥ warming_min_calls,
                                            score ≥ healthy_at──▶ healthy

A rest trigger is a score below ``rest_below``, ``spam_report_limit`` spam reports, a
608 in the window (``rest_on_608``), or a reputation label the policy names
(``rest_on_flag``); a rest for a flag ends on a clean re-check or after the rest days, as
``flag_restore`` says. A paused number is never changed: a manual pause
always wins. No more than ``max_resting_share`` percent of the numbers serving one area
code rest at once: ``guard_coverage`` rests the worst first and keeps the others, saying
why.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from callsign.domain.health import Metrics, Score, day, score, signal_reasons, spam_words
from callsign.domain.health_policy import HealthPolicy
from callsign.domain.reputation import FlagRestore, Label, cleared_words, flag_reasons, flag_rest


class HealthState(StrEnum):
    HEALTHY = "healthy"
    WATCH = "watch"
    RESTING = "resting"  # not presented; inbound still routes
    WARMING = "warming"  # presented under the warm-up ramp


@dataclass(frozen=True)
class Health:
    """A number's state since ``since``, its last score and the reasons in words."""

    state: HealthState
    since: datetime
    score: int | None = None
    reasons: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for a trace: ``resting since 11-28: answer rate 4% over …``."""
        head = f"{self.state} since {day(self.since)}"
        return f"{head}: {'; '.join(self.reasons)}" if self.reasons else head


def new_number(added_at: datetime) -> Health:
    """A number just added: it warms up from the day it is added."""
    return Health(HealthState.WARMING, added_at, None, ("a new number warms up",))


@dataclass(frozen=True)
class Proposal:
    """What health would make of one number; ``rest`` marks a candidate to rest."""

    health: Health
    rest: bool = False
    restart_window: bool = False  # back from rest: judge it on its new calls only


def assess(current: Health, metrics: Metrics, policy: HealthPolicy, now: datetime, *,
           paused: bool = False, labels: Sequence[Label] = ()) -> Proposal:
    """The next health of one number, before the coverage guard. ``labels``: its
    reputation labels read since its window began (a label read before a restore does
    not rest it again)."""
    if paused:
        return Proposal(current)
    if current.state is HealthState.RESTING:
        return _restore(current, policy, now, labels)
    judged = score(metrics, policy)
    triggers = rest_triggers(metrics, judged, policy, labels)
    if triggers:
        return Proposal(Health(HealthState.RESTING, now, judged.value, tuple(triggers)),
                        rest=True)
    if current.state is HealthState.WARMING:
        return Proposal(_warming(current, metrics, judged, policy, now))
    return Proposal(_watch_or_healthy(current, metrics, judged, policy, now))


def rest_triggers(metrics: Metrics, judged: Score, policy: HealthPolicy,
                  labels: Sequence[Label] = ()) -> list[str]:
    """The reasons to rest a number, in words; none if it may keep serving."""
    triggers = []
    if judged.value < policy.rest_below:
        signals = signal_reasons(metrics, policy)
        triggers.append(f"score {judged.value} (rests below {policy.rest_below})"
                        + (f": {', '.join(signals)}" if signals else ""))
    if metrics.spam_reports >= policy.spam_report_limit:
        triggers.append(spam_words(metrics, policy))
    if policy.rest_on_608 and metrics.last_608_at is not None:
        triggers.append(f"608 Rejected on {day(metrics.last_608_at)} "
                        "(an analytics engine rejected the call)")
    triggers += flag_reasons(labels, policy.rest_on_flag)
    return triggers


def _restore(current: Health, policy: HealthPolicy, now: datetime,
             labels: Sequence[Label] = ()) -> Proposal:
    flagged = flag_rest(labels, policy.rest_on_flag, current.since)
    warm_up = f"warming up over {policy.ramp_days} days"
    if flagged.cleared and policy.flag_restore != FlagRestore.REST_DAYS:
        reason = f"{cleared_words(flagged.cleared_by)}; {warm_up}"
        return Proposal(Health(HealthState.WARMING, now, None, (reason,)),
                        restart_window=True)
    if flagged.flagged and policy.flag_restore == FlagRestore.CLEAN_CHECK:
        return Proposal(current)  # only a clean re-check brings it back
    if now < current.since + timedelta(days=policy.rest_days):
        return Proposal(current)
    reason = f"rested {policy.rest_days} days since {day(current.since)}; {warm_up}"
    return Proposal(Health(HealthState.WARMING, now, None, (reason,)), restart_window=True)


def _warming(current: Health, metrics: Metrics, judged: Score, policy: HealthPolicy,
             now: datetime) -> Health:
    age = (now - current.since).days
    if age >= policy.ramp_days and metrics.calls >= policy.warming_min_calls \
            and judged.value >= policy.healthy_at:
        reason = (f"warmed up: score {judged.value} over the last {metrics.calls} calls "
                  f"(healthy at {policy.healthy_at})")
        return Health(HealthState.HEALTHY, now, judged.value, (reason,))
    allowed = policy.ramp_allows(age)
    ramp = (f"warming day {age + 1} of {policy.ramp_days}: {allowed} calls a day"
            if allowed is not None else "ramp done")
    wait = (f"score {judged.value} over {metrics.calls} calls; healthy at "
            f"{policy.healthy_at} after {policy.warming_min_calls} calls")
    return replace(current, score=judged.value, reasons=(ramp, wait))


def _watch_or_healthy(current: Health, metrics: Metrics, judged: Score,
                      policy: HealthPolicy, now: datetime) -> Health:
    watching = current.state is HealthState.WATCH
    if watching and judged.value >= policy.healthy_at:
        return Health(HealthState.HEALTHY, now, judged.value,
                      (f"score {judged.value} (healthy at {policy.healthy_at})",))
    if not watching and judged.value < policy.watch_below:
        signals = signal_reasons(metrics, policy)
        return Health(HealthState.WATCH, now, judged.value,
                      (f"score {judged.value} (watch below {policy.watch_below})", *signals))
    if watching:
        return replace(current, score=judged.value, reasons=(
            f"score {judged.value} (healthy again at {policy.healthy_at})",
            *signal_reasons(metrics, policy)))
    return replace(current, score=judged.value, reasons=())


@dataclass(frozen=True)
class Candidate:
    """A number health would rest, its score, and the area codes it serves."""

    number: str
    score: int
    area_codes: frozenset[str]


@dataclass(frozen=True)
class CoverageVerdict:
    rest: tuple[str, ...]
    kept: Mapping[str, str] = field(default_factory=dict)  # number -> why it stays


def guard_coverage(candidates: Sequence[Candidate], serving: Mapping[str, Collection[str]],
                   resting: Collection[str], max_share: int) -> CoverageVerdict:
    """Rest the candidates worst first while no area code would have more than
    ``max_share`` percent of its numbers resting; keep the others, saying why."""
    resting_by_code = {code: sum(n in resting for n in numbers)
                       for code, numbers in serving.items()}
    rested: list[str] = []
    kept: dict[str, str] = {}
    for candidate in sorted(candidates, key=lambda c: (c.score, c.number)):
        blocked = _blocking_code(candidate, serving, resting_by_code, max_share)
        if blocked is None:
            rested.append(candidate.number)
            for code in candidate.area_codes & serving.keys():
                resting_by_code[code] += 1
            continue
        total = len(serving[blocked])
        left = total - resting_by_code[blocked] - 1
        kept[candidate.number] = (f"kept: resting it would leave {blocked} with {left} of "
                                  f"{total} numbers; at most {max_share}% may rest")
    return CoverageVerdict(tuple(rested), kept)


def _blocking_code(candidate: Candidate, serving: Mapping[str, Collection[str]],
                   resting_by_code: Mapping[str, int], max_share: int) -> str | None:
    for code in sorted(candidate.area_codes & serving.keys()):
        allowed = len(serving[code]) * max_share // 100
        if resting_by_code[code] + 1 > allowed:
            return code
    return None


@dataclass(frozen=True)
class Standing:
    """What reviewing one number needs: its health, signals, pause and area codes."""

    health: Health
    metrics: Metrics
    area_codes: frozenset[str]
    paused: bool = False
    labels: tuple[Label, ...] = ()  # its reputation labels since its window began


def review(pool: Mapping[str, Standing], policy: HealthPolicy, now: datetime,
           only: Collection[str] | None = None) -> dict[str, Proposal]:
    """Assess the numbers (all of the pool, or ``only``), resting the candidates the
    coverage guard allows; the rest of the pool is counted for coverage, not changed."""
    chosen = pool.keys() if only is None else [n for n in only if n in pool]
    proposals = {n: assess(pool[n].health, pool[n].metrics, policy, now,
                           paused=pool[n].paused, labels=pool[n].labels) for n in chosen}
    serving: dict[str, list[str]] = {}
    for number, standing in pool.items():
        for code in standing.area_codes:
            serving.setdefault(code, []).append(number)
    # Resting after this review, before any candidate (a number back from rest is not).
    resting = {n for n, s in pool.items()
               if (proposals[n] if n in proposals else Proposal(s.health)).health.state
               is HealthState.RESTING and not (n in proposals and proposals[n].rest)}
    candidates = [Candidate(n, p.health.score or 0, pool[n].area_codes)
                  for n, p in proposals.items() if p.rest]
    verdict = guard_coverage(candidates, serving, resting, policy.max_resting_share)
    for number, why in verdict.kept.items():
        proposals[number] = Proposal(_kept(pool[number].health, proposals[number].health,
                                           why, now))
    return proposals


def _kept(current: Health, wanted: Health, why: str, now: datetime) -> Health:
    """A number the guard keeps: watched (or still warming), with every reason."""
    if current.state in (HealthState.WATCH, HealthState.WARMING):
        return replace(current, score=wanted.score, reasons=(*wanted.reasons, why))
    return Health(HealthState.WATCH, now, wanted.score, (*wanted.reasons, why))
