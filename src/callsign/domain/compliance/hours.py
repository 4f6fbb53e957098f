"""Calling windows per weekday and holiday calendars, read in a callee's local time.

A ``WeeklyHours`` lists, for each weekday, the intervals within that day when a call may
start (``08:00-21:00``; an interval never crosses midnight: a late window is written as
two, one each side). A day with no interval is closed. Times are minutes of the local
day, so a window means the same wall-clock hours on the days daylight saving time
begins and ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from itertools import pairwise
from typing import Any

import holidays as holiday_data

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MINUTES_PER_DAY = 24 * 60
_INTERVAL = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


class HoursError(ValueError):
    """A calling window written wrongly; ``path`` is relative to the window's mapping."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True, order=True)
class Interval:
    """Minutes of a local day, start inclusive and end exclusive (end 1440 = midnight)."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}–{_hhmm(self.end)}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class WeeklyHours:
    """When calls may start, per weekday (Monday first), in the callee's local time."""

    days: tuple[tuple[Interval, ...], ...]  # seven entries
    # Words computed once: a decision's trace quotes them on every call.
    _day_words: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _words: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        day_words = tuple(", ".join(map(str, d)) if d else "closed" for d in self.days)
        object.__setattr__(self, "_day_words", day_words)
        object.__setattr__(self, "_words", _describe(day_words))

    @classmethod
    def every_day(cls, start: int, end: int) -> WeeklyHours:
        return cls(tuple((Interval(start, end),) for _ in DAYS))

    @classmethod
    def parse(cls, data: Any) -> WeeklyHours:
        """Read ``{"mon-fri": ["08:00-21:00"], "sat": ["09:00-17:00"], "sun": []}``.

        Keys are days (``mon`` … ``sun``), day ranges (``mon-fri``) or ``daily``; a day
        not named is closed, and a day named twice is an error.
        """
        if not isinstance(data, Mapping):
            raise HoursError("", "must be a mapping of days to lists of HH:MM-HH:MM")
        days: list[tuple[Interval, ...] | None] = [None] * 7
        for key, raw in data.items():
            intervals = _intervals(str(key), raw)
            for day in _days_of(str(key)):
                if days[day] is not None:
                    raise HoursError(str(key), f"{DAYS[day]} is given twice")
                days[day] = intervals
        return cls(tuple(d or () for d in days))

    def allows(self, local: datetime) -> bool:
        """Whether a call may start at ``local`` (a wall-clock time in the callee's zone)."""
        minute = local.hour * 60 + local.minute + local.second / 60
        for interval in self.days[local.weekday()]:
            if interval.start <= minute < interval.end:
                return True
        return False

    def within(self, wider: WeeklyHours) -> Iterable[str]:
        """The days on which these hours reach outside ``wider`` (a tightening check)."""
        for day, intervals in enumerate(self.days):
            if not all(_inside(i, wider.days[day]) for i in intervals):
                yield DAYS[day]

    def describe_day(self, weekday: int) -> str:
        return self._day_words[weekday]

    def __str__(self) -> str:
        """``Mon–Fri 08:00–21:00, Sat 09:00–17:00, Sun closed``: equal days run together."""
        return self._words


def _describe(day_words: tuple[str, ...]) -> str:
    runs: list[tuple[int, int, str]] = []
    for day, text in enumerate(day_words):
        if runs and runs[-1][2] == text:
            runs[-1] = (runs[-1][0], day, text)
        else:
            runs.append((day, day, text))
    if len(runs) == 1:
        return f"daily {runs[0][2]}"
    return ", ".join(
        (DAY_NAMES[a] if a == b else f"{DAY_NAMES[a]}–{DAY_NAMES[b]}") + f" {text}"
        for a, b, text in runs)


def _inside(interval: Interval, wider: tuple[Interval, ...]) -> bool:
    return any(w.start <= interval.start and interval.end <= w.end for w in wider)


def _days_of(key: str) -> range:
    if key == "daily":
        return range(7)
    first, _, last = key.partition("-")
    if first not in DAYS or (last and last not in DAYS):
        raise HoursError(key, "is not a day: use mon … sun, a range such as mon-fri, "
                              "or daily")
    a, b = DAYS.index(first), DAYS.index(last or first)
    if b < a:
        raise HoursError(key, "a range of days runs forward, e.g. mon-fri")
    return range(a, b + 1)


def _intervals(key: str, raw: Any) -> tuple[Interval, ...]:
    if not isinstance(raw, list):
        raise HoursError(key, "must be a list of HH:MM-HH:MM (an empty list: closed)")
    found: list[Interval] = []
    for i, text in enumerate(raw):
        match = _INTERVAL.match(str(text).replace(" ", "")) if isinstance(text, str) else None
        if match is None:
            raise HoursError(f"{key}[{i}]", f"{text!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = map(int, match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end > MINUTES_PER_DAY or end <= start:
            raise HoursError(f"{key}[{i}]", f"{text!r} must end after it starts, by 24:00 "
                             "(a window past midnight is two: one each side)")
        found.append(Interval(start, end))
    found.sort()
    for earlier, later in pairwise(found):
        if later.start < earlier.end:
            raise HoursError(key, f"{earlier} and {later} overlap")
    return tuple(found)


@dataclass(frozen=True)
class HolidayCalendar:
    """Public holidays of a country and, optionally, a state or province, from the
    ``holidays`` library. ``callee`` as the country means the callee's number's country;
    as the subdivision, the callee's own state or province."""

    country: str
    subdivision: str | None = None

    def holiday(self, day: date, callee_country: str | None,
                callee_state: str | None) -> str | None:
        """The holiday's name on ``day`` (the callee's local date), or None."""
        country = callee_country if self.country == CALLEE else self.country
        if country is None:
            return None
        subdivision = callee_state if self.subdivision == CALLEE else self.subdivision
        return calendar_for(country, subdivision).get(day)

    def validate(self) -> str | None:
        """Why this calendar cannot be read, or None when it can."""
        if self.country == CALLEE:
            return None
        try:
            if self.subdivision == CALLEE:
                holiday_data.country_holidays(self.country)
            else:
                holiday_data.country_holidays(self.country, subdiv=self.subdivision)
        except (NotImplementedError, ValueError) as exc:  # the library's words: "Country XX
            return f"the holidays library has none: {exc}"  # not available", "... subdivision"
        return None

    def __str__(self) -> str:
        country = "the callee's country" if self.country == CALLEE else self.country
        if self.subdivision is None:
            return f"public holidays of {country}"
        state = "the callee's state" if self.subdivision == CALLEE else self.subdivision
        return f"public holidays of {country} and {state}"


CALLEE = "callee"
_NONE: Mapping[date, str] = {}


@cache
def calendar_for(country: str, subdivision: str | None) -> Mapping[date, str]:
    """The library's calendar (years filled in as they are asked); a subdivision it does
    not know falls back to the country's holidays, a country it does not know to none."""
    for subdiv in (subdivision, None):
        try:
            found: Mapping[date, str] = holiday_data.country_holidays(country, subdiv=subdiv)
        except (NotImplementedError, ValueError):
            continue
        return found
    return _NONE
