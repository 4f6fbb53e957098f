"""Admin pages. Each reads a form, calls the use case the REST API calls, and redirects
with a toast (post/redirect/get), or shows the form again with errors beside the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template

from callsign import calllog, directory, inventory, purchasing, service
from callsign.admin import sessions
from callsign.api.deps import Runtime, runtime
from callsign.domain.errors import CallsignError, ConfigError
from callsign.domain.model import Channel, InboundStep, Logic, NumberStatus, OutboundRequest
from callsign.orgfile import ProjectDoc, UserDoc

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
Form = Mapping[str, Any]


class NotSignedIn(Exception):
    """Raised by pages when there is no live session: they answer with the sign-in page."""


def _session(request: Request[Any, Any, Any], rt: Runtime) -> sessions.Session:
    found = sessions.current(rt.uow(), request.cookies.get(sessions.COOKIE), now=rt.clock())
    if found is None:
        raise NotSignedIn
    return found


async def _form(request: Request[Any, Any, Any], session: sessions.Session) -> dict[str, Any]:
    """The posted form, once its CSRF token is checked."""
    form = await request.form()
    data: dict[str, Any] = {key: form.getall(key) if len(form.getall(key)) > 1 else value
                            for key, value in form.items()}
    if not sessions.csrf_ok(session, str(data.get("csrf", ""))):
        raise CallsignError("the form expired or came from elsewhere; reload the page",
                            field="csrf")
    return data


def _list(data: Form, key: str) -> list[str]:
    value = data.get(key, [])
    values = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in values if str(v).strip()]


def _outcome_rows(data: Form) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The outcome → number rows, paired row by row; a half-filled row is an error."""
    def column(key: str) -> list[str]:
        value = data.get(key, [])
        return [str(v).strip() for v in (value if isinstance(value, list) else [value])]

    pairs: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for outcome, number in zip(column("outcome"), column("outcome_number"), strict=False):
        if outcome and number:
            pairs[outcome] = number
        elif outcome or number:
            problems.append((f"outcome_numbers.{outcome or '?'}",
                             "fill in both the outcome and its number, or neither"))
    return pairs, problems


def _errors(exc: CallsignError) -> dict[str, str]:
    if isinstance(exc, ConfigError):
        return {path or "form": message for path, message in exc.problems}
    return {exc.field or "form": exc.message}


def page(name: str, request: Request[Any, Any, Any], session: sessions.Session,
         status: int = 200, **context: Any) -> Template:
    toast = request.query_params.get("ok"), request.query_params.get("warn")
    return Template(template_name=name, status_code=status, context={
        "org": session.org, "csrf": session.csrf, "ok": toast[0], "warn": toast[1],
        "path": request.url.path, "errors": {}, **context})


def back(path: str, **toast: str) -> Redirect:
    query = urlencode({k: v for k, v in toast.items() if v})
    return Redirect(f"{path}?{query}" if query else path, status_code=303)


class Admin(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"rt": Provide(runtime, sync_to_thread=False)}

    # -- sign in ---------------------------------------------------------------------------
    @get("/login", sync_to_thread=False)
    def login_form(self, request: Request[Any, Any, Any]) -> Template:
        return Template(template_name="login.html", context={"error": None})

    @post("/login")
    async def login(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        form = await request.form()
        try:
            session = sessions.sign_in(rt.uow(), str(form.get("key", "")), now=rt.clock())
        except CallsignError as exc:
            return Template(template_name="login.html", status_code=401,
                            context={"error": exc.message})
        response: Response[Any] = back("/admin/numbers", ok=f"Signed in to {session.org}")
        response.set_cookie(sessions.COOKIE, session.id, httponly=True, samesite="strict",
                            path="/admin", max_age=int(sessions.LIFETIME.total_seconds()))
        return response

    @post("/logout")
    async def logout(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        session = _session(request, rt)
        await _form(request, session)
        sessions.sign_out(rt.uow(), session.id)
        response: Response[Any] = back("/admin/login")
        response.delete_cookie(sessions.COOKIE, path="/admin")
        return response

    @get("/", sync_to_thread=False)
    def home(self) -> Redirect:
        return back("/admin/numbers")

    # -- numbers ---------------------------------------------------------------------------
    @get("/numbers", sync_to_thread=False)
    def numbers(self, request: Request[Any, Any, Any], rt: Runtime, q: str = "") -> Template:
        session = _session(request, rt)
        return self._numbers_page(request, rt, session, q)

    def _numbers_page(self, request: Request[Any, Any, Any], rt: Runtime,
                      session: sessions.Session, q: str = "", status: int = 200,
                      errors: dict[str, str] | None = None) -> Template:
        views = inventory.list_numbers(rt.uow(), session.org, search=q, now=rt.clock())
        cover = purchasing.coverage(rt.uow(), session.org, now=rt.clock()).as_dict()
        return page("numbers.html", request, session, status, numbers=views, q=q,
                    coverage=cover, errors=errors or {})

    @post("/numbers/action")
    async def number_action(self, request: Request[Any, Any, Any],
                            rt: Runtime) -> Response[Any]:
        session = _session(request, rt)
        data = await _form(request, session)
        action, number = str(data.get("action", "")), str(data.get("number", ""))
        try:
            if action == "pause":
                inventory.set_status(rt.uow(), session.org, number, NumberStatus.PAUSED)
            elif action == "resume":
                inventory.set_status(rt.uow(), session.org, number, NumberStatus.ACTIVE)
            elif action == "release":
                # The page asks for confirmation first; what named the number is cleared.
                number, result, cleared = purchasing.release(
                    rt.uow, session.org, number, settings=_providers(rt), force=True)
                cleared_text = f" (cleared {'; '.join(cleared)})" if cleared else ""
                return back("/admin/numbers", ok=f"{number} {result}{cleared_text}")
            else:
                raise CallsignError(f"unknown action {action!r}", field="action")
        except CallsignError as exc:
            return self._numbers_page(request, rt, session, status=400, errors=_errors(exc))
        return back("/admin/numbers", ok=f"{number}: {action}d")

    @post("/numbers/mappings")
    async def add_mapping(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        session = _session(request, rt)
        data = await _form(request, session)
        try:
            number, served = inventory.map_area_codes(
                rt.uow(), session.org, str(data.get("number", "")),
                tuple(_list(data, "area_code")))
        except CallsignError as exc:
            return self._numbers_page(request, rt, session, status=400, errors=_errors(exc))
        return back("/admin/numbers", ok=f"{number} now serves {', '.join(served)}")

    @post("/numbers/mappings/delete")
    async def delete_mappings(self, request: Request[Any, Any, Any],
                              rt: Runtime) -> Response[Any]:
        session = _session(request, rt)
        data = await _form(request, session)
        chosen = _list(data, "mapping")  # "number|area code" of each ticked row
        if not chosen:
            return back("/admin/numbers", warn="Tick the mappings to delete first")
        try:
            for item in chosen:
                number, _, code = item.partition("|")
                inventory.map_area_codes(rt.uow(), session.org, number, (code,), unmap=True)
        except CallsignError as exc:
            return self._numbers_page(request, rt, session, status=400, errors=_errors(exc))
        return back("/admin/numbers", ok=f"Deleted {len(chosen)} mapping(s)")

    @post("/numbers/purchase")
    async def purchase(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        session = _session(request, rt)
        data = await _form(request, session)
        try:
            quantity = int(str(data.get("quantity", "1")) or "1")
        except ValueError:
            quantity = 0
        try:
            result = purchasing.purchase(rt.uow, session.org, str(data.get("area_code", "")),
                                         quantity, str(data.get("provider", "sandbox")),
                                         now=rt.clock(), settings=_providers(rt))
        except CallsignError as exc:
            return self._numbers_page(request, rt, session, status=400, errors=_errors(exc))
        if result.warning:
            return back("/admin/numbers", warn=result.warning)
        message = f"Purchased {', '.join(result.bought)} ({result.label})"
        if result.error:
            return back("/admin/numbers", warn=f"{message}; then: {result.error}")
        return back("/admin/numbers", ok=message)

    # -- projects --------------------------------------------------------------------------
    @get("/projects", sync_to_thread=False)
    def projects(self, request: Request[Any, Any, Any], rt: Runtime) -> Template:
        session = _session(request, rt)
        return page("projects.html", request, session,
                    projects=directory.list_projects(rt.uow(), session.org))

    @get("/projects/{project_id:str}", sync_to_thread=False)
    def project(self, request: Request[Any, Any, Any], rt: Runtime, project_id: str,
                q: str = "") -> Template:
        session = _session(request, rt)
        found = None if project_id == "new" else \
            directory.get_project(rt.uow(), session.org, project_id)
        return self._project_page(request, rt, session, found or ProjectDoc(id="new"), q=q)

    def _project_page(self, request: Request[Any, Any, Any], rt: Runtime,
                      session: sessions.Session, project: ProjectDoc, q: str = "",
                      status: int = 200, errors: dict[str, str] | None = None) -> Template:
        choices = inventory.list_numbers(rt.uow(), session.org, search=q, for_project=True,
                                         now=rt.clock())
        return page("project.html", request, session, status, project=project,
                    choices=choices, q=q, logics=[str(x) for x in Logic],
                    errors=errors or {})

    @post("/projects/{project_id:str}")
    async def save_project(self, request: Request[Any, Any, Any], rt: Runtime,
                           project_id: str) -> Response[Any]:
        session = _session(request, rt)
        data = await _form(request, session)
        outcomes, row_errors = _outcome_rows(data)
        fields: dict[str, Any] = {
            "id": str(data.get("id", project_id)).strip(), "name": str(data.get("name", "")),
            "numbers": _list(data, "numbers"), "first_call": str(data.get("first_call", "")),
            "keep_previous_number": data.get("keep_previous_number") == "on",
            "next_calls": str(data.get("next_calls", "random")), "outcome_numbers": outcomes,
            "agent_number": str(data.get("agent_number", "use_project")),
        }
        try:
            if row_errors:
                raise ConfigError(row_errors)
            project = ProjectDoc.model_validate(fields)
            save = directory.create if project_id == "new" else directory.put
            save(rt.uow(), session.org, project)
        except CallsignError as exc:
            return self._project_page(request, rt, session, ProjectDoc.model_construct(**fields),
                                      status=400, errors=_errors(exc))
        except ValueError as exc:  # the form's own shape (pydantic)
            return self._project_page(request, rt, session, ProjectDoc.model_construct(**fields),
                                      status=400, errors={"form": str(exc)})
        return back(f"/admin/projects/{project.id}", ok=f"Saved project {project.id}")

    # -- users -----------------------------------------------------------------------------
    @get("/users", sync_to_thread=False)
    def users(self, request: Request[Any, Any, Any], rt: Runtime) -> Template:
        session = _session(request, rt)
        return page("users.html", request, session,
                    users=directory.list_users(rt.uow(), session.org),
                    settings=directory.get_settings(rt.uow(), session.org))

    @get("/users/{user_id:str}", sync_to_thread=False)
    def user(self, request: Request[Any, Any, Any], rt: Runtime, user_id: str) -> Template:
        session = _session(request, rt)
        found = UserDoc(id="new") if user_id == "new" else \
            directory.get_user(rt.uow(), session.org, user_id)
        return self._user_page(request, rt, session, found)

    def _user_page(self, request: Request[Any, Any, Any], rt: Runtime,
                   session: sessions.Session, user: UserDoc, status: int = 200,
                   errors: dict[str, str] | None = None) -> Template:
        presentable = [v for v in inventory.list_numbers(rt.uow(), session.org, now=rt.clock())
                       if v.status == NumberStatus.ACTIVE]
        settings = directory.get_settings(rt.uow(), session.org)
        return page("user.html", request, session, status, user=user, numbers=presentable,
                    principal=settings["principal_number"], errors=errors or {})

    @post("/users/{user_id:str}")
    async def save_user(self, request: Request[Any, Any, Any], rt: Runtime,
                        user_id: str) -> Response[Any]:
        session = _session(request, rt)
        data = await _form(request, session)
        fields: dict[str, Any] = {
            "id": str(data.get("id", user_id)).strip(), "name": str(data.get("name", "")),
            "work_phone": str(data.get("work_phone", "")).strip() or None,
            "caller_id": str(data.get("caller_id", "")).strip() or None,
            "direct_number": str(data.get("direct_number", "")).strip() or None,
            "allowed_caller_ids": _list(data, "allowed_caller_ids"),
            "active": data.get("active") == "on",
        }
        try:
            user = UserDoc.model_validate(fields)
            save = directory.create if user_id == "new" else directory.put
            save(rt.uow(), session.org, user)
        except CallsignError as exc:
            return self._user_page(request, rt, session, UserDoc.model_construct(**fields),
                                   status=400, errors=_errors(exc))
        except ValueError as exc:
            return self._user_page(request, rt, session, UserDoc.model_construct(**fields),
                                   status=400, errors={"id": str(exc)})
        return back("/admin/users", ok=f"Saved user {user.id}")

    # -- organization ----------------------------------------------------------------------
    @get("/org", sync_to_thread=False)
    def org(self, request: Request[Any, Any, Any], rt: Runtime) -> Template:
        session = _session(request, rt)
        return self._org_page(request, rt, session,
                              directory.get_settings(rt.uow(), session.org))

    def _org_page(self, request: Request[Any, Any, Any], rt: Runtime,
                  session: sessions.Session, settings: dict[str, Any], status: int = 200,
                  errors: dict[str, str] | None = None) -> Template:
        return page("org.html", request, session, status, settings=settings,
                    steps=[str(s) for s in InboundStep], errors=errors or {})

    @post("/org")
    async def save_org(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        session = _session(request, rt)
        data = await _form(request, session)
        start, end = str(data.get("hours_start", "")), str(data.get("hours_end", ""))
        changes: dict[str, Any] = {
            key: (str(data.get(key, "")).strip() or None)
            for key in ("principal_number", "forwarding_number", "agent_leg_number")}
        changes.update({
            "default_country": str(data.get("default_country", "US")).strip(),
            "timezone": str(data.get("timezone", "UTC")).strip(),
            "local_presence": data.get("local_presence") == "on",
            "local_presence_fallback": str(data.get("local_presence_fallback", "none")),
            "restrict_caller_ids": data.get("restrict_caller_ids") == "on",
            "calling_hours": {"start": start, "end": end} if start or end else None,
            "inbound": {"path": _list(data, "path"),
                        "last_caller_days": str(data.get("last_caller_days", "30"))},
        })
        try:
            directory.update_settings(rt.uow(), session.org, changes)
        except CallsignError as exc:
            current = directory.get_settings(rt.uow(), session.org)
            return self._org_page(request, rt, session, {**current, **changes}, status=400,
                                  errors=_errors(exc))
        return back("/admin/org", ok="Saved the organization's settings")

    # -- decision explorer and call log ----------------------------------------------------
    @get("/explorer", sync_to_thread=False)
    def explorer(self, request: Request[Any, Any, Any], rt: Runtime, user: str = "",
                 to: str = "", project: str = "", consented: bool = False,
                 inbound_to: str = "", inbound_from: str = "") -> Template:
        session = _session(request, rt)
        decision = route = None
        errors: dict[str, str] = {}
        try:
            if user and to:
                decision = service.place_call(rt.uow(), OutboundRequest(
                    org=session.org, user=user, to=to, project=project or None,
                    channel=Channel.MANUAL, consented=consented),
                    now=rt.clock(), rng=rt.rng, dry_run=True)
            if inbound_to and inbound_from:
                route = service.route_call(rt.uow(), inbound_to, inbound_from, now=rt.clock(),
                                           dry_run=True, org=session.org)
        except CallsignError as exc:
            errors = _errors(exc)
        return page("explorer.html", request, session, 400 if errors else 200,
                    users=directory.list_users(rt.uow(), session.org),
                    projects=directory.list_projects(rt.uow(), session.org),
                    form={"user": user, "to": to, "project": project, "consented": consented,
                          "inbound_to": inbound_to, "inbound_from": inbound_from},
                    decision=decision, route=route, errors=errors)

    @get("/calls", sync_to_thread=False)
    def calls(self, request: Request[Any, Any, Any], rt: Runtime, user: str = "",
              contact: str = "", cursor: str = "") -> Template:
        session = _session(request, rt)
        errors: dict[str, str] = {}
        records: list[calllog.CallRecord] = []
        following = None
        try:
            records, following = calllog.list_calls(
                rt.uow(), session.org, user=user or None, contact=contact or None,
                cursor=cursor or None, limit=50)
        except CallsignError as exc:
            errors = _errors(exc)
        return page("calls.html", request, session, 400 if errors else 200, calls=records,
                    next_cursor=following, filters={"user": user, "contact": contact},
                    errors=errors)

    @get("/calls/{call_id:str}", sync_to_thread=False)
    def call(self, request: Request[Any, Any, Any], rt: Runtime, call_id: str) -> Template:
        session = _session(request, rt)
        return page("call.html", request, session,
                    call=calllog.get_call(rt.uow(), session.org, call_id))


def _providers(rt: Runtime) -> purchasing.ProviderSettings:
    return purchasing.ProviderSettings(twilio_api_base=rt.twilio_api_base,
                                       public_url=rt.public_url)


def not_signed_in(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return Redirect("/admin/login", status_code=303)
