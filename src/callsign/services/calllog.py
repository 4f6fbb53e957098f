"""The call log: outbound calls with their decisions, newest first, a page at a time."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from callsign.domain import phone
from callsign.domain.errors import InvalidInput, NotFound
from callsign.store import orgs as org_store
from callsign.store.calls import logged_call, logged_calls
from callsign.store.uow import UnitOfWork

MAX_PAGE = 500


@dataclass(frozen=True)
class CallRecord:
    call_id: str
    at: datetime
    user: str
    to: str
    caller_id: str
    rule: str
    project: str | None
    channel: str
    outcome: str | None
    trace: list[dict[str, Any]]
    telephony_status: str | None = None
    duration_s: int | None = None
    answered_by: str | None = None
    answered: bool | None = None
    sip_code: int | None = None
    failure_class: str | None = None
    result_at: datetime | None = None
    result_source: str | None = None
    spam_reported: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "at": self.at.isoformat(),
                "result_at": self.result_at.isoformat() if self.result_at else None}


def as_utc(moment: datetime) -> datetime:
    """A time without an offset is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _record(row: Any) -> CallRecord:
    return CallRecord(call_id=row.id, at=row.at, user=row.user_key, to=row.to_number,
                      caller_id=row.caller_id, rule=row.rule, project=row.project_key,
                      channel=row.channel, outcome=row.outcome, trace=row.trace,
                      telephony_status=row.telephony_status, duration_s=row.duration_s,
                      answered_by=row.answered_by, answered=row.answered,
                      sip_code=row.sip_code, failure_class=row.failure_class,
                      result_at=row.result_at, result_source=row.result_source,
                      spam_reported=bool(row.spam_reported))


def _cursor(record: CallRecord) -> str:
    return base64.urlsafe_b64encode(f"{record.at.isoformat()}|{record.call_id}".encode()).decode()


def _after(cursor: str) -> tuple[datetime, str]:
    try:
        at, call_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return as_utc(datetime.fromisoformat(at)), call_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("is not a cursor this API returned", field="cursor") from exc


def list_calls(uow: UnitOfWork, org: str, *, contact: str | None = None,
               user: str | None = None, since: datetime | None = None, limit: int = 100,
               cursor: str | None = None) -> tuple[list[CallRecord], str | None]:
    """One page of calls and the cursor of the next page (None on the last)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"must be between 1 and {MAX_PAGE}", field="limit")
    with uow:
        conn = uow.connection
        row = org_store.org_row(conn, org)
        to = phone.parse_number(contact, row.default_country, field="contact") \
            if contact else None
        rows = logged_calls(conn, row.id, to=to, user=user,
                            since=as_utc(since) if since is not None else None,
                            before=_after(cursor) if cursor else None, limit=limit + 1)
    records = [_record(r) for r in rows[:limit]]
    return records, _cursor(records[-1]) if len(rows) > limit else None


def get_call(uow: UnitOfWork, org: str, call_id: str) -> CallRecord:
    with uow:
        org_id = org_store.org_row(uow.connection, org).id
        row = logged_call(uow.connection, org_id, call_id)
    if row is None:
        raise NotFound(f"no call {call_id!r}", field="call_id")
    return _record(row)
