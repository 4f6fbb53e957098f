"""A server killed mid-load loses no decision it gave, and leaves a sound store.

Each test applies one organization to this test's store (a SQLite file, or with
--store postgresql a schema), runs `callsign serve` and fires concurrent calls at it,
then SIGKILLs the server's whole process group while calls are in flight, restarts it
on the same store and port, and reads the store directly. Every call goes to a contact
of its own, so each row of the call log can be traced to the one request that made it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e._load import (
    Body,
    Load,
    Reply,
    audit_store,
    kill_server,
    live_processes,
    logged_calls,
    midday_timezone,
    start_server,
    today_in,
    usage,
)
from tests.e2e.conftest import Server, run_cli, stop

ORG = "vault"
PRINCIPAL = "+12125550100"
CAPPED = {"+13125550101": 60, "+13125550102": 40}
UNCAPPED = "+13125550103"  # serves 312 too, so calls stay local once the caps are used up
CLIENTS = 16
ACKNOWLEDGED_BEFORE_KILL = 300
ACKNOWLEDGED_BY_SURVIVOR = 150  # after the other server was killed
NEW_CALLS_AFTER_RESTART = 100
LOAD_SECONDS = 1800.0  # a hang guard: loads end by counts (stop() or no calls left)


def org_yaml(zone: str) -> str:
    return "\n".join([
        f"org: {ORG}",
        "default_country: US",
        f"timezone: {zone}",
        f'principal_number: "{PRINCIPAL}"',
        "local_presence: true",
        "numbers:",
        f'  - {{number: "{PRINCIPAL}", label: HQ}}',
        *(f'  - {{number: "{n}", daily_cap: {cap}}}' for n, cap in CAPPED.items()),
        f'  - {{number: "{UNCAPPED}"}}',
        "users:",
        "  - {id: dialer}",
        "",
    ])


def calls_to_new_contacts(first: int, count: int) -> list[Body]:
    return [{"user": "dialer", "to": f"+1312555{first + i:04d}"} for i in range(count)]


@dataclass
class Store:
    """This test's store with the organization applied, and its key."""

    url: str
    day: str  # today in the organization's zone
    key: str


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Store:
    zone = midday_timezone()
    document = tmp_path / f"{ORG}.yaml"
    document.write_text(org_yaml(zone), encoding="utf-8")
    run_cli(db_url, "apply", str(document))
    key = run_cli(db_url, "keys", "create", "--org", ORG, "--name", "crash").strip()
    return Store(db_url, today_in(zone), key)


@pytest.fixture
def servers() -> Iterator[ExitStack]:
    """Stops at the end every server a test registers, whether it was killed or not."""
    with ExitStack() as stack:
        yield stack


def launch(stack: ExitStack, workdir: Path, store: Store, *, workers: int = 1,
           port: int | None = None) -> Server:
    server = start_server(workdir, store.url, workers=workers, port=port)
    stack.callback(stop, server)
    return server


def port_of(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def after_restart(urls: list[str], store: Store, lost: list[Reply]) -> list[Reply]:
    """Call again every contact whose call was lost in the kill, and new contacts."""
    retries = [reply.body for reply in lost]
    load = Load(urls, store.key)
    load.start([*retries, *calls_to_new_contacts(8000, NEW_CALLS_AFTER_RESTART)],
               clients=CLIENTS, seconds=LOAD_SECONDS)
    replies = load.finish()
    print(f"after the restart: {len(replies)} calls in {load.seconds:.1f} s "
          f"({load.rate:.0f}/s), {len(retries)} of them to contacts whose call was lost")
    return replies


def assert_the_store_holds_what_clients_were_told(store: Store, replies: list[Reply],
                                                  when: str) -> None:
    """Every 201 is in the log as given; any other row is a call lost in the kill."""
    logged = logged_calls(store.url)
    given = {d["call_id"]: (d["to"], d["caller_id"]) for r in replies if (d := r.decision)}
    missing = sorted(set(given) - set(logged))
    assert not missing, f"{len(missing)} acknowledged decisions are not in the store"
    assert {i: logged[i][:2] for i in given} == given
    lost_contacts = Counter(r.body["to"] for r in replies if r.lost)
    unacknowledged = Counter(logged[i][0] for i in set(logged) - set(given))
    assert unacknowledged <= lost_contacts, unacknowledged - lost_contacts
    print(f"store {when}: {len(logged)} calls, {len(given)} acknowledged, "
          f"{sum(unacknowledged.values())} recorded whose answer the kill swallowed "
          f"(of {sum(lost_contacts.values())} lost in flight)")


def assert_caps_count_every_call(store: Store) -> None:
    counted = {e164: (used, presented) for e164, _, used, presented in usage(store.url,
                                                                              day=store.day)}
    for e164, cap in CAPPED.items():
        assert counted[e164] == (cap, cap), e164


def test_a_killed_server_restarts_with_every_decision_it_gave(
    store: Store, servers: ExitStack, tmp_path: Path
) -> None:
    """SIGKILL of a two-worker server mid-load: no 201 lost, the store sound, caps exact."""
    server = launch(servers, tmp_path / "first", store, workers=2)
    group = live_processes(server.process.pid)
    load = Load([server.url], store.key).start(
        calls_to_new_contacts(2000, 5000), clients=CLIENTS, seconds=LOAD_SECONDS)
    load.wait_until(lambda rs: sum(r.acknowledged for r in rs) >= ACKNOWLEDGED_BEFORE_KILL,
                    f"{ACKNOWLEDGED_BEFORE_KILL} decisions acknowledged")
    kill_server(server)
    survivors = live_processes(server.process.pid)
    load.stop()
    before = load.finish()
    lost = [r for r in before if r.lost]
    print(f"\nkilled pids {group} after {load.seconds:.1f} s: "
          f"{sum(r.acknowledged for r in before)} acknowledged ({load.rate:.0f}/s), "
          f"{len(lost)} lost in flight")

    assert len(group) >= 3, f"a server and two workers, found {group}"
    assert survivors == []
    assert {r.status for r in before} <= {201, None}, Counter(r.status for r in before)
    assert_the_store_holds_what_clients_were_told(store, before, "as the kill left it")
    assert audit_store(store.url, day=store.day) == []

    began = time.monotonic()
    restarted = launch(servers, tmp_path / "restarted", store, port=port_of(server))
    print(f"restarted in {time.monotonic() - began:.1f} s")
    after = after_restart([restarted.url], store, lost)

    assert {r.status for r in after} == {201}, Counter((r.status, r.error) for r in after)
    assert_the_store_holds_what_clients_were_told(store, before + after, "after the restart")
    assert audit_store(store.url, day=store.day) == []
    assert_caps_count_every_call(store)


def test_one_of_two_servers_on_one_store_is_killed_and_the_other_carries_on(
    store: Store, servers: ExitStack, tmp_path: Path
) -> None:
    """Two servers share the store; one is SIGKILLed mid-load; the other never fails a call.

    On SQLite the killed process may die holding the file's write lock; the survivor
    must take it over, and the file must pass its integrity check.
    """
    doomed = launch(servers, tmp_path / "doomed", store)
    survivor = launch(servers, tmp_path / "survivor", store)
    load = Load([doomed.url, survivor.url], store.key).start(
        calls_to_new_contacts(2000, 5000), clients=CLIENTS, seconds=LOAD_SECONDS)
    load.wait_until(lambda rs: sum(r.acknowledged for r in rs) >= ACKNOWLEDGED_BEFORE_KILL,
                    f"{ACKNOWLEDGED_BEFORE_KILL} decisions acknowledged")
    kill_server(doomed)
    killed_at = time.monotonic()
    load.wait_until(lambda rs: sum(r.acknowledged and r.server == 1 and r.sent > killed_at
                                   for r in rs) >= ACKNOWLEDGED_BY_SURVIVOR,
                    f"{ACKNOWLEDGED_BY_SURVIVOR} decisions by the survivor after the kill")
    load.stop()
    before = load.finish()
    lost = [r for r in before if r.lost]
    by_survivor = [r for r in before if r.server == 1]
    print(f"\nkill after {killed_at - load.started:.1f} s; the survivor answered "
          f"{sum(r.sent > killed_at for r in by_survivor)} calls after it; "
          f"{len(lost)} lost in flight; {load.rate:.0f} answers/s overall")

    restarted = launch(servers, tmp_path / "restarted", store, port=port_of(doomed))
    after = after_restart([restarted.url, survivor.url], store, lost)

    assert {r.status for r in by_survivor} == {201}, Counter(
        (r.status, r.error) for r in by_survivor)
    assert {r.status for r in before if r.server == 0 and r.sent > killed_at} <= {None}
    assert {r.status for r in after} == {201}, Counter((r.status, r.error) for r in after)
    assert_the_store_holds_what_clients_were_told(store, before + after, "after the restart")
    assert audit_store(store.url, day=store.day) == []
    assert_caps_count_every_call(store)
