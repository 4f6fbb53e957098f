"""SPEC 9: one live call per number (optional, with shaping), on SQLite and PostgreSQL.

A number whose last call has no result yet is passed over, saying so, until the result
comes or the timeout passes; racing processes never present it twice at once (the claim
tests and sets it on the number's row, in the statement that takes it).
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from callsign.domain.document import parse_document
from callsign.domain.errors import ConfigError
from callsign.domain.model import OutboundRequest
from callsign.domain.results import ResultSource
from callsign.services import calls as calls_service
from callsign.services import results
from callsign.store.db import create_store_engine
from callsign.store.uow import UnitOfWork
from tests.integration.test_volume_shaping import (
    LOCAL,
    PRINCIPAL,
    START,
    org,
    race,
    recorded,
    setup,
)

LIVE: dict[str, Any] = {"one_live_call": True, "per_minute": 100, "per_hour": 1000}


def place(engine: Engine, at: Any) -> Any:
    request = OutboundRequest(org="race", user="u1", to="+13125551999")
    return calls_service.place_call(UnitOfWork(engine), request, now=at, rng=random.Random(0))


def test_a_number_on_a_live_call_is_passed_over_until_its_result_or_the_timeout(
        engine: Engine, apply_org: Any) -> None:
    apply_org(org(**LIVE))
    first = place(engine, START)
    assert first.caller_id == LOCAL
    second = place(engine, START + timedelta(minutes=1))
    assert second.caller_id == PRINCIPAL
    assert ("local_presence", "passed", "is on a live call since 15:00 UTC (one live call "
            "per number; no result yet, held up to 120 min)", LOCAL) in [
        (s.step, s.result, s.detail, s.number) for s in second.trace]
    # The principal's own call (the last resort) does not hold it either way.
    results.record_result(UnitOfWork(engine), "race", second.call_id,
                          source=ResultSource.API, now=START, was_answered=False)
    assert place(engine, START + timedelta(minutes=2)).caller_id == PRINCIPAL

    results.record_result(UnitOfWork(engine), "race", first.call_id,
                          source=ResultSource.API, now=START, was_answered=True,
                          duration_s=60)
    third = place(engine, START + timedelta(minutes=3))
    assert third.caller_id == LOCAL
    # No result for the third call: held until the timeout (120 minutes), then free.
    assert place(engine, START + timedelta(minutes=122)).caller_id == PRINCIPAL
    assert place(engine, START + timedelta(minutes=124)).caller_id == LOCAL


def test_with_the_option_off_a_number_takes_calls_while_others_are_live(
        engine: Engine, apply_org: Any) -> None:
    apply_org(org(per_minute=100, per_hour=1000))
    assert [place(engine, START).caller_id for _ in range(3)] == [LOCAL] * 3


@pytest.mark.parametrize("rotation", [pytest.param(True, id="rotation"),
                                      pytest.param(False, id="caller-id")])
def test_racing_processes_present_a_number_once_while_its_call_is_live(
        db_url: str, rotation: bool) -> None:
    """32 calls at one instant from two processes: the number once, the principal 31."""
    engine = create_store_engine(db_url)
    try:
        setup(engine, org(rotation=rotation, **LIVE))
        presented = race(db_url, [0.0] * 16)
        stored = recorded(engine, LOCAL)
    finally:
        engine.dispose()
    assert sum(number == LOCAL for number, _ in presented) == 1
    assert len(stored) == 1
    assert sum(number == PRINCIPAL for number, _ in presented) == 31


def test_the_timeout_is_checked_with_its_path() -> None:
    document = org(one_live_call=True, live_call_minutes=0)
    with pytest.raises(ConfigError) as refused:
        parse_document(document)
    assert "health.live_call_minutes" in str(refused.value)
