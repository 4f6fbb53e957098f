"""SPEC 11 roles: the table of which scopes open which route, and its check from the
key in memory (a fake store of keys, no database)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any, TypeVar

import anyio
import pytest

from callsign.api.deps import require_key
from callsign.domain import roles
from callsign.domain.errors import Forbidden, InvalidInput
from callsign.domain.roles import ROUTES, Scope
from callsign.services.access import KnownKey
from callsign.services.key_cache import KeyCache

_T = TypeVar("_T")

KEY = "cs_0a1b2c3d4e5f_first-secret"
ADMIN, DIALER, NUMBERS, READ = (frozenset({s}) for s in Scope)

# The call path's GETs decide and record a call: they are no reads.
DECIDING_GETS = {("GET", "/v1/kamailio/outbound"), ("GET", "/v1/kamailio/inbound")}


def opened_by(scope: Scope) -> set[tuple[str, str]]:
    return {route for route in ROUTES if scope in roles.required(*route)}


# -- the table ------------------------------------------------------------------------------

def test_admin_opens_every_route_of_the_table_and_any_route_it_lacks() -> None:
    """``admin`` is everything, even an endpoint added before its row was."""
    assert opened_by(Scope.ADMIN) == set(ROUTES)
    roles.check(("POST", "/v1/brand-new/{thing_id:str}"), ADMIN)


def test_read_opens_every_get_that_changes_nothing_and_nothing_else() -> None:
    """``read`` is the GET endpoints only; the SIP proxy's GETs decide calls."""
    gets = {route for route in ROUTES if route[0] == "GET"}

    assert opened_by(Scope.READ) == gets - DECIDING_GETS


def test_dialer_opens_the_call_path_and_no_inventory_or_configuration_change() -> None:
    """A dialer's key decides, records outcomes and routes inbound; it buys nothing."""
    dialer = opened_by(Scope.DIALER)

    assert {("POST", "/v1/calls"), ("POST", "/v1/calls/{call_id}/outcome"),
            ("POST", "/v1/calls/{call_id}/result"), ("POST", "/v1/inbound"),
            ("POST", "/v1/calls/connect"), ("POST", "/v1/kamailio/result"),
            ("GET", "/v1/calls/{call_id}"), ("GET", "/v1/calls")} | DECIDING_GETS <= dialer
    assert all(path.startswith(("/v1/calls", "/v1/inbound", "/v1/kamailio", "/v1/dnc"))
               for _, path in dialer)
    assert ("POST", "/v1/numbers/purchase") not in dialer
    assert ("POST", "/v1/coverage/purchase") not in dialer
    assert ("DELETE", "/v1/dnc/{number}") not in dialer


def test_numbers_opens_the_inventory_its_purchases_and_releases_and_no_call() -> None:
    """A numbers key buys, imports, releases and tends numbers; it places no call."""
    numbers = opened_by(Scope.NUMBERS)

    assert {("POST", "/v1/numbers/purchase"), ("POST", "/v1/numbers/{number}/release"),
            ("DELETE", "/v1/numbers/{number}"), ("POST", "/v1/numbers/import"),
            ("POST", "/v1/coverage/purchase"), ("GET", "/v1/numbers")} <= numbers
    assert all(path.startswith(("/v1/numbers", "/v1/coverage", "/v1/health"))
               for _, path in numbers)


def test_configuration_changes_are_for_admins_alone() -> None:
    """Users, contacts, projects, the organization and its document change by admin only."""
    for route in [("PUT", "/v1/config"), ("PATCH", "/v1/org"), ("POST", "/v1/users"),
                  ("DELETE", "/v1/projects/{project_id}"), ("PUT", "/v1/contacts/{phone}")]:
        assert roles.required(*route) == ADMIN, route


def test_every_row_names_a_method_and_a_v1_template() -> None:
    """Rows are written as the OpenAPI document writes its operations."""
    for method, path in ROUTES:
        assert method in {"GET", "POST", "PUT", "PATCH", "DELETE"}
        assert path.startswith("/v1/")
        assert roles.template(path) == path


@pytest.mark.parametrize(("written", "template"), [
    ("/v1/calls/{call_id:str}/outcome", "/v1/calls/{call_id}/outcome"),
    ("/v1/calls/", "/v1/calls"),
    ("/v1/numbers/{number:str}/area-codes/{area_code:str}",
     "/v1/numbers/{number}/area-codes/{area_code}"),
])
def test_a_routes_path_is_looked_up_as_the_openapi_document_writes_it(
    written: str, template: str
) -> None:
    """Litestar's typed parameters and trailing slashes name the same row."""
    assert roles.template(written) == template


def test_options_is_open_to_every_scope() -> None:
    """It names a path's methods and does nothing."""
    assert roles.required("OPTIONS", "/v1/numbers/purchase") == roles.ALL


def test_a_route_missing_from_the_table_is_named_loudly() -> None:
    """An endpoint added without its row: the error says what to add, and where."""
    with pytest.raises(roles.UnknownRoute, match=r"POST /v1/webhooks .*roles\.ROUTES"):
        roles.required("POST", "/v1/webhooks/")


@pytest.mark.parametrize("held", [DIALER, NUMBERS, READ, DIALER | NUMBERS | READ])
def test_a_route_missing_from_the_table_is_refused_to_every_key_but_an_admins(
    held: frozenset[Scope],
) -> None:
    """Safe by default: until its row is written, a new endpoint needs ``admin``."""
    with pytest.raises(Forbidden, match="needs the 'admin' scope"):
        roles.check(("POST", "/v1/webhooks/"), held)


def test_a_refusal_names_the_route_the_scopes_held_and_the_scopes_needed() -> None:
    """403 says what would open it."""
    with pytest.raises(Forbidden) as refused:
        roles.check(("POST", "/v1/numbers/purchase"), DIALER)

    assert refused.value.field == "Authorization"
    assert refused.value.message == (
        "this API key's scopes (dialer) do not open POST /v1/numbers/purchase: it needs "
        "the 'admin' or 'numbers' scope")


def test_any_scope_a_key_holds_may_open_a_route() -> None:
    """A key with several scopes passes where one of them is allowed."""
    roles.check(("POST", "/v1/numbers/purchase"), DIALER | NUMBERS)
    roles.check(("GET", "/v1/org"), DIALER | READ)
    with pytest.raises(Forbidden):
        roles.check(("PUT", "/v1/config"), DIALER | NUMBERS | READ)


# -- scopes as words ------------------------------------------------------------------------

def test_scopes_are_parsed_from_repeated_or_comma_separated_words() -> None:
    assert roles.parse(["dialer", "read"]) == DIALER | READ
    assert roles.parse(["dialer,numbers", " read "]) == DIALER | NUMBERS | READ


@pytest.mark.parametrize(("words", "says"), [
    (["dialler"], "'dialler' is no scope; the scopes are admin, dialer, numbers, read"),
    ([""], "name at least one scope"),
    ([], "name at least one scope"),
])
def test_a_word_that_is_no_scope_is_refused_naming_the_field(
    words: list[str], says: str
) -> None:
    with pytest.raises(InvalidInput, match=says) as refused:
        roles.parse(words, field="--scope")

    assert refused.value.field == "--scope"


def test_scopes_are_stored_in_the_tables_order_and_read_back() -> None:
    held = roles.parse(["read", "dialer"])

    assert roles.stored(held) == "dialer read"
    assert roles.from_store("dialer read") == held
    assert roles.from_store("read retired-scope") == READ  # grants nothing it no longer names


# -- the check on the request, from memory --------------------------------------------------

def _known(scopes: frozenset[Scope]) -> KnownKey:
    return KnownKey(7, "acme", hashlib.sha256(b"first-secret").hexdigest(), None, scopes)


@dataclass
class FakeKeys:
    """One key as a store keeps it, with a count of reads."""

    scopes: frozenset[Scope]
    marker: int = 0
    reads: int = 0

    def version(self) -> int:
        return self.marker

    def every_key(self) -> dict[str, KnownKey]:
        self.reads += 1
        return {"0a1b2c3d4e5f": _known(self.scopes)}

    def key(self, key_id: str) -> KnownKey | None:
        self.reads += 1
        return _known(self.scopes) if key_id == "0a1b2c3d4e5f" else None


async def _inline(work: Callable[[], _T]) -> _T:
    return work()


@dataclass
class Reached:
    scopes: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:  # noqa: ARG002
        self.scopes.append(scope)


def _request(cache: KeyCache, method: str, template: str) -> dict[str, Any]:
    app = SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(keys=cache)))
    return {"type": "http", "method": method, "path_template": template,
            "headers": [(b"authorization", f"Bearer {KEY}".encode())], "litestar_app": app}


def _send(app: Callable[..., Awaitable[None]], scope: dict[str, Any]) -> None:
    async def nothing() -> Any:
        return None

    anyio.run(app, scope, nothing, nothing)


def test_the_scope_is_checked_from_the_key_in_memory_without_a_store_read() -> None:
    """After the first poll, a dialer's key passes and is refused with no read at all."""
    source = FakeKeys(DIALER)
    cache = KeyCache(source, offload=_inline, clock=lambda: 0.0)
    anyio.run(cache.refresh)
    reads = source.reads
    reached = Reached()
    guarded = require_key(reached)

    _send(guarded, _request(cache, "POST", "/v1/calls/{call_id:str}/outcome"))
    with pytest.raises(Forbidden, match="'admin' or 'numbers' scope"):
        _send(guarded, _request(cache, "POST", "/v1/numbers/purchase"))

    assert len(reached.scopes) == 1
    assert reached.scopes[0]["state"]["org"] == "acme"
    assert source.reads == reads


def test_a_keys_new_scopes_hold_once_the_marker_moves() -> None:
    """Scopes changed in the store are seen on the next poll, as a revocation is."""
    source = FakeKeys(READ)
    cache = KeyCache(source, offload=_inline, clock=lambda: 0.0)
    anyio.run(cache.refresh)
    guarded = require_key(Reached())
    with pytest.raises(Forbidden):
        _send(guarded, _request(cache, "POST", "/v1/calls"))

    source.scopes, source.marker = DIALER, 1
    anyio.run(cache.refresh)

    _send(guarded, _request(cache, "POST", "/v1/calls"))
    with pytest.raises(Forbidden):
        _send(guarded, _request(cache, "GET", "/v1/config"))


def test_an_untrusted_copy_asks_the_store_for_the_keys_scopes() -> None:
    """A copy too old to trust: each request reads the key, scopes and all, again."""
    now = [0.0]
    source = FakeKeys(ADMIN)
    cache = KeyCache(source, offload=_inline, clock=lambda: now[0])
    anyio.run(cache.refresh)
    source.scopes = READ  # changed, and no poll since
    now[0] = 5.0

    with pytest.raises(Forbidden):
        _send(require_key(Reached()), _request(cache, "PUT", "/v1/config"))


def test_a_key_made_before_scopes_existed_holds_admin() -> None:
    """KnownKey's default, like the migration's: full access."""
    assert replace(_known(ADMIN)).scopes == KnownKey(1, "a", "h", None).scopes == ADMIN
