"""The admin's coverage map (SPEC 3.3, 9): the organization's area codes coloured by
coverage or by its numbers' health, drawn server-side as SVG (coverage_map.py)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import Provide
from litestar.response import Template
from markupsafe import Markup

from callsign.api.admin import coverage_map
from callsign.api.admin.pages import _visit
from callsign.api.deps import Runtime, runtime
from callsign.domain.errors import InvalidInput
from callsign.services.coverage_map import coverage_map as coverage_facts


class CoveragePage(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"rt": Provide(runtime, sync_to_thread=False)}

    @get("/coverage", sync_to_thread=True)
    def coverage(self, request: Request[Any, Any, Any], rt: Runtime,
                 by: str = "coverage") -> Template:
        visit = _visit(request, rt)
        if by not in coverage_map.MODES:
            raise InvalidInput(f"must be one of {', '.join(coverage_map.MODES)} (got {by!r})",
                               field="by")
        facts = coverage_facts(visit.uow, visit.org, now=rt.clock())
        found = coverage_map.areas(facts.served, facts.wanted, facts.regions)
        return visit.page("coverage.html", by=by, modes=coverage_map.MODES,
                          picture=Markup(coverage_map.svg(found, by)),
                          legend=coverage_map.legend(found, by),
                          served=sum(a.coverage == coverage_map.COVERED for a in found),
                          wanted=sum(a.coverage == coverage_map.WANTED for a in found))
