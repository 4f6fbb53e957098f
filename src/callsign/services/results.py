"""Use cases that record each call's result and agents' spam reports (SPEC 9).

Every path reports here: Twilio status callbacks (``twilio_result``, used by
``connect.record_status``), Kamailio, the REST API and the command line
(``record_result``), and agents (``report_spam``). Each is idempotent, a replay sets the
same values again, and tenant-safe: a call of another organization is NotFound. A stored
result or a new spam report re-judges the number's health in the same transaction
(``services.health``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callsign.domain.errors import InvalidInput, NotFound
from callsign.domain.limits import MAX_CALL_SECONDS, MAX_ID
from callsign.domain.results import (
    FINAL_STATUSES,
    FailureClass,
    ResultSource,
    answered,
    check_sip_code,
    classify,
    parse_sip_code,
)
from callsign.services import health
from callsign.store import results as result_store
from callsign.store.uow import UnitOfWork

MAX_NOTE = 500


@dataclass(frozen=True)
class SpamReport:
    call_id: str
    number: str
    reported_by: str
    note: str
    at: datetime
    recorded: bool  # False: the call had been reported already; that first report stands

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "at": self.at.isoformat()}


def _org_id(uow: UnitOfWork, org: str | None, call_id: str) -> int:
    """The organization's id; without ``org`` (the operator's CLI), the call's own."""
    if org is not None:
        known = result_store.org_id(uow.connection, org)
        if known is None:
            raise NotFound(f"no organization {org!r}", field="org")
        return known
    found = result_store.call_org(uow.connection, call_id)
    if found is None:
        raise NotFound(f"no call {call_id!r}", field="call_id")
    return found


def check_duration(seconds: int | None, *, field: str = "duration") -> int | None:
    if seconds is not None and not 0 <= seconds <= MAX_CALL_SECONDS:
        raise InvalidInput(f"must be between 0 and {MAX_CALL_SECONDS} seconds", field=field)
    return seconds


def result_values(*, was_answered: bool | None = None, sip_code: int | None = None,
                  failure_class: str | None = None, status: str | None = None,
                  answered_by: str | None = None) -> dict[str, Any]:
    """The result columns from what a path reported; a class given by a dialer must agree
    with its ``answered``. Empty when nothing final is known (nothing to store)."""
    if sip_code is not None:
        check_sip_code(sip_code)
    if failure_class is not None:
        try:
            given = FailureClass(failure_class)
        except ValueError:
            names = ", ".join(c.value for c in FailureClass)
            raise InvalidInput(f"{failure_class[:40]!r} is not one of {names}",
                               field="failure_class") from None
        implied = answered(given)
        if was_answered is not None and implied is not None and implied != was_answered:
            raise InvalidInput(f"a call of class {given.value} was "
                               f"{'' if implied else 'not '}answered", field="answered")
        return {"answered": was_answered if implied is None else implied,
                "failure_class": given.value, "sip_code": sip_code}
    result = classify(status=status, sip_code=sip_code, answered_by=answered_by,
                      was_answered=was_answered)
    if result.failure_class is FailureClass.UNKNOWN and sip_code is None:
        return {}
    return {"answered": result.answered, "failure_class": result.failure_class.value,
            "sip_code": sip_code}


def record_result(uow: UnitOfWork, org: str | None, call_id: str, *, source: ResultSource,
                  now: datetime, was_answered: bool | None = None,
                  duration_s: int | None = None, sip_code: int | None = None,
                  failure_class: str | None = None) -> dict[str, Any]:
    """Store a call's result as a dialer, Kamailio or an agent reports it; the stored
    result. Nothing known (no answer, code or class) is refused naming ``answered``."""
    values = result_values(was_answered=was_answered, sip_code=sip_code,
                           failure_class=failure_class)
    if not values:
        raise InvalidInput("say whether the call was answered, its SIP code or its class",
                           field="answered")
    check_duration(duration_s)
    if duration_s is not None:
        values["duration_s"] = duration_s
    with uow:
        org_id = _org_id(uow, org, call_id)
        stored = {**values, "result_at": now, "result_source": source.value}
        caller_id = result_store.set_result(uow.connection, org_id, call_id, stored)
        if caller_id is None:
            raise NotFound(f"no call {call_id!r}", field="call_id")
        result_store.end_live_call(uow.connection, org_id, call_id, caller_id)
        health.after_result(uow.connection, org_id, call_id, now, caller_id=caller_id)
        uow.commit()
    return {"call_id": call_id, "answered": values["answered"],
            "failure_class": values["failure_class"], "sip_code": values["sip_code"],
            "duration_s": duration_s, "result_at": now.isoformat(),
            "result_source": source.value}


def twilio_result(params: dict[str, str], *, now: datetime) -> dict[str, Any]:
    """The result columns a Twilio status callback of the contact's leg carries: its final
    status, ``SipResponseCode`` and ``AnsweredBy``. Empty until the call is over."""
    status = (params.get("DialCallStatus") or params.get("CallStatus") or "").strip().lower()
    sip_code = parse_sip_code(params.get("DialSipResponseCode")
                              or params.get("SipResponseCode"), field="SipResponseCode")
    if status not in FINAL_STATUSES and sip_code is None:
        return {}
    values = result_values(status=status, sip_code=sip_code,
                           answered_by=params.get("AnsweredBy"))
    if values:
        values.update(result_at=now, result_source=ResultSource.TWILIO.value)
    return values


def report_spam(uow: UnitOfWork, org: str | None, call_id: str, *, reported_by: str,
                note: str = "", now: datetime) -> SpamReport:
    """An agent says the call showed as spam on the callee's phone. Once per call: a
    repeat (or a replayed request) returns the first report with ``recorded`` False."""
    reported_by = reported_by.strip()
    if not reported_by or len(reported_by) > MAX_ID:
        raise InvalidInput(f"must be 1 to {MAX_ID} characters", field="reported_by")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"must be at most {MAX_NOTE} characters", field="note")
    with uow:
        org_id = _org_id(uow, org, call_id)
        conn = uow.connection
        recorded = result_store.add_spam_report(conn, org_id, call_id, reported_by=reported_by,
                                                note=note.strip(), at=now)
        row = result_store.spam_report(conn, org_id, call_id)
        if row is None:
            raise NotFound(f"no call {call_id!r}", field="call_id")
        if recorded:
            health.judge(conn, org_id, row.number, now)
        uow.commit()
    return SpamReport(call_id=call_id, number=row.number, reported_by=row.reported_by,
                      note=row.note, at=row.at, recorded=recorded)
