"""The organization's do-not-call list over REST (SPEC 10): list, add, remove, import; and
the national registry's scrub files."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Request, delete, get, post
from litestar.params import Parameter

from callsign.api.deps import Runtime
from callsign.api.routes import V1
from callsign.api.schemas import Body
from callsign.domain import limits
from callsign.domain.errors import InvalidInput
from callsign.services import dnc, reassigned


class DoNotCallIn(Body):
    number: str
    source: Annotated[str, msgspec.Meta(max_length=dnc.MAX_SOURCE)] = ""
    note: Annotated[str, msgspec.Meta(max_length=dnc.MAX_NOTE)] = ""


class DoNotCall(V1):
    path = "/v1/dnc"
    tags = ["compliance"]

    @get("/", sync_to_thread=False,
         summary="The do-not-call list, a page at a time (after = the last number seen)")
    def index(self, org: str, rt: Runtime,
              limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
              after: str | None = None) -> dict[str, Any]:
        return dnc.listed(rt.uow(), org, limit=limit, after=after)

    @post("/", status_code=201, sync_to_thread=False,
          summary="List a number: every decision refuses it, whatever the consent")
    def add(self, org: str, rt: Runtime, data: DoNotCallIn) -> dict[str, Any]:
        return dnc.add(rt.uow(), org, data.number, source=data.source, note=data.note,
                       now=rt.clock())

    @delete("/{number:str}", status_code=204, sync_to_thread=False,
            summary="Take a number off the list")
    def remove(self, org: str, rt: Runtime, number: str) -> None:
        dnc.remove(rt.uow(), org, number)

    @post("/import", status_code=200, request_max_body_size=limits.MAX_DOCUMENT_BYTES,
          summary="List every number of a CSV file (number[,source][,note]), all or nothing")
    async def import_csv(self, org: str, rt: Runtime,
                         request: Request[Any, Any, Any]) -> dict[str, Any]:
        raw = await request.body()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput("the CSV file is not UTF-8 text", field=None) from exc
        count = await anyio.to_thread.run_sync(
            lambda: dnc.import_csv(rt.uow(), org, text, now=rt.clock()))
        return {"imported": count}

    @get("/registry", sync_to_thread=False,
         summary="The national registry's numbers imported: size, area codes, oldest date")
    def registry(self, org: str, rt: Runtime) -> dict[str, Any]:
        return dnc.registry(rt.uow(), org)

    @post("/registry", status_code=200, request_max_body_size=limits.MAX_DOCUMENT_BYTES,
          summary="Import a national registry scrub file (10-digit numbers, one a line): "
                  "it replaces its area codes' numbers")
    async def import_registry(
            self, org: str, rt: Runtime, request: Request[Any, Any, Any],
            source: Annotated[str, Parameter(max_length=dnc.MAX_SOURCE)] = "registry",
            listed_on: Annotated[date | None, Parameter(
                description="The download's date (default: today)")] = None,
    ) -> dict[str, Any]:
        raw = await request.body()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput("the scrub file is not UTF-8 text", field=None) from exc
        return await anyio.to_thread.run_sync(
            lambda: dnc.import_registry(rt.uow(), org, text, source=source,
                                        listed_on=listed_on, now=rt.clock()))

    @post("/reassigned/check", status_code=200, sync_to_thread=True,  # the database's API
          summary="Look up each contact with a consent date in the reassigned numbers "
                  "database and store the answers (47 C.F.R. § 64.1200(m))")
    def check_reassigned(
            self, org: str, rt: Runtime,
            max_age_days: Annotated[int, Parameter(
                ge=0, le=reassigned.MAX_AGE_DAYS,
                description="Look a number up again once its answer is this old")] = 30,
    ) -> dict[str, Any]:
        from callsign.providers.reassigned import reassigned_lookup  # httpx: on first use

        lookup = reassigned_lookup(rt.providers)
        return reassigned.check(rt.uow(), org, lookup, now=rt.clock(),
                                max_age=timedelta(days=max_age_days))
