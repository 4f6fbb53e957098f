"""A call's subject in the Idempotency-Key's fingerprint: a retry on another subject is
another request; a request without one keeps the fingerprint it always had."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from callsign.domain.model import OutboundRequest
from callsign.services.calls import request_hash

REQUEST = OutboundRequest(org="acme", user="alice", to="+13125550188", project="debts")


def test_a_request_without_a_subject_keeps_its_earlier_fingerprint() -> None:
    earlier = [REQUEST.org, REQUEST.user, REQUEST.to, REQUEST.project, REQUEST.caller_id,
               str(REQUEST.channel), REQUEST.consented]
    assert request_hash(REQUEST) == hashlib.sha256(json.dumps(earlier).encode()).hexdigest()


def test_the_subject_tells_two_requests_apart() -> None:
    on_one = replace(REQUEST, subject="debt-1")
    assert request_hash(on_one) != request_hash(REQUEST)
    assert request_hash(on_one) != request_hash(replace(REQUEST, subject="debt-2"))
    assert request_hash(on_one) == request_hash(replace(REQUEST, subject="debt-1"))
