"""What every API handler needs: the store, the clock, and the caller's organization."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from callsign.bootstrap import ProviderSettings, Store, UnitOfWork
from callsign.services import access


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """The app's shared state, built once by the app factory."""

    store: Store
    clock: Callable[[], datetime] = _now
    rng: random.Random = field(default_factory=random.Random)
    public_url: str | None = None
    metrics: Any = None  # the app's ops.Metrics
    providers: ProviderSettings = field(default_factory=ProviderSettings)

    def uow(self) -> UnitOfWork:
        return self.store.uow()


def runtime(request: Request[Any, Any, Any]) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


def require_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: authenticate before anything of the request (its body) is read."""
    connection.state.org = _authenticate(connection)


def organization(request: Request[Any, Any, Any]) -> str:
    """The organization the guard authenticated."""
    slug: str = request.state.org
    return slug


def _authenticate(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The slug of the organization whose key signed this request, or 401."""
    key = access.key_in_header(request.headers.get("authorization", ""))
    store: Store = request.app.state.runtime.store
    _, slug = store.read(lambda conn: access.authenticate(conn, key))
    return slug
