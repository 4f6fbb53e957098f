"""A call's result: was it answered, and if not, why (SPEC 9). Pure.

Every path that carries a call reports it in its own words: Twilio a ``CallStatus``, a
``SipResponseCode`` and ``AnsweredBy``; Kamailio the INVITE's final SIP code and the
duration; the REST API what the dialer knows. ``classify`` turns any of them into one
``CallResult``: ``answered`` (True: a person answered; False: nobody did, or a machine;
None: not known yet) and a ``FailureClass``.

The failure classes, and what puts a call in each (first match wins):

=======================  =============================================================
rejected_by_analytics    SIP 603 Decline, 607 Unwanted, 608 Rejected (RFC 8688): what a
                         number flagged by the carriers' analytics engines gets. Whatever
                         the status says: a 608 is the signal health watches for.
answered                 SIP 2xx, or Twilio ``completed`` / ``in-progress``, answered by a
                         person or by nobody known (AnsweredBy ``human`` or ``unknown``)
machine                  answered, by a machine (AnsweredBy ``machine_*`` or ``fax``):
                         nobody picked up, so not answered
busy                     SIP 486 Busy Here, 600 Busy Everywhere; Twilio ``busy``
no_answer                SIP 408 Request Timeout, 480 Temporarily Unavailable; Twilio
                         ``no-answer`` (Twilio's own cancel after the ring timeout, even
                         when it reports that as SIP 487)
cancelled                SIP 487 Request Terminated; Twilio ``canceled``: the caller
                         gave up before an answer
invalid_number           SIP 404 Not Found, 410 Gone, 484 Address Incomplete, 604 Does
                         Not Exist Anywhere: the number called is not in service (says
                         nothing about the caller ID's reputation)
failed                   any other final code from 300 up; Twilio ``failed``
unknown                  no final status and no final code (queued, ringing, nothing)
=======================  =============================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from callsign.domain.errors import InvalidInput

MIN_SIP_CODE = 100
MAX_SIP_CODE = 699


class FailureClass(StrEnum):
    ANSWERED = "answered"
    MACHINE = "machine"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED_BY_ANALYTICS = "rejected_by_analytics"
    CANCELLED = "cancelled"
    INVALID_NUMBER = "invalid_number"
    FAILED = "failed"
    UNKNOWN = "unknown"


class ResultSource(StrEnum):
    """The path a result came from."""

    TWILIO = "twilio"
    KAMAILIO = "kamailio"
    API = "api"  # the REST API and the command line
    AGENT = "agent"  # an agent, in the web admin


ANALYTICS_REJECTIONS = frozenset({603, 607, 608})  # RFC 8688's three
BUSY_CODES = frozenset({486, 600})
NO_ANSWER_CODES = frozenset({408, 480})
CANCELLED_CODES = frozenset({487})
INVALID_NUMBER_CODES = frozenset({404, 410, 484, 604})

# Twilio's CallStatus (and DialCallStatus) values, as classes.
_STATUSES = {
    "completed": FailureClass.ANSWERED, "in-progress": FailureClass.ANSWERED,
    "answered": FailureClass.ANSWERED, "busy": FailureClass.BUSY,
    "no-answer": FailureClass.NO_ANSWER, "canceled": FailureClass.CANCELLED,
    "failed": FailureClass.FAILED,
}
FINAL_STATUSES = frozenset(_STATUSES)


@dataclass(frozen=True)
class CallResult:
    answered: bool | None
    failure_class: FailureClass


def is_machine(answered_by: str | None) -> bool:
    """Twilio's AnsweredBy for a machine: machine_start, machine_end_beep, ..., fax."""
    by = (answered_by or "").strip().lower()
    return by.startswith("machine") or by == "fax"


def answered(failure_class: FailureClass) -> bool | None:
    """Whether a person answered a call of this class (None: not known)."""
    if failure_class is FailureClass.UNKNOWN:
        return None
    return failure_class is FailureClass.ANSWERED


def classify(*, status: str | None = None, sip_code: int | None = None,
             answered_by: str | None = None, was_answered: bool | None = None) -> CallResult:
    """The result of a call from what a path reported of it (see the module's table).

    ``was_answered`` is what a dialer says when it knows no more (REST): True is an
    answer, False a call nobody answered (``no_answer``).
    """
    failure_class = _failure_class(status, sip_code, was_answered)
    if failure_class is FailureClass.ANSWERED and is_machine(answered_by):
        failure_class = FailureClass.MACHINE
    return CallResult(answered(failure_class), failure_class)


def _failure_class(status: str | None, sip_code: int | None,
                   was_answered: bool | None) -> FailureClass:
    if sip_code in ANALYTICS_REJECTIONS:
        return FailureClass.REJECTED_BY_ANALYTICS
    by_status = _STATUSES.get((status or "").strip().lower())
    # "failed" says only that it failed: the SIP code says how.
    if by_status is not None and by_status is not FailureClass.FAILED:
        return by_status
    if sip_code is not None:
        by_code = by_sip_code(sip_code)
        if by_code is not FailureClass.UNKNOWN:
            return by_code
    if by_status is not None:
        return by_status
    if was_answered is not None:
        return FailureClass.ANSWERED if was_answered else FailureClass.NO_ANSWER
    return FailureClass.UNKNOWN


def by_sip_code(code: int) -> FailureClass:
    """The class of a SIP final response code (a provisional one says nothing yet)."""
    if 200 <= code < 300:
        return FailureClass.ANSWERED
    if code < 300:
        return FailureClass.UNKNOWN
    for codes, failure_class in (
            (ANALYTICS_REJECTIONS, FailureClass.REJECTED_BY_ANALYTICS),
            (BUSY_CODES, FailureClass.BUSY), (NO_ANSWER_CODES, FailureClass.NO_ANSWER),
            (CANCELLED_CODES, FailureClass.CANCELLED),
            (INVALID_NUMBER_CODES, FailureClass.INVALID_NUMBER)):
        if code in codes:
            return failure_class
    return FailureClass.FAILED


def check_sip_code(code: int, *, field: str = "sip_code") -> int:
    """A SIP response code (100-699), or InvalidInput naming ``field``."""
    if not MIN_SIP_CODE <= code <= MAX_SIP_CODE:
        raise InvalidInput(f"{code} is not a SIP response code (100-699)", field=field)
    return code


def parse_sip_code(text: str | None, *, field: str) -> int | None:
    """A SIP response code given as text (a webhook's parameter); None when absent."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) != 3:
        raise InvalidInput(f"{text[:20]!r} is not a SIP response code (100-699)", field=field)
    return check_sip_code(int(text), field=field)
