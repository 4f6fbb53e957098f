"""Roles: the scopes an API key carries and the one table of what each scope may call.

    admin    everything: every endpoint, the web admin, and any endpoint not in the table
    dialer   the call path: decisions, outcomes and results, inbound routing, Kamailio and
             phone-based calling, the call log it needs, and adding a number to the
             do-not-call list when the callee asks
    numbers  the inventory: numbers, their purchase, import, release and health
    read     every GET of the organization's data, and nothing that writes

A key holds one or more scopes; a request passes when any of them is allowed on its
route. The table is keyed by (method, path template) as the OpenAPI document writes
them (``/v1/calls/{call_id}``). A route missing from it is open to ``admin`` alone, and
``required`` says so loudly, so an endpoint added without a row is found by the tests.
OPTIONS, which only names a path's methods, is open to every scope.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from enum import StrEnum

from callsign.domain.errors import Forbidden, InvalidInput


class Scope(StrEnum):
    ADMIN = "admin"
    DIALER = "dialer"
    NUMBERS = "numbers"
    READ = "read"


ALL = frozenset(Scope)
FULL_ACCESS = frozenset({Scope.ADMIN})  # what a key made before scopes existed holds

_DIALER = frozenset({Scope.DIALER})
_NUMBERS = frozenset({Scope.NUMBERS})
_READERS = frozenset({Scope.READ})
_ADMIN_ONLY: frozenset[Scope] = frozenset()

Route = tuple[str, str]  # (method, path template)

# The scopes besides ``admin`` that open each route (``admin`` opens them all).
ROUTES: dict[Route, frozenset[Scope]] = {
    # The call path.
    ("POST", "/v1/calls"): _DIALER,
    ("GET", "/v1/calls"): _DIALER | _READERS,
    ("GET", "/v1/calls/{call_id}"): _DIALER | _READERS,
    ("POST", "/v1/calls/{call_id}/outcome"): _DIALER,
    ("POST", "/v1/calls/{call_id}/result"): _DIALER,
    ("POST", "/v1/calls/{call_id}/spam-report"): _DIALER,
    ("POST", "/v1/calls/connect"): _DIALER,
    ("POST", "/v1/inbound"): _DIALER,
    ("GET", "/v1/kamailio/outbound"): _DIALER,
    ("GET", "/v1/kamailio/inbound"): _DIALER,
    ("POST", "/v1/kamailio/result"): _DIALER,
    # The inventory.
    ("GET", "/v1/numbers"): _NUMBERS | _READERS,
    ("POST", "/v1/numbers"): _NUMBERS,
    ("GET", "/v1/numbers/{number}"): _NUMBERS | _READERS,
    ("PATCH", "/v1/numbers/{number}"): _NUMBERS,
    ("DELETE", "/v1/numbers/{number}"): _NUMBERS,
    ("GET", "/v1/numbers/{number}/health"): _NUMBERS | _READERS,
    ("POST", "/v1/numbers/purchase"): _NUMBERS,
    ("POST", "/v1/numbers/import"): _NUMBERS,
    ("POST", "/v1/numbers/{number}/release"): _NUMBERS,
    ("POST", "/v1/numbers/{number}/pause"): _NUMBERS,
    ("POST", "/v1/numbers/{number}/resume"): _NUMBERS,
    ("POST", "/v1/numbers/{number}/area-codes"): _NUMBERS,
    ("DELETE", "/v1/numbers/{number}/area-codes/{area_code}"): _NUMBERS,
    ("GET", "/v1/coverage"): _NUMBERS | _READERS,
    ("POST", "/v1/coverage/purchase"): _NUMBERS,
    ("GET", "/v1/health"): _NUMBERS | _READERS,
    ("POST", "/v1/health/sweep"): _NUMBERS,
    ("POST", "/v1/health/reputation"): _NUMBERS,
    ("POST", "/v1/health/scan"): _NUMBERS,
    # The organization's configuration: read by readers, changed by admins.
    ("GET", "/v1/org"): _READERS,
    ("PATCH", "/v1/org"): _ADMIN_ONLY,
    ("GET", "/v1/config"): _READERS,
    ("PUT", "/v1/config"): _ADMIN_ONLY,
    ("GET", "/v1/users"): _READERS,
    ("POST", "/v1/users"): _ADMIN_ONLY,
    ("GET", "/v1/users/{user_id}"): _READERS,
    ("PUT", "/v1/users/{user_id}"): _ADMIN_ONLY,
    ("DELETE", "/v1/users/{user_id}"): _ADMIN_ONLY,
    ("GET", "/v1/contacts"): _READERS,
    ("POST", "/v1/contacts"): _ADMIN_ONLY,
    ("GET", "/v1/contacts/{phone}"): _READERS,
    ("PUT", "/v1/contacts/{phone}"): _ADMIN_ONLY,
    ("DELETE", "/v1/contacts/{phone}"): _ADMIN_ONLY,
    ("GET", "/v1/projects"): _READERS,
    ("POST", "/v1/projects"): _ADMIN_ONLY,
    ("GET", "/v1/projects/{project_id}"): _READERS,
    ("PUT", "/v1/projects/{project_id}"): _ADMIN_ONLY,
    ("DELETE", "/v1/projects/{project_id}"): _ADMIN_ONLY,
    # Do-not-call: an agent lists a callee who asks; only admins take one off or import.
    ("GET", "/v1/dnc"): _READERS,
    ("POST", "/v1/dnc"): _DIALER,
    ("DELETE", "/v1/dnc/{number}"): _ADMIN_ONLY,
    ("POST", "/v1/dnc/import"): _ADMIN_ONLY,
    ("GET", "/v1/dnc/registry"): _READERS,
    ("POST", "/v1/dnc/registry"): _ADMIN_ONLY,
    ("POST", "/v1/dnc/reassigned/check"): _ADMIN_ONLY,
}

_WORDS = frozenset(s.value for s in Scope)
_TYPED = re.compile(r"{(\w+):\w+}")


class UnknownRoute(LookupError):
    """A route the table has no row for: add one to ``ROUTES``."""


def template(path: str) -> str:
    """A route's path as the table writes it: ``{call_id:str}`` is ``{call_id}``, and no
    trailing slash (``/v1/calls/`` is ``/v1/calls``)."""
    plain = _TYPED.sub(r"{\1}", path)
    return plain.rstrip("/") or "/"


def required(method: str, path: str) -> frozenset[Scope]:
    """Every scope that opens the route, ``admin`` among them; UnknownRoute if the table
    has no row for it."""
    route = (method.upper(), template(path))
    if route[0] == "OPTIONS":  # says which methods the path has, and does nothing
        return ALL
    if route not in ROUTES:
        raise UnknownRoute(f"{route[0]} {route[1]} is in no row of callsign.domain.roles."
                           "ROUTES: say which scopes open it")
    return ROUTES[route] | FULL_ACCESS


@functools.cache  # the routes are few: each request after the first is a dict look-up
def allowed(route: Route) -> frozenset[Scope]:
    """The scopes that open ``route`` (only ``admin`` for a route the table lacks)."""
    try:
        return required(*route)
    except UnknownRoute:
        return FULL_ACCESS


def check(route: Route, held: frozenset[Scope]) -> None:
    """Forbidden, naming the scopes the route needs, unless ``held`` opens it."""
    needed = allowed(route)
    if held & needed:
        return
    names = " or ".join(repr(str(s)) for s in sorted(needed, key=list(Scope).index))
    raise Forbidden(f"this API key's scopes ({describe(held)}) do not open {route[0]} "
                    f"{template(route[1])}: it needs the {names} scope",
                    field="Authorization")


def parse(values: Iterable[str], *, field: str = "scope") -> frozenset[Scope]:
    """Scopes named by their words (each may list several, comma- or space-separated);
    InvalidInput naming the field for a word that is no scope, or for none at all."""
    words = [w for value in values for w in re.split(r"[\s,]+", value.strip()) if w]
    unknown = [w for w in words if w not in _WORDS]
    if unknown:
        raise InvalidInput(f"{unknown[0]!r} is no scope; the scopes are "
                           f"{', '.join(Scope)}", field=field)
    if not words:
        raise InvalidInput(f"name at least one scope of {', '.join(Scope)}", field=field)
    return frozenset(Scope(w) for w in words)


def stored(scopes: frozenset[Scope]) -> str:
    """The scopes as the store keeps them: space-separated, in the table's order."""
    return " ".join(s.value for s in Scope if s in scopes)


def from_store(text: str) -> frozenset[Scope]:
    """The scopes of a stored key; a word no longer a scope grants nothing."""
    return frozenset(Scope(w) for w in text.split() if w in _WORDS)


def describe(scopes: frozenset[Scope]) -> str:
    return ", ".join(s.value for s in Scope if s in scopes) or "none"
