"""Use cases behind the Twilio webhooks: who is calling, the agent leg, call status."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from callsign.domain import phone
from callsign.domain.errors import InvalidInput, NotFound
from callsign.domain.limits import MAX_CALL_SECONDS
from callsign.domain.model import Channel, Decision, OutboundRequest
from callsign.providers import twilio
from callsign.services import calls as calls_service
from callsign.services import health, results
from callsign.services.calllog import CallRecord, get_call
from callsign.services.twilio_account import twilio_account
from callsign.store import orgs as org_store
from callsign.store.calls import logged_call, set_telephony
from callsign.store.uow import UnitOfWork

UowFactory = Callable[[], UnitOfWork]


def caller_user(uow: UnitOfWork, org: str, params: dict[str, str]) -> str:
    """The user placing a Twilio call: ``client:ID``, a ``User`` parameter, or their phone."""
    source = params.get("From", "")
    if source.startswith("client:"):
        return source.removeprefix("client:")
    if params.get("User"):
        return params["User"]
    with uow:
        row = org_store.org_row(uow.connection, org)
        try:
            number = phone.parse_number(source, row.default_country, field="From")
        except InvalidInput:
            number = source
        key = org_store.user_by_phone(uow.connection, row.id, number)
    if key is None:
        raise NotFound(f"{source!r} is no user of the organization", field="From")
    return str(key)


def connect(
    uow: UowFactory, request: OutboundRequest, *, now: datetime, rng: random.Random,
    webhook_base: str, api_base: str | None,
) -> tuple[Decision, str]:
    """Phone-based calling: decide, record, then ring the agent from the agent-leg number.

    When the agent answers, Twilio fetches the bridge TwiML, which dials the contact
    with the caller ID decided here.
    """
    with uow() as work:
        org = org_store.org_row(work.connection, request.org)
        user = org_store.user_work_phone(work.connection, org.id, request.user)
    if user is None:
        raise NotFound(f"no user {request.user!r}", field="user")
    (work_phone,) = user
    if not work_phone:
        raise InvalidInput(f"user {request.user!r} has no work phone to ring", field="user")
    if not org.agent_leg_number:
        raise InvalidInput("the organization has no agent-leg number", field="agent_leg_number")
    account_sid, token = twilio_account(uow(), request.org)
    decision = calls_service.place_call(uow(), replace(request, channel=Channel.CONNECT), now=now,
                                        rng=rng)
    try:
        sid = twilio.call_agent(
            twilio.client(account_sid, token, api_base), to=work_phone,
            from_=org.agent_leg_number,
            url=twilio.webhook_url(webhook_base, request.org, "bridge",
                                   call_id=decision.call_id),
            status_callback=twilio.webhook_url(webhook_base, request.org, "status",
                                               call_id=decision.call_id, leg="agent"))
    except Exception:
        record_status(uow(), request.org, decision.call_id, {"CallStatus": "failed"},
                      now=now, with_result=False)  # the contact was never called
        raise
    record_status(uow(), request.org, decision.call_id, {"CallSid": sid, "CallStatus": "queued"},
                  now=now)
    return decision, sid


def call_to_bridge(uow: UnitOfWork, org: str, call_id: str) -> CallRecord:
    return get_call(uow, org, call_id)


def record_status(uow: UnitOfWork, org: str, call_id: str, params: dict[str, str], *,
                  now: datetime, with_result: bool = True) -> None:
    """Store what Twilio reports of a call: status, duration, human or machine, its SID,
    and once it is over its result (``services.results``)."""
    values: dict[str, Any] = {}
    if params.get("CallStatus") or params.get("DialCallStatus"):
        values["telephony_status"] = (params.get("DialCallStatus")
                                      or params["CallStatus"])[:32]
    duration = params.get("DialCallDuration") or params.get("CallDuration")
    if duration:
        if not (duration.isascii() and duration.isdigit()) or len(duration) > 9 \
                or int(duration) > MAX_CALL_SECONDS:
            raise InvalidInput(f"{duration[:20]!r} is not a call's number of seconds",
                               field="CallDuration")
        values["duration_s"] = int(duration)
    if params.get("AnsweredBy"):
        values["answered_by"] = params["AnsweredBy"][:32]
    if params.get("CallSid") and params.get("leg") != "agent":
        values["provider_call_sid"] = params["CallSid"][:64]
    if with_result and params.get("leg") != "agent":  # the agent leg shows no caller ID
        values.update(results.twilio_result(params, now=now))
    if not values:
        return
    # The agent leg speaks for the call only until the contact's leg reports: an agent who
    # never answered ends it; one who hangs up after a busy contact does not.
    only_while = ("queued", "ringing", "initiated") if params.get("leg") == "agent" else None
    with uow:
        org_id = org_store.org_row(uow.connection, org).id
        if logged_call(uow.connection, org_id, call_id) is None:
            raise NotFound(f"no call {call_id!r}", field="call_id")
        set_telephony(uow.connection, org_id, call_id, values, only_while=only_while)
        if "failure_class" in values:  # the call is over: judge the number it presented
            health.after_result(uow.connection, org_id, call_id, now)
        uow.commit()
