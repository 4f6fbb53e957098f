"""SPEC 9 through REST: volume shaping under concurrent load, and its trace.

A server of its own with two worker processes on one store (a SQLite file, or with
--store postgresql a PostgreSQL schema): concurrent calls to one area code served by one
number present it exactly up to the policy's per-day limit, then the principal, each
saying why the local number was passed over; raising the limit through `PATCH /v1/org`
reaches both workers' next decisions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.conftest import Server, ok, serve, store_url

PRINCIPAL = "+17135550100"
LOCAL = "+13125550101"
PER_DAY = 6
THREADS = 8
REQUESTS = 40

SHAPER_YAML = f"""\
org: shaper
timezone: America/Chicago
principal_number: "{PRINCIPAL}"
local_presence: true
numbers:
  - {{number: "{PRINCIPAL}"}}
  - {{number: "{LOCAL}"}}
users:
  - {{id: ada}}
health:
  shaping: true
  per_minute: 100
  per_hour: 1000
  per_day: {PER_DAY}
"""


@pytest.fixture(scope="module")
def shaper_server(tmp_path_factory: pytest.TempPathFactory,
                  store_kind: str) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("shaper")
    with store_url(store_kind, workdir) as url, serve(
            workdir, {"shaper": SHAPER_YAML}, db_url=url, workers=2) as running:
        yield running


def test_concurrent_calls_present_a_number_exactly_its_daily_limit_and_say_why_not_more(
        shaper_server: Server) -> None:
    """40 calls from 8 clients on two workers: the local number 6 times (the policy's
    per-day limit; it has no daily cap of its own), the principal 34 times, each of them
    with the local number passed over in words."""
    clients = [shaper_server.client(shaper_server.keys["shaper"]) for _ in range(THREADS)]
    try:
        def post(index: int) -> httpx.Response:
            body = {"user": "ada", "to": f"+1312555{2000 + index}"}
            return clients[index % THREADS].post("/v1/calls", json=body)

        with ThreadPoolExecutor(THREADS) as pool:
            responses = list(pool.map(post, range(REQUESTS)))
    finally:
        for client in clients:
            client.close()

    decisions = [ok(r, 201) for r in responses]
    assert Counter(d["caller_id"] for d in decisions) == {LOCAL: PER_DAY,
                                                         PRINCIPAL: REQUESTS - PER_DAY}
    why = {(s["step"], s["detail"]) for d in decisions if d["caller_id"] == PRINCIPAL
           for s in d["trace"] if s["number"] == LOCAL}
    assert why == {("local_presence", f"is throttled: {PER_DAY} calls today, "
                                      f"limit {PER_DAY}/day")}

    with shaper_server.client(shaper_server.keys["shaper"]) as admin:
        assert ok(admin.get("/v1/config"))["health"]["per_day"] == PER_DAY
        ok(admin.patch("/v1/org", json={"health": {"per_day": PER_DAY + 1}}))
        # Either worker answers: both see the change on their next decision.
        again = [ok(admin.post("/v1/calls", json={"user": "ada", "to": f"+1312555{3000 + i}"}),
                    201) for i in range(2)]
    assert [d["caller_id"] for d in again] == [LOCAL, PRINCIPAL]
