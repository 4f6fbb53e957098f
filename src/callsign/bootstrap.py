"""The composition root: what the app factory and the command line build from Settings.

The one module outside ``store/`` and the services that knows the store: entrypoints get
a ``Store`` from here (units of work, readiness, driver errors in the domain's words) and
never import ``store/`` themselves. Imported lazily by the command line.
"""

from __future__ import annotations

from callsign.config import Settings
from callsign.domain.errors import CallsignError
from callsign.store.db import shown_url
from callsign.store.sql import driver_error as _driver_error
from callsign.store.uow import Store, UnitOfWork

__all__ = ["Store", "UnitOfWork", "driver_error", "open_store", "shown_database_url"]


def open_store(settings: Settings) -> Store:
    """The store the settings name, opened and migrated (StoreUnavailable if it cannot be)."""
    return Store.open(settings.database_url)


def driver_error(error: BaseException, database_url: str) -> CallsignError | None:
    """What a driver's error raised outside a unit of work means, or None (a bug)."""
    return _driver_error(error, database_url)


def shown_database_url(database_url: str) -> str:
    """The database URL as it may be printed: without its password."""
    return shown_url(database_url)
