"""The REST routes of SPEC 8. Each parses, calls one use case, and shapes the answer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler
from litestar.params import HeaderParameter, Parameter, PathParameter

from callsign.api.deps import Runtime, organization, require_key, runtime
from callsign.api.schemas import (
    AreaCodesIn,
    CallIn,
    CallOut,
    CallPage,
    CoverageBuyIn,
    DecisionOut,
    ImportIn,
    ImportOut,
    InboundIn,
    NumberChange,
    NumberIn,
    NumberOut,
    NumberPatch,
    OutcomeIn,
    OutcomeOut,
    PurchaseIn,
    PurchaseOut,
    ResultIn,
    ResultOut,
    RouteOut,
    SpamReportIn,
    SpamReportOut,
)
from callsign.bootstrap import UnitOfWork
from callsign.domain import limits
from callsign.domain.document import ContactDoc, OrgDocument, ProjectDoc, UserDoc
from callsign.domain.errors import InvalidInput, ProviderError
from callsign.domain.model import Channel, NumberStatus, OutboundRequest
from callsign.domain.results import ResultSource
from callsign.orgfile import dump_document, load_document, load_json, text_of
from callsign.providers.base import ProviderSettings
from callsign.services import (
    calllog,
    calls,
    idempotency,
    numbers,
    purchasing,
    reputation,
    results,
)
from callsign.services import health as health_service
from callsign.services import organization as org_service

# A retry with the same key and body gets the first answer and does nothing again.
# (Its length is checked by idempotency.once, whose error names the header.)
IdempotencyKey = Annotated[str | None, HeaderParameter(
    name="Idempotency-Key", required=False,
    description=f"At most {idempotency.MAX_KEY} characters. Send the request again with "
                "the same key and body: the first answer comes back and nothing is done "
                "twice; another body with it is a 409")]


class V1(Controller):
    """Authenticated by an organization's key; sees only that organization."""

    middleware = [require_key]
    dependencies = {"org": Provide(organization, sync_to_thread=False),
                    "rt": Provide(runtime, sync_to_thread=False)}


class Calls(V1):
    path = "/v1/calls"
    tags = ["calls"]

    @post("/", status_code=201, summary="Decide the caller ID of an outbound call")
    async def create(self, org: str, rt: Runtime, data: CallIn,
               idempotency_key: Annotated[str | None, HeaderParameter(
                   name="Idempotency-Key", max_length=200, required=False)] = None,
               ) -> DecisionOut:
        request = OutboundRequest(org=org, user=data.user, to=data.to, project=data.project,
                                  caller_id=data.caller_id, channel=Channel(data.channel),
                                  consented=data.consented, subject=data.subject)
        # The clock is read in the lane, as the decision is made: decisions waiting for a
        # batch (or for another server's) present numbers in the order they are made,
        # and the rotation reads times.
        decision = await rt.lane.run(calls.CallPlacement(
            request, clock=rt.clock, rng=rt.rng, dry_run=data.dry_run,
            idempotency_key=idempotency_key))
        if not data.dry_run:
            rt.metrics.decisions.labels(decision.rule).inc()
        return DecisionOut.of(decision, data.dry_run)

    @get("/", sync_to_thread=False, summary="The call log, newest first")
    def index(self, org: str, rt: Runtime, contact: str | None = None, user: str | None = None,
              since: datetime | None = None,
              limit: Annotated[int, Parameter(ge=1, le=calllog.MAX_PAGE)] = 100,
              cursor: str | None = None) -> CallPage:
        records, following = calllog.list_calls(rt.uow(), org, contact=contact, user=user,
                                                since=since, limit=limit, cursor=cursor)
        return CallPage([CallOut.of(r) for r in records], following)

    @get("/{call_id:str}", sync_to_thread=False, summary="One call with its decision trace")
    def show(self, org: str, rt: Runtime, call_id: str) -> CallOut:
        return CallOut.of(calllog.get_call(rt.uow(), org, call_id))

    @post("/{call_id:str}/outcome", status_code=200, summary="Record a call's outcome")
    async def outcome(self, org: str, rt: Runtime, call_id: str,
                      data: OutcomeIn) -> OutcomeOut:
        await rt.lane.run(lambda uow: calls.record_outcome(uow, call_id, data.outcome,
                                                           now=rt.clock(), org=org))
        return OutcomeOut(call_id, data.outcome.strip())

    @post("/{call_id:str}/result", status_code=200,
          summary="Record a call's result: answered, duration, SIP code, failure class")
    async def result(self, org: str, rt: Runtime, call_id: str, data: ResultIn) -> ResultOut:
        stored = await rt.lane.run(lambda uow: results.record_result(
            uow, org, call_id, source=ResultSource.API, now=rt.clock(),
            was_answered=data.answered, duration_s=data.duration, sip_code=data.sip_code,
            failure_class=data.failure_class))
        return msgspec.convert(stored, ResultOut)

    @post("/{call_id:str}/spam-report", status_code=200,
          summary="An agent reports that the call showed as spam (once per call)")
    async def spam_report(self, org: str, rt: Runtime, call_id: str,
                          data: SpamReportIn) -> SpamReportOut:
        report = await rt.lane.run(lambda uow: results.report_spam(
            uow, org, call_id, reported_by=data.reported_by, note=data.note, now=rt.clock()))
        return msgspec.convert(report.as_dict(), SpamReportOut)


class Inbound(V1):
    path = "/v1/inbound"
    tags = ["inbound"]

    @post("/", status_code=200, summary="Decide where a call to one of our numbers rings")
    async def route(self, org: str, rt: Runtime, data: InboundIn) -> RouteOut:
        route = await rt.lane.run(lambda uow: calls.route_call(
            uow, data.to, data.caller, now=rt.clock(), dry_run=data.dry_run, org=org))
        if not data.dry_run:
            rt.metrics.routes.labels(route.rule).inc()
        return RouteOut.of(route)


class Numbers(V1):
    path = "/v1/numbers"
    tags = ["numbers"]

    @get("/", sync_to_thread=False,
         summary="Numbers; for_project orders them as the project picker does")
    def index(self, org: str, rt: Runtime, search: str = "", area_code: str = "",
              group: str = "", status: str = "", for_project: bool = False) -> list[NumberOut]:
        views = numbers.list_numbers(rt.uow(), org, search=search, area_code=area_code,
                                     group=group, status=status, for_project=for_project,
                                     now=rt.clock())
        return [NumberOut.of(v) for v in views]

    @post("/", status_code=201, sync_to_thread=False, summary="Add a number the organization owns")
    def create(self, org: str, rt: Runtime, data: NumberIn) -> NumberOut:
        with naming_the_area_code(data.area_codes):
            e164 = numbers.add_number(rt.uow(), org, data.number, label=data.label,
                                      group=data.group, area_codes=tuple(data.area_codes),
                                      daily_cap=data.daily_cap, now=rt.clock())
        return NumberOut.of(numbers.get_number(rt.uow(), org, e164, now=rt.clock()))

    @get("/{number:str}", sync_to_thread=False, summary="One number")
    def show(self, org: str, rt: Runtime, number: str) -> NumberOut:
        return NumberOut.of(numbers.get_number(rt.uow(), org, number, now=rt.clock()))

    @get("/{number:str}/health", sync_to_thread=False,
         summary="One number's health: state, score, reasons, window and history")
    def health(self, org: str, rt: Runtime, number: str) -> dict[str, Any]:
        return health_service.number_health(rt.uow(), org, number, now=rt.clock())

    @patch("/{number:str}", sync_to_thread=False,
           summary="Change a number's label, group or daily cap")
    def update(self, org: str, rt: Runtime, number: str, data: NumberPatch) -> NumberOut:
        e164 = numbers.update_number(
            rt.uow(), org, number, label=data.label, group=data.group,
            daily_cap=data.daily_cap or None, clear_cap=data.daily_cap == 0)
        return NumberOut.of(numbers.get_number(rt.uow(), org, e164, now=rt.clock()))

    @delete("/{number:str}", status_code=200, sync_to_thread=True,  # the provider's API
            summary="Release a number")
    def remove(self, org: str, rt: Runtime, number: str, force: bool = False) -> NumberChange:
        released = purchasing.release(rt.uow, org, number, settings=providers(rt), force=force,
                                      now=rt.clock())
        return NumberChange(released.number, released.result, cleared=released.cleared)

    @post("/purchase", status_code=201, sync_to_thread=True,  # the provider's API
          summary="Buy numbers in an area code from a provider (sandbox or twilio)")
    def purchase(self, org: str, rt: Runtime, data: PurchaseIn,
                 idempotency_key: IdempotencyKey = None) -> Response[PurchaseOut]:
        def buy() -> idempotency.Answer:
            result = purchasing.purchase(rt.uow, org, data.area_code, data.quantity,
                                         data.provider, now=rt.clock(), settings=providers(rt))
            if result.error and not result.bought:
                raise ProviderError(result.error, field="provider")
            return idempotency.Answer(201 if result.bought else 200,
                                      msgspec.to_builtins(PurchaseOut(**result.as_dict())))

        answer = idempotency.once(rt.uow, org, "numbers.purchase", idempotency_key,
                                  idempotency.fingerprint(msgspec.to_builtins(data)), buy,
                                  now=rt.clock())
        return Response(answer.body, status_code=answer.status)

    @post("/import", status_code=200, sync_to_thread=True,  # the provider's API
          summary="Add the numbers the provider account already owns")
    def import_owned(self, org: str, rt: Runtime, data: ImportIn) -> ImportOut:
        result = purchasing.import_owned(rt.uow, org, data.provider, settings=providers(rt))
        return ImportOut(result.provider, result.added, result.already, result.elsewhere)

    @post("/{number:str}/release", status_code=200, sync_to_thread=True,  # the provider's API
          summary="Release a number")
    def release(self, org: str, rt: Runtime, number: str, force: bool = False) -> NumberChange:
        released = purchasing.release(rt.uow, org, number, settings=providers(rt), force=force,
                                      now=rt.clock())
        return NumberChange(released.number, released.result, cleared=released.cleared)

    @post("/{number:str}/pause", status_code=200, sync_to_thread=False,
          summary="Stop presenting a number")
    def pause(self, org: str, rt: Runtime, number: str) -> NumberChange:
        e164 = numbers.set_status(rt.uow(), org, number, NumberStatus.PAUSED)
        return NumberChange(e164, NumberStatus.PAUSED)

    @post("/{number:str}/resume", status_code=200, sync_to_thread=False,
          summary="Present a number again")
    def resume(self, org: str, rt: Runtime, number: str) -> NumberChange:
        e164 = numbers.set_status(rt.uow(), org, number, NumberStatus.ACTIVE)
        return NumberChange(e164, NumberStatus.ACTIVE)

    @post("/{number:str}/area-codes", status_code=200, sync_to_thread=False,
          summary="Map a number to more area codes")
    def map(self, org: str, rt: Runtime, number: str, data: AreaCodesIn) -> NumberChange:
        with naming_the_area_code(data.area_codes):
            e164, served = numbers.map_area_codes(rt.uow(), org, number,
                                                  tuple(data.area_codes))
        return NumberChange(e164, "mapped", list(served))

    @delete("/{number:str}/area-codes/{area_code:str}", status_code=200, sync_to_thread=False,
            summary="Delete a number's mapping to an area code")
    def unmap(self, org: str, rt: Runtime, number: str, area_code: str) -> NumberChange:
        e164, served = numbers.map_area_codes(rt.uow(), org, number, (area_code,),
                                              unmap=True)
        return NumberChange(e164, "unmapped", list(served))


@contextlib.contextmanager
def naming_the_area_code(area_codes: list[str]) -> Iterator[None]:
    """An area code refused by the inventory, named by its place in the body's list."""
    try:
        yield
    except InvalidInput as exc:
        named = [i for i, code in enumerate(area_codes) if exc.message.startswith(repr(code))]
        if exc.field == "area_code" and named:
            exc.field = f"area_codes[{named[0]}]"
        raise


Entity = org_service.Entity
Document = Entity  # in a subclass of Entities: its schema (bound by signature_namespace)
Key = str  # in a subclass of Entities: its path parameter, under the name the URL gives it


class Entities(V1):
    """Lists, creates, shows, replaces and deletes one kind of entity: users, contacts or
    projects answer alike. A subclass names its schema, its path parameter and the use
    cases that read one and all; it may define its own ``index``."""

    def __init_subclass__(cls, *, schema: type[Entity], key: str, name: str,
                          one: Callable[[UnitOfWork, str, str], Entity],
                          every: Callable[[UnitOfWork, str], Sequence[Entity]] | None = None,
                          threaded: bool = False, **kwargs: Any) -> None:
        """``threaded``: writes are checked as a document whose lists can be long, so
        they run off the event loop."""
        super().__init_subclass__(**kwargs)
        cls.signature_namespace = {"Document": schema,
                                   "Key": Annotated[str, PathParameter(name=key)]}
        item = f"/{{{key}:str}}"

        class Handlers:  # methods, as Litestar binds each handler to its controller
            @post("/", status_code=201, sync_to_thread=threaded, summary=f"Create a {name}")
            def create(self, org: str, rt: Runtime, data: Document) -> Document:
                return org_service.create(rt.uow(), org, data)

            @get(item, sync_to_thread=False, summary=f"One {name}")
            def show(self, org: str, rt: Runtime, key: Key) -> Document:
                return one(rt.uow(), org, key)

            @put(item, sync_to_thread=threaded, summary=f"Create or replace a {name}")
            def replace(self, org: str, rt: Runtime, key: Key, data: Document) -> Document:
                return org_service.put(rt.uow(), org, data, key=key)

            @delete(item, status_code=204, sync_to_thread=False, summary=f"Delete a {name}")
            def remove(self, org: str, rt: Runtime, key: Key) -> None:
                org_service.delete(rt.uow(), org, schema, key)

            if every is not None:
                @get("/", sync_to_thread=False, summary=f"The organization's {name}s")
                def index(self, org: str, rt: Runtime) -> list[Document]:
                    return list(every(rt.uow(), org))

        for handler_name, handler in vars(Handlers).items():
            if isinstance(handler, HTTPRouteHandler):
                setattr(cls, handler_name, handler)


class Users(Entities, schema=UserDoc, key="user_id", name="user", threaded=True,  # lists
            one=org_service.get_user, every=org_service.list_users):
    path = "/v1/users"
    tags = ["users"]


class Contacts(Entities, schema=ContactDoc, key="phone", name="contact",
               one=org_service.get_contact):
    path = "/v1/contacts"
    tags = ["contacts"]

    @get("/", sync_to_thread=False,
         summary="Contacts, a page at a time (after = the last phone seen)")
    def index(self, org: str, rt: Runtime, owner: str | None = None,
              limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
              after: str | None = None) -> list[ContactDoc]:
        return org_service.list_contacts(rt.uow(), org, owner=owner, limit=limit, after=after)


class Projects(Entities, schema=ProjectDoc, key="project_id", name="project",
               threaded=True,  # pools can be long
               one=org_service.get_project, every=org_service.list_projects):
    path = "/v1/projects"
    tags = ["projects"]


class Coverage(V1):
    path = "/v1/coverage"
    tags = ["numbers"]

    @get("/", sync_to_thread=True,  # reads every contact and recent callee
         summary="Share of contacts and recent callees a local number covers, and the gaps")
    def show(self, org: str, rt: Runtime) -> dict[str, Any]:
        return purchasing.coverage(rt.uow(), org, now=rt.clock()).as_dict()

    @post("/purchase", status_code=200, sync_to_thread=True,  # the provider's API
          summary="Buy one number for each of the top N uncovered area codes")
    def purchase(self, org: str, rt: Runtime, data: CoverageBuyIn) -> list[PurchaseOut]:
        found = purchasing.coverage(rt.uow(), org, now=rt.clock())
        results = purchasing.buy_for_gaps(rt.uow, org, found, data.top, data.provider,
                                          now=rt.clock(), settings=providers(rt))
        return [PurchaseOut(**result.as_dict()) for result in results]


def providers(rt: Runtime) -> ProviderSettings:
    return rt.providers


class Org(V1):
    path = "/v1"
    tags = ["organization"]

    @get("/org", sync_to_thread=False, summary="The organization's settings")
    def settings(self, org: str, rt: Runtime) -> dict[str, Any]:
        return org_service.get_settings(rt.uow(), org)

    @patch("/org", sync_to_thread=True,  # checked as a document
           summary="Change some of the organization's settings")
    def update_settings(self, org: str, rt: Runtime, data: dict[str, Any],
                        idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        answer = idempotency.once(
            rt.uow, org, "org.update", idempotency_key, idempotency.fingerprint(data),
            lambda: idempotency.Answer(200, org_service.update_settings(rt.uow(), org, data)),
            now=rt.clock())
        settings: dict[str, Any] = answer.body
        return settings

    @get("/config", sync_to_thread=True,  # a large document takes a while to write
         summary="The whole organization as a document (SPEC 6)")
    def config(self, org: str, rt: Runtime, request: Request[Any, Any, Any]) -> Response[Any]:
        document = org_service.get_config(rt.uow(), org)
        if "yaml" in request.headers.get("accept", ""):
            return Response(dump_document(document), media_type="application/yaml")
        return Response(document.model_dump(mode="json"))

    @put("/config", summary="Replace the whole organization with a document",
         request_max_body_size=limits.MAX_DOCUMENT_BYTES)
    async def replace_config(self, org: str, rt: Runtime, request: Request[Any, Any, Any],
                             idempotency_key: IdempotencyKey = None,
                             force: bool = False) -> dict[str, Any]:
        raw = await request.body()

        def apply() -> idempotency.Answer:
            document = self._apply(rt, org, raw, force)
            return idempotency.Answer(200, {
                "org": document.org, "applied": True, "numbers": len(document.numbers),
                "users": len(document.users), "contacts": len(document.contacts),
                "projects": len(document.projects)})

        # Reading, checking and storing a large document takes seconds: not on the event loop.
        answer = await anyio.to_thread.run_sync(lambda: idempotency.once(
            rt.uow, org, "config.replace", idempotency_key,
            idempotency.digest(raw + b"\0force" if force else raw), apply,
            now=rt.clock()))
        applied: dict[str, Any] = answer.body
        return applied

    @staticmethod
    def _apply(rt: Runtime, org: str, body: bytes, force: bool) -> OrgDocument:
        data = load_document(body, source="the request body")  # YAML or JSON
        return org_service.put_config(rt.uow(), org, data, providers=providers(rt),
                                      force=force, now=rt.clock())


class Health(V1):
    path = "/v1/health"
    tags = ["health"]

    @get("/", sync_to_thread=False,
         summary="The numbers by health state, and those resting or watched with reasons")
    def summary(self, org: str, rt: Runtime) -> dict[str, Any]:
        return health_service.org_health(rt.uow(), org, now=rt.clock())

    @post("/sweep", status_code=200, sync_to_thread=True,  # reads every number's window
          summary="Judge every number now: rest, restore; what changed")
    def sweep(self, org: str, rt: Runtime) -> dict[str, Any]:
        return health_service.sweep_org(rt.uow(), org, now=rt.clock()).as_dict()

    @post("/reputation", status_code=200,
          summary="Import reputation scan results: CSV (text/csv) or a JSON list of rows",
          description="Columns or keys: number, engine or carrier, label, checked_at. All "
                      "rows or none: every problem names its row and column. Each "
                      "labelled number is judged again; a flag rests it per the policy.")
    async def import_reputation(self, org: str, rt: Runtime,
                                request: Request[Any, Any, Any]) -> dict[str, Any]:
        raw = await request.body()
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()

        def run() -> dict[str, Any]:
            if kind == "text/csv":
                text = text_of(raw, source="the request body")
                return reputation.import_csv(rt.uow(), org, text, now=rt.clock()).as_dict()
            rows = load_json(raw)
            return reputation.import_rows(rt.uow(), org, rows, now=rt.clock()).as_dict()

        # Checking thousands of rows and judging each number: not on the event loop.
        answer: dict[str, Any] = await anyio.to_thread.run_sync(run)
        return answer

    @post("/scan", status_code=200, sync_to_thread=True,  # the feed's API
          summary="Pull every number's reputation labels through the configured feed")
    def scan(self, org: str, rt: Runtime) -> dict[str, Any]:
        from callsign.providers.reputation import reputation_feed  # httpx: on first use

        feed = reputation_feed(providers(rt))
        return reputation.scan(rt.uow(), org, feed, now=rt.clock()).as_dict()


ROUTES = [Calls, Inbound, Numbers, Users, Contacts, Projects, Coverage, Org, Health]
