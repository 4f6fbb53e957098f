"""API keys in memory: each worker authenticates a request from its own copy of every key
(its organization, the hash of its secret, whether it is revoked, its scopes), without a
thread or a round trip to the store.

The copy stays current by polling the store's change marker for keys, which every key
created, revoked or given other scopes bumps in its own transaction: a poll is one indexed
read, and the keys are read again only when the marker moved. A key revoked (or given
other scopes) on any worker of any server is seen so on every worker within
``TRUST_SECONDS``: a copy not confirmed current for that long is not trusted, and each
request then asks the store, as before there was a copy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol, TypeVar

import anyio
import anyio.to_thread
from anyio.abc import TaskStatus

from callsign.domain import roles
from callsign.services.access import ApiKey, KnownKey, checked, known_key
from callsign.store import keys as key_store
from callsign.store.uow import Store

POLL_SECONDS = 0.25  # how often each worker asks whether the keys changed
TRUST_SECONDS = 1.0  # a copy older than this is not trusted (the bound on a revocation)
MISSES_AT_ONCE = 4  # store look-ups of keys unknown here, at once per worker
UNKNOWN_KEPT = 10_000  # ids known to be no key, remembered until the keys change

log = logging.getLogger("callsign.keys")

_T = TypeVar("_T")


class KeySource(Protocol):
    """Where the keys are kept: blocking reads, run off the event loop."""

    def version(self) -> int:
        """The keys' change marker: it grows with every key created or revoked."""

    def every_key(self) -> dict[str, KnownKey]:
        """Every key by its id, revoked ones too."""

    def key(self, key_id: str) -> KnownKey | None:
        """One key, or None if there is no such key."""


class Offload(Protocol):
    """Runs blocking work somewhere the event loop does not wait for (a thread)."""

    def __call__(self, work: Callable[[], _T], /) -> Awaitable[_T]: ...


async def in_a_thread(work: Callable[[], _T]) -> _T:
    return await anyio.to_thread.run_sync(work)


class StoreKeys:
    """The keys as the store keeps them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # Store.read runs a read once more on a new connection when the server had dropped
    # the pooled one (none is pinged first).
    def version(self) -> int:
        return self.store.read(key_store.keys_version)

    def every_key(self) -> dict[str, KnownKey]:
        rows = self.store.read(key_store.every_key)
        return {key_id: KnownKey(org_id, slug, secret_hash, revoked_at,
                                 roles.from_store(scopes))
                for key_id, secret_hash, revoked_at, org_id, slug, scopes in rows}

    def key(self, key_id: str) -> KnownKey | None:
        return known_key(self.store.read(lambda conn: key_store.key_by_id(conn, key_id)))


class KeyCache:
    """One worker's copy of the keys; ``keep_fresh`` runs beside the app for its lifetime."""

    def __init__(self, source: KeySource, *, clock: Callable[[], float] = time.monotonic,
                 offload: Offload = in_a_thread, trust_seconds: float = TRUST_SECONDS,
                 misses_at_once: int = MISSES_AT_ONCE) -> None:
        self._source = source
        self._clock = clock
        self._offload = offload
        self._trust_seconds = trust_seconds
        self._misses = anyio.Semaphore(misses_at_once)
        self._keys: dict[str, KnownKey] = {}
        self._unknown: set[str] = set()
        self._version: int | None = None
        self._confirmed_at: float | None = None  # when the last poll that answered began
        self._generation = 0  # grows with every reload: look-ups begun before are stale
        self._failing = False
        self.reloads = 0
        self.lookups = 0

    def trusted(self) -> bool:
        """Whether the copy was confirmed current less than ``trust_seconds`` ago."""
        return (self._confirmed_at is not None
                and self._clock() - self._confirmed_at < self._trust_seconds)

    async def refresh(self) -> bool:
        """Read every key again if the store's marker moved; whether it did."""
        began = self._clock()
        version = await self._offload(self._source.version)
        # The marker is read before the keys: a change between the two reads moves it
        # again, and the next poll reads the keys once more.
        changed = version != self._version
        if changed:
            self._keys = await self._offload(self._source.every_key)
            self._unknown = set()
            self._version = version
            self._generation += 1
            self.reloads += 1
        self._confirmed_at = began
        return changed

    async def keep_fresh(self, every: float = POLL_SECONDS, *,
                         task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Poll the store every ``every`` seconds, for as long as the app runs; started
        (``task_status``) once the first poll answered or failed."""
        while True:
            try:
                await self.refresh()
            except Exception:  # a store fault: requests ask the store, which answers it
                if not self._failing:
                    log.warning("the API keys cannot be read from the store; each request "
                                "asks the store until they can", exc_info=True)
                self._failing = True
            else:
                self._failing = False
            task_status.started()
            task_status = anyio.TASK_STATUS_IGNORED
            await anyio.sleep(every)

    async def authenticate(self, token: str) -> tuple[int, str]:
        """The (org id, slug) a key belongs to, or Unauthorized; from memory when it can."""
        known = await self.valid_key(token)
        return known.org_id, known.org

    async def valid_key(self, token: str) -> KnownKey:
        """What is known of a valid key (its organization and scopes), or Unauthorized;
        from memory when it can."""
        key = ApiKey.parse(token)
        if not self.trusted():
            async with self._misses:  # likely good keys: they wait their turn
                known = await self._offload(partial(self._source.key, key.id))
        else:
            known = self._keys.get(key.id)
            if known is None and key.id not in self._unknown:
                known = await self._look_up(key.id)
        return checked(known, key)

    async def _look_up(self, key_id: str) -> KnownKey | None:
        """A key unknown here, perhaps made a moment ago elsewhere. When the look-ups in
        flight are at their bound, it is no key: a flood of made-up keys is answered at
        once, and the store sees at most ``misses_at_once`` of them at a time."""
        try:
            self._misses.acquire_nowait()
        except anyio.WouldBlock:
            return None
        generation = self._generation
        try:
            self.lookups += 1
            found = await self._offload(partial(self._source.key, key_id))
        finally:
            self._misses.release()
        if generation == self._generation:  # else a reload began later and knows better
            if found is not None:
                self._keys[key_id] = found
            else:
                if len(self._unknown) >= UNKNOWN_KEPT:
                    self._unknown.clear()
                self._unknown.add(key_id)
        return found
