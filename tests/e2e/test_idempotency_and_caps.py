"""SPEC 8 and 2: retries with an Idempotency-Key, and daily caps under concurrent load.

These run against a server of their own with two worker processes on one store (a
SQLite file, or with --store postgresql a PostgreSQL schema), so concurrent requests
really do race in the store.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, error_of, ok, path_of, serve, store_url

PRINCIPAL = "+17135550100"
CAPPED_POOL = "+17135550101"  # the only number of project blitz
CAPPED_OVERRIDE = "+17135550102"  # asked for by every call of one test
POOL_CAP = 25
OVERRIDE_CAP = 10
THREADS = 16
REQUESTS = 240

INITECH_YAML = f"""\
org: initech
default_country: US
timezone: America/Chicago
principal_number: "{PRINCIPAL}"
numbers:
  - {{number: "{PRINCIPAL}", label: HQ}}
  - {{number: "{CAPPED_POOL}", label: Blitz, daily_cap: {POOL_CAP}}}
  - {{number: "{CAPPED_OVERRIDE}", label: Override, daily_cap: {OVERRIDE_CAP}}}
  - {{number: "+17135550103", label: Spare}}
users:
  - {{id: peter, name: Peter Gibbons, work_phone: "+17135559001"}}
  - {{id: samir, name: Samir Nagheenanajar, work_phone: "+17135559002"}}
  - {{id: milton, name: Milton Waddams, work_phone: "+17135559003"}}
projects:
  - id: blitz
    numbers: ["{CAPPED_POOL}"]
"""


@pytest.fixture(scope="module")
def initech_server(tmp_path_factory: pytest.TempPathFactory,
                   store_kind: str) -> Iterator[Server]:
    """A server with two workers holding one organization, initech."""
    workdir = tmp_path_factory.mktemp("initech")
    with store_url(store_kind, workdir) as url, serve(
            workdir, {"initech": INITECH_YAML}, db_url=url, workers=2) as running:
        yield running


@pytest.fixture(scope="module")
def initech(initech_server: Server) -> Iterator[httpx.Client]:
    with initech_server.client(initech_server.keys["initech"]) as client:
        yield client


@pytest.fixture(scope="module")
def callees() -> Callable[[], str]:
    """A new callee number on each call."""
    counter = itertools.count(1000)
    return lambda: f"+1713555{next(counter):04d}"


def log_of(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every call of the log matching ``params``, following the cursor to the end."""
    calls: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = ok(client.get("/v1/calls", params={
            **params, "limit": 100, **({"cursor": cursor} if cursor else {})}))
        calls += page["calls"]
        cursor = page["next_cursor"]
        if cursor is None:
            return calls


def in_parallel(server: Server, bodies: list[dict[str, Any]],
                headers: dict[str, str] | None = None) -> list[httpx.Response]:
    """POST /v1/calls with each body, from THREADS clients at once."""
    clients = [server.client(server.keys["initech"]) for _ in range(THREADS)]
    try:
        def post(index: int) -> httpx.Response:
            client = clients[index % THREADS]
            return client.post("/v1/calls", json=bodies[index], headers=headers)

        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(post, range(len(bodies))))
    finally:
        for client in clients:
            client.close()


# -- Idempotency-Key -----------------------------------------------------------------------

def test_a_retry_with_the_same_key_returns_the_first_decision(
    initech: httpx.Client, callees: Callable[[], str]
) -> None:
    """The same key and body: the identical decision, and the log holds one call."""
    to = callees()
    body = {"user": "peter", "to": to}
    key = {"Idempotency-Key": "retry-1"}

    first = initech.post("/v1/calls", json=body, headers=key)
    retry = initech.post("/v1/calls", json=body, headers=key)

    assert first.status_code == 201, first.text
    assert retry.status_code == first.status_code
    assert retry.json() == first.json()
    assert [c["call_id"] for c in log_of(initech, contact=to)] == [first.json()["call_id"]]


def test_the_same_key_with_another_body_is_409(
    initech: httpx.Client, callees: Callable[[], str]
) -> None:
    """A key names one request; reusing it for another is a conflict, recording nothing."""
    to, elsewhere = callees(), callees()
    key = {"Idempotency-Key": "retry-2"}
    first = ok(initech.post("/v1/calls", json={"user": "peter", "to": to}, headers=key), 201)

    other_callee = initech.post("/v1/calls", json={"user": "peter", "to": elsewhere},
                                headers=key)
    other_user = initech.post("/v1/calls", json={"user": "samir", "to": to}, headers=key)

    error = error_of(other_callee, 409)
    assert (error["code"], error["field"]) == ("conflict", "Idempotency-Key")
    assert error_of(other_user, 409)["code"] == "conflict"
    assert [c["call_id"] for c in log_of(initech, contact=to)] == [first["call_id"]]
    assert log_of(initech, contact=elsewhere) == []


def test_without_a_key_each_request_is_a_new_call(
    initech: httpx.Client, callees: Callable[[], str]
) -> None:
    """Without an Idempotency-Key two identical requests are two calls."""
    to = callees()

    ids = {ok(initech.post("/v1/calls", json={"user": "peter", "to": to}), 201)["call_id"]
           for _ in range(2)}

    assert len(ids) == 2
    assert {c["call_id"] for c in log_of(initech, contact=to)} == ids


def test_concurrent_retries_with_one_key_make_one_call(
    initech_server: Server, initech: httpx.Client, callees: Callable[[], str]
) -> None:
    """Many clients retrying at once with one key all get the one decision."""
    to = callees()

    responses = in_parallel(initech_server, [{"user": "samir", "to": to}] * 48,
                            headers={"Idempotency-Key": "stampede"})

    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["call_id"] for r in responses}) == 1
    assert [c["call_id"] for c in log_of(initech, contact=to)] == [responses[0].json()["call_id"]]


# -- daily caps under concurrent load ------------------------------------------------------

def test_a_capped_pool_number_is_presented_exactly_its_cap_under_load(
    initech_server: Server, initech: httpx.Client, callees: Callable[[], str]
) -> None:
    """Concurrent project calls present the capped pool number exactly its cap times."""
    bodies = [{"user": "peter", "to": callees(), "project": "blitz"} for _ in range(REQUESTS)]

    responses = in_parallel(initech_server, bodies)

    assert {r.status_code for r in responses} == {201}, {r.text for r in responses}
    decisions = [r.json() for r in responses]
    presented = Counter(d["caller_id"] for d in decisions)
    assert presented == {CAPPED_POOL: POOL_CAP, PRINCIPAL: REQUESTS - POOL_CAP}
    assert {d["rule"] for d in decisions if d["caller_id"] == PRINCIPAL} == {"principal"}
    logged = log_of(initech, user="peter")
    acknowledged = Counter(d["call_id"] for d in decisions)
    assert Counter(c["call_id"] for c in logged if c["project"] == "blitz") == acknowledged
    assert max(acknowledged.values()) == 1
    assert Counter(c["caller_id"] for c in logged if c["project"] == "blitz") == presented
    assert ok(initech.get(f"/v1/numbers/{path_of(CAPPED_POOL)}"))["used_today"] == POOL_CAP


def test_an_override_of_a_capped_number_is_refused_once_the_cap_is_reached(
    initech_server: Server, initech: httpx.Client, callees: Callable[[], str]
) -> None:
    """Concurrent overrides of one number capped at 10: 10 calls, the rest 422."""
    bodies = [{"user": "milton", "to": callees(), "caller_id": CAPPED_OVERRIDE}
              for _ in range(REQUESTS // 2)]

    responses = in_parallel(initech_server, bodies)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: OVERRIDE_CAP, 422: REQUESTS // 2 - OVERRIDE_CAP}, statuses
    refused = [error_of(r, 422) for r in responses if r.status_code == 422]
    assert {e["code"] for e in refused} == {"not_presentable"}
    placed = {r.json()["call_id"] for r in responses if r.status_code == 201}
    logged = log_of(initech, user="milton")
    assert {c["call_id"] for c in logged} == placed
    assert len(logged) == OVERRIDE_CAP
    assert {c["caller_id"] for c in logged} == {CAPPED_OVERRIDE}
    assert ok(initech.get(f"/v1/numbers/{path_of(CAPPED_OVERRIDE)}"))["used_today"] == (
        OVERRIDE_CAP)
