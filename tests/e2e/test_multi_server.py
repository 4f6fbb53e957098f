"""Several `callsign serve` processes on one store, under thousands of concurrent calls.

With --store postgresql three servers (one of them with two workers) share one schema;
on SQLite two server processes share one file. One mixed run of ~2,500 POST /v1/calls
from 30 concurrent clients, spread round-robin over the servers, feeds every test here:
each test states one property of the decisions the servers gave and the store they left.

The properties are the same on both stores, so the module runs on both; only the number
of servers follows the store (see ``server_layout``).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e._load import (
    Body,
    Load,
    Reply,
    answered_together,
    audit_store,
    logged_calls,
    midday_timezone,
    today_in,
    usage,
)
from tests.e2e.conftest import Server, serve, store_url

ORG = "switchboard"
PRINCIPAL = "+12125550100"

# Area code 312: three capped numbers, far more demand than their caps.
CAPPED = {"+13125550101": 40, "+13125550102": 30, "+13125550103": 20}
CAPPED_CALLS = 300

# Area code 773: twelve capped numbers serving one area code, more than the rules read
# at once (LRU_CANDIDATES = 8): eight small caps run out first, four large ones remain.
CROWDED = {**{f"+1773555{101 + i:04d}": 3 for i in range(8)},
           **{f"+1773555{109 + i:04d}": 25 for i in range(4)}}
CROWDED_CALLS = 300

# Project "redial": next_calls different_each_attempt over a pool of six numbers.
POOL = [f"+1206555{101 + i:04d}" for i in range(6)]
REDIAL_CONTACTS = 60
REDIAL_ROUNDS = 2  # each round: len(POOL) simultaneous calls to one contact

# Area code 415: ten uncapped numbers rotate, least recently presented first; three
# of them are 628 numbers mapped to 415.
ROTATION = [f"+1415555{101 + i:04d}" for i in range(7)] + [
    f"+1628555{101 + i:04d}" for i in range(3)]
ROTATION_CALLS = 1200

SINGLE_CLIENTS = 12
BURST_GROUPS = 3  # × len(POOL) clients sending bursts
LOAD_SECONDS = 1800.0  # a hang guard: the load ends when every call is answered


def org_yaml(zone: str) -> str:
    numbers = [f'  - {{number: "{PRINCIPAL}", label: HQ}}']
    numbers += [f'  - {{number: "{n}", daily_cap: {cap}}}' for n, cap in CAPPED.items()]
    numbers += [f'  - {{number: "{n}", daily_cap: {cap}}}' for n, cap in CROWDED.items()]
    numbers += [f'  - {{number: "{n}", group: redial}}' for n in POOL]
    numbers += [f'  - {{number: "{n}"}}' for n in ROTATION if n.startswith("+1415")]
    numbers += [f'  - {{number: "{n}", area_codes: ["415"]}}' for n in ROTATION
                if n.startswith("+1628")]
    pool = ", ".join(f'"{n}"' for n in POOL)
    return "\n".join([
        f"org: {ORG}",
        "default_country: US",
        f"timezone: {zone}",
        f'principal_number: "{PRINCIPAL}"',
        "local_presence: true",
        "numbers:",
        *numbers,
        "users:",
        "  - {id: capped}",
        "  - {id: crowded}",
        "  - {id: redial}",
        "  - {id: rotation}",
        "projects:",
        "  - id: redial",
        f"    numbers: [{pool}]",
        "    first_call: random",
        "    next_calls: different_each_attempt",
        "",
    ])


@dataclass(repr=False)
class Run:
    """The servers, the load they answered and the store they share."""

    servers: list[Server]
    workers: list[int]  # per server
    db_url: str
    day: str
    load: Load
    singles: list[Body]
    bursts: list[list[Reply]]  # the replies of each round sent at once

    @property
    def replies(self) -> list[Reply]:
        return self.load.replies

    def __repr__(self) -> str:
        return f"Run({len(self.servers)} servers, {len(self.replies)} replies, {self.db_url})"

    def decisions(self, user: str) -> list[dict[str, Any]]:
        return [r.decision for r in self.replies if r.decision and r.body["user"] == user]


def server_layout(store_kind: str) -> list[int]:
    """Workers per server: three servers on PostgreSQL, two processes on one SQLite file."""
    return [2, 1, 1] if store_kind == "postgresql" else [1, 1]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Run]:
    """Start the servers on one store and fire the mixed load at them, once."""
    workdir = tmp_path_factory.mktemp("multi")
    zone = midday_timezone()
    with ExitStack() as stack:
        url = stack.enter_context(store_url(store_kind, workdir))
        servers: list[Server] = []
        layout = server_layout(store_kind)
        for index, workers in enumerate(layout):
            folder = workdir / f"server{index}"
            folder.mkdir()
            documents = {ORG: org_yaml(zone)} if index == 0 else {}
            servers.append(stack.enter_context(serve(folder, documents, db_url=url,
                                                     workers=workers)))
        yield fire(servers, layout, url, zone)


def fire(servers: list[Server], workers: list[int], url: str, zone: str) -> Run:
    # The capped calls go first, all at once, so that many race for each number's last
    # slots; the rest run mixed through the whole load.
    singles = [{"user": "capped", "to": f"+1312555{2000 + i}"} for i in range(CAPPED_CALLS)]
    singles += interleave(
        [{"user": "crowded", "to": f"+1773555{2000 + i}"} for i in range(CROWDED_CALLS)],
        [{"user": "rotation", "to": f"+1415555{2000 + i}"} for i in range(ROTATION_CALLS)],
    )
    sequences = [[[{"user": "redial", "to": f"+1503555{2000 + c}", "project": "redial"}
                   for _ in POOL] for _ in range(REDIAL_ROUNDS)]
                 for c in range(REDIAL_CONTACTS)]
    load = Load([s.url for s in servers], servers[0].keys[ORG])
    load.start(singles, sequences, clients=SINGLE_CLIENTS, burst_groups=BURST_GROUPS,
               seconds=LOAD_SECONDS)
    replies = load.finish()
    print(f"\n{len(servers)} servers ({sum(workers)} workers), {len(replies)} requests in "
          f"{load.seconds:.1f} s: {load.rate:.0f} decisions/s, round trip median "
          f"{load.latency_ms(0.5):.0f} ms, p99 {load.latency_ms(0.99):.0f} ms")
    return Run(servers, workers, url, today_in(zone), load, singles, rounds_of(replies))


def interleave(*streams: list[Body]) -> list[Body]:
    """The streams merged evenly, so each kind of call runs through the whole load."""
    placed = [((i + 0.5) / len(stream), k, body)
              for k, stream in enumerate(streams) for i, body in enumerate(stream)]
    return [body for _, _, body in sorted(placed, key=lambda p: p[:2])]


def rounds_of(replies: list[Reply]) -> list[list[Reply]]:
    """The redial replies grouped by contact, then into rounds in the order sent."""
    by_contact: dict[str, list[Reply]] = defaultdict(list)
    for reply in replies:
        if reply.body.get("project") == "redial":
            by_contact[reply.body["to"]].append(reply)
    rounds = []
    for contact_replies in by_contact.values():
        contact_replies.sort(key=lambda r: r.sent)
        for start in range(0, len(contact_replies), len(POOL)):
            rounds.append(contact_replies[start:start + len(POOL)])
    return rounds


# -- the tests ---------------------------------------------------------------------------

def test_every_call_sent_to_any_server_is_decided(run: Run) -> None:
    """Each of the ~2,500 requests, whichever server took it, is answered 201."""
    sent = len(run.singles) + REDIAL_CONTACTS * REDIAL_ROUNDS * len(POOL)
    failed = Counter((r.status, (r.error or "")[:200]) for r in run.replies if not r.acknowledged)

    assert not failed, failed.most_common(5)
    assert len(run.replies) == sent, "the load did not finish within its time bound"
    assert {r.server for r in run.replies} == set(range(len(run.servers)))


def test_every_acknowledged_decision_is_logged_exactly_once_and_nothing_else(run: Run) -> None:
    """The call log holds exactly the decisions clients were given, as they were given."""
    acknowledged = Counter(r.decision["call_id"] for r in run.replies if r.decision)
    logged = logged_calls(run.db_url)

    assert max(acknowledged.values()) == 1
    assert set(logged) == set(acknowledged)
    given = {d["call_id"]: (d["to"], d["caller_id"])
             for r in run.replies if (d := r.decision)}
    assert {i: (to, caller) for i, (to, caller, _, _) in logged.items()} == given


def test_daily_caps_hold_across_servers_and_are_used_up_when_demand_exceeds_them(
    run: Run,
) -> None:
    """Three capped numbers, 300 calls: each presented exactly its cap, the rest principal."""
    presented = Counter(d["caller_id"] for d in run.decisions("capped"))
    counts = {e164: (cap, used, logged) for e164, cap, used, logged in usage(run.db_url,
                                                                              day=run.day)}
    print(f"\n312 capped: presented {dict(presented)}")

    assert presented == {**CAPPED, PRINCIPAL: CAPPED_CALLS - sum(CAPPED.values())}
    for e164, cap in CAPPED.items():
        assert counts[e164] == (cap, cap, cap), e164


def test_local_presence_uses_every_capped_number_serving_an_area_code_up_to_its_cap(
    run: Run,
) -> None:
    """Twelve capped numbers serve 773: all twelve reach their caps before the principal."""
    presented = Counter(d["caller_id"] for d in run.decisions("crowded"))
    counts = {e164: (cap, used, logged) for e164, cap, used, logged in usage(run.db_url,
                                                                              day=run.day)}
    print(f"\n773 crowded: presented {dict(sorted(presented.items()))}")

    for e164, cap in CROWDED.items():
        assert counts[e164][1:] == (presented[e164], presented[e164]), e164
        assert presented[e164] <= cap, e164
    assert presented == {**CROWDED, PRINCIPAL: CROWDED_CALLS - sum(CROWDED.values())}


def test_different_each_attempt_never_repeats_a_number_while_one_is_unused(run: Run) -> None:
    """Six simultaneous calls to one contact over every server get six different numbers.

    Each contact's project calls, in the order of their times, are rounds of six calls
    sent at once; each round presents every pool number once: the first because none
    was used, the next because each takes the number used longest ago.
    """
    sequences: dict[str, list[tuple[Any, str, str]]] = defaultdict(list)
    for call_id, (to, caller_id, project, at) in logged_calls(run.db_url).items():
        if project == "redial":
            sequences[to].append((at, call_id, caller_id))
    raced = sum(answered_together(burst) for burst in run.bursts)
    print(f"\nredial: {raced} of {len(run.bursts)} bursts had calls in flight together "
          f"on two servers")

    assert len(sequences) == REDIAL_CONTACTS
    for to, calls in sequences.items():
        presented = [caller_id for _, _, caller_id in sorted(calls)]
        assert len(presented) == REDIAL_ROUNDS * len(POOL), to
        for start in range(0, len(presented), len(POOL)):
            round_ = presented[start:start + len(POOL)]
            twice = sorted(n for n, times in Counter(round_).items() if times > 1)
            assert not twice, f"{to} got {twice} twice in calls {start + 1}-{start + 6}"
            assert sorted(round_) == POOL, (to, round_)
    assert raced >= len(run.bursts) // 2, "too few bursts raced to prove anything"


def test_least_recently_presented_rotation_spreads_calls_evenly(run: Run) -> None:
    """1,200 calls to area code 415 over ten uncapped numbers: each within a few of 120.

    Decisions in flight together on different workers may read the same least recently
    presented number. Resolved (a claim that finds the number presented since it was
    read decides again), that keeps every number within one presentation per worker in
    flight of the others, ahead or behind. Fairness is soft, though: a call is never
    refused for losing turns, so after three lost turns it takes the next number out of
    turn (its trace says so); each such presentation may put one number one call ahead
    for good (the rotation reads times, not counts), so the bound grows by their count.
    """
    decisions = run.decisions("rotation")
    presented = Counter(d["caller_id"] for d in decisions)
    per_number = [presented[n] for n in ROTATION]
    out_of_turn_claims = sum(step["step"] == "rotation" and "out of turn" in step["detail"]
                             for d in decisions for step in d["trace"])
    bound = 2 * sum(run.workers) + 2 + out_of_turn_claims  # + 2: the first round's ties
    spread = max(per_number) - min(per_number)
    by_time = [caller for _, caller in sorted(
        (at, caller) for to, caller, _, at in logged_calls(run.db_url).values()
        if to.startswith("+1415"))]
    out_of_turn = sum(caller in by_time[max(0, i - len(ROTATION) + 1):i]
                      for i, caller in enumerate(by_time))
    print(f"\n415 rotation over {len(ROTATION)} numbers: min {min(per_number)}, "
          f"max {max(per_number)}, mean {statistics.mean(per_number):.1f}, "
          f"stdev {statistics.pstdev(per_number):.2f}, max-min {spread} (bound {bound}); "
          f"{out_of_turn_claims} claims out of turn after lost turns; {out_of_turn} of "
          f"{len(by_time)} presentations came back before the other "
          f"{len(ROTATION) - 1} numbers had their turn")

    assert {d["rule"] for d in decisions} == {"local_presence"}
    assert set(presented) == set(ROTATION)
    assert sum(per_number) == ROTATION_CALLS
    assert out_of_turn_claims < ROTATION_CALLS // 4, "most claims should take their turn"
    assert spread <= bound, dict(zip(ROTATION, per_number, strict=True))


def test_the_store_keeps_its_invariants_after_the_load(run: Run) -> None:
    """No orphan rows, no number held twice, usage counts equal to the calls presenting."""
    assert audit_store(run.db_url, day=run.day) == []

