"""The admin's health pages (SPEC 9): a number's charts and state timeline, and the
organization's dashboard. Each reads one read-only service view of the signed-in
organization; the charts travel as data (charts.py) that static/charts.js draws."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import Provide
from litestar.response import Template

from callsign.api.admin import charts
from callsign.api.admin.pages import _visit, local_time
from callsign.api.deps import Runtime, runtime
from callsign.domain.health_report import STATE_WORDS
from callsign.services import health_views


class HealthPages(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"rt": Provide(runtime, sync_to_thread=False)}

    @get("/numbers/{number:str}/health", sync_to_thread=True)
    def number(self, request: Request[Any, Any, Any], rt: Runtime, number: str) -> Template:
        visit = _visit(request, rt)
        page = health_views.number_page(visit.uow(), visit.org, number, now=rt.clock())
        zone = visit.timezone()
        return visit.page("number_health.html", health=page, charts=charts.number_charts(page),
                          words={s.value: w for s, w in STATE_WORDS.items()},
                          times={c.at: local_time(c.at, zone) for c in page.changes},
                          since=local_time(page.number.since, zone) if page.number.since
                          else None,
                          rest_until=local_time(page.number.rest_until, zone)
                          if page.number.rest_until else None)

    @get("/health", sync_to_thread=True)
    def dashboard(self, request: Request[Any, Any, Any], rt: Runtime) -> Template:
        visit = _visit(request, rt)
        board = health_views.dashboard(visit.uow(), visit.org, now=rt.clock())
        zone = visit.timezone()
        return visit.page("health.html", board=board, charts=charts.dashboard_charts(board),
                          times={r.number.e164: local_time(r.number.since, zone)
                                 for r in board.resting if r.number.since},
                          until={r.number.e164: local_time(r.number.rest_until, zone)
                                 for r in board.resting if r.number.rest_until})
