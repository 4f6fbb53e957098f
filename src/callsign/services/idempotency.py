"""Requests that may be sent again: a retry gets the first answer and changes nothing.

A client that sends ``Idempotency-Key`` with a purchase, a connect or a config write, and
Twilio, which may deliver a webhook twice (CallSid), are answered once per (organization,
route, key):

- the first request reserves the key, with a hash of what it asks, before it does
  anything; when its work is done the answer (status and JSON body) is stored on the key;
- a retry with the same key and the same request gets the stored answer, and nothing is
  done again; the same key with another request is a 409;
- a retry that arrives while the first is still at work is a 409 (retry later);
- a first request that fails with an error gives its key back, so that a retry does the
  work (a refused request did nothing). A server that dies in the middle leaves the key
  reserved, answered 409: a retry never risks doing the work twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callsign.domain.errors import Conflict, InvalidInput
from callsign.store import idempotency as key_store
from callsign.store import orgs as org_store
from callsign.store.sql import integrity_errors
from callsign.store.uow import Connection, UnitOfWork

MAX_KEY = 200
FIELD = "Idempotency-Key"
UowFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class Answer:
    """What a request answered: its HTTP status and its body as JSON values."""

    status: int
    body: Any


def fingerprint(*parts: Any) -> str:
    """A hash of what a request asks, to tell a retry from a different request."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def digest(data: bytes) -> str:
    """A hash of a request body as sent, byte for byte."""
    return hashlib.sha256(data).hexdigest()


def once(uow: UowFactory, org: str, route: str, key: str | None, request_hash: str,
         work: Callable[[], Answer], *, now: datetime) -> Answer:
    """``work()``'s answer, done at most once per (org, route, key); without a key, done."""
    if key is None:
        return work()
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise InvalidInput(f"must be 1 to {MAX_KEY} printable characters", field=FIELD)
    org_id, earlier = _reserve(uow, org, route, key, request_hash, now)
    if earlier is not None:
        return earlier
    try:
        answer = work()
    except BaseException:
        with uow() as unit:
            key_store.forget_key(unit.connection, org_id, route, key)
            unit.commit()
        raise
    with uow() as unit:
        key_store.answer_key(unit.connection, org_id, route, key, answer.status, answer.body)
        unit.commit()
    return answer


def _reserve(uow: UowFactory, org: str, route: str, key: str, request_hash: str,
             now: datetime) -> tuple[int, Answer | None]:
    """Reserve the key: (org id, None); or (org id, the answer a first request gave)."""
    unit = uow()
    raced = integrity_errors(unit.engine)
    for attempt in range(2):
        try:
            with unit:
                conn = unit.connection
                org_id = int(org_store.org_row(conn, org).id)
                earlier = _earlier(conn, org_id, route, key, request_hash)
                if earlier is None:
                    key_store.reserve_key(conn, org_id, route, key, request_hash, now)
                    unit.commit()
                return org_id, earlier
        except raced:
            # A concurrent first request reserved the key meanwhile: read what it did.
            if attempt:
                raise
            unit = uow()
    raise AssertionError("unreachable")  # pragma: no cover


def _earlier(conn: Connection, org_id: int, route: str, key: str,
             request_hash: str) -> Answer | None:
    row = key_store.reserved_key(conn, org_id, route, key)
    if row is None:
        return None
    stored_hash, status, body = row
    if stored_hash != request_hash:
        raise Conflict("this Idempotency-Key was used for a different request", field=FIELD)
    if status is None:
        raise Conflict("a request with this Idempotency-Key is still being processed; "
                       "retry it later", field=FIELD)
    return Answer(status, body)
