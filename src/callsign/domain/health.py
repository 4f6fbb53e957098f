"""Number health (SPEC 9): each number's call results over rolling windows, and its score.

A ``Window`` folds one ``CallResult`` (or ``SpamReport``) at a time in amortised O(1);
``sweep`` recomputes the same ``Metrics`` from a list. The window is the last
``window_calls`` calls within the last ``window_days`` days, counted from the window's
start (a restored number starts afresh). Volume counts (calls in the last minute, hour
and day) are over every result, whatever the window's start.

Results are folded in time order; a late one counts as of the latest time seen (the
sweep, which orders by time, is the reference and corrects it).

The score (0–100) is ``100 × answer × short × rejection × spam``, each factor in [0, 1]:
answer = clamp(rate / floor − ½), rejection and spam clamp(3/2 − value / limit), so each
exactly at its bound gives 50 on its own; short calls, a weaker and noisier signal,
clamp(3/2 − share / (2 × limit)), judged on ``min_calls`` answered calls: 1 up to the
bound, ½ at twice it. See ``docs/health.md``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from callsign.domain.health_policy import ANALYTICS_REJECTION, REJECTION_CODES, HealthPolicy

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


class FailureClass(StrEnum):
    """Why a call was not answered, if it was not (the words every path maps to)."""

    NONE = "none"  # answered
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED = "rejected"  # 603, 607 or 608: the callee's side refused the call
    FAILED = "failed"  # the network or the provider failed it
    CANCELED = "canceled"  # the caller hung up before an answer


def failure_class(answered: bool, sip_code: int | None) -> FailureClass:
    """The failure class a SIP final response implies (paths that know better say so)."""
    if answered:
        return FailureClass.NONE
    if sip_code in REJECTION_CODES:
        return FailureClass.REJECTED
    if sip_code in (486, 600):
        return FailureClass.BUSY
    if sip_code == 487:
        return FailureClass.CANCELED
    if sip_code is None or sip_code in (408, 480):
        return FailureClass.NO_ANSWER
    return FailureClass.FAILED


@dataclass(frozen=True)
class CallResult:
    """What came of one call presented from a number, known at ``at`` (its end)."""

    at: datetime
    answered: bool
    duration_s: int = 0
    sip_code: int | None = None
    failure: FailureClass = FailureClass.NONE

    def is_short(self, policy: HealthPolicy) -> bool:
        return self.answered and self.duration_s < policy.short_call_seconds

    @property
    def rejected(self) -> bool:
        return self.sip_code in REJECTION_CODES

    @property
    def analytics_rejected(self) -> bool:
        return self.sip_code == ANALYTICS_REJECTION


@dataclass(frozen=True)
class SpamReport:
    """Someone reported that a call from the number showed as spam."""

    at: datetime
    source: str = "agent"


@dataclass(frozen=True)
class Metrics:
    """A number's signals at one moment: the window's counts and the volume counts."""

    calls: int = 0
    answered: int = 0
    short: int = 0
    rejected: int = 0
    analytics_rejected: int = 0
    last_608_at: datetime | None = None
    spam_reports: int = 0
    calls_last_minute: int = 0
    calls_last_hour: int = 0
    calls_last_day: int = 0

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.calls if self.calls else None

    @property
    def short_share(self) -> float | None:
        return self.short / self.answered if self.answered else None

    @property
    def rejection_share(self) -> float | None:
        return self.rejected / self.calls if self.calls else None


class Window:
    """One number's rolling windows, folded one result at a time."""

    def __init__(self, policy: HealthPolicy, since: datetime | None = None) -> None:
        self.policy = policy
        self.since = since
        self._latest = since
        self._calls: deque[CallResult] = deque()
        self._answered = self._short = self._rejected = self._analytics = 0
        self._last_608_at: datetime | None = None
        self._spam: deque[datetime] = deque()
        self._volume = {span: deque[datetime]() for span in (MINUTE, HOUR, DAY)}

    def _clock(self, at: datetime) -> datetime:
        self._latest = at if self._latest is None or at > self._latest else self._latest
        return self._latest

    def add(self, result: CallResult) -> None:
        """Fold one call's result in."""
        at = self._clock(result.at)
        self._calls.append(result)
        self._count(result, +1)
        if result.analytics_rejected:
            self._last_608_at = at
        for times in self._volume.values():
            times.append(at)
        if len(self._calls) > self.policy.window_calls:
            self._count(self._calls.popleft(), -1)

    def add_spam(self, report: SpamReport) -> None:
        """Fold one spam report in."""
        self._spam.append(self._clock(report.at))

    def restart(self, since: datetime) -> None:
        """Start the window afresh at ``since`` (a number back from rest); volume stays."""
        self.since = since
        self._clock(since)
        self._calls.clear()
        self._spam.clear()
        self._answered = self._short = self._rejected = self._analytics = 0

    def _count(self, result: CallResult, sign: int) -> None:
        self._answered += sign * result.answered
        self._short += sign * result.is_short(self.policy)
        self._rejected += sign * result.rejected
        self._analytics += sign * result.analytics_rejected

    def _evict(self, now: datetime) -> None:
        start = now - timedelta(days=self.policy.window_days)
        while self._calls and self._calls[0].at <= start:
            self._count(self._calls.popleft(), -1)
        while self._spam and self._spam[0] <= start:
            self._spam.popleft()
        for span, times in self._volume.items():
            while times and times[0] <= now - span:
                times.popleft()

    def metrics(self, now: datetime) -> Metrics:
        """The signals as of ``now`` (never before the latest result folded in)."""
        now = self._clock(now)
        self._evict(now)
        return Metrics(
            calls=len(self._calls), answered=self._answered, short=self._short,
            rejected=self._rejected, analytics_rejected=self._analytics,
            last_608_at=self._last_608_at if self._analytics else None,
            spam_reports=len(self._spam),
            calls_last_minute=len(self._volume[MINUTE]),
            calls_last_hour=len(self._volume[HOUR]), calls_last_day=len(self._volume[DAY]))


def sweep(results: Iterable[CallResult], reports: Iterable[SpamReport], now: datetime,
          policy: HealthPolicy, since: datetime | None = None) -> Metrics:
    """The signals as of ``now`` recomputed from every result and report."""
    ordered = sorted(results, key=lambda r: r.at)
    spam = sorted(report.at for report in reports)
    now = max([now, *(r.at for r in ordered[-1:]), *spam[-1:]])  # never before the last
    start = now - timedelta(days=policy.window_days)
    after = start if since is None or since <= start else since - timedelta.resolution
    window = [r for r in ordered if r.at > after][-policy.window_calls:]
    answered = [r for r in window if r.answered]
    rejected_608 = [r.at for r in window if r.analytics_rejected]
    return Metrics(
        calls=len(window), answered=len(answered),
        short=sum(r.is_short(policy) for r in answered),
        rejected=sum(r.rejected for r in window), analytics_rejected=len(rejected_608),
        last_608_at=max(rejected_608, default=None),
        spam_reports=sum(at > after for at in spam),
        calls_last_minute=sum(r.at > now - MINUTE for r in ordered),
        calls_last_hour=sum(r.at > now - HOUR for r in ordered),
        calls_last_day=sum(r.at > now - DAY for r in ordered))


@dataclass(frozen=True)
class Score:
    """A number's score (0–100) and the factor of each signal behind it."""

    value: int
    answer: float
    short: float
    rejection: float
    spam: float
    judged: bool  # enough calls in the window for the rates to count


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def _limit_factor(value: float | None, limit: int) -> float:
    """1 up to half the limit, ½ at the limit, 0 at 1½ times it (same units); 1 if the
    value is not judged."""
    if value is None:
        return 1.0
    if limit == 0:
        return 0.0 if value > 0 else 1.0
    return _clamp(1.5 - value / limit)


def _percent(share: float | None, judged: bool) -> float | None:
    return share * 100 if judged and share is not None else None


def score(metrics: Metrics, policy: HealthPolicy) -> Score:
    """The score of a number's signals (formula in the module's docstring)."""
    judged = metrics.calls >= policy.min_calls
    rate = metrics.answer_rate
    answer = 1.0
    if judged and rate is not None and policy.answer_rate_floor > 0:
        answer = _clamp(rate * 100 / policy.answer_rate_floor - 0.5)
    # Short calls are a weaker, noisier signal: judged on enough answered calls, and
    # falling only past their bound (½ at twice it, 0 at three times).
    short_share = _percent(metrics.short_share, metrics.answered >= policy.min_calls)
    short = _limit_factor(None if short_share is None else short_share / 2,
                          policy.short_call_limit)
    rejection = _limit_factor(_percent(metrics.rejection_share, judged),
                              policy.rejection_limit)
    spam = _limit_factor(metrics.spam_reports, policy.spam_report_limit)
    value = int(100 * answer * short * rejection * spam + 0.5)
    return Score(value, answer, short, rejection, spam, judged)


def percent(share: float) -> str:
    """A share as a person reads it: ``4%``."""
    return f"{int(share * 100 + 0.5)}%"


def signal_reasons(metrics: Metrics, policy: HealthPolicy) -> list[str]:
    """Each signal past its bound, in words (rates only once enough calls are in)."""
    reasons = []
    if metrics.calls >= policy.min_calls:
        reasons += _rate_reasons(metrics, policy)
    if metrics.spam_reports >= policy.spam_report_limit:
        reasons.append(spam_words(metrics, policy))
    return reasons


def _rate_reasons(metrics: Metrics, policy: HealthPolicy) -> list[str]:
    reasons = []
    rate, short, rejected = metrics.answer_rate, metrics.short_share, metrics.rejection_share
    if rate is not None and rate * 100 < policy.answer_rate_floor:
        reasons.append(f"answer rate {percent(rate)} over the last {metrics.calls} calls "
                       f"(bound {policy.answer_rate_floor}%)")
    if short is not None and metrics.answered >= policy.min_calls \
            and short * 100 > policy.short_call_limit:
        reasons.append(f"{percent(short)} of {metrics.answered} answered calls shorter than "
                       f"{policy.short_call_seconds} s (bound {policy.short_call_limit}%)")
    if rejected is not None and rejected * 100 > policy.rejection_limit:
        reasons.append(f"{percent(rejected)} of the last {metrics.calls} calls rejected "
                       f"with 603/607/608 (bound {policy.rejection_limit}%)")
    return reasons


def spam_words(metrics: Metrics, policy: HealthPolicy) -> str:
    plural = "" if metrics.spam_reports == 1 else "s"
    return (f"{metrics.spam_reports} spam report{plural} in {policy.window_days} days "
            f"(limit {policy.spam_report_limit})")


def day(at: datetime) -> str:
    """A date as the trace shows it: ``11-28``."""
    return at.strftime("%m-%d")
