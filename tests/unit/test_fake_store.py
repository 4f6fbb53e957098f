"""The in-memory store's transactions: what the call path's retry loop relies on.

Its claims, reads and records are checked against the SQL store in
``tests/integration/test_calls_store.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fakes.store import FakeStore

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
PRINCIPAL, CHI1 = "+12125550100", "+13125550101"


def test_a_unit_that_began_before_another_committed_runs_again(fake: FakeStore) -> None:
    """As a deadlock's victim on PostgreSQL: its commit fails with a ``deadlocked`` error
    and nothing of it lands; the other unit's claim stays."""
    fake.apply({"org": "acme", "principal_number": PRINCIPAL,
                "numbers": [{"number": PRINCIPAL}, {"number": CHI1, "daily_cap": 1}]})
    first, second = fake.uow(), fake.uow()
    with first, second:
        org_id = first.calls.org_id_and_policy("acme")[0]
        for unit in (first, second):
            unit.calls.claim_number(org_id, CHI1, day="2026-03-02", now=NOW, within_cap=True)
        first.commit()
        with pytest.raises(second.deadlocked):
            second.commit()

    assert fake.used_today("acme", CHI1, NOW) == 1
