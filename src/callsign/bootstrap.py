"""The composition root: what the app factory and the command line build from Settings.

The one module outside ``store/`` and the services that knows the store: entrypoints get
a ``Store`` from here (units of work, readiness, driver errors in the domain's words) and
never import ``store/`` themselves; and where providers are reached, built once from the
settings. Imported lazily by the command line.
"""

from __future__ import annotations

from callsign.config import Settings
from callsign.domain.errors import CallsignError
from callsign.providers.base import ProviderSettings
from callsign.store.db import shown_url
from callsign.store.lane import DecisionLane, decision_lane
from callsign.store.sql import driver_error as _driver_error
from callsign.store.uow import Store, UnitOfWork

__all__ = ["DecisionLane", "ProviderSettings", "Store", "UnitOfWork", "driver_error",
           "open_lane", "open_store", "provider_settings", "shown_database_url"]


def open_store(settings: Settings) -> Store:
    """The store the settings name, opened and migrated (StoreUnavailable if it cannot be)."""
    return Store.open(settings.database_url, settings.pg_timeouts)


def open_lane(store: Store) -> DecisionLane:
    """The process's decision lane on ``store``: where the API runs the call path's units
    of work, off the event loop (``store/lane.py``)."""
    return decision_lane(store.engine)


def provider_settings(settings: Settings) -> ProviderSettings:
    """Where the number providers are reached, from the settings read at start-up."""
    return ProviderSettings(twilio_api_base=settings.twilio_api_base,
                            public_url=settings.public_url,
                            sandbox_empty_area_codes=settings.sandbox_empty_area_codes,
                            reputation_feed_url=settings.reputation_feed_url,
                            reputation_feed_token=settings.reputation_feed_token,
                            reassigned_url=settings.reassigned_url,
                            reassigned_token=settings.reassigned_token)


def driver_error(error: BaseException, database_url: str) -> CallsignError | None:
    """What a driver's error raised outside a unit of work means, or None (a bug)."""
    return _driver_error(error, database_url)


def shown_database_url(database_url: str) -> str:
    """The database URL as it may be printed: without its password."""
    return shown_url(database_url)
