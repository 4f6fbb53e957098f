"""Twilio's spoken refusal of a compliance verdict: the rule, its source and when the call
may be tried, in the callee's local time (SPEC 10)."""

from __future__ import annotations

from datetime import UTC, datetime

from callsign.api.twilio import spoken
from callsign.domain.errors import NotCompliant, Refused


def test_a_compliance_refusal_says_its_rule_source_and_when_to_try_again() -> None:
    """13:00 UTC reads as 08:00 on Monday December 7 in New York."""
    refused = NotCompliant("x", details={
        "rule": "florida.hours", "source": {"citation": "Fla. Stat. § 501.616", "url": ""},
        "local_times": ["2026-12-07T07:30:00-05:00"]},
        next_allowed_at=datetime(2026, 12, 7, 13, 0, tzinfo=UTC))

    said = spoken(refused)

    assert "florida.hours, under Fla. Stat. § 501.616." in said
    assert said.endswith("It may be tried from Monday December 7 at 08:00, the callee's time.")


def test_a_do_not_call_refusal_says_it_may_not_be_called_and_others_keep_their_message(
) -> None:
    """No time to retry for a listed number; other refusals are said as they are."""
    listed = NotCompliant("x", details={"rule": "do_not_call", "source": None,
                                        "local_times": []})

    assert spoken(listed) == "A compliance rule refuses it: do not call. It may not be called."
    assert spoken(Refused("user 'bob' is inactive")) == "user 'bob' is inactive"
