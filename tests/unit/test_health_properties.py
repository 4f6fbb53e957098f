"""SPEC 9, as properties: the fold and the sweep agree, coverage is kept, and a manual
pause always wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from callsign.domain.health import CallResult, Metrics, SpamReport, Window, sweep
from callsign.domain.health_policy import HealthPolicy
from callsign.domain.health_states import (
    Candidate,
    Health,
    HealthState,
    Standing,
    assess,
    guard_coverage,
    review,
)

T0 = datetime(2026, 11, 28, tzinfo=UTC)
SIP = st.sampled_from([None, 200, 480, 486, 487, 503, 603, 607, 608])
Event = CallResult | SpamReport | datetime  # a datetime restarts the window


@st.composite
def events(draw: st.DrawFn) -> list[Event]:
    """Results, spam reports and restarts in time order, minutes to hours apart."""
    at, out = T0, list[Event]()
    for _ in range(draw(st.integers(0, 60))):
        at += timedelta(seconds=draw(st.sampled_from([0, 1, 59, 60, 3599, 3600, 40_000])))
        kind = draw(st.sampled_from(["call", "call", "call", "call", "spam", "restart"]))
        if kind == "spam":
            out.append(SpamReport(at))
        elif kind == "restart":  # a moment after what came before, as a review runs
            at += timedelta(seconds=1)
            out.append(at)
        else:
            answered = draw(st.booleans())
            out.append(CallResult(at, answered, draw(st.integers(0, 12)) if answered else 0,
                                  draw(SIP)))
    return out


policies = st.builds(HealthPolicy, window_calls=st.integers(1, 12),
                     window_days=st.integers(1, 2), short_call_seconds=st.integers(1, 10))


@given(events(), policies, st.integers(0, 200_000))
def test_folding_one_result_at_a_time_reads_as_the_sweep(
        history: list[Event], policy: HealthPolicy, later: int) -> None:
    """At every step, and later, the window's signals equal the sweep over the history."""
    window, results, reports = Window(policy), list[CallResult](), list[SpamReport]()
    since: datetime | None = None
    for event in history:
        if isinstance(event, CallResult):
            window.add(event)
            results.append(event)
            now = event.at
        elif isinstance(event, SpamReport):
            window.add_spam(event)
            reports.append(event)
            now = event.at
        else:
            window.restart(event)
            since = now = event
        assert window.metrics(now) == sweep(results, reports, now, policy, since)
    end = (since or T0) if not results else max(results[-1].at, since or T0)
    end += timedelta(seconds=later)
    assert window.metrics(end) == sweep(results, reports, end, policy, since)


@st.composite
def pools(draw: st.DrawFn) -> tuple[dict[str, list[str]], set[str], list[Candidate], int]:
    """Numbers serving one to three of three area codes, some resting within the bound,
    some candidates to rest, and a largest share."""
    share = draw(st.integers(0, 100))
    numbers = [f"n{i}" for i in range(draw(st.integers(1, 12)))]
    codes = {n: draw(st.sets(st.sampled_from(["312", "415", "646"]), min_size=1))
             for n in numbers}
    serving: dict[str, list[str]] = {}
    for number in numbers:
        for code in codes[number]:
            serving.setdefault(code, []).append(number)
    resting = guard_coverage([Candidate(n, 0, frozenset(codes[n]))
                              for n in numbers if draw(st.booleans())], serving, (), share).rest
    candidates = [Candidate(n, draw(st.integers(0, 49)), frozenset(codes[n]))
                  for n in numbers if n not in resting and draw(st.booleans())]
    return serving, set(resting), candidates, share


@given(pools())
def test_never_more_than_the_share_of_an_area_codes_numbers_rest(
        pool: tuple[dict[str, list[str]], set[str], list[Candidate], int]) -> None:
    serving, resting, candidates, share = pool
    verdict = guard_coverage(candidates, serving, resting, share)
    after = resting | set(verdict.rest)
    for numbers in serving.values():
        assert sum(n in after for n in numbers) <= len(numbers) * share // 100
    assert sorted([*verdict.rest, *verdict.kept]) == sorted(c.number for c in candidates)
    assert all(why.startswith("kept: resting it would leave ") for why in verdict.kept.values())


metrics = st.builds(Metrics, calls=st.integers(0, 50), answered=st.integers(0, 50),
                    short=st.integers(0, 50), rejected=st.integers(0, 50),
                    analytics_rejected=st.integers(0, 5),
                    last_608_at=st.none() | st.just(T0), spam_reports=st.integers(0, 5))
healths = st.builds(Health, state=st.sampled_from(list(HealthState)),
                    since=st.sampled_from([T0 - timedelta(days=d) for d in (0, 3, 8, 30)]))


@given(st.dictionaries(st.sampled_from("abcdef"),
                       st.tuples(healths, metrics, st.booleans()), min_size=1),
       st.sampled_from([30, 50, 100]))
def test_a_paused_number_is_never_changed_by_health(
        entries: dict[str, tuple[Health, Metrics, bool]], share: int) -> None:
    pool = {n: Standing(h, m, frozenset({"312"}), paused) for n, (h, m, paused) in
            entries.items()}
    proposals = review(pool, HealthPolicy(max_resting_share=share), T0)
    for number, standing in pool.items():
        if standing.paused:
            assert proposals[number].health is standing.health
            assert not proposals[number].rest


@given(healths, metrics)
def test_assessing_a_paused_number_returns_it_unchanged(health: Health,
                                                        signals: Metrics) -> None:
    assert assess(health, signals, HealthPolicy(), T0, paused=True).health is health


NEXT = {HealthState.HEALTHY: {HealthState.HEALTHY, HealthState.WATCH, HealthState.RESTING},
        HealthState.WATCH: {HealthState.WATCH, HealthState.HEALTHY, HealthState.RESTING},
        HealthState.RESTING: {HealthState.RESTING, HealthState.WARMING},
        HealthState.WARMING: {HealthState.WARMING, HealthState.HEALTHY, HealthState.RESTING}}


@given(healths, metrics)
def test_health_moves_only_along_the_diagrams_edges(health: Health, signals: Metrics) -> None:
    """And a rest lasts rest_days; warming ends only after the ramp, at healthy_at."""
    policy = HealthPolicy()
    after = assess(health, signals, policy, T0).health
    assert after.state in NEXT[health.state]
    if health.state is HealthState.RESTING and after.state is HealthState.WARMING:
        assert T0 - health.since >= timedelta(days=policy.rest_days)
    if health.state is HealthState.WARMING and after.state is HealthState.HEALTHY:
        assert T0 - health.since >= timedelta(days=policy.ramp_days)
        assert after.score is not None
        assert after.score >= policy.healthy_at
