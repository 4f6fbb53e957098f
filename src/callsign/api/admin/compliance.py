"""The admin's Compliance page (SPEC 10): the organization's and each project's calling
windows, holidays, caps and enabled packs (each rule with its source), and the
do-not-call list: its size, its first entries, and forms to add or remove a number (the
use cases ``/v1/dnc`` calls). Posts redirect with a toast, or show the page again with the
error beside its field and what was typed kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from callsign.api.admin.pages import (
    Visit,
    _errors,
    _form,
    _off_loop,
    _text,
    _visit,
    _visit_off_loop,
    local_time,
)
from callsign.api.deps import Runtime, runtime
from callsign.domain.errors import CallsignError, NotFound
from callsign.services import compliance_views, dnc

PAGE = "compliance.html"


class CompliancePage(Controller):
    path = "/admin/compliance"
    include_in_schema = False
    dependencies = {"rt": Provide(runtime, sync_to_thread=False)}

    @get("/", sync_to_thread=True)
    def show(self, request: Request[Any, Any, Any], rt: Runtime, after: str = "") -> Response[Any]:
        return _page(_visit(request, rt), after=after)

    @post("/dnc")
    async def add(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        """List a number (again: its source and note change)."""
        visit = await _visit_off_loop(request, rt)
        data = await _form(visit)
        typed = {key: _text(data, key) for key in ("number", "source", "note")}

        def run() -> Response[Any]:
            try:
                entry = dnc.add(
                    visit.uow(),
                    visit.org,
                    typed["number"],
                    source=typed["source"],
                    note=typed["note"],
                    now=rt.clock(),
                )
            except CallsignError as exc:
                return _page(visit, 400, errors=_errors(exc), failed="dnc-add", typed=typed)
            return visit.back(
                "/admin/compliance#dnc", ok=f"Listed {entry['number']}: every call to it is refused"
            )

        return await _off_loop(run)

    @post("/dnc/remove")
    async def remove(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        """Take a number off the list."""
        visit = await _visit_off_loop(request, rt)
        data = await _form(visit)
        number = _text(data, "number")

        def run() -> Response[Any]:
            try:
                dnc.remove(visit.uow(), visit.org, number)
            except NotFound as exc:
                return _page(
                    visit, 404, errors=_errors(exc), failed="dnc-remove", typed={"remove": number}
                )
            except CallsignError as exc:
                return _page(
                    visit, 400, errors=_errors(exc), failed="dnc-remove", typed={"remove": number}
                )
            return visit.back("/admin/compliance#dnc", ok=f"Took {number} off the do-not-call list")

        return await _off_loop(run)


def _page(visit: Visit, status: int = 200, *, after: str = "", **context: Any) -> Response[Any]:
    view = compliance_views.page(visit.uow(), visit.org, after=after or None)
    zone = visit.timezone()
    added = {e["number"]: _added(e["added_at"], zone) for e in view.entries}
    return visit.page(
        PAGE,
        status,
        view=view,
        added=added,
        after=after,
        page_size=compliance_views.LISTED_SHOWN,
        **context,
    )


def _added(text: str, zone: str) -> str:
    try:
        return local_time(datetime.fromisoformat(text), zone)
    except ValueError:
        return text
