"""Unit tests run the use cases on the in-memory store (``tests/fakes/store.py``).

The fixtures here take the names of the SQL ones in ``tests/conftest.py``, so a rule
test reads the same on either store: ``apply_org`` loads a document, ``dial`` and
``ring`` go through ``callsign.services.calls``, ``recorded_calls`` and
``recorded_inbound`` list what was recorded, oldest first.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import pytest

from callsign.domain.model import Decision, OutboundRequest, Route
from callsign.services import calls as calls_service
from tests.fakes.store import FakeCall, FakeInbound, FakeStore


@pytest.fixture
def fake() -> FakeStore:
    """A new, empty in-memory store."""
    return FakeStore()


@pytest.fixture
def apply_org(fake: FakeStore) -> Callable[[Mapping[str, Any] | str], None]:
    """Load an organization document (a dict, or YAML text) as `callsign apply` does."""
    return fake.apply


@pytest.fixture
def dial(fake: FakeStore) -> Callable[..., Decision]:
    """Place one outbound call through the service layer, at a fixed time and seed."""

    def place(*, org: str = "acme", user: str, to: str, at: datetime, seed: int = 0,
              dry_run: bool = False, **options: Any) -> Decision:
        request = OutboundRequest(org=org, user=user, to=to, **options)
        return calls_service.place_call(fake.uow(), request, now=at, rng=random.Random(seed),
                                        dry_run=dry_run)

    return place


@pytest.fixture
def ring(fake: FakeStore) -> Callable[..., Route]:
    """Route one inbound call through the service layer."""

    def route(*, to: str, caller: str, at: datetime) -> Route:
        return calls_service.route_call(fake.uow(), to, caller, now=at)

    return route


@pytest.fixture
def recorded_calls(fake: FakeStore) -> Callable[[], list[FakeCall]]:
    """The outbound calls, oldest first."""
    return lambda: fake.calls


@pytest.fixture
def recorded_inbound(fake: FakeStore) -> Callable[[], list[FakeInbound]]:
    """The inbound calls, oldest first."""
    return lambda: fake.inbound
