"""The app factory: one Litestar app per Settings, with its store, clock and metrics."""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import anyio
from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp

from callsign import __version__
from callsign.api.admin import pages as admin_pages
from callsign.api.admin.compliance import CompliancePage
from callsign.api.admin.coverage_pages import CoveragePage
from callsign.api.admin.health_pages import HealthPages
from callsign.api.admin.rendering import LazyJinja
from callsign.api.admin.reputation import ReputationPage
from callsign.api.deps import Runtime, _now
from callsign.api.dnc import DoNotCall
from callsign.api.errors import HANDLERS
from callsign.api.intake import limit_bodies, refuse_strict_json_errors
from callsign.api.kamailio import Kamailio
from callsign.api.ops import OPS_ROUTES, Metrics, observe, refuse_nul
from callsign.api.routes import ROUTES
from callsign.api.security_headers import security_headers
from callsign.api.twilio import Connect, TwilioWebhooks
from callsign.bootstrap import open_store, provider_settings
from callsign.config import Settings
from callsign.domain.compliance import zones
from callsign.services.health_sweep import Sweeper, keep_sweeping
from callsign.services.key_cache import POLL_SECONDS, TRUST_SECONDS, KeyCache, StoreKeys


def create_app(settings: Settings, *, clock: Callable[[], datetime] = _now,
               rng: random.Random | None = None,
               key_poll_seconds: float = POLL_SECONDS) -> Litestar:
    """Build the HTTP app; the store is opened (and migrated) here, never at import.

    ``key_poll_seconds``: how often the worker asks the store whether its keys changed
    (a copy of the keys is trusted for four polls, and never less than a second).
    """
    store = open_store(settings)
    metrics = Metrics()
    keys = KeyCache(StoreKeys(store),
                    trust_seconds=max(TRUST_SECONDS, 4 * key_poll_seconds))
    rt = Runtime(store=store, keys=keys, clock=clock, rng=rng or random.Random(),
                 public_url=settings.public_url, metrics=metrics,
                 providers=provider_settings(settings))

    def instrument(app: ASGIApp) -> ASGIApp:
        return observe(app, metrics, log_requests=settings.access_log)

    static = create_static_files_router(path="/admin/static", directories=[admin_pages.STATIC],
                                        include_in_schema=False)
    return Litestar(
        route_handlers=[*OPS_ROUTES, *ROUTES, DoNotCall, Kamailio, Connect, TwilioWebhooks,
                        admin_pages.Admin, ReputationPage, HealthPages,
                        CoveragePage, CompliancePage,
                        static],
        exception_handlers={**admin_pages.html_for_admin(HANDLERS),
                            admin_pages.NotSignedIn: admin_pages.not_signed_in},
        template_config=TemplateConfig(directory=admin_pages.TEMPLATES,
                                       engine=LazyJinja),
        state=State({"runtime": rt, "metrics": metrics}),
        middleware=[instrument, limit_bodies, refuse_nul], before_send=[security_headers],
        before_request=refuse_strict_json_errors,
        openapi_config=OpenAPIConfig(title="callsign", version=__version__,
                                     description="Caller-ID decisions and inbound routing",
                                     path="/schema", render_plugins=[_local_swagger()]),
        # The ZIP code data is read before the first request, not in the first decision.
        on_startup=[zones.preload],
        lifespan=[_keeping_fresh(keys, key_poll_seconds),
                  *_sweeping(rt, settings.health_sweep_seconds)],
        on_shutdown=[rt.lane.close, store.close],  # the lane drains before the store goes
        debug=False,
    )


def _keeping_fresh(keys: KeyCache, every: float
                   ) -> Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]:
    """The worker's keys polled beside the app; the first poll is done before it serves."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            await tasks.start(keys.keep_fresh, every)
            yield
            tasks.cancel_scope.cancel()

    return lifespan


def _sweeping(rt: Runtime, every: int
              ) -> list[Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]]:
    """The periodic health sweep beside the app (none when ``every`` is 0): each worker
    asks; the store's lease lets one at a time sweep, once per interval in all."""
    if every <= 0:
        return []
    sweeper = Sweeper(rt.uow, every=timedelta(seconds=every), clock=rt.clock)

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(keep_sweeping, sweeper)
            yield
            tasks.cancel_scope.cancel()

    return [lifespan]


def _local_swagger() -> SwaggerRenderPlugin:
    """Swagger UI at /schema from the copy the admin serves: the page needs no internet."""
    static = "/admin/static"
    return SwaggerRenderPlugin(
        path="/", js_url=f"{static}/swagger-ui-bundle.js", css_url=f"{static}/swagger-ui.css",
        standalone_preset_js_url=f"{static}/swagger-ui-standalone-preset.js",
        favicon="<link rel='icon' href='data:,'>")


def app_from_environment() -> Litestar:
    """Factory for ASGI servers (``--factory``): settings from the environment."""
    settings = Settings.load()
    if settings.access_log:
        log_access_to_stderr()
    return create_app(settings)


def log_access_to_stderr() -> None:
    """One JSON object per request on stderr (idempotent)."""
    logger = logging.getLogger("callsign.access")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

