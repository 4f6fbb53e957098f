"""A worker's keys in memory: what it answers from its copy, when it asks the store, and
how a key revoked elsewhere stops working (a fake store of keys, a fake clock)."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import anyio
import anyio.lowlevel
import pytest
from litestar.types import Receive, Scope, Send

from callsign.api.deps import require_key
from callsign.domain.errors import StoreUnavailable, Unauthorized
from callsign.services.access import KnownKey
from callsign.services.key_cache import KeyCache, Offload

_T = TypeVar("_T")

KEY = "cs_0a1b2c3d4e5f_first-secret"
OTHER = "cs_1b2c3d4e5f6a_second-secret"
REVOKED_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TRUST = 1.0


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _known(key: str, org: str = "acme") -> KnownKey:
    return KnownKey(7, org, _hash(key.split("_", 2)[2]), None)


@dataclass
class FakeKeys:
    """Keys as a store keeps them, with a count of each kind of read."""

    keys: dict[str, KnownKey] = field(default_factory=dict)
    marker: int = 0
    down: bool = False
    reads: dict[str, int] = field(default_factory=lambda: {"version": 0, "every": 0, "one": 0})

    def add(self, key: str) -> None:
        self.keys[key.split("_")[1]] = _known(key)
        self.marker += 1

    def revoke(self, key: str) -> None:
        key_id = key.split("_")[1]
        known = self.keys[key_id]
        self.keys[key_id] = KnownKey(known.org_id, known.org, known.secret_hash, REVOKED_AT)
        self.marker += 1

    def version(self) -> int:
        self._answer("version")
        return self.marker

    def every_key(self) -> dict[str, KnownKey]:
        self._answer("every")
        return dict(self.keys)

    def key(self, key_id: str) -> KnownKey | None:
        self._answer("one")
        return self.keys.get(key_id)

    def _answer(self, read: str) -> None:
        if self.down:
            raise StoreUnavailable("the store is down")
        self.reads[read] += 1


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


async def at_once(work: Callable[[], _T]) -> _T:
    """Offload that runs the blocking read right here (the fake store does not block)."""
    return work()


@dataclass
class Gate:
    """Offload that holds every read while closed, so reads in flight can be counted."""

    closed: bool = False
    held: int = 0
    opened: anyio.Event = field(default_factory=anyio.Event)

    async def __call__(self, work: Callable[[], _T]) -> _T:
        if self.closed:
            self.held += 1
            await self.opened.wait()
        return work()


def cache_of(source: FakeKeys, clock: Clock, offload: Offload = at_once,
             misses: int = 4) -> KeyCache:
    return KeyCache(source, clock=clock, offload=offload, trust_seconds=TRUST,
                    misses_at_once=misses)


def run(work: Callable[[], Awaitable[_T]]) -> _T:
    return anyio.run(work)


def test_a_known_key_is_answered_from_memory() -> None:
    """After the first poll, a good key and a wrong secret are told apart without a read."""
    source, clock = FakeKeys(), Clock()
    source.add(KEY)
    cache = cache_of(source, clock)

    async def scenario() -> None:
        assert await cache.refresh()
        assert await cache.authenticate(KEY) == (7, "acme")
        with pytest.raises(Unauthorized, match="is not valid"):
            await cache.authenticate(KEY.replace("first", "guessed"))

    run(scenario)
    assert source.reads == {"version": 1, "every": 1, "one": 0}


def test_a_key_made_after_the_last_poll_is_read_once_then_known() -> None:
    source, clock = FakeKeys(), Clock()
    cache = cache_of(source, clock)

    async def scenario() -> None:
        await cache.refresh()
        source.add(OTHER)  # on another worker, a moment ago
        for _ in range(3):
            assert await cache.authenticate(OTHER) == (7, "acme")

    run(scenario)
    assert source.reads["one"] == 1


def test_a_key_that_does_not_exist_is_read_once_until_the_keys_change() -> None:
    source, clock = FakeKeys(), Clock()
    cache = cache_of(source, clock)

    async def scenario() -> None:
        await cache.refresh()
        for _ in range(3):
            with pytest.raises(Unauthorized, match="is not valid"):
                await cache.authenticate(OTHER)
        assert source.reads["one"] == 1
        source.add(OTHER)
        assert await cache.refresh()
        assert await cache.authenticate(OTHER) == (7, "acme")

    run(scenario)
    assert source.reads["one"] == 1


def test_a_key_revoked_elsewhere_is_refused_after_the_next_poll() -> None:
    """Until the poll the copy is trusted; the poll sees the marker move and reads again."""
    source, clock = FakeKeys(), Clock()
    source.add(KEY)
    cache = cache_of(source, clock)

    async def scenario() -> None:
        await cache.refresh()
        source.revoke(KEY)
        assert await cache.authenticate(KEY) == (7, "acme")
        clock.now += 0.25
        assert await cache.refresh()
        with pytest.raises(Unauthorized, match="revoked on 2026-11-30"):
            await cache.authenticate(KEY)

    run(scenario)
    assert source.reads == {"version": 2, "every": 2, "one": 0}


def test_an_unmoved_marker_reads_no_keys() -> None:
    source, clock = FakeKeys(), Clock()
    source.add(KEY)
    cache = cache_of(source, clock)

    async def scenario() -> None:
        assert await cache.refresh()
        for _ in range(5):
            clock.now += 0.25
            assert not await cache.refresh()

    run(scenario)
    assert source.reads == {"version": 6, "every": 1, "one": 0}
    assert cache.reloads == 1


def test_a_copy_not_confirmed_for_a_second_is_not_trusted() -> None:
    """Polls failing (the store down, a loop too busy): each request asks the store, so a
    key revoked meanwhile is refused, and the store's fault is the request's answer."""
    source, clock = FakeKeys(), Clock()
    source.add(KEY)
    cache = cache_of(source, clock)

    async def scenario() -> None:
        await cache.refresh()
        clock.now += TRUST - 0.01
        assert cache.trusted()
        clock.now += 0.01
        assert not cache.trusted()
        assert await cache.authenticate(KEY) == (7, "acme")
        assert source.reads["one"] == 1
        source.revoke(KEY)
        with pytest.raises(Unauthorized, match="revoked"):
            await cache.authenticate(KEY)
        source.down = True
        with pytest.raises(StoreUnavailable):
            await cache.authenticate(KEY)

    run(scenario)


def test_the_poller_starts_even_when_the_store_does_not_answer() -> None:
    """The app is not held back; the copy is simply not trusted until a poll answers."""
    source, clock = FakeKeys(down=True), Clock()
    cache = cache_of(source, clock)

    async def scenario() -> None:
        async with anyio.create_task_group() as tasks:
            await tasks.start(cache.keep_fresh, 3600.0)
            assert not cache.trusted()
            tasks.cancel_scope.cancel()

    run(scenario)


def test_look_ups_of_unknown_keys_are_bounded_and_the_rest_refused_at_once() -> None:
    """Ten made-up keys at once: four reach the store, six are refused without waiting."""
    source, clock, gate = FakeKeys(), Clock(), Gate()
    cache = cache_of(source, clock, gate, misses=4)
    refused: list[str] = []

    async def try_key(n: int) -> None:
        try:
            await cache.authenticate(f"cs_{n:012x}_made-up")
        except Unauthorized as error:
            refused.append(error.message)

    async def scenario() -> None:
        await cache.refresh()
        gate.closed = True
        async with anyio.create_task_group() as tasks:
            for n in range(10):
                tasks.start_soon(try_key, n)
            for _ in range(1000):  # until every task has run up to its wait
                if gate.held + len(refused) == 10:
                    break
                await anyio.lowlevel.checkpoint()
            assert (gate.held, len(refused), source.reads["one"]) == (4, 6, 0)
            gate.opened.set()

    run(scenario)
    assert len(refused) == 10
    assert set(refused) == {"the API key is not valid"}
    assert source.reads["one"] == 4


def test_the_key_is_checked_on_the_event_loop() -> None:
    """A coroutine: the middleware is awaited on the loop rather than sent to a thread."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG001
        return None

    assert inspect.iscoroutinefunction(require_key(app))
