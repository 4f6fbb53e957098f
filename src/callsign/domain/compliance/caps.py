"""Per-contact frequency caps over rolling windows: at most ``calls`` calls to a person
(or to a person on one subject, e.g. one debt) within any ``window``.

Pure: the caller passes the contact's recent calls. A cap per subject counts, for a call
on subject S, the earlier calls on S and those recorded without a subject (which may have
been on S); for a call without a subject, every earlier call to the person. A call at
``now`` is allowed when fewer than ``calls`` counted calls lie in ``(now - window, now]``;
when it is not, it becomes allowed as the oldest call that must leave the window leaves it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Per = Literal["contact", "subject"]  # every call to the person, or those on one subject
Across = Literal["organization", "project"]  # calls of the whole organization, or the project's


@dataclass(frozen=True)
class RecentCall:
    """One earlier call to the same person, as the caps count it."""

    at: datetime
    subject: str | None = None  # the subject matter or debt it was about
    project: str | None = None


@dataclass(frozen=True)
class FrequencyCap:
    calls: int
    window: timedelta
    per: Per = "contact"
    across: Across = "organization"

    def __str__(self) -> str:
        scope = "per person" if self.per == "contact" else "per person on one subject"
        where = "" if self.across == "organization" else " within the project"
        return f"at most {self.calls} calls in {_span(self.window)} {scope}{where}"


@dataclass(frozen=True)
class CapVerdict:
    counted: int  # calls within the window that count against the cap
    allowed: bool
    frees_at: datetime | None  # when the call becomes allowed (None when allowed now)


def counted_calls(cap: FrequencyCap, recent: Iterable[RecentCall], subject: str | None,
                  project: str | None) -> list[datetime]:
    """The times of the calls this cap counts for a call on ``subject`` in ``project``."""
    every = cap.per == "contact" or subject is None
    return sorted(
        c.at for c in recent
        if (every or c.subject is None or c.subject == subject)
        and (cap.across == "organization" or c.project == project))


def scope_words(cap: FrequencyCap, subject: str | None) -> str:
    """Which of the person's calls ``cap`` counts for a call on ``subject``, in words."""
    if cap.per == "contact":
        return "every call to the person"
    if subject is None:
        return "no subject given: every call to the person"
    return f"calls on subject {subject!r} and calls recorded without a subject"


def evaluate_cap(cap: FrequencyCap, recent: Iterable[RecentCall], now: datetime,
                 subject: str | None = None, project: str | None = None) -> CapVerdict:
    times = [t for t in counted_calls(cap, recent, subject, project)
             if now - cap.window < t <= now]
    if len(times) < cap.calls:
        return CapVerdict(len(times), True, None)
    # The call is allowed once only calls - 1 remain: when the calls-th newest leaves.
    leaving = times[len(times) - cap.calls]
    return CapVerdict(len(times), False, leaving + cap.window)


def _span(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    if hours % 24 == 0 and hours >= 48:
        return f"{int(hours // 24)} days"
    return f"{hours:g} hours"
