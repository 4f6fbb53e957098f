"""What every API handler needs: the store, the clock, and the caller's organization."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from litestar import Request
from litestar.types import ASGIApp, Receive, Scope, Send

from callsign.bootstrap import DecisionLane, ProviderSettings, Store, UnitOfWork, open_lane
from callsign.domain import roles
from callsign.services import access
from callsign.services.key_cache import KeyCache


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """The app's shared state, built once by the app factory."""

    store: Store
    keys: KeyCache
    clock: Callable[[], datetime] = _now
    rng: random.Random = field(default_factory=random.Random)
    public_url: str | None = None
    metrics: Any = None  # the app's ops.Metrics
    providers: ProviderSettings = field(default_factory=ProviderSettings)
    # Where the call path's units of work run, off the event loop: handlers that decide or
    # write on the call path ``await rt.lane.run(lambda uow: ...)``.
    lane: DecisionLane = field(init=False)

    def __post_init__(self) -> None:
        self.lane = open_lane(self.store)

    def uow(self) -> UnitOfWork:
        return self.store.uow()


def runtime(request: Request[Any, Any, Any]) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


def require_key(app: ASGIApp) -> ASGIApp:
    """Middleware of the controllers a key opens: authenticate, and check that the key's
    scopes open the route (``roles.ROUTES``; 403 naming the scope needed), before anything
    of the request (its body) is read.

    On the event loop, from the worker's keys in memory: no thread, no store round trip
    (but for a key this worker has not seen yet). A middleware, not a guard: Litestar
    copies the route handler for each guard it runs, a request's largest single cost
    after the decision itself.
    """

    async def authenticated(scope: Scope, receive: Receive, send: Send) -> None:
        header = next((value for name, value in scope["headers"] if name == b"authorization"),
                      b"")
        keys: KeyCache = scope["litestar_app"].state.runtime.keys
        known = await keys.valid_key(access.key_in_header(header.decode("latin-1")))
        if roles.Scope.ADMIN not in known.scopes:
            roles.check((str(scope.get("method", "GET")), scope["path_template"]),
                        known.scopes)
        scope.setdefault("state", {})["org"] = known.org
        await app(scope, receive, send)

    return authenticated


def organization(request: Request[Any, Any, Any], rt: Runtime) -> str:  # noqa: ARG001
    """The organization the key belongs to.

    It names ``rt`` so that Litestar resolves the two one after the other: dependencies
    that do not depend on each other are resolved in a task group, a task each.
    """
    slug: str = request.state.org
    return slug
