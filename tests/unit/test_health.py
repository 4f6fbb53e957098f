"""SPEC 9: a number's signals over its rolling windows, its score and the words for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callsign.domain.health import (
    CallResult,
    FailureClass,
    Metrics,
    SpamReport,
    Window,
    failure_class,
    score,
    signal_reasons,
    sweep,
)
from callsign.domain.health_policy import HealthPolicy

T0 = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
POLICY = HealthPolicy()


def calls(count: int, *, answered: int, start: datetime = T0, every: timedelta = timedelta(
        minutes=5), duration_s: int = 60, sip_code: int | None = None) -> list[CallResult]:
    """``count`` calls, the first ``answered`` of them answered."""
    return [CallResult(start + i * every, i < answered, duration_s if i < answered else 0,
                       None if i < answered else sip_code)
            for i in range(count)]


def folded(results: list[CallResult], policy: HealthPolicy = POLICY) -> Window:
    window = Window(policy)
    for result in results:
        window.add(result)
    return window


@pytest.mark.parametrize(("answered", "sip_code", "expected"), [
    (True, 200, FailureClass.NONE), (False, 603, FailureClass.REJECTED),
    (False, 607, FailureClass.REJECTED), (False, 608, FailureClass.REJECTED),
    (False, 486, FailureClass.BUSY), (False, 487, FailureClass.CANCELED),
    (False, None, FailureClass.NO_ANSWER), (False, 480, FailureClass.NO_ANSWER),
    (False, 503, FailureClass.FAILED)])
def test_a_sip_code_implies_a_failure_class(answered: bool, sip_code: int | None,
                                            expected: FailureClass) -> None:
    assert failure_class(answered, sip_code) is expected


def test_the_window_keeps_the_last_n_calls() -> None:
    """60 calls, the first 30 answered: the last 50 hold 20 answered."""
    metrics = folded(calls(60, answered=30)).metrics(T0 + timedelta(hours=6))
    assert (metrics.calls, metrics.answered, metrics.answer_rate) == (50, 20, 0.4)


def test_the_window_drops_calls_older_than_d_days() -> None:
    window = folded(calls(10, answered=10))
    assert window.metrics(T0 + timedelta(days=7, seconds=-1)).calls == 10
    assert window.metrics(T0 + timedelta(days=7)).calls == 9  # exactly 7 days old: out
    assert window.metrics(T0 + timedelta(days=7, minutes=26)).calls == 4
    assert window.metrics(T0 + timedelta(days=8)).calls == 0


def test_short_calls_are_counted_among_answered_calls_only() -> None:
    results = [*calls(3, answered=3, duration_s=5), *calls(7, answered=7, duration_s=6),
               *calls(10, answered=0, sip_code=480)]
    metrics = folded(results).metrics(T0)
    assert (metrics.short, metrics.answered, metrics.short_share) == (3, 10, 0.3)


def test_rejections_count_603_607_and_608_and_remember_the_last_608() -> None:
    results = [CallResult(T0, False, sip_code=603), CallResult(T0 + timedelta(1), False,
                                                               sip_code=607),
               CallResult(T0 + timedelta(2), False, sip_code=608),
               CallResult(T0 + timedelta(3), False, sip_code=486)]
    metrics = folded(results).metrics(T0 + timedelta(3))
    assert (metrics.rejected, metrics.analytics_rejected, metrics.last_608_at) \
        == (3, 1, T0 + timedelta(2))


def test_volume_counts_the_last_minute_hour_and_day() -> None:
    results = calls(30, answered=0, every=timedelta(minutes=1))
    metrics = folded(results).metrics(T0 + timedelta(minutes=29, seconds=30))
    assert (metrics.calls_last_minute, metrics.calls_last_hour, metrics.calls_last_day) \
        == (1, 30, 30)


def test_restarting_the_window_forgets_calls_and_reports_but_not_volume() -> None:
    window = folded(calls(30, answered=0, sip_code=608, every=timedelta(minutes=1)))
    window.add_spam(SpamReport(T0))
    window.restart(T0 + timedelta(hours=1))
    metrics = window.metrics(T0 + timedelta(hours=1))
    assert (metrics.calls, metrics.spam_reports, metrics.last_608_at) == (0, 0, None)
    assert metrics.calls_last_day == 30


def test_a_late_result_counts_as_of_the_latest_time_seen() -> None:
    window = folded([CallResult(T0 + timedelta(days=3), True, 60)])
    window.add(CallResult(T0, False, sip_code=608))
    assert window.metrics(T0 + timedelta(days=9)).last_608_at == T0 + timedelta(days=3)


def test_the_sweep_reads_the_same_signals_as_the_fold() -> None:
    results = calls(80, answered=25, sip_code=608)
    now = T0 + timedelta(days=1)
    assert sweep(results, [SpamReport(T0)], now, POLICY) == _with_spam(folded(results),
                                                                       now)


def _with_spam(window: Window, now: datetime) -> Metrics:
    window.add_spam(SpamReport(T0 + timedelta(hours=7)))
    return window.metrics(now)


@pytest.mark.parametrize(("answered", "expected"), [
    (40, 100), (12, 100), (9, 100), (8, 83), (7, 67), (6, 50), (5, 33), (3, 0), (0, 0)])
def test_the_answer_rate_scores_50_at_its_floor(answered: int, expected: int) -> None:
    """Of 40 calls (enough to judge): 6 answered is 15%, the floor; 9 is 1½ floors."""
    value = score(folded(calls(40, answered=answered)).metrics(T0), POLICY).value
    assert value == expected


@pytest.mark.parametrize(("short", "expected"), [(6, 100), (12, 50), (18, 0)])
def test_short_calls_score_from_their_bound_to_50_at_twice_it(short: int,
                                                               expected: int) -> None:
    """40 calls, all answered: 15% short is the bound, 30% scores 50, 45% scores 0."""
    results = [*calls(short, answered=short, duration_s=2), *calls(40 - short, answered=40)]
    assert score(folded(results).metrics(T0), POLICY).value == expected


def test_short_calls_are_judged_only_on_enough_answered_calls() -> None:
    """29 answered calls, all short, among 40: the short share is not judged."""
    results = [*calls(29, answered=29, duration_s=2), *calls(11, answered=0)]
    metrics = folded(results).metrics(T0)
    assert score(metrics, POLICY).short == 1.0
    assert signal_reasons(metrics, POLICY) == []


def test_spam_reports_score_100_75_50_for_0_1_2_of_a_limit_of_2() -> None:
    assert [score(Metrics(spam_reports=n), POLICY).value for n in range(4)] == [100, 100, 50, 0]


def test_signals_are_not_judged_on_too_few_calls() -> None:
    """29 unanswered calls: below min_calls, the rates neither score nor give reasons."""
    metrics = folded(calls(29, answered=0, sip_code=603)).metrics(T0)
    judged = score(metrics, POLICY)
    assert (judged.value, judged.judged) == (100, False)
    assert signal_reasons(metrics, POLICY) == []


def test_a_short_call_reason_says_the_share_of_answered_calls_and_its_bound() -> None:
    results = [*calls(8, answered=8, duration_s=5), *calls(32, answered=32)]
    assert signal_reasons(folded(results).metrics(T0), POLICY) == [
        "20% of 40 answered calls shorter than 6 s (bound 15%)"]


def test_signal_reasons_say_the_value_its_window_and_its_bound() -> None:
    results = [*calls(2, answered=2, duration_s=3), *calls(48, answered=0, sip_code=608)]
    window = folded(results)
    window.add_spam(SpamReport(T0))
    window.add_spam(SpamReport(T0))
    assert signal_reasons(window.metrics(T0 + timedelta(hours=5)), POLICY) == [
        "answer rate 4% over the last 50 calls (bound 15%)",
        "96% of the last 50 calls rejected with 603/607/608 (bound 10%)",
        "2 spam reports in 7 days (limit 2)",
    ]
