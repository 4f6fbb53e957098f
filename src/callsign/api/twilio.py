"""Twilio voice webhooks: TwiML built with the official library, every request signed.

Each webhook checks X-Twilio-Signature with the organization's auth token (the one the
server's operator bound to it) against the URL Twilio called (CALLSIGN_PUBLIC_URL behind
a proxy); an unsigned or forged request gets 403 and changes nothing. A decision that
fails answers TwiML that says why and hangs up: never a 5xx, which would make Twilio play
its own error.

Twilio may deliver a webhook again, and a signed one can be replayed: the voice and
inbound webhooks answer once per CallSid (the same TwiML again, no second call recorded,
no second cap slot taken); status callbacks only ever set what they report.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import Provide

from callsign.api.deps import Runtime, organization, require_key, runtime
from callsign.api.routes import V1, IdempotencyKey
from callsign.api.schemas import Body, DecisionOut, NonEmpty, PhoneText, Subject
from callsign.bootstrap import UnitOfWork
from callsign.domain import phone
from callsign.domain.errors import CallsignError, Conflict, Forbidden, InvalidInput, NotCompliant
from callsign.domain.model import Channel, Decision, OutboundRequest
from callsign.providers.twilio import WEBHOOKS, webhook_url
from callsign.services import calls, idempotency
from callsign.services import connect as connect_service
from callsign.services.twilio_account import twilio_account

if TYPE_CHECKING:
    from twilio.twiml.voice_response import VoiceResponse

TWIML = "application/xml"
log = logging.getLogger("callsign.twilio")


def voice_response() -> VoiceResponse:
    """An empty TwiML answer. Twilio's library is imported by the first webhook, not with
    the app: a worker that serves no Twilio account never loads it."""
    from twilio.twiml.voice_response import VoiceResponse

    return VoiceResponse()


def twiml(response: VoiceResponse) -> Response[str]:
    return Response(str(response), media_type=TWIML)


def refusal(message: str) -> Response[str]:
    response = voice_response()
    response.say(f"Sorry, this call cannot be connected. {message}")
    response.hangup()
    return twiml(response)


def spoken(exc: CallsignError) -> str:
    """A refusal in words for the agent's ear: a compliance refusal says its rule, its
    source and when the call may be tried, in the callee's local time (SPEC 10)."""
    if not isinstance(exc, NotCompliant):
        return exc.message
    details = exc.details
    source = details["source"]["citation"] if details.get("source") else ""
    said = f"A compliance rule refuses it: {str(details['rule']).replace('_', ' ')}"
    said += f", under {source}." if source else "."
    if exc.next_allowed_at is None:
        return f"{said} It may not be called."
    zone = datetime.fromisoformat(details["local_times"][0]).tzinfo \
        if details.get("local_times") else UTC
    when = exc.next_allowed_at.astimezone(zone)
    return f"{said} It may be tried from {when:%A %B} {when.day} at {when:%H:%M}, the " \
           "callee's time."


async def signed_params(request: Request[Any, Any, Any], rt: Runtime, org: str) -> dict[str, str]:
    """The POST parameters of a request Twilio signed for ``org``, or Forbidden."""
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    signature = request.headers.get("x-twilio-signature", "")
    forged = Forbidden("the request is not signed by the organization's Twilio account",
                       field="X-Twilio-Signature")
    try:
        _, token = twilio_account(rt.uow(), org)
    except CallsignError as exc:
        # The same answer whether the org is unknown or has no account: no enumeration.
        log.warning("twilio webhook for %r refused: %s", org, exc.message)
        raise forged from exc
    url = str(request.url)
    if rt.public_url:
        query = request.url.query
        url = rt.public_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")
    from twilio.request_validator import RequestValidator

    if not signature or not RequestValidator(token).validate(url, params, signature):
        raise forged
    return params


def webhook_base(request: Request[Any, Any, Any], rt: Runtime) -> str:
    return rt.public_url or str(request.base_url)


def dial(caller_id: str, to: str, status_url: str | None) -> VoiceResponse:
    response = voice_response()
    dialled = response.dial(caller_id=caller_id, answer_on_bridge=True)
    if status_url:
        dialled.number(to, status_callback=status_url, status_callback_event="completed",
                       status_callback_method="POST")
    else:
        dialled.number(to)
    return response


class TwilioWebhooks(Controller):
    """Webhooks Twilio calls; point a number's or a TwiML app's voice URL here."""

    path = WEBHOOKS.format(org="{org:str}")
    tags = ["twilio"]
    dependencies = {"rt": Provide(runtime, sync_to_thread=False)}
    include_in_schema = True

    @post("/voice", status_code=200, media_type=TWIML,
          summary="Outbound call from a browser or click-to-dial: TwiML that dials")
    async def voice(self, org: str, rt: Runtime, request: Request[Any, Any, Any]) -> Response[str]:
        params = await signed_params(request, rt, org)
        # One decision per CallSid: a copy of this webhook gets the same answer.
        call_sid = params.get("CallSid") or None

        def decide(uow: UnitOfWork) -> Decision:
            outbound = OutboundRequest(
                org=org, user=connect_service.caller_user(uow, org, params),
                to=params.get("To", ""), project=params.get("Project") or None,
                caller_id=params.get("CallerId") or None,
                channel=Channel.CLICK_TO_DIAL if params.get("Channel") == "click_to_dial"
                else Channel.MANUAL, subject=params.get("Subject") or None)
            return calls.place_call(
                uow, outbound, now=rt.clock(), rng=rt.rng,
                idempotency_key=f"{CALL_SID_KEY}{call_sid}" if call_sid else None)

        try:
            decision = await rt.lane.run(decide)
        except CallsignError as exc:
            return refusal(spoken(exc))
        rt.metrics.decisions.labels(decision.rule).inc()
        status = webhook_url(webhook_base(request, rt), org, "status",
                             call_id=decision.call_id)
        return twiml(dial(decision.caller_id, decision.to, status))

    @post("/bridge", status_code=200, media_type=TWIML,
          summary="The agent answered the agent leg: TwiML that dials the contact")
    async def bridge(self, org: str, rt: Runtime, request: Request[Any, Any, Any],
                     call_id: str) -> Response[str]:
        await signed_params(request, rt, org)
        try:
            call = connect_service.call_to_bridge(rt.uow(), org, call_id)
        except CallsignError as exc:
            return refusal(exc.message)
        status = webhook_url(webhook_base(request, rt), org, "status", call_id=call_id)
        return twiml(dial(call.caller_id, call.to, status))

    @post("/inbound", status_code=200, media_type=TWIML,
          summary="A call to one of our numbers: TwiML that rings where the call path says")
    async def inbound(self, org: str, rt: Runtime,
                      request: Request[Any, Any, Any]) -> Response[str]:
        params = await signed_params(request, rt, org)
        caller = params.get("From", "")
        voice_response()  # Twilio's library imported here, not in the lane's thread

        def answer_once(uow: UnitOfWork) -> idempotency.Answer:
            def ring() -> idempotency.Answer:
                try:
                    route = calls.route_call(uow, params.get("To", ""), caller, now=rt.clock(),
                                             org=org)
                except CallsignError as exc:
                    return idempotency.Answer(200, str(refusal(exc.message).content))
                rt.metrics.routes.labels(route.rule).inc()
                response = voice_response()
                response.dial(caller_id=route_caller_id(caller)).number(route.destination)
                return idempotency.Answer(200, str(response))

            # One route per CallSid: a copy of this webhook gets the same TwiML. The
            # key's reservation, the route and its answer are one unit's steps in turn.
            return idempotency.once(lambda: uow, org, "twilio.inbound",
                                    params.get("CallSid") or None, "", ring, now=rt.clock())

        try:
            answer = await rt.lane.run(answer_once)
        except Conflict:
            return refusal("This call is already being connected.")
        return Response(str(answer.body), media_type=TWIML)

    @post("/status", status_code=200, media_type=TWIML,
          summary="Status callback: record a call's status, duration and answered-by")
    async def status(self, org: str, rt: Runtime, request: Request[Any, Any, Any],
                     call_id: str, leg: str | None = None) -> Response[str]:
        params = await signed_params(request, rt, org)
        # Twilio cannot act on an error here; the call is over either way.
        with contextlib.suppress(CallsignError):
            await rt.lane.run(lambda uow: connect_service.record_status(
                uow, org, call_id, {**params, "leg": leg or ""}, now=rt.clock()))
        return twiml(voice_response())


CALL_SID_KEY = "twilio-call:"  # the idempotency key of a voice webhook: its CallSid


def route_caller_id(caller: str) -> str | None:
    """The caller's own number passes through as caller ID on the forwarded leg; a
    withheld one ("anonymous", "Restricted", not a number) is left to Twilio, which keeps
    the caller's presentation, since <Dial callerId> takes only a number."""
    try:
        return phone.parse_number(caller, "US", field="From")
    except InvalidInput:
        return None


class ConnectIn(Body):
    user: NonEmpty
    to: PhoneText
    project: NonEmpty | None = None
    caller_id: PhoneText | None = None
    subject: Subject | None = None


class ConnectOut(DecisionOut):
    agent_call_sid: str = ""


class Connect(V1):
    path = "/v1/calls/connect"
    tags = ["calls"]
    middleware = [require_key]
    dependencies = {"org": Provide(organization, sync_to_thread=False),
                    "rt": Provide(runtime, sync_to_thread=False)}

    @post("/", status_code=201, sync_to_thread=True,  # Twilio's API rings the agent
          summary="Phone-based calling: ring the agent, then bridge to the contact")
    def connect(self, org: str, rt: Runtime, data: ConnectIn, request: Request[Any, Any, Any],
                idempotency_key: IdempotencyKey = None) -> Response[ConnectOut]:
        outbound = OutboundRequest(org=org, user=data.user, to=data.to, project=data.project,
                                   caller_id=data.caller_id, channel=Channel.CONNECT,
                                   subject=data.subject)
        if not (rt.public_url or request.base_url):
            raise InvalidInput("set CALLSIGN_PUBLIC_URL so Twilio can reach the bridge",
                               field="public_url")

        def ring_the_agent() -> idempotency.Answer:
            decision, sid = connect_service.connect(rt.uow, outbound, now=rt.clock(), rng=rt.rng,
                                                    webhook_base=webhook_base(request, rt),
                                                    api_base=rt.providers.twilio_api_base)
            rt.metrics.decisions.labels(decision.rule).inc()
            return idempotency.Answer(201, msgspec.to_builtins(
                ConnectOut.of(decision, agent_call_sid=sid)))

        answer = idempotency.once(rt.uow, org, "calls.connect", idempotency_key,
                                  idempotency.fingerprint(msgspec.to_builtins(data)),
                                  ring_the_agent, now=rt.clock())
        return Response(answer.body, status_code=answer.status)

