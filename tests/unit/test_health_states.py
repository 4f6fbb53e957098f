"""SPEC 9: each transition of a number's health, its hysteresis, the coverage guard and
the manual pause."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from callsign.domain.health import Metrics
from callsign.domain.health_policy import HealthPolicy
from callsign.domain.health_states import (
    Candidate,
    Health,
    HealthState,
    Standing,
    assess,
    guard_coverage,
    new_number,
    review,
)

T0 = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
POLICY = HealthPolicy()
HEALTHY = Health(HealthState.HEALTHY, T0 - timedelta(days=30))
WATCH = Health(HealthState.WATCH, T0 - timedelta(days=1))


def answering(percent: int, calls: int = 50) -> Metrics:
    """``calls`` calls of which ``percent`` % were answered, none short or rejected."""
    return Metrics(calls=calls, answered=calls * percent // 100)


def test_a_number_answering_at_30_percent_stays_healthy_without_reasons() -> None:
    proposal = assess(HEALTHY, answering(30), POLICY, T0)
    assert proposal.health == Health(HealthState.HEALTHY, HEALTHY.since, 100, ())
    assert not proposal.rest


def test_a_score_below_the_watch_bound_watches_the_number_saying_why() -> None:
    """16% answered: score 57, under 70; the answer rate is still above its floor."""
    proposal = assess(HEALTHY, answering(16), POLICY, T0)
    assert proposal.health == Health(HealthState.WATCH, T0, 57, ("score 57 (watch below 70)",))


def test_a_score_below_the_rest_bound_rests_the_number_saying_why() -> None:
    proposal = assess(HEALTHY, answering(4), POLICY, T0)
    assert proposal.rest
    assert proposal.health == Health(HealthState.RESTING, T0, 0, (
        "score 0 (rests below 50): answer rate 4% over the last 50 calls (bound 15%)",))


def test_spam_reports_at_the_limit_rest_the_number() -> None:
    proposal = assess(HEALTHY, Metrics(calls=50, answered=20, spam_reports=2), POLICY, T0)
    assert proposal.rest
    assert proposal.health.reasons == ("2 spam reports in 7 days (limit 2)",)


def test_one_spam_report_below_the_limit_does_not() -> None:
    proposal = assess(HEALTHY, Metrics(calls=50, answered=20, spam_reports=1), POLICY, T0)
    assert proposal.health.state is HealthState.HEALTHY


def test_a_single_608_rests_the_number_naming_the_day() -> None:
    metrics = Metrics(calls=3, answered=2, rejected=1, analytics_rejected=1,
                      last_608_at=T0 - timedelta(hours=2))
    proposal = assess(HEALTHY, metrics, POLICY, T0)
    assert proposal.rest
    assert proposal.health.reasons == (
        "608 Rejected on 11-28 (an analytics engine rejected the call)",)


def test_a_608_does_not_rest_when_the_policy_says_so() -> None:
    metrics = Metrics(calls=3, answered=2, rejected=1, analytics_rejected=1, last_608_at=T0)
    policy = HealthPolicy(rest_on_608=False)
    assert assess(HEALTHY, metrics, policy, T0).health.state is HealthState.HEALTHY


def test_a_resting_number_stays_resting_until_the_rest_is_over() -> None:
    resting = Health(HealthState.RESTING, T0, 0, ("score 0",))
    just_before = T0 + timedelta(days=7, seconds=-1)
    assert assess(resting, Metrics(), POLICY, just_before).health == resting


def test_after_the_rest_a_number_warms_up_on_a_fresh_window() -> None:
    resting = Health(HealthState.RESTING, T0, 0, ("score 0",))
    proposal = assess(resting, Metrics(), POLICY, T0 + timedelta(days=7))
    assert proposal.restart_window
    assert proposal.health == Health(HealthState.WARMING, T0 + timedelta(days=7), None, (
        "rested 7 days since 11-28; warming up over 21 days",))


def test_a_warming_number_turns_healthy_only_after_the_ramp_enough_calls_and_a_high_score(
) -> None:
    warming = Health(HealthState.WARMING, T0)
    done = T0 + timedelta(days=21)
    assert assess(warming, answering(30), POLICY, done - timedelta(seconds=1)) \
        .health.state is HealthState.WARMING
    assert assess(warming, answering(30, calls=49), POLICY, done).health.state \
        is HealthState.WARMING
    assert assess(warming, answering(18), POLICY, done).health.state is HealthState.WARMING
    healthy = assess(warming, answering(20), POLICY, done).health
    assert healthy == Health(HealthState.HEALTHY, done, 83, (
        "warmed up: score 83 over the last 50 calls (healthy at 80)",))


def test_a_warming_number_says_its_ramp_day_and_what_it_waits_for() -> None:
    warming = Health(HealthState.WARMING, T0)
    proposal = assess(warming, answering(30, calls=12), POLICY, T0 + timedelta(days=8))
    assert proposal.health.reasons == (
        "warming day 9 of 21: 20 calls a day",
        "score 100 over 12 calls; healthy at 80 after 50 calls")


def test_a_warming_number_that_burns_again_rests() -> None:
    proposal = assess(Health(HealthState.WARMING, T0), answering(4), POLICY, T0)
    assert proposal.rest


@pytest.mark.parametrize(("percent", "state"), [
    (18, HealthState.WATCH), (20, HealthState.HEALTHY)])
def test_watch_returns_to_healthy_only_at_the_higher_bound(percent: int,
                                                           state: HealthState) -> None:
    """Watch below 70, healthy again only at 80: 18% answered scores 70, 20% scores 83."""
    assert assess(WATCH, answering(percent), POLICY, T0).health.state is state


def test_hysteresis_a_score_between_the_bounds_keeps_the_state_it_has() -> None:
    """Score 70 (18% answered) is healthy for a healthy number and watch for a watched one."""
    metrics = answering(18)
    assert assess(HEALTHY, metrics, POLICY, T0).health.state is HealthState.HEALTHY
    assert assess(WATCH, metrics, POLICY, T0).health == Health(
        HealthState.WATCH, WATCH.since, 70, ("score 70 (healthy again at 80)",))


@pytest.mark.parametrize("state", list(HealthState))
def test_a_paused_number_is_never_changed_by_health(state: HealthState) -> None:
    current = Health(state, T0 - timedelta(days=30), 90, ("as it was",))
    metrics = Metrics(calls=50, spam_reports=9, analytics_rejected=1, last_608_at=T0)
    proposal = assess(current, metrics, POLICY, T0, paused=True)
    assert proposal.health is current
    assert not proposal.rest


def test_the_guard_rests_the_worst_first_and_keeps_the_area_code_covered() -> None:
    """Four numbers serve 312, one already resting; of three candidates one more may rest."""
    serving = {"312": ["a", "b", "c", "d"]}
    candidates = [Candidate("b", 40, frozenset({"312"})), Candidate("c", 10, frozenset({"312"})),
                  Candidate("d", 30, frozenset({"312"}))]
    verdict = guard_coverage(candidates, serving, {"a"}, 50)
    assert verdict.rest == ("c",)
    assert verdict.kept == {
        "d": "kept: resting it would leave 312 with 1 of 4 numbers; at most 50% may rest",
        "b": "kept: resting it would leave 312 with 1 of 4 numbers; at most 50% may rest"}


def test_the_guard_counts_every_area_code_a_number_serves() -> None:
    serving = {"312": ["a", "b", "c", "d"], "773": ["a", "e"]}
    verdict = guard_coverage([Candidate("a", 0, frozenset({"312", "773"}))], serving, {"e"}, 50)
    assert verdict.rest == ()
    assert verdict.kept["a"].startswith("kept: resting it would leave 773 with 0 of 2")


def test_the_guard_never_rests_an_area_codes_only_number() -> None:
    verdict = guard_coverage([Candidate("a", 0, frozenset({"907"}))], {"907": ["a"]}, (), 50)
    assert verdict.kept == {
        "a": "kept: resting it would leave 907 with 0 of 1 numbers; at most 50% may rest"}


def test_review_keeps_a_candidate_the_guard_refuses_in_watch_with_every_reason() -> None:
    burned = Metrics(calls=50, answered=2)
    pool = {"a": Standing(HEALTHY, burned, frozenset({"312"})),
            "b": Standing(HEALTHY, burned, frozenset({"312"}))}
    proposals = review(pool, POLICY, T0)
    assert [proposals[n].health.state for n in "ab"] == [HealthState.RESTING,
                                                         HealthState.WATCH]
    assert proposals["b"].health.reasons == (
        "score 0 (rests below 50): answer rate 4% over the last 50 calls (bound 15%)",
        "kept: resting it would leave 312 with 0 of 2 numbers; at most 50% may rest")


def test_review_counts_numbers_leaving_rest_as_serving_again() -> None:
    """b's rest ends now, so a may take its place."""
    rested = Health(HealthState.RESTING, T0 - timedelta(days=7), 0, ("score 0",))
    pool = {"a": Standing(HEALTHY, Metrics(calls=50, answered=2), frozenset({"312"})),
            "b": Standing(rested, Metrics(), frozenset({"312"}))}
    proposals = review(pool, POLICY, T0)
    assert [proposals[n].health.state for n in "ab"] == [HealthState.RESTING,
                                                         HealthState.WARMING]


def test_review_of_one_number_counts_the_rest_of_the_pool_for_coverage() -> None:
    rested = Health(HealthState.RESTING, T0 - timedelta(days=1), 0, ("score 0",))
    pool = {"a": Standing(HEALTHY, Metrics(calls=50, answered=2), frozenset({"312"})),
            "b": Standing(rested, Metrics(), frozenset({"312"}))}
    proposals = review(pool, POLICY, T0, only=["a"])
    assert list(proposals) == ["a"]
    assert proposals["a"].health.state is HealthState.WATCH


def test_a_health_summary_reads_as_a_trace_line() -> None:
    health = Health(HealthState.RESTING, T0, 0,
                    ("answer rate 4% over the last 50 calls (bound 15%)",))
    assert health.summary() == \
        "resting since 11-28: answer rate 4% over the last 50 calls (bound 15%)"


def test_a_new_number_warms_up_from_the_day_it_is_added() -> None:
    health = new_number(T0)
    assert (health.state, health.since) == (HealthState.WARMING, T0)
    assert assess(health, answering(30, calls=5), POLICY, T0 + timedelta(days=1)).health \
        .reasons[0] == "warming day 2 of 21: 10 calls a day"


@pytest.mark.parametrize("name", ["window_calls", "window_days", "spam_report_limit",
                                  "rest_days"])
def test_a_policy_built_by_hand_refuses_what_would_break_the_rules(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be at least 1"):
        replace(POLICY, **{name: 0})  # type: ignore[arg-type]


def per_mille(answered: int) -> Metrics:
    """1000 calls (a hand-made window) of which ``answered`` were answered."""
    return Metrics(calls=1000, answered=answered)


@pytest.mark.parametrize(("current", "answered", "score", "state"), [
    (HEALTHY, 150, 50, HealthState.WATCH),  # at the rest bound: not rested
    (HEALTHY, 148, 49, HealthState.RESTING),  # one below it
    (HEALTHY, 180, 70, HealthState.HEALTHY),  # at the watch bound: not watched
    (HEALTHY, 178, 69, HealthState.WATCH),
    (WATCH, 195, 80, HealthState.HEALTHY),  # at the healthy bound: back
    (WATCH, 193, 79, HealthState.WATCH),
    (WATCH, 150, 50, HealthState.WATCH),
    (WATCH, 148, 49, HealthState.RESTING)])
def test_each_bound_is_exact(current: Health, answered: int, score: int,
                             state: HealthState) -> None:
    proposal = assess(current, per_mille(answered), POLICY, T0)
    assert (proposal.health.score, proposal.health.state) == (score, state)
