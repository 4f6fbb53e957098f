"""A change to an organization's configuration is seen by the very next decision on every
worker, although each worker keeps the organization's state in memory.

A real `callsign serve --workers 2` (SQLite, or PostgreSQL with --store postgresql), the
REST API and the real command line. Each decision goes on a connection of its own, and
the test reads in /proc which worker accepted it (as test_key_revocation.py does). The
bounds are counts of requests (and a hang guard); no wall-clock.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import HANG_GUARD, Server, acme_yaml, ok, serve, store_url
from tests.e2e.test_key_revocation import worker_holding, workers_of

pytestmark = pytest.mark.slow

WORKERS = 2
REQUESTS_TO_MEET_EVERY_WORKER = 400  # fresh connections until each worker answered enough
DECISIONS_PER_WORKER = 3  # the first loads the organization's state, the next use it
# A callee no number of acme serves: the decision presents the principal number.
CALL = {"user": "carol", "to": "+442079460000", "dry_run": True}
# No calling hours: the callee's local time (the wall clock) must not matter.
ORG = acme_yaml().replace('calling_hours: {start: "08:00", end: "21:00"}\n', "")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("org-state")
    with store_url(store_kind, workdir) as url, serve(
            workdir, {"acme": ORG}, db_url=url, workers=WORKERS) as running:
        yield running


def decide(server: Server, workers: set[int]) -> tuple[int, str]:
    """A dry-run decision on a connection of its own: (the worker, the caller ID)."""
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=HANG_GUARD)
    try:
        conn.request("POST", "/v1/calls", body=json.dumps(CALL), headers={
            "Authorization": f"Bearer {server.keys['acme']}",
            "Content-Type": "application/json"})
        response = conn.getresponse()
        body = response.read()
        assert response.status == 201, body
        assert conn.sock is not None
        worker = worker_holding(int(port), conn.sock.getsockname()[1], workers)
    finally:
        conn.close()
    return worker, str(json.loads(body)["caller_id"])


def decisions_on_every_worker(server: Server, workers: set[int]) -> dict[int, list[str]]:
    """Decisions until each worker made ``DECISIONS_PER_WORKER``: the caller IDs each gave."""
    seen: dict[int, list[str]] = {pid: [] for pid in workers}
    for _ in range(REQUESTS_TO_MEET_EVERY_WORKER):
        worker, caller_id = decide(server, workers)
        seen[worker].append(caller_id)
        if all(len(ids) >= DECISIONS_PER_WORKER for ids in seen.values()):
            break
    assert all(len(ids) >= DECISIONS_PER_WORKER for ids in seen.values()), seen
    return seen


def test_a_change_is_seen_by_the_very_next_decision_on_every_worker(server: Server) -> None:
    workers = workers_of(server)
    before = decisions_on_every_worker(server, workers)  # every worker keeps acme's state
    assert {n for ids in before.values() for n in ids} == {"+12125550100"}, before

    # Through the REST API (on whichever worker takes it)...
    with server.client(server.keys["acme"]) as client:
        ok(client.patch("/v1/org", json={"principal_number": "+13125550102"}))
    after_rest = decisions_on_every_worker(server, workers)
    assert {pid: set(ids) for pid, ids in after_rest.items()} == \
        {pid: {"+13125550102"} for pid in workers}, after_rest

    # ... and through `callsign apply`, another process.
    path = server.workdir / "acme-changed.yaml"
    path.write_text(ORG.replace('principal_number: "+12125550100"',
                                'principal_number: "+16305550142"'), encoding="utf-8")
    server.cli("apply", str(path))
    after_cli = decisions_on_every_worker(server, workers)
    assert {pid: set(ids) for pid, ids in after_cli.items()} == \
        {pid: {"+16305550142"} for pid in workers}, after_cli
