"""Bounds on what Twilio's webhooks report: a signed but absurd value is never a 5xx."""

from __future__ import annotations

import pytest

from tests.e2e.test_twilio import (  # the deployment of the Twilio tests, and its helpers
    Deploy,
    call_id_of,
    deploy,
    dial_of,
    status_params,
    twiml_of,
    voice_params,
)

__all__ = ["deploy"]  # the fixture, used here by name


@pytest.mark.parametrize("duration", ["99999999999999999999", str(2**63), "²"])
def test_a_signed_status_callback_with_an_absurd_duration_records_no_duration(
        deploy: Deploy, duration: str) -> None:
    """CallDuration of 2^63 seconds (once a 500): answered with empty TwiML, nothing stored."""
    app = deploy()
    dialled = dial_of(app.webhook("/twilio/acme/voice", voice_params("client:bob",
                                                                     "+16305550197")))
    call_id = call_id_of(dialled.status_callback, app.server.url)

    response = app.deliver(dialled.status_callback or "", status_params(
        CallStatus="completed", CallDuration=duration))

    assert response.status_code == 200
    assert list(twiml_of(response)) == []
    assert app.call(call_id)["duration_s"] is None
