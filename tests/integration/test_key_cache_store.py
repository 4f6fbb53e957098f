"""The keys' change marker on a real store, and the app authenticating from memory: a
request spends no store connection on its key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from litestar.testing import TestClient
from sqlalchemy import event

from callsign.config import Settings
from callsign.domain.errors import NotFound
from callsign.services import access
from callsign.services.key_cache import KeyCache, StoreKeys
from callsign.store.uow import Store

# The app in this process, as its workers build it: its warnings of Litestar 3.0 to come
# are not these tests' subject.
pytestmark = pytest.mark.filterwarnings(
    "ignore::litestar.exceptions.base_exceptions.LitestarDeprecationWarning")

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ApplyOrg = Callable[[dict[str, object] | str], None]


@pytest.fixture
def store(db_url: str, apply_org: ApplyOrg, demo_yaml: str) -> Iterator[Store]:
    """The store with the demo organization, acme."""
    apply_org(demo_yaml)
    opened = Store.open(db_url)
    yield opened
    opened.close()


def test_the_marker_moves_with_every_key_created_or_revoked(store: Store) -> None:
    source = StoreKeys(store)
    first = source.version()
    key = access.create_key(store.uow(), "acme", name="k", now=NOW)
    assert source.version() == first + 1
    access.revoke_key(store.uow(), "acme", key, now=NOW)
    assert source.version() == first + 2
    with pytest.raises(NotFound):  # revoked already: nothing changes
        access.revoke_key(store.uow(), "acme", key, now=NOW)
    assert source.version() == first + 2


def test_the_store_gives_every_key_with_its_hash_and_revocation(store: Store) -> None:
    kept = access.ApiKey.parse(access.create_key(store.uow(), "acme", name="kept", now=NOW))
    gone = access.create_key(store.uow(), "acme", name="gone", now=NOW)
    access.revoke_key(store.uow(), "acme", gone, now=NOW)
    every = StoreKeys(store).every_key()
    assert set(every) == {kept.id, access.key_id(gone)}
    assert every[kept.id].org == "acme"
    assert every[kept.id].revoked_at is None
    assert every[access.key_id(gone)].revoked_at == NOW
    assert StoreKeys(store).key(kept.id) == every[kept.id]
    assert StoreKeys(store).key("000000000000") is None


@pytest.fixture
def served(store: Store) -> Iterator[tuple[TestClient[Any], list[int]]]:
    """The app (its keys polled once, at start) and a count of its store checkouts."""
    from callsign.api.app import create_app  # under this module's filter of warnings

    db_url = store.engine.url.render_as_string(hide_password=False)
    app = create_app(Settings(database_url=db_url), key_poll_seconds=3600.0)
    checkouts: list[int] = []

    def counted(*_: object) -> None:
        checkouts.append(1)

    engine = app.state.runtime.store.engine
    event.listen(engine, "checkout", counted)
    with TestClient(app) as client:
        yield client, checkouts
    event.remove(engine, "checkout", counted)


def test_a_request_spends_no_store_connection_on_its_key(
        served: tuple[TestClient[Any], list[int]], store: Store) -> None:
    """A request refused after the guard costs no connection; one served costs its own."""
    client, checkouts = served
    key = access.create_key(store.uow(), "acme", name="k", now=NOW)  # after the first poll
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/org", headers=bearer).status_code == 200  # unknown: read once
    checkouts.clear()
    for _ in range(20):
        answer = client.post("/v1/calls", headers={**bearer, "Content-Type": "application/json"},
                             content=b"{not json")
        assert answer.status_code == 400, answer.text
    assert checkouts == []
    for _ in range(20):
        assert client.get("/v1/org", headers=bearer).status_code == 200
    assert len(checkouts) == 20


def test_unknown_and_revoked_keys_get_the_same_answers_as_before(
        served: tuple[TestClient[Any], list[int]], store: Store) -> None:
    client, _ = served
    key = access.create_key(store.uow(), "acme", name="k", now=NOW)
    access.revoke_key(store.uow(), "acme", key, now=NOW)
    cases = {key: "the API key was revoked on 2026-12-01",
             key[:-4] + "xxxx": "the API key is not valid",
             "cs_000000000000_nothing": "the API key is not valid",
             "nonsense": "the API key is malformed"}
    for sent, message in cases.items():
        answer = client.get("/v1/org", headers={"Authorization": f"Bearer {sent}"})
        assert answer.status_code == 401
        assert answer.json()["error"]["message"] == message
        assert answer.json()["error"]["field"] == "Authorization"


def test_a_poll_of_a_real_store_reads_the_keys_only_when_they_moved(store: Store) -> None:
    """Its reads run in a worker thread (anyio's), as in the app."""
    cache = KeyCache(StoreKeys(store))
    assert anyio.run(cache.refresh)
    assert anyio.run(cache.refresh) is False
    assert cache.reloads == 1
