"""The endpoints a Kamailio SIP proxy asks, with an organization's API key as the secret.

Kamailio's http_client blocks a worker while it waits, so these answer from one short
GET with everything in the query string, and a flat JSON object that Kamailio's jansson
module reads field by field.
"""

from __future__ import annotations

from typing import Annotated

from litestar import get, post
from litestar.di import Provide
from litestar.params import QueryParameter

from callsign.api.deps import Runtime, organization, require_key, runtime
from callsign.api.routes import V1
from callsign.domain.limits import MAX_CALL_SECONDS
from callsign.domain.model import Channel, OutboundRequest
from callsign.domain.results import ResultSource
from callsign.services import calls, results


def sip_number(raw: str) -> str:
    """A number from a SIP URI user part; a '+' that arrived as a space is put back."""
    if raw[:1] == " " and raw.strip().isdigit():
        return "+" + raw.strip()
    return raw.strip()


class Kamailio(V1):
    """Decisions for the SIP proxy (see deploy/kamailio/)."""

    path = "/v1/kamailio"
    tags = ["kamailio"]
    middleware = [require_key]
    dependencies = {"org": Provide(organization, sync_to_thread=False),
                    "rt": Provide(runtime, sync_to_thread=False)}

    @get("/outbound", summary="Caller ID for an INVITE from the dialer (flat JSON for Kamailio)")
    async def outbound(self, org: str, rt: Runtime, user: str, to: str, project: str | None = None,
                 caller_id: str | None = None, subject: str | None = None) -> dict[str, str]:
        # ``subject``: the dialer's X-Callsign-Subject header, if it sends one (the route
        # passes it on): what the call is about, for frequency caps per subject.
        request = OutboundRequest(org=org, user=user, to=sip_number(to),
                                  project=project or None,
                                  caller_id=sip_number(caller_id) if caller_id else None,
                                  channel=Channel.DIALER, subject=subject or None)
        decision = await rt.lane.run(calls.CallPlacement(request, clock=rt.clock, rng=rt.rng))
        rt.metrics.decisions.labels(decision.rule).inc()
        return {"caller_id": decision.caller_id, "rule": decision.rule,
                "call_id": decision.call_id, "to": decision.to}

    @get("/inbound", summary="Destination for an INVITE from the carrier (flat JSON for Kamailio)")
    async def inbound(self, org: str, rt: Runtime, to: str,
                caller: Annotated[str | None, QueryParameter(
                    name="from", required=False,
                    description="The From user; 'anonymous', empty or left out when withheld",
                )] = None) -> dict[str, str]:
        # A withheld caller (From: anonymous@anonymous.invalid, Restricted, no user part)
        # is routed as anonymous: the steps that need the caller's number pass.
        route = await rt.lane.run(lambda uow: calls.route_call(
            uow, sip_number(to), sip_number(caller or ""), now=rt.clock(), org=org))
        rt.metrics.routes.labels(route.rule).inc()
        return {"destination": route.destination, "rule": route.rule,
                "user": route.user or "", "call_id": route.call_id}

    # -- results: reported after the call, from Kamailio's timer process ----------------

    @post("/result", status_code=200,
          summary="A call's result from the SIP proxy: the INVITE's final code, the duration")
    async def result(self, org: str, rt: Runtime,
               call_id: Annotated[str, QueryParameter(
                   min_length=1, max_length=64,
                   description="The call_id /v1/kamailio/outbound answered")],
               sip_code: Annotated[int, QueryParameter(
                   ge=100, le=699, description="The INVITE's final SIP response code")],
               duration: Annotated[int, QueryParameter(
                   ge=0, le=MAX_CALL_SECONDS,
                   description="Seconds from the answer to the end of the call")] = 0,
               ) -> dict[str, str]:
        """Everything is in the query string, as on the other Kamailio endpoints; the
        body ("{}": http_client POSTs only with one) is not read. Sent again, it sets
        the same result."""
        stored = await rt.lane.run(lambda uow: results.record_result(
            uow, org, call_id, source=ResultSource.KAMAILIO, now=rt.clock(),
            sip_code=sip_code, duration_s=duration))
        return {"call_id": call_id, "failure_class": str(stored["failure_class"])}
