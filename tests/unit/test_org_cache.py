"""Organizations' state in memory (services/org_cache.py), on the in-memory store: read
once, confirmed by one version read per decision, read again after any change, bounded,
and per organization."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from callsign.domain.errors import NotFound
from callsign.domain.model import Decision, OutboundRequest
from callsign.services import calls as calls_service
from callsign.services.org_cache import OrgCache
from tests.fakes.store import FakeStore

AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def org(slug: str, principal: str, **more: Any) -> dict[str, Any]:
    return {"org": slug, "principal_number": principal, "numbers": [{"number": principal}],
            "users": [{"id": "u1"}], **more}


def decide(store: FakeStore, slug: str = "acme", user: str = "u1", **request: Any
           ) -> Decision:
    return calls_service.place_call(store.uow(), OutboundRequest(
        org=slug, user=user, to="+442079460000", **request), now=AT, rng=random.Random(0),
        dry_run=True)


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    store.apply(org("acme", "+12125550100"))
    store.apply(org("globex", "+14155550100"))
    return store


def test_the_state_is_read_once_and_then_confirmed_by_its_version(store: FakeStore) -> None:
    for _ in range(5):
        assert decide(store).caller_id == "+12125550100"
    assert store.orgs.loads == 1


def test_a_change_is_seen_by_the_next_decision(store: FakeStore) -> None:
    decide(store)
    store.apply(org("acme", "+12125550111", users=[{"id": "u1"}, {"id": "u2"}]))
    assert decide(store).caller_id == "+12125550111"
    assert decide(store, user="u2").caller_id == "+12125550111"
    assert store.orgs.loads == 2


def test_a_state_changed_in_place_is_seen_too(store: FakeStore) -> None:
    """The fake's version follows the state itself, as the store's triggers follow rows."""
    decide(store)
    del store.state.orgs["acme"].users["u1"]
    with pytest.raises(NotFound) as refused:
        decide(store)
    assert refused.value.field == "user"


def test_one_organizations_change_reloads_only_its_own_state(store: FakeStore) -> None:
    decide(store)
    decide(store, "globex")
    store.apply(org("acme", "+12125550111"))
    for _ in range(3):
        assert decide(store, "globex").caller_id == "+14155550100"
    assert store.orgs.loads == 2
    decide(store)
    assert store.orgs.loads == 3


def test_unknown_organizations_projects_and_users_are_not_found(store: FakeStore) -> None:
    decide(store)
    for request, field in (({"slug": "initech"}, "org"), ({"user": "nobody"}, "user"),
                           ({"project": "nothing"}, "project")):
        with pytest.raises(NotFound) as refused:
            decide(store, **request)
        assert refused.value.field == field
    assert store.orgs.get("initech") is None


def test_the_copies_are_bounded_least_recently_used_first(store: FakeStore) -> None:
    store.orgs = OrgCache(max_orgs=2)
    store.apply(org("initech", "+13125550100"))
    for slug in ("acme", "globex", "acme", "initech"):  # globex is the least recent
        decide(store, slug)
    assert len(store.orgs) == 2
    assert store.orgs.get("globex") is None
    assert store.orgs.get("acme") is not None
    loads = store.orgs.loads
    decide(store, "globex")
    assert store.orgs.loads == loads + 1
