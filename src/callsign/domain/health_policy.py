"""The number-health policy (SPEC 9): thresholds, rest, coverage, warm-up and volume.

Plain values with documented defaults; each default's source is in ``docs/health.md``
("Defaults and their sources"). The organization document carries them under
``health:`` (``callsign.domain.document.HealthDoc``), validated there with each field's
path. Shares and rates are whole percents, so that a document round-trips exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callsign.domain.reputation import DEFAULT_REST_ON_FLAG, FlagRestore

REJECTION_CODES = frozenset({603, 607, 608})
"""SIP final responses that mean the callee's side refused the call: 603 Decline, 607
Unwanted (RFC 8197) and 608 Rejected (RFC 8688: an analytics engine's rejection)."""

ANALYTICS_REJECTION = 608

# The largest per-minute and per-hour limits: the store keeps a number's last presentations
# up to the larger of the two, to count them exactly (``store.calls``).
MAX_PER_MINUTE = 100
MAX_PER_HOUR = 1000


@dataclass(frozen=True)
class RampStep:
    """A stretch of the warm-up ramp: ``calls_per_day`` for ``days`` days."""

    days: int
    calls_per_day: int


DEFAULT_RAMP = (RampStep(7, 10), RampStep(7, 20), RampStep(7, 30))


@dataclass(frozen=True)
class HealthPolicy:
    """How numbers are judged, rested, restored, warmed up and paced."""

    # The rolling window: the last `window_calls` calls within the last `window_days` days.
    window_calls: int = 50
    window_days: int = 7
    # Fewer calls in the window than this and the rates are not judged (too noisy).
    min_calls: int = 30
    # Per-signal bounds; a signal exactly at its bound scores 50 on its own.
    answer_rate_floor: int = 15  # percent of calls answered
    short_call_seconds: int = 6
    short_call_limit: int = 15  # percent of answered calls shorter than short_call_seconds
    rejection_limit: int = 10  # percent of calls refused with 603/607/608
    spam_report_limit: int = 2  # spam reports within window_days that rest a number
    rest_on_608: bool = True
    # Score bounds, with hysteresis: rest below `rest_below`, watch below `watch_below`,
    # back to healthy (from watch or warming) only at `healthy_at` or above.
    rest_below: int = 50
    watch_below: int = 70
    healthy_at: int = 80
    rest_days: int = 7
    warming_min_calls: int = 50
    max_resting_share: int = 50  # percent of the numbers serving one area code
    ramp: tuple[RampStep, ...] = field(default=DEFAULT_RAMP)
    # Volume shaping: whether decisions apply the ramp and the per-minute, per-hour and
    # per-day limits. Off unless the organization turns it on: it changes which numbers
    # calls present (a number past a limit is passed over, down to the principal).
    shaping: bool = False
    per_minute: int = 3
    per_hour: int = 15
    per_day: int = 100
    # One live call per number (with shaping): a number whose last call has no result yet
    # is passed over until the result comes, or `live_call_minutes` after the call.
    one_live_call: bool = False
    live_call_minutes: int = 120
    # Reputation labels (domain/reputation.py): the verdicts that rest a number, and what
    # brings it back (a clean re-check of every engine that flagged it, the rest days, or
    # either).
    rest_on_flag: tuple[str, ...] = DEFAULT_REST_ON_FLAG
    flag_restore: str = FlagRestore.EITHER.value

    def __post_init__(self) -> None:
        # The org document checks each field with its path; this guards code that builds
        # a policy by hand from the values that would divide by zero or rest everything.
        for name in ("window_calls", "window_days", "spam_report_limit", "rest_days"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")

    @property
    def ramp_days(self) -> int:
        """The warm-up's length in days."""
        return sum(step.days for step in self.ramp)

    def ramp_allows(self, age_days: int) -> int | None:
        """Calls a day a warming number of this age may make; None past the ramp."""
        elapsed = 0
        for step in self.ramp:
            elapsed += step.days
            if age_days < elapsed:
                return step.calls_per_day
        return None
