"""Reassigned numbers (SPEC 10): was the number permanently disconnected since the
contact's consent was given? If so the consent was another subscriber's, and the call is
refused, whatever the consent says.

A lookup answers as the FCC's Reassigned Numbers Database does: ``yes`` (permanently
disconnected since the date asked), ``no`` or ``no_data``. Asking, and trusting the
answer, is the safe harbor of 47 C.F.R. § 64.1200(m). The lookups run as a scrub step
(``services.reassigned``) and their answers are stored; a decision reads the stored one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from callsign.domain.compliance.rules import Source

RULE = "reassigned_number"
Answer = Literal["yes", "no", "no_data"]
YES: Answer = "yes"
NO: Answer = "no"
NO_DATA: Answer = "no_data"
ANSWERS: tuple[Answer, ...] = (YES, NO, NO_DATA)
MAX_AGE = timedelta(days=30)  # a stored answer is asked again after this long
SOURCE = Source(
    "the Reassigned Numbers Database safe harbor: 47 C.F.R. § 64.1200(m)",
    "https://www.ecfr.gov/current/title-47/chapter-I/subchapter-B/part-64/subpart-L/section-64.1200")


@dataclass(frozen=True)
class ReassignedCheck:
    """One stored answer: was the number permanently disconnected since ``since``?"""

    since: date  # the date asked about (the contact's consent date at the time)
    answer: Answer
    checked_at: datetime
    source: str = ""  # the lookup that answered


@dataclass(frozen=True)
class Consent:
    """The contact's documented consent date, and the stored answer for its number."""

    consented_on: date
    check: ReassignedCheck | None = None


@dataclass(frozen=True)
class Reading:
    """What the rule makes of a consent and its stored answer."""

    refuses: bool
    words: str


def needs_check(consent: Consent, now: datetime, max_age: timedelta = MAX_AGE) -> bool:
    """Whether the number is to be looked up (again): never asked, asked about another
    date, or asked longer ago than ``max_age``. A "yes" is a fact about the past and
    stays true, so it is not asked again for the same date."""
    check = consent.check
    if check is None or check.since != consent.consented_on:
        return True
    return check.answer != YES and now - check.checked_at >= max_age


def judge(consent: Consent | None) -> Reading | None:
    """The rule's reading for the call: None without a consent date (nothing to ask);
    refused when the stored answer for the consent date is "yes"."""
    if consent is None:
        return None
    day = consent.consented_on.isoformat()
    check = consent.check
    if check is None:
        return Reading(False, f"consent given on {day}; the number was not looked up "
                              "in a reassigned-numbers database (not checked)")
    via = f" ({check.source})" if check.source else ""
    asked = f"looked up on {check.checked_at:%Y-%m-%d}{via}"
    if check.since != consent.consented_on:
        return Reading(False, f"consent given on {day}; the stored lookup asked about "
                              f"{check.since.isoformat()}, not this date ({asked}): "
                              "look it up again")
    if check.answer == YES:
        return Reading(True, f"the number was permanently disconnected since the consent "
                             f"of {day} ({asked}): the consent was another subscriber's; "
                             "consent does not lift it")
    said = "no" if check.answer == NO else "no data"
    return Reading(False, f"consent given on {day}; not disconnected since, as far as the "
                          f"database knows: it answered {said} ({asked})")
