"""What every command shares: the settings, and the store opened on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from callsign.bootstrap import ProviderSettings, Store, UnitOfWork
    from callsign.config import Settings


class State:
    """Settings read and the store opened when a command first needs them (not for --help)."""

    def __init__(self, database_url: str | None, *, debug: bool = False) -> None:
        self._database_url = database_url
        self.debug = debug  # an unexpected error keeps its traceback
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from callsign.config import Settings

            self._settings = Settings.load(self._database_url)
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            from callsign.bootstrap import open_store

            self._store = open_store(self.settings)
        return self._store

    def uow(self) -> UnitOfWork:
        return self.store.uow()

    def providers(self) -> ProviderSettings:
        from callsign.bootstrap import provider_settings

        return provider_settings(self.settings)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


pass_state = click.make_pass_decorator(State)
