"""Admin pages. Each reads a form, calls the use case the REST API calls, and redirects
with a toast (post/redirect/get), or shows the form again with its errors beside its own
fields and what was typed kept.

Toasts travel in a cookie signed with the session's secret (a flash), never in the link:
a link cannot make the admin say anything. Store work runs off the event loop (sync
handlers run in a worker thread; posts hand their work to one).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from anyio import to_thread
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template
from pydantic import ValidationError

from callsign.api.deps import Runtime, runtime
from callsign.domain.document import ProjectDoc, UserDoc, problem_message, problem_path
from callsign.domain.errors import (
    CallsignError,
    ConfigError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from callsign.domain.health_report import STATE_WORDS
from callsign.domain.model import Channel, InboundStep, Logic, NumberStatus, OutboundRequest
from callsign.services import access, calllog, organization, preview, purchasing, results
from callsign.services import calls as calls_service
from callsign.services import health as health_service
from callsign.services import numbers as numbers_service

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
Form = Mapping[str, Any]
T = TypeVar("T")

FLASH = "callsign_flash"
SPAM_REPORTER = "admin"  # reported_by of a spam report made in the web admin
COOKIE = "callsign_admin"  # the sign-in session's id
SIGN_IN = "callsign_sign_in"  # the sign-in form's CSRF token (double submit)
PER_PAGE = (25, 50, 100, 200)
BULK_ACTIONS = ("pause", "resume", "set_group", "release")
LOOKUP_LIMIT = 20
ID_RULE = "use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"


class NotSignedIn(Exception):
    """Raised by pages when there is no live session: they answer with the sign-in page."""


def _secure(request: Request[Any, Any, Any], rt: Runtime) -> bool:
    """Cookies are Secure when browsers reach us over https: the public URL says so, or a
    trusted proxy did (the server turns its X-Forwarded-Proto into the request's scheme)."""
    return (rt.public_url or "").lower().startswith("https://") or request.url.scheme == "https"


def _set_cookie(response: Response[Any], request: Request[Any, Any, Any], rt: Runtime,
                name: str, value: str, *, path: str = "/admin", max_age: int) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", path=path,
                        max_age=max_age, secure=_secure(request, rt))


# -- flash (toasts) ------------------------------------------------------------------------

def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]


def _flash_value(secret: str, ok: str | None, warn: str | None) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"ok": ok, "warn": warn}).encode()).decode()
    return f"{payload}.{_sign(secret, payload)}"


def _flash_read(secret: str, value: str | None) -> tuple[str | None, str | None]:
    payload, _, signature = (value or "").partition(".")
    if not payload or not hmac.compare_digest(signature, _sign(secret, payload)):
        return None, None
    try:
        found = json.loads(base64.urlsafe_b64decode(payload.encode()))
        return found.get("ok"), found.get("warn")
    except ValueError:
        return None, None


@dataclass
class Visit:
    """One signed-in request: its session and what the pages answer it with."""

    request: Request[Any, Any, Any]
    rt: Runtime
    session: access.Session

    @property
    def org(self) -> str:
        return self.session.org

    def uow(self) -> Any:
        return self.rt.uow()

    def page(self, name: str, status: int = 200, **context: Any) -> Template:
        ok, warn = _flash_read(self.session.csrf, self.request.cookies.get(FLASH))
        response = Template(template_name=name, status_code=status, context={
            "org": self.org, "csrf": self.session.csrf, "ok": ok, "warn": warn,
            "path": self.request.url.path, "errors": {}, "failed": None, "typed": {},
            "tz": self.timezone(), **context})
        if FLASH in self.request.cookies:
            response.delete_cookie(FLASH, path="/admin")
        return response

    def back(self, path: str, *, ok: str | None = None, warn: str | None = None) -> Redirect:
        response = Redirect(path, status_code=303)
        if ok or warn:
            _set_cookie(response, self.request, self.rt, FLASH,
                        _flash_value(self.session.csrf, ok, warn), max_age=300)
        return response

    def timezone(self) -> str:
        return str(organization.get_settings(self.uow(), self.org).get("timezone") or "UTC")


def _visit(request: Request[Any, Any, Any], rt: Runtime) -> Visit:
    found = access.current_session(rt.uow(), request.cookies.get(COOKIE), now=rt.clock())
    if found is None:
        raise NotSignedIn
    return Visit(request, rt, found)


async def _visit_off_loop(request: Request[Any, Any, Any], rt: Runtime) -> Visit:
    return await to_thread.run_sync(_visit, request, rt)


async def _form(visit: Visit) -> dict[str, Any]:
    """The posted form, once its CSRF token is checked."""
    form = await visit.request.form()
    data: dict[str, Any] = {key: form.getall(key) if len(form.getall(key)) > 1 else value
                            for key, value in form.items()}
    if not csrf_ok(visit.session, str(data.get("csrf", ""))):
        raise CallsignError("the form expired or came from elsewhere; reload the page",
                            field="csrf")
    return data


def csrf_ok(session: access.Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf, token or "")


async def _off_loop(work: Callable[[], T]) -> T:
    return await to_thread.run_sync(work)


def _text(data: Form, key: str, default: str = "") -> str:
    value = data.get(key, default)
    return str(value[-1] if isinstance(value, list) else value).strip()


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


def _validation_errors(exc: ValidationError) -> dict[str, str]:
    """A form's shape errors (pydantic) in words, each under its field."""
    found: dict[str, str] = {}
    for error in exc.errors():
        path = problem_path(error["loc"]) or "form"
        message = ID_RULE if path == "id" and error["type"] == "string_pattern_mismatch" \
            else problem_message(error)
        found.setdefault(path, message)
    return found


def local_time(at: datetime, zone: str) -> str:
    """A stored (UTC) time as the organization's clock shows it."""
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def _when(text: str, zone: str) -> datetime | None:
    """The explorer's time (a ``datetime-local`` value, in the organization's zone), or
    None for now; InvalidInput naming ``at`` if it is no time."""
    text = text.strip()
    if not text:
        return None
    try:
        found = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not a date and time (2026-12-07T07:30)",
                           field="at") from exc
    if found.tzinfo is None:
        try:
            found = found.replace(tzinfo=ZoneInfo(zone))
        except (KeyError, ValueError):
            found = found.replace(tzinfo=ZoneInfo("UTC"))
    return found


def _next_times(found: preview.Preview | None, zone: str) -> dict[str, str] | None:
    """When a refused call may be tried: in UTC, in the organization's zone and in each of
    the callee's candidate zones."""
    refusal = found.refusal if found else None
    if found is None or refusal is None or refusal.next_allowed_at is None:
        return None
    at = refusal.next_allowed_at
    times = {"UTC": at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%MZ"),
             "the organization's": local_time(at, zone)}
    for name in found.place.zones if found.place else ():
        times[f"the callee's ({name})"] = _callee_time(at, name)
    return times


def _local_times(found: preview.Preview | None) -> list[str]:
    """The callee's local time in each candidate zone at the time asked."""
    if found is None or found.place is None:
        return []
    return [f"{_callee_time(found.at, name)} ({name}: {why})"
            for name, why in zip(found.place.zones, found.place.reasons, strict=True)]


def _callee_time(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


# -- numbers: the filter and its links -------------------------------------------------------

@dataclass
class Listing:
    """The numbers page's filter, page and page size, as read from (and put in) links."""

    filter: numbers_service.NumberFilter = field(default_factory=numbers_service.NumberFilter)
    page: int = 1
    per_page: int = 50

    @classmethod
    def read(cls, params: Mapping[str, Any], prefix: str = "") -> Listing:
        def text(key: str) -> str:
            return str(params.get(prefix + key) or "").strip()[:100]

        def number(key: str, default: int) -> int:
            try:
                return max(int(text(key) or default), 1)
            except ValueError:
                return default

        per_page = number("per_page", 50)
        status = text("status")
        return cls(numbers_service.NumberFilter(
            search=text("q"), area_code=text("area_code"), region=text("region"),
            status=status if status in ("active", "paused", "resting") else "",
            group=text("group"), health=text("health")),
            page=number("page", 1), per_page=per_page if per_page in PER_PAGE else 50)

    def params(self, **changes: Any) -> dict[str, Any]:
        found = self.filter
        values = {"q": found.search, "area_code": found.area_code, "region": found.region,
                  "status": found.status, "group": found.group, "health": found.health,
                  "per_page": self.per_page,
                  "page": self.page, **changes}
        return {k: v for k, v in values.items()
                if v and not (k == "per_page" and v == 50) and not (k == "page" and v == 1)}

    def link(self, **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return f"/admin/numbers?{query}" if query else "/admin/numbers"

    @property
    def filtered(self) -> bool:
        return any(vars(self.filter).values())


def _all_matching(visit: Visit, listing: Listing) -> list[str]:
    found: list[str] = []
    while True:
        chunk = numbers_service.find_numbers(visit.uow(), visit.org, listing.filter,
                                             offset=len(found), limit=500, now=visit.rt.clock())
        found.extend(v.number for v in chunk.numbers)
        if not chunk.numbers or len(found) >= chunk.total:
            return found


# -- release: what it changes ------------------------------------------------------------

@dataclass
class Impact:
    """What releasing one number changes, read from the organization's own settings."""

    number: str
    label: str = ""
    provider: str = ""
    principal: bool = False
    org_roles: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    # Presented within the release guard: released only with the force box ticked.
    presented: str = ""  # when it was last presented, if within the guard
    guard_days: int = 0

    @property
    def blocked(self) -> bool:
        return self.principal


def release_impacts(visit: Visit, wanted: list[str]) -> tuple[list[Impact], dict[str, str]]:
    """Each number's consequences of release; numbers that are none are in the errors."""
    uow, org, now = visit.uow, visit.org, visit.rt.clock()
    settings = organization.get_settings(uow(), org)
    impacts: dict[str, Impact] = {}
    errors: dict[str, str] = {}
    for raw in wanted:
        try:
            view = numbers_service.get_number(uow(), org, raw, now=now)
        except CallsignError as exc:
            errors[raw] = exc.message
            continue
        impacts.setdefault(view.number, Impact(view.number, view.label, view.provider))
    for impact in impacts.values():
        _org_roles(impact, settings)
    if impacts:
        _user_and_project_roles(visit, impacts)
        days, lately = purchasing.guarded(uow, org, list(impacts), now=now)
        for n, at in lately.items():
            impacts[n].presented = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            impacts[n].guard_days = days
    return list(impacts.values()), errors


def _org_roles(impact: Impact, settings: dict[str, Any]) -> None:
    n = impact.number
    impact.principal = settings.get("principal_number") == n
    for key, role in (("forwarding_number", "the forwarding number"),
                      ("agent_leg_number", "the agent-leg number")):
        if settings.get(key) == n:
            impact.org_roles.append(role)


def _user_and_project_roles(visit: Visit, impacts: dict[str, Impact]) -> None:
    for user in organization.list_users(visit.uow(), visit.org):
        for n, impact in impacts.items():
            roles = [role for role, held in (
                ("caller ID", user.caller_id == n), ("direct number", user.direct_number == n),
                ("allowed caller ID", n in (user.allowed_caller_ids or []))) if held]
            if roles:
                impact.users.append(f"{user.id} ({', '.join(roles)})")
    for project in organization.list_projects(visit.uow(), visit.org):
        for n, impact in impacts.items():
            roles = [role for role, held in (
                ("pool", n in project.numbers), ("first call", project.first_call == n),
                ("outcome number", n in (project.outcome_numbers or {}).values())) if held]
            if roles:
                impact.projects.append(f"{project.id} ({', '.join(roles)})")


def _release_one(visit: Visit, number: str, force: bool, force_recent: bool) -> None:
    purchasing.release(visit.rt.uow, visit.org, number, settings=visit.rt.providers,
                       force=force, force_recent=force_recent, now=visit.rt.clock())


class Admin(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"rt": Provide(runtime, sync_to_thread=False)}

    # -- sign in ---------------------------------------------------------------------------
    @get("/login", sync_to_thread=False)
    def login_form(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        return self._login_page(request, rt)

    def _login_page(self, request: Request[Any, Any, Any], rt: Runtime, status: int = 200,
                    error: str | None = None) -> Response[Any]:
        token = request.cookies.get(SIGN_IN) or secrets.token_urlsafe(24)
        response = Template(template_name="login.html", status_code=status,
                            context={"error": error, "csrf": token})
        _set_cookie(response, request, rt, SIGN_IN, token, path="/admin/login",
                    max_age=3600)
        return response

    @post("/login")
    async def login(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        form = await request.form()
        expected = request.cookies.get(SIGN_IN, "")
        if not expected or not hmac.compare_digest(expected, str(form.get("csrf", ""))):
            return self._login_page(request, rt, 400, "The sign-in form expired or came from "
                                    "elsewhere; sign in again from this page.")
        try:
            session = await _off_loop(lambda: access.sign_in(
                rt.uow(), str(form.get("key", "")), now=rt.clock()))
        except CallsignError as exc:  # Forbidden: a valid key without the admin scope
            return self._login_page(request, rt, 403 if isinstance(exc, Forbidden) else 401,
                                    exc.message)
        visit = Visit(request, rt, session)
        response: Response[Any] = visit.back("/admin/numbers", ok=f"Signed in to {session.org}")
        _set_cookie(response, request, rt, COOKIE, session.id,
                    max_age=int(access.SESSION_LIFETIME.total_seconds()))
        response.delete_cookie(SIGN_IN, path="/admin/login")
        return response

    @post("/logout")
    async def logout(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        visit = await _visit_off_loop(request, rt)
        await _form(visit)
        await _off_loop(lambda: access.sign_out(rt.uow(), visit.session.id))
        response: Response[Any] = Redirect("/admin/login", status_code=303)
        response.delete_cookie(COOKIE, path="/admin")
        return response

    @get("/", sync_to_thread=False)
    def home(self) -> Redirect:
        return Redirect("/admin/numbers", status_code=303)

    # -- numbers ---------------------------------------------------------------------------
    @get("/numbers", sync_to_thread=True)
    def numbers(self, request: Request[Any, Any, Any], rt: Runtime) -> Template:
        visit = _visit(request, rt)
        return self._numbers_page(visit, Listing.read(request.query_params))

    def _numbers_page(self, visit: Visit, listing: Listing, status: int = 200,
                      failed: str | None = None, errors: dict[str, str] | None = None,
                      typed: Form | None = None) -> Template:
        uow, org, now = visit.uow, visit.org, visit.rt.clock()
        found = numbers_service.find_numbers(uow(), org, listing.filter,
                                             offset=(listing.page - 1) * listing.per_page,
                                             limit=listing.per_page, now=now)
        pages = max((found.total + listing.per_page - 1) // listing.per_page, 1)
        if listing.page > pages:  # past the end (numbers went away): the last page
            listing.page = pages
            found = numbers_service.find_numbers(uow(), org, listing.filter,
                                                 offset=(pages - 1) * listing.per_page,
                                                 limit=listing.per_page, now=now)
        summary = numbers_service.area_code_summary(uow(), org)
        cover = purchasing.coverage(uow(), org, now=now).as_dict()
        health = health_service.health_column(uow(), org, [n.number for n in found.numbers])
        return visit.page(
            "numbers.html", status, numbers=found.numbers, health=health, total=found.total,
            health_words={state.value: words for state, words in STATE_WORDS.items()},
            pages=pages,
            listing=listing, summary=summary,
            regions=sorted({s.region for s in summary if s.region}),
            coverage=cover, per_page_choices=PER_PAGE, errors=errors or {}, failed=failed,
            typed=typed or {})

    async def _numbers_form(self, request: Request[Any, Any, Any], rt: Runtime, form_id: str,
                            work: Callable[[Visit, dict[str, Any]], Response[Any]]
                            ) -> Response[Any]:
        """Run a numbers-page form; on an error, the page again with it beside that form."""
        visit = await _visit_off_loop(request, rt)
        data = await _form(visit)
        listing = Listing.read(data, prefix="filter_")

        def run() -> Response[Any]:
            try:
                return work(visit, data)
            except CallsignError as exc:
                return self._numbers_page(visit, listing, 409 if isinstance(exc, Conflict)
                                          else 400, failed=form_id, errors=_errors(exc),
                                          typed=data)

        return await _off_loop(run)

    @post("/numbers/action")
    async def number_action(self, request: Request[Any, Any, Any],
                            rt: Runtime) -> Response[Any]:
        """One row's Pause or Resume button: ``row`` is "pause|+1..." or "resume|+1..."."""
        def work(visit: Visit, data: dict[str, Any]) -> Response[Any]:
            action, _, number = _text(data, "row").partition("|")
            listing = Listing.read(data, prefix="filter_")
            wanted = {"pause": NumberStatus.PAUSED, "resume": NumberStatus.ACTIVE}.get(action)
            if wanted is None:
                raise InvalidInput(f"unknown action {action!r}", field="action")
            number = numbers_service.set_status(visit.uow(), visit.org, number, wanted)
            return visit.back(listing.link(), ok=f"{number}: {action}d")

        return await self._numbers_form(request, rt, "table", work)

    @post("/numbers/bulk")
    async def bulk(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        """The bulk bar: an action on the ticked numbers, or on all that match the filter."""
        def work(visit: Visit, data: dict[str, Any]) -> Response[Any]:
            listing = Listing.read(data, prefix="filter_")
            action = _text(data, "bulk")
            if action not in BULK_ACTIONS:
                raise InvalidInput("choose what to do with the selected numbers", field="bulk")
            chosen = _all_matching(visit, listing) if data.get("all_matching") == "on" \
                else _list(data, "selected")
            if not chosen:
                raise InvalidInput("tick the numbers first (or all that match the filter)",
                                   field="selected")
            if action == "release":
                return self._release_page(visit, chosen, listing)
            group = _text(data, "bulk_group")
            done, failed = 0, []
            for number in chosen:
                try:
                    if action == "set_group":
                        numbers_service.update_number(visit.uow(), visit.org, number, group=group)
                    else:
                        numbers_service.set_status(visit.uow(), visit.org, number,
                                                   NumberStatus.PAUSED if action == "pause"
                                                   else NumberStatus.ACTIVE)
                    done += 1
                except CallsignError as exc:
                    failed.append(f"{number}: {exc.message}")
            verb = {"pause": "Paused", "resume": "Resumed",
                    "set_group": f"Set group “{group}” on" if group else "Cleared the group of"
                    }[action]
            message = f"{verb} {done} number{'s' if done != 1 else ''}"
            if failed:
                shown = "; ".join(failed[:5]) + (f"; and {len(failed) - 5} more"
                                                 if len(failed) > 5 else "")
                return visit.back(listing.link(), warn=f"{message}; not {len(failed)}: {shown}")
            return visit.back(listing.link(), ok=message)

        return await self._numbers_form(request, rt, "table", work)

    @get("/numbers/release", sync_to_thread=True)
    def confirm_release(self, request: Request[Any, Any, Any], rt: Runtime) -> Template:
        visit = _visit(request, rt)
        wanted = [str(n) for n in request.query_params.getall("number", [])]
        return self._release_page(visit, wanted, Listing.read(request.query_params,
                                                              prefix="filter_"))

    def _release_page(self, visit: Visit, wanted: list[str], listing: Listing,
                      status: int = 200, error: str | None = None,
                      released: list[str] | None = None) -> Template:
        impacts, missing = release_impacts(visit, wanted)
        if not impacts and not missing and not released:
            missing = {"": "name a number to release"}
        return visit.page("release.html", 400 if missing and status == 200 else status,
                          impacts=impacts, missing=missing, listing=listing,
                          error=error, released=released or [],
                          releasable=[i for i in impacts if not i.blocked])

    @post("/numbers/release")
    async def release(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        visit = await _visit_off_loop(request, rt)
        data = await _form(visit)
        listing = Listing.read(data, prefix="filter_")
        wanted = _list(data, "number")

        def run() -> Response[Any]:
            impacts, missing = release_impacts(visit, wanted)
            blocked = [i.number for i in impacts if i.blocked]
            if missing or blocked or not impacts:
                why = (f"{', '.join(blocked)} is the organization's principal number; it "
                       "cannot be released (set another principal number first)") if blocked \
                    else "; ".join(f"{n}: {m}" for n, m in missing.items()) or \
                    "name a number to release"
                return self._release_page(visit, wanted, listing, 409 if blocked else 400, why)
            force = any(i.users or i.projects or i.org_roles for i in impacts)
            force_recent = data.get("force") == "on"  # the release guard's box
            done: list[str] = []
            for impact in impacts:
                try:
                    _release_one(visit, impact.number, force, force_recent)
                except CallsignError as exc:
                    rest = [i.number for i in impacts if i.number not in done]
                    return self._release_page(
                        visit, rest, listing, 409 if isinstance(exc, Conflict) else 400,
                        f"{impact.number}: {exc.message}", released=done)
                done.append(impact.number)
            names = ", ".join(done) if len(done) <= 5 else f"{len(done)} numbers"
            return visit.back(listing.link(), ok=f"{names} released")

        return await _off_loop(run)

    @post("/numbers/add")
    async def add_owned(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        """Add a number the organization already owns (bought elsewhere) to the inventory."""
        def work(visit: Visit, data: dict[str, Any]) -> Response[Any]:
            cap_text = _text(data, "daily_cap")
            try:
                cap = int(cap_text) if cap_text else None
            except ValueError:
                raise InvalidInput(f"{cap_text!r} is not a whole number",
                                   field="daily_cap") from None
            codes = tuple(c for c in _text(data, "area_codes").replace(",", " ").split() if c)
            number = numbers_service.add_number(
                visit.uow(), visit.org, _text(data, "number"), label=_text(data, "label"),
                group=_text(data, "group"), area_codes=codes, daily_cap=cap,
                now=visit.rt.clock())
            return visit.back(Listing().link(q=number.removeprefix("+")),
                              ok=f"Added {number} to the organization's numbers")

        return await self._numbers_form(request, rt, "add-owned", work)

    @post("/numbers/mappings")
    async def add_mapping(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        def work(visit: Visit, data: dict[str, Any]) -> Response[Any]:
            number, served = numbers_service.map_area_codes(
                visit.uow(), visit.org, _text(data, "number"), tuple(_list(data, "area_code")))
            return visit.back(Listing.read(data, prefix="filter_").link(),
                              ok=f"{number} now serves {', '.join(served)}")

        return await self._numbers_form(request, rt, "add-mapping", work)

    @post("/numbers/mappings/delete")
    async def delete_mappings(self, request: Request[Any, Any, Any],
                              rt: Runtime) -> Response[Any]:
        def work(visit: Visit, data: dict[str, Any]) -> Response[Any]:
            listing = Listing.read(data, prefix="filter_")
            chosen = _list(data, "mapping")  # "number|area code" of each ticked row
            if not chosen:
                return visit.back(listing.link(), warn="Tick the mappings to delete first")
            for item in chosen:
                number, _, code = item.partition("|")
                numbers_service.map_area_codes(visit.uow(), visit.org, number, (code,), unmap=True)
            return visit.back(listing.link(), ok=f"Deleted {len(chosen)} mapping(s)")

        return await self._numbers_form(request, rt, "table", work)

    @post("/numbers/purchase")
    async def purchase(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        def work(visit: Visit, data: dict[str, Any]) -> Response[Any]:
            try:
                quantity = int(_text(data, "quantity", "1") or "1")
            except ValueError:
                quantity = 0
            result = purchasing.purchase(visit.rt.uow, visit.org, _text(data, "area_code"),
                                         quantity, _text(data, "provider", "sandbox"),
                                         now=visit.rt.clock(), settings=visit.rt.providers)
            here = Listing.read(data, prefix="filter_").link()
            if result.warning:
                return visit.back(here, warn=result.warning)
            message = f"Purchased {', '.join(result.bought)} ({result.label})"
            if result.error:
                return visit.back(here, warn=f"{message}; then: {result.error}")
            return visit.back(here, ok=message)

        return await self._numbers_form(request, rt, "purchase", work)

    @get("/numbers/lookup", sync_to_thread=True)
    def lookup(self, request: Request[Any, Any, Any], rt: Runtime, q: str = "",
               status: str = "active") -> Response[Any]:
        """Numbers matching ``q`` (a picker's search box), at most LOOKUP_LIMIT of them."""
        visit = _visit(request, rt)
        found = numbers_service.find_numbers(
            visit.uow(), visit.org,
            numbers_service.NumberFilter(search=q.strip()[:100],
                                         status=status if status in ("active", "paused") else ""),
            limit=LOOKUP_LIMIT, now=rt.clock())
        return Response({"total": found.total, "numbers": [
            {"number": v.number, "label": v.label, "group": v.group} for v in found.numbers]})

    # -- projects --------------------------------------------------------------------------
    @get("/projects", sync_to_thread=True)
    def projects(self, request: Request[Any, Any, Any], rt: Runtime) -> Template:
        visit = _visit(request, rt)
        return visit.page("projects.html",
                          projects=organization.list_projects(visit.uow(), visit.org))

    @get("/projects/{project_id:str}", sync_to_thread=True)
    def project(self, request: Request[Any, Any, Any], rt: Runtime, project_id: str,
                q: str = "") -> Template:
        visit = _visit(request, rt)
        found = None if project_id == "new" else \
            organization.get_project(visit.uow(), visit.org, project_id)
        return self._project_page(visit, found or ProjectDoc(id="new"), q=q,
                                  creating=found is None)

    def _project_page(self, visit: Visit, project: ProjectDoc, q: str = "",
                      status: int = 200, errors: dict[str, str] | None = None,
                      creating: bool = False) -> Template:
        choices = numbers_service.list_numbers(visit.uow(), visit.org, search=q, for_project=True,
                                               now=visit.rt.clock())
        return visit.page("project.html", status, project=project, creating=creating,
                          choices=choices, q=q, logics=[str(x) for x in Logic],
                          errors=errors or {})

    @post("/projects/{project_id:str}")
    async def save_project(self, request: Request[Any, Any, Any], rt: Runtime,
                           project_id: str) -> Response[Any]:
        visit = await _visit_off_loop(request, rt)
        data = await _form(visit)
        creating = project_id == "new"
        outcomes, row_errors = _outcome_rows(data)
        fields: dict[str, Any] = {
            "id": _text(data, "id", project_id), "name": _text(data, "name"),
            "numbers": _list(data, "numbers"), "first_call": _text(data, "first_call"),
            "keep_previous_number": data.get("keep_previous_number") == "on",
            "next_calls": _text(data, "next_calls", "random"), "outcome_numbers": outcomes,
            "agent_number": _text(data, "agent_number", "use_project"),
        }
        if not creating:
            fields["id"] = project_id  # the id of a project is not changed here

        def run() -> Response[Any]:
            if not creating:  # settings the form does not show are kept (SPEC 3.3)
                with contextlib.suppress(NotFound):
                    kept = organization.get_project(visit.uow(), visit.org, project_id)
                    fields.update(compliance=kept.compliance, proximity=kept.proximity,
                                  local_only=kept.local_only)
            typed = ProjectDoc.model_construct(**fields)
            try:
                if row_errors:
                    raise ConfigError(row_errors)
                project = ProjectDoc.model_validate(fields)
                save = organization.create if creating else organization.put
                save(visit.uow(), visit.org, project)
            except CallsignError as exc:
                return self._project_page(visit, typed, status=409 if isinstance(
                    exc, Conflict) else 400, errors=_errors(exc), creating=creating)
            except ValidationError as exc:
                return self._project_page(visit, typed, status=400,
                                          errors=_validation_errors(exc), creating=creating)
            return visit.back(f"/admin/projects/{project.id}", ok=f"Saved project {project.id}")

        return await _off_loop(run)

    # -- users -----------------------------------------------------------------------------
    @get("/users", sync_to_thread=True)
    def users(self, request: Request[Any, Any, Any], rt: Runtime) -> Template:
        visit = _visit(request, rt)
        return visit.page("users.html", users=organization.list_users(visit.uow(), visit.org),
                          settings=organization.get_settings(visit.uow(), visit.org))

    @get("/users/{user_id:str}", sync_to_thread=True)
    def user(self, request: Request[Any, Any, Any], rt: Runtime, user_id: str) -> Template:
        visit = _visit(request, rt)
        creating = user_id == "new"
        found = UserDoc(id="new") if creating else \
            organization.get_user(visit.uow(), visit.org, user_id)
        return self._user_page(visit, found, creating=creating)

    def _user_page(self, visit: Visit, user: UserDoc, status: int = 200,
                   errors: dict[str, str] | None = None, creating: bool = False) -> Template:
        presentable = [v for v in numbers_service.list_numbers(visit.uow(), visit.org,
                                                               now=visit.rt.clock())
                       if v.status == NumberStatus.ACTIVE]
        labels = {v.number: v.label for v in presentable}
        settings = organization.get_settings(visit.uow(), visit.org)
        allowed = [(n, labels.get(n, "")) for n in (user.allowed_caller_ids or [])]
        return visit.page("user.html", status, user=user, numbers=presentable, allowed=allowed,
                          principal=settings["principal_number"], errors=errors or {},
                          creating=creating)

    @post("/users/{user_id:str}")
    async def save_user(self, request: Request[Any, Any, Any], rt: Runtime,
                        user_id: str) -> Response[Any]:
        visit = await _visit_off_loop(request, rt)
        data = await _form(visit)
        creating = user_id == "new"
        fields: dict[str, Any] = {
            "id": _text(data, "id") if creating else user_id, "name": _text(data, "name"),
            "work_phone": _text(data, "work_phone") or None,
            "caller_id": _text(data, "caller_id") or None,
            "direct_number": _text(data, "direct_number") or None,
            "allowed_caller_ids": list(dict.fromkeys(_list(data, "allowed_caller_ids"))),
            "active": data.get("active") == "on",
        }

        def run() -> Response[Any]:
            typed = UserDoc.model_construct(**fields)
            try:
                user = UserDoc.model_validate(fields)
                save = organization.create if creating else organization.put
                save(visit.uow(), visit.org, user)
            except CallsignError as exc:
                return self._user_page(visit, typed, status=409 if isinstance(exc, Conflict)
                                       else 400, errors=_errors(exc), creating=creating)
            except ValidationError as exc:
                return self._user_page(visit, typed, status=400,
                                       errors=_validation_errors(exc), creating=creating)
            return visit.back("/admin/users", ok=f"Saved user {user.id}")

        return await _off_loop(run)

    # -- organization ----------------------------------------------------------------------
    @get("/org", sync_to_thread=True)
    def org(self, request: Request[Any, Any, Any], rt: Runtime) -> Template:
        visit = _visit(request, rt)
        return self._org_page(visit, organization.get_settings(visit.uow(), visit.org))

    def _org_page(self, visit: Visit, settings: dict[str, Any], status: int = 200,
                  errors: dict[str, str] | None = None) -> Template:
        return visit.page("org.html", status, settings=settings,
                          steps=[str(s) for s in InboundStep], errors=errors or {})

    @post("/org")
    async def save_org(self, request: Request[Any, Any, Any], rt: Runtime) -> Response[Any]:
        visit = await _visit_off_loop(request, rt)
        data = await _form(visit)
        start, end = _text(data, "hours_start"), _text(data, "hours_end")
        changes: dict[str, Any] = {
            key: (_text(data, key) or None)
            for key in ("principal_number", "forwarding_number", "agent_leg_number")}
        changes.update({
            "default_country": _text(data, "default_country", "US"),
            "timezone": _text(data, "timezone", "UTC"),
            "local_presence": data.get("local_presence") == "on",
            "local_presence_fallback": _text(data, "local_presence_fallback", "none"),
            "restrict_caller_ids": data.get("restrict_caller_ids") == "on",
            "calling_hours": {"start": start, "end": end} if start or end else None,
            "inbound": {"path": _list(data, "path"),
                        "last_caller_days": _text(data, "last_caller_days", "30")},
        })

        def run() -> Response[Any]:
            try:
                organization.update_settings(visit.uow(), visit.org, changes)
            except CallsignError as exc:
                current = organization.get_settings(visit.uow(), visit.org)
                return self._org_page(visit, {**current, **changes}, status=400,
                                      errors=_errors(exc))
            return visit.back("/admin/org", ok="Saved the organization's settings")

        return await _off_loop(run)

    # -- decision explorer and call log ----------------------------------------------------
    @get("/explorer", sync_to_thread=True)
    def explorer(self, request: Request[Any, Any, Any], rt: Runtime, user: str = "",
                 to: str = "", project: str = "", consented: bool = False, at: str = "",
                 contact_timezone: str = "", contact_state: str = "",
                 contact_postal_code: str = "", inbound_to: str = "",
                 inbound_from: str = "") -> Template:
        """Dry runs: the decision for a call (at a time and for a contact address typed, if
        given), refused or not, with its trace; and the route of an inbound call."""
        visit = _visit(request, rt)
        found = route = None
        errors: dict[str, str] = {}
        failed = None  # the form the errors belong to: each shows only its own
        zone = visit.timezone()
        try:
            if user and to:
                failed = "try-call"
                found = preview.preview_call(rt.uow(), OutboundRequest(
                    org=visit.org, user=user, to=to, project=project or None,
                    channel=Channel.MANUAL, consented=consented),
                    now=rt.clock(), rng=rt.rng, at=_when(at, zone),
                    contact=preview.contact_address(contact_timezone, contact_state,
                                                    contact_postal_code))
            if inbound_to and inbound_from:
                failed = "try-inbound"
                route = calls_service.route_call(rt.uow(), inbound_to, inbound_from, now=rt.clock(),
                                                 dry_run=True, org=visit.org)
        except CallsignError as exc:
            errors = _errors(exc)
        refusal = found.refusal if found else None
        return visit.page("explorer.html", 400 if errors else 200, failed=failed,
                          users=organization.list_users(rt.uow(), visit.org),
                          projects=organization.list_projects(rt.uow(), visit.org),
                          form={"user": user, "to": to, "project": project,
                                "consented": consented, "at": at,
                                "contact_timezone": contact_timezone,
                                "contact_state": contact_state,
                                "contact_postal_code": contact_postal_code,
                                "inbound_to": inbound_to, "inbound_from": inbound_from},
                          preview=found, decision=found.decision if found else None,
                          refusal=refusal, route=route, errors=errors,
                          asked_at=local_time(found.at, zone) if found else None,
                          next_at=_next_times(found, zone),
                          local_times=_local_times(found))

    @get("/calls", sync_to_thread=True)
    def calls(self, request: Request[Any, Any, Any], rt: Runtime, user: str = "",
              contact: str = "", cursor: str = "") -> Template:
        visit = _visit(request, rt)
        errors: dict[str, str] = {}
        records: list[calllog.CallRecord] = []
        following = None
        try:
            records, following = calllog.list_calls(
                rt.uow(), visit.org, user=user or None, contact=contact or None,
                cursor=cursor or None, limit=50)
        except CallsignError as exc:
            errors = _errors(exc)
        zone = visit.timezone()
        return visit.page("calls.html", 400 if errors else 200, calls=records,
                          times={c.call_id: local_time(c.at, zone) for c in records},
                          next_cursor=following, filters={"user": user, "contact": contact},
                          errors=errors)

    @get("/calls/{call_id:str}", sync_to_thread=True)
    def call(self, request: Request[Any, Any, Any], rt: Runtime, call_id: str) -> Template:
        visit = _visit(request, rt)
        found = calllog.get_call(rt.uow(), visit.org, call_id)
        return visit.page("call.html", call=found, when=local_time(found.at, visit.timezone()))

    @post("/calls/{call_id:str}/spam-report")
    async def spam_report(self, request: Request[Any, Any, Any], rt: Runtime,
                          call_id: str) -> Response[Any]:
        """The call page's "Showed as spam" button: an agent's report (once per call)."""
        visit = await _visit_off_loop(request, rt)
        data = await _form(visit)

        def work() -> Response[Any]:
            report = results.report_spam(visit.uow(), visit.org, call_id,
                                         reported_by=SPAM_REPORTER, note=_text(data, "note"),
                                         now=rt.clock())
            if report.recorded:
                return visit.back(f"/admin/calls/{report.call_id}",
                                  ok=f"Reported: {report.number} showed as spam")
            return visit.back(f"/admin/calls/{report.call_id}",
                              warn="This call was already reported as spam")

        return await _off_loop(work)


def not_signed_in(_: Request[Any, Any, Any], __: Exception) -> Response[Any]:
    return Redirect("/admin/login", status_code=303)


# -- error pages -------------------------------------------------------------------------

Handler = Callable[[Request[Any, Any, Any], Any], Response[Any]]
TITLES = {400: "That did not work", 401: "Sign in first", 403: "Not allowed",
          404: "No such page", 405: "Not allowed here", 409: "That clashes with what is stored",
          413: "Too large", 422: "Refused", 500: "Something went wrong on our side"}


def html_for_admin(handlers: Mapping[Any, Handler]) -> dict[Any, Handler]:
    """The app's error handlers, answering an HTML page under /admin (JSON elsewhere)."""
    def wrap(handler: Handler) -> Handler:
        def answer(request: Request[Any, Any, Any], exc: Any) -> Response[Any]:
            response = handler(request, exc)
            path = request.url.path
            if not (path == "/admin" or path.startswith("/admin/")):
                return response
            status = response.status_code or 500
            content = response.content if isinstance(response.content, dict) else {}
            message = str(content.get("error", {}).get("message") or "")
            if status == 404 and message.startswith("no such endpoint"):
                message = f"There is no page at {path}."
            field = content.get("error", {}).get("field")
            if field and message and status < 500 and not message.startswith(f"{field}"):
                message = f"{field}: {message}"  # the field by its path, as the API names it
            if status >= 500:
                message = "The error was logged. Go back and try again."
            return Template(template_name="error.html", status_code=status, context={
                "status": status, "title": TITLES.get(status, "That did not work"),
                "message": message or TITLES.get(status, "")})

        return answer

    return {kind: wrap(handler) for kind, handler in handlers.items()}
