"""The generic once-per-key mechanism behind Idempotency-Key and Twilio's CallSid."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from callsign.domain.errors import Conflict, InvalidInput
from callsign.services import idempotency
from callsign.services.idempotency import Answer
from callsign.store.tables import idempotent_requests
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg

NOW = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
ORG = {"org": "acme", "principal_number": "+12125550100",
       "numbers": [{"number": "+12125550100"}]}


@pytest.fixture
def uow(engine: Engine, apply_org: ApplyOrg) -> Callable[[], UnitOfWork]:
    apply_org(ORG)
    return lambda: UnitOfWork(engine)


def keys_stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(idempotent_requests))
                   .scalar_one())


def test_the_work_is_done_once_and_its_answer_given_again(
        uow: Callable[[], UnitOfWork], engine: Engine) -> None:
    done: list[int] = []

    def work() -> Answer:
        done.append(1)
        return Answer(201, {"n": len(done)})

    answers = [idempotency.once(uow, "acme", "r", "k", "h", work, now=NOW) for _ in range(3)]

    assert answers == [Answer(201, {"n": 1})] * 3
    assert done == [1]
    assert keys_stored(engine) == 1


def test_a_retry_while_the_first_is_at_work_is_a_409(uow: Callable[[], UnitOfWork]) -> None:
    def work() -> Answer:
        with pytest.raises(Conflict, match="still being processed") as busy:
            idempotency.once(uow, "acme", "r", "k", "h", work, now=NOW)
        assert busy.value.field == "Idempotency-Key"
        return Answer(200, None)

    assert idempotency.once(uow, "acme", "r", "k", "h", work, now=NOW) == Answer(200, None)


def test_a_failed_first_request_gives_its_key_back(
        uow: Callable[[], UnitOfWork], engine: Engine) -> None:
    def refused() -> Answer:
        raise InvalidInput("no", field="x")

    with pytest.raises(InvalidInput):
        idempotency.once(uow, "acme", "r", "k", "h", refused, now=NOW)

    assert keys_stored(engine) == 0
    assert idempotency.once(uow, "acme", "r", "k", "other", lambda: Answer(200, 1),
                            now=NOW) == Answer(200, 1)


def test_routes_are_apart_and_another_request_with_a_key_is_a_409(
        uow: Callable[[], UnitOfWork]) -> None:
    idempotency.once(uow, "acme", "purchase", "k", "h", lambda: Answer(201, "a"), now=NOW)

    other_route = idempotency.once(uow, "acme", "config", "k", "h2", lambda: Answer(200, "b"),
                                   now=NOW)
    with pytest.raises(Conflict, match="different request"):
        idempotency.once(uow, "acme", "purchase", "k", "h2", lambda: Answer(201, "c"), now=NOW)

    assert other_route == Answer(200, "b")
