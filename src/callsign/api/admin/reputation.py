"""The admin's Reputation page (SPEC 9): upload a scan's CSV; every problem is listed
with its row and column and nothing is stored, or the labels stored and the health
changes they made are shown. The same use case as ``POST /v1/health/reputation``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import Provide

from callsign.api.admin.pages import Visit, _form, _off_loop, _visit, _visit_off_loop
from callsign.api.deps import Runtime, runtime
from callsign.domain.errors import CallsignError, ConfigError, InvalidInput
from callsign.domain.scans import MAX_BYTES
from callsign.orgfile import text_of
from callsign.services import reputation

PAGE = "reputation.html"


class ReputationPage(Controller):
    path = "/admin/reputation"
    include_in_schema = False
    dependencies = {"rt": Provide(runtime, sync_to_thread=False)}

    @get("/", sync_to_thread=True)
    def show(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        return _visit(request, rt).page(PAGE)

    @post("/")
    async def upload(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        """Import the uploaded CSV: the report, or the page again with every problem."""
        visit = await _visit_off_loop(request, rt)
        data = await _form(visit)
        upload = data.get("scan")
        raw = await upload.read() if isinstance(upload, UploadFile) else b""
        name = upload.filename if isinstance(upload, UploadFile) else ""

        def run() -> Response[Any]:
            try:
                if not raw:
                    raise InvalidInput("choose a CSV file to upload", field="scan")
                if len(raw) > MAX_BYTES:
                    raise InvalidInput(f"the file is larger than {MAX_BYTES} bytes",
                                       field="scan")
                text = text_of(raw, source="the file")
                report = reputation.import_csv(visit.uow(), visit.org, text, now=rt.clock())
            except CallsignError as exc:
                return _failed(visit, exc, name)
            return visit.page(PAGE, report=report.as_dict(), filename=name)

        return await _off_loop(run)


def _failed(visit: Visit, exc: CallsignError, filename: str) -> Response[Any]:
    problems = exc.problems if isinstance(exc, ConfigError) else [(exc.field or "", exc.message)]
    return visit.page(PAGE, 400, problems=problems, filename=filename)
