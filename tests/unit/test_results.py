"""A call's result from what each path reports of it (SPEC 9), on plain values."""

from __future__ import annotations

import pytest

from callsign.domain.errors import InvalidInput
from callsign.domain.results import (
    CallResult,
    FailureClass,
    by_sip_code,
    classify,
    parse_sip_code,
)

F = FailureClass


@pytest.mark.parametrize(("code", "expected"), [
    (603, F.REJECTED_BY_ANALYTICS),  # RFC 8688 / 3261: Decline
    (607, F.REJECTED_BY_ANALYTICS),  # RFC 8197: Unwanted
    (608, F.REJECTED_BY_ANALYTICS),  # RFC 8688: Rejected (by an intermediary's analytics)
    (200, F.ANSWERED), (202, F.ANSWERED),
    (486, F.BUSY), (600, F.BUSY),
    (408, F.NO_ANSWER), (480, F.NO_ANSWER),
    (487, F.CANCELLED),
    (404, F.INVALID_NUMBER), (410, F.INVALID_NUMBER), (484, F.INVALID_NUMBER),
    (604, F.INVALID_NUMBER),
    (403, F.FAILED), (500, F.FAILED), (503, F.FAILED), (302, F.FAILED), (606, F.FAILED),
    (180, F.UNKNOWN), (183, F.UNKNOWN),
])
def test_each_sip_final_code_has_its_class(code: int, expected: FailureClass) -> None:
    """Every SIP code maps to the class the module's table gives it."""
    assert by_sip_code(code) is expected
    assert classify(sip_code=code).failure_class is expected


@pytest.mark.parametrize("code", [603, 607, 608])
def test_an_analytics_rejection_wins_over_any_status(code: int) -> None:
    """A 603/607/608 is what health watches: the status cannot hide it."""
    for status in ("busy", "failed", "no-answer", "completed", None):
        assert classify(status=status, sip_code=code) == CallResult(
            False, F.REJECTED_BY_ANALYTICS)


@pytest.mark.parametrize(("status", "expected"), [
    ("completed", CallResult(True, F.ANSWERED)), ("in-progress", CallResult(True, F.ANSWERED)),
    ("busy", CallResult(False, F.BUSY)), ("no-answer", CallResult(False, F.NO_ANSWER)),
    ("canceled", CallResult(False, F.CANCELLED)), ("failed", CallResult(False, F.FAILED)),
    ("queued", CallResult(None, F.UNKNOWN)), ("ringing", CallResult(None, F.UNKNOWN)),
    (None, CallResult(None, F.UNKNOWN)),
])
def test_twilio_statuses(status: str | None, expected: CallResult) -> None:
    """Twilio's CallStatus values, with no SIP code."""
    assert classify(status=status) == expected


def test_a_failed_status_is_told_apart_by_its_sip_code() -> None:
    """'failed' says only that it failed; a 404 says the number is not in service."""
    assert classify(status="failed", sip_code=404).failure_class is F.INVALID_NUMBER
    assert classify(status="failed", sip_code=503).failure_class is F.FAILED


def test_twilios_own_ring_timeout_is_no_answer_even_reported_as_487() -> None:
    """Twilio cancels an unanswered call itself and may report SIP 487: still no answer."""
    assert classify(status="no-answer", sip_code=487) == CallResult(False, F.NO_ANSWER)


@pytest.mark.parametrize("by", ["machine_start", "machine_end_beep", "machine_end_other",
                                "fax", "Machine_Start"])
def test_a_machine_answer_is_not_an_answer(by: str) -> None:
    """Voicemail or fax picked up: nobody did."""
    assert classify(status="completed", sip_code=200, answered_by=by) == CallResult(
        False, F.MACHINE)


@pytest.mark.parametrize("by", ["human", "unknown", "", None])
def test_a_person_or_nobody_known_answering_is_an_answer(by: str | None) -> None:
    """AnsweredBy human, unknown or absent: answered."""
    assert classify(status="completed", answered_by=by) == CallResult(True, F.ANSWERED)


def test_a_dialer_that_knows_only_whether_it_was_answered() -> None:
    """REST: answered true/false with no code or status."""
    assert classify(was_answered=True) == CallResult(True, F.ANSWERED)
    assert classify(was_answered=False) == CallResult(False, F.NO_ANSWER)
    assert classify(was_answered=False, sip_code=608).failure_class is F.REJECTED_BY_ANALYTICS


@pytest.mark.parametrize(("text", "expected"), [("608", 608), (" 200 ", 200), ("", None),
                                                (None, None)])
def test_sip_codes_read_from_text(text: str | None, expected: int | None) -> None:
    """A webhook's SipResponseCode parameter."""
    assert parse_sip_code(text, field="SipResponseCode") == expected


@pytest.mark.parametrize("text", ["99", "700", "abc", "6081", "-60", "²00"])
def test_what_is_no_sip_code_is_refused_naming_the_field(text: str) -> None:
    """Not three ASCII digits in 100-699: InvalidInput on the parameter."""
    with pytest.raises(InvalidInput) as refused:
        parse_sip_code(text, field="SipResponseCode")
    assert refused.value.field == "SipResponseCode"
