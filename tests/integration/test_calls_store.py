"""The call path on the real store (SQLite, and PostgreSQL with ``--store postgresql``).

The rules of SPEC 2–4 are unit tests on the in-memory store (``tests/unit/test_*_rules.py``).
Here: the repository's contract, run on the SQL store and on the fake alike (gather,
claim, record, idempotency, transactions); a few decisions of each kind through the
SQL store end to end; and one scripted day of calls through both stores, whose
decisions must agree, which keeps the fake honest.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from callsign.domain.errors import CallsignError, Conflict, NotFound, NotPresentable
from callsign.domain.model import (
    Channel,
    ClaimResult,
    Decision,
    NumberStatus,
    OutboundRequest,
    Route,
    Rule,
    TraceStep,
)
from callsign.services import calls
from callsign.services import numbers as numbers_service
from callsign.services.ports import UnitOfWork
from callsign.store.calls import LRU_CANDIDATES
from callsign.store.uow import UnitOfWork as SqlUnitOfWork
from tests.conftest import ApplyOrg
from tests.fakes.store import FakeStore

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # a Monday: 11:00 in Chicago, 12:00 in New York
DAY = "2026-03-02"  # NOW's day in New York

PRINCIPAL = "+12125550100"
CHI1, CHI2, CHI3 = "+13125550101", "+13125550102", "+13125550103"
AURORA = "+16305550142"  # area code 630; geocoded "Illinois"
SF = "+14155550105"
NWK1, NWK2, NWK3 = "+12015550106", "+12015550107", "+12015550108"
MANHATTAN = "+16465550104"

CHICAGO_CONTACT = "+13125550188"
CHICAGO_773 = "+17735550150"
SPRINGFIELD_IL = "+12175550123"  # area code 217: no number of ours serves it
STRANGER = "+19075550100"


def later(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def org(**settings: Any) -> dict[str, Any]:
    """acme in New York: alice (caller ID SF, direct number CHI1) and bob; a few numbers."""
    return {
        "org": "acme", "principal_number": PRINCIPAL, "timezone": "America/New_York",
        "forwarding_number": PRINCIPAL,
        "numbers": [{"number": PRINCIPAL}, {"number": CHI1, "area_codes": ["773"]},
                    {"number": CHI2, "daily_cap": 2}, {"number": AURORA}, {"number": SF},
                    {"number": NWK1}, {"number": NWK2}, {"number": NWK3},
                    {"number": MANHATTAN, "status": "paused"}],
        "users": [{"id": "alice", "work_phone": "+13125559001", "caller_id": SF,
                   "direct_number": CHI1},
                  {"id": "bob", "work_phone": "+14155559002"}],
        "contacts": [{"phone": CHICAGO_773, "owner": "alice", "line_type": "mobile"}],
        "projects": [{"id": "renewals", "numbers": [NWK1, NWK2, NWK3],
                      "next_calls": "different_each_attempt",
                      "outcome_numbers": {"asked_callback": NWK3}}],
        **settings,
    }


@dataclass
class Backend:
    """One store as the services see it: load a document, open units, read usage."""

    name: str
    apply: Callable[[dict[str, Any]], None]
    uow: Callable[[], UnitOfWork]
    used_today: Callable[[str, datetime], int]
    pause: Callable[[str], None]

    def dial(self, to: str, at: datetime, *, user: str = "alice", seed: int = 0,
             dry_run: bool = False, key: str | None = None, **options: Any) -> Decision:
        request = OutboundRequest(org="acme", user=user, to=to, **options)
        return calls.place_call(self.uow(), request, now=at, rng=random.Random(seed),
                                dry_run=dry_run, idempotency_key=key)

    def ring(self, to: str, caller: str, at: datetime) -> Route:
        return calls.route_call(self.uow(), to, caller, now=at)


def sql_backend(engine: Engine, apply_org: ApplyOrg) -> Backend:
    def used_today(e164: str, at: datetime) -> int:
        views = numbers_service.list_numbers(SqlUnitOfWork(engine), "acme", search=e164[2:],
                                             now=at)
        return sum(v.used_today for v in views if v.number == e164)

    def pause(e164: str) -> None:
        numbers_service.set_status(SqlUnitOfWork(engine), "acme", e164, NumberStatus.PAUSED)

    return Backend("sql", apply_org, lambda: SqlUnitOfWork(engine), used_today, pause)


def fake_backend() -> Backend:
    fake = FakeStore()

    def pause(e164: str) -> None:
        fake.set_status("acme", e164, NumberStatus.PAUSED)

    return Backend("fake", fake.apply, fake.uow,
                   lambda e164, at: fake.used_today("acme", e164, at), pause)


@pytest.fixture
def sql(engine: Engine, apply_org: ApplyOrg) -> Backend:
    return sql_backend(engine, apply_org)


@pytest.fixture(params=["sql", "fake"])
def store(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The SQL store and the in-memory one: the repository contract holds for both."""
    if request.param == "sql":
        yield sql_backend(request.getfixturevalue("engine"),
                          request.getfixturevalue("apply_org"))
    else:
        yield fake_backend()


def decision(call_id: str, caller_id: str, to: str,
             rule: Rule = Rule.LOCAL_PRESENCE) -> Decision:
    return Decision(caller_id=caller_id, rule=rule, to=to, call_id=call_id,
                    trace=(TraceStep("local_presence", "chosen", "a test", caller_id),))


# -- the repository's contract, on both stores ---------------------------------------------

def test_claims_count_within_the_cap_per_day_and_the_principal_past_it(store: Backend) -> None:
    """CHI2 (cap 2): two claims are taken, the third is FULL; uncapped counts on; another
    day has its own count; a number outside the inventory has nothing to count."""
    store.apply(org())
    with store.uow() as uow:
        org_id = uow.calls.org_id_and_policy("acme")[0]

        def claim(e164: str, day: str = DAY, *, within_cap: bool = True) -> ClaimResult:
            return uow.calls.claim_number(org_id, e164, day=day, now=NOW, within_cap=within_cap)

        results = [claim(CHI2), claim(CHI2), claim(CHI2), claim(CHI2, within_cap=False),
                   claim(CHI2, "2026-03-03"), claim(STRANGER)]
        uow.commit()

    assert results == [ClaimResult.TAKEN, ClaimResult.TAKEN, ClaimResult.FULL,
                       ClaimResult.TAKEN, ClaimResult.TAKEN, ClaimResult.TAKEN]
    assert store.used_today(CHI2, NOW) == 3
    assert store.used_today(CHI2, NOW + timedelta(days=1)) == 1


def test_a_claim_in_turn_is_lost_once_another_call_presented_the_number(
        store: Backend) -> None:
    """In turn only while the last presentation read is still the number's; a lost turn
    gives its count back."""
    store.apply(org())
    with store.uow() as uow:
        repo = uow.calls
        org_id = repo.org_id_and_policy("acme")[0]
        first = repo.claim_number(org_id, CHI1, day=DAY, now=NOW, within_cap=True,
                                  in_turn=True, presented=None)
        stale = repo.claim_number(org_id, CHI1, day=DAY, now=later(1), within_cap=True,
                                  in_turn=True, presented=None)
        fresh = repo.claim_number(org_id, CHI1, day=DAY, now=later(1), within_cap=True,
                                  in_turn=True, presented=NOW)
        states, _ = repo.candidate_numbers(org_id, day=DAY, area_code=None, region=None,
                                           specific=[CHI1], project_id=None)
        uow.commit()

    (state,) = states.values()

    assert (first, stale, fresh) == (ClaimResult.TAKEN, ClaimResult.TURN_LOST,
                                     ClaimResult.TAKEN)
    assert (state.used_today, state.last_presented_at) == (2, later(1))


def test_gathering_reads_named_pool_and_least_recently_presented_numbers(
        store: Backend) -> None:
    """Candidates: the numbers named, the project's pool, and at most LRU_CANDIDATES of the
    least recently presented active numbers under their cap serving the area code (mapped
    ones too) or in the region; never a released one."""
    many = [f"+1312555{300 + i:04d}" for i in range(LRU_CANDIDATES + 2)]
    store.apply(org(numbers=[*org()["numbers"], *({"number": n} for n in many)]))
    with store.uow() as uow:
        repo = uow.calls
        org_id = repo.org_id_and_policy("acme")[0]
        for i, number in enumerate(many[:3]):  # presented most recently: read last
            repo.claim_number(org_id, number, day=DAY, now=later(i), within_cap=True)
        project_id = repo.project_policy(org_id, "renewals")[0]
        states, serving = repo.candidate_numbers(
            org_id, day=DAY, area_code="312", region=None, specific=[SF, MANHATTAN],
            project_id=project_id)
        mapped = repo.candidate_numbers(org_id, day=DAY, area_code="773", region="Illinois",
                                        specific=[], project_id=None)
        uow.commit()

    local = {CHI1, CHI2, *many[3:]}  # never presented: the least recently presented
    assert len(local) == LRU_CANDIDATES + 1
    assert set(states) - {SF, MANHATTAN, NWK1, NWK2, NWK3} <= local | set(many)
    assert {SF, MANHATTAN, NWK1, NWK2, NWK3} <= set(states)
    assert len(set(states) & (local | set(many))) == LRU_CANDIDATES
    assert not set(states) & set(many[:3])
    assert serving == set(states) & (local | set(many))
    assert states[MANHATTAN].status == NumberStatus.PAUSED
    assert mapped[1] == {CHI1}
    assert CHI1 in mapped[0]  # it serves 773; with the Illinois numbers, least recent first
    assert set(mapped[0]) <= {CHI1, CHI2, AURORA, *many[3:]}
    assert LRU_CANDIDATES <= len(mapped[0]) <= LRU_CANDIDATES + 1


def test_history_contacts_outcomes_and_inbound_reads(store: Backend) -> None:
    """What the call path records it reads back: calls newest first with their outcome,
    contacts, users by key and direct number, the holder of a number."""
    store.apply(org())
    with store.uow() as uow:
        repo = uow.calls
        org_id = repo.org_id_and_policy("acme")[0]
        for i, caller_id in enumerate([NWK1, NWK2]):
            repo.record_call(org_id, decision(f"call_{i}", caller_id, STRANGER),
                             user="bob", project="renewals", channel="manual", at=later(i))
        uow.commit()
    with store.uow() as uow:
        repo = uow.calls
        assert repo.set_outcome("call_0", "asked_callback", later(2), org_id)
        assert not repo.set_outcome("call_9", "asked_callback", later(2), org_id)
        uow.commit()
    with store.uow() as uow:
        repo = uow.calls
        past = repo.history(org_id, STRANGER)
        contact = repo.contact(org_id, CHICAGO_773)
        direct = repo.user_by_direct_number(org_id, CHI1)
        owner = repo.number_owner(CHI1)
        assert repo.user_by_key(org_id, "carol") is None
        assert repo.number_owner(STRANGER) is None
        with pytest.raises(NotFound, match="no user 'carol'"):
            repo.org_and_user("acme", "carol")

    assert [(c.call_id, c.caller_id, c.user, c.project, c.outcome) for c in past] == [
        ("call_1", NWK2, "bob", "renewals", None),
        ("call_0", NWK1, "bob", "renewals", "asked_callback")]
    assert contact == ("mobile", "alice", None, None)
    assert direct is not None
    assert direct.id == "alice"
    assert owner is not None
    assert (owner[0], owner[1].slug) == (org_id, "acme")


def test_idempotency_keys_give_the_first_decision_and_refuse_another_request(
        store: Backend) -> None:
    store.apply(org())
    first = store.dial(CHICAGO_CONTACT, NOW, key="k1")
    again = store.dial(CHICAGO_CONTACT, later(1), key="k1", seed=7)

    with pytest.raises(Conflict, match="used for a different request"):
        store.dial(SPRINGFIELD_IL, NOW, key="k1")
    with store.uow() as uow:
        org_id = uow.calls.org_id_and_policy("acme")[0]
        def remember_again() -> None:  # raced here, or (PostgreSQL) at the commit
            uow.calls.remember_decision(org_id, "k1", "another", first, NOW)
            uow.commit()

        with pytest.raises(uow.raced):
            remember_again()
    assert again == first
    assert store.used_today(first.caller_id, NOW) == 1


def test_nothing_lands_without_commit(store: Backend) -> None:
    store.apply(org())
    with store.uow() as uow:
        org_id = uow.calls.org_id_and_policy("acme")[0]
        uow.calls.record_call(org_id, decision("call_x", CHI1, STRANGER), user="bob",
                              project=None, channel="manual", at=NOW)
        uow.calls.claim_number(org_id, CHI1, day=DAY, now=NOW, within_cap=True)

    with store.uow() as uow:
        assert uow.calls.history(org_id, STRANGER) == ()
    assert store.used_today(CHI1, NOW) == 0
    assert store.dial(STRANGER, NOW, dry_run=True).call_id
    assert store.used_today(SF, NOW) == 0


# -- decisions through the SQL store end to end ----------------------------------------------

def test_override_is_recorded_with_its_channel_time_and_trace(sql: Backend,
                                                              recorded_calls: Any) -> None:
    sql.apply(org(local_presence=True))

    decided = sql.dial("(312) 555-0188", NOW, caller_id="(415) 555-0105",
                       channel=Channel.CLICK_TO_DIAL)

    (row,) = recorded_calls()
    assert (decided.caller_id, decided.rule, decided.to) == (SF, "override", CHICAGO_CONTACT)
    assert (row.id, row.caller_id, row.rule, row.to_number, row.user_key) == (
        decided.call_id, SF, "override", CHICAGO_CONTACT, "alice")
    assert (row.channel, row.at) == ("click_to_dial", NOW)
    assert row.trace == [step.as_dict() for step in decided.trace]


def test_a_capped_number_passes_on_and_cannot_be_asked_for(sql: Backend) -> None:
    sql.apply(org(users=[{"id": "alice", "caller_id": CHI2}]))

    decisions = [sql.dial(CHICAGO_CONTACT, later(i)) for i in range(3)]

    assert [(d.caller_id, d.rule) for d in decisions] == [
        (CHI2, "agent_area_code"), (CHI2, "agent_area_code"), (PRINCIPAL, "principal")]
    with pytest.raises(NotPresentable, match=r"reached its daily cap \(2/2\)"):
        sql.dial(CHICAGO_CONTACT, later(4), caller_id=CHI2)
    assert sql.used_today(CHI2, later(4)) == 2


def test_local_presence_rotates_and_emergency_calls_are_not_counted(sql: Backend) -> None:
    sql.apply(org(local_presence=True, users=[{"id": "alice", "direct_number": CHI3}],
                  numbers=[{"number": PRINCIPAL}, {"number": CHI1}, {"number": CHI2},
                           {"number": CHI3, "daily_cap": 1}], projects=[]))

    emergency = sql.dial("911", NOW)
    rotated = [sql.dial(f"+1312555{200 + i:04d}", later(i + 1), seed=i) for i in range(4)]

    assert (emergency.caller_id, emergency.rule) == (CHI3, "emergency")
    used = [d.caller_id for d in rotated]
    assert sorted(used[:3]) == [CHI1, CHI2, CHI3]
    assert used[3] == next(n for n in used if n != CHI3)  # CHI3 is at its cap of 1
    assert sql.used_today(CHI3, later(5)) == 1


def test_history_picks_the_previous_outcome_and_unused_pool_numbers(sql: Backend) -> None:
    sql.apply(org(projects=[{"id": "renewals", "numbers": [NWK1, NWK2, NWK3],
                             "first_call": NWK1, "next_calls": "different_each_attempt",
                             "outcome_numbers": {"asked_callback": NWK1}}]))
    first = sql.dial(CHICAGO_CONTACT, NOW, project="renewals")
    second = sql.dial(CHICAGO_CONTACT, later(1), project="renewals")
    calls.record_outcome(sql.uow(), second.call_id, "asked_callback", now=later(1.5),
                         org="acme")

    third = sql.dial(CHICAGO_CONTACT, later(2), project="renewals")
    sql.pause(NWK1)
    fourth = sql.dial(CHICAGO_CONTACT, later(3), project="renewals")

    assert (first.caller_id, first.rule) == (NWK1, "first_call_number")
    assert (second.rule, third.rule, fourth.rule) == (
        "different_each_attempt", "outcome_number", "different_each_attempt")
    assert (third.caller_id, {second.caller_id, fourth.caller_id}) == (NWK1, {NWK2, NWK3})


def test_regions_and_mapped_area_codes_are_gathered(sql: Backend) -> None:
    sql.apply(org(local_presence=True, local_presence_fallback="region",
                  users=[{"id": "alice"}], contacts=[]))

    mapped = sql.dial(CHICAGO_773, NOW)
    region = sql.dial(SPRINGFIELD_IL, later(1))

    assert (mapped.caller_id, mapped.rule) == (CHI1, "local_presence")
    assert region.rule == "local_presence_region"
    assert region.caller_id in {CHI2, AURORA}  # in Illinois; CHI1 was presented last


def test_inbound_routes_through_history_owners_and_records_the_call(
        sql: Backend, recorded_inbound: Any) -> None:
    sql.apply(org())
    sql.dial(STRANGER, NOW, user="bob")

    direct = sql.ring(CHI1, STRANGER, later(1))
    callback = sql.ring(NWK1, STRANGER, later(2))
    lead = sql.ring(NWK1, CHICAGO_773, later(3))

    assert (direct.destination, direct.rule, direct.user) == ("+13125559001",
                                                              "direct_number", "alice")
    assert (callback.destination, callback.rule, callback.user) == ("+14155559002",
                                                                    "last_caller", "bob")
    assert (lead.rule, lead.user) == ("lead_owner", "alice")
    rows = recorded_inbound()
    assert [(r.id, r.to_number, r.from_number, r.rule) for r in rows] == [
        (direct.call_id, CHI1, STRANGER, "direct_number"),
        (callback.call_id, NWK1, STRANGER, "last_caller"),
        (lead.call_id, NWK1, CHICAGO_773, "lead_owner")]
    with pytest.raises(NotFound, match="is not a number any organization holds"):
        sql.ring("+13125550999", STRANGER, later(4))


# -- the fake agrees with the SQL store ------------------------------------------------------

SCRIPT: list[tuple[float, str, Mapping[str, Any]]] = [
    (0, CHICAGO_CONTACT, {}),
    (0.5, CHICAGO_CONTACT, {"project": "renewals"}),
    (1, CHICAGO_CONTACT, {"project": "renewals", "outcome": "asked_callback"}),
    (1.5, CHICAGO_CONTACT, {"project": "renewals"}),
    (2, "+17735550151", {}),
    (2.5, SPRINGFIELD_IL, {}),
    (3, "911", {}),
    (3.5, CHICAGO_CONTACT, {"caller_id": CHI2}),
    (4, CHICAGO_CONTACT, {"caller_id": CHI2}),
    (4.2, CHICAGO_CONTACT, {"caller_id": CHI3}),
    (4.5, "+13125550199", {"user": "bob"}),
    (5, "+13125550198", {"user": "bob"}),
    (5.5, "+13125550197", {"user": "bob"}),
    (6, "+13125550196", {"user": "bob"}),
    (6.5, STRANGER, {"project": "renewals"}),
    (7, STRANGER, {"project": "renewals"}),
    (7.5, STRANGER, {"project": "renewals"}),
    (8, STRANGER, {"project": "renewals"}),
    (9, SPRINGFIELD_IL, {"user": "bob", "seed": 3}),
    (9.5, STRANGER, {"user": "bob"}),
    (30, CHICAGO_CONTACT, {"caller_id": CHI2}),  # the next day in New York
]


def run_script(backend: Backend) -> list[tuple[str, str, tuple[TraceStep, ...]]]:
    """A scripted day of calls (local presence, caps, a project with outcomes, emergency,
    overrides), then calls back: every decision and route as (answer, rule, trace)."""
    backend.apply(org(local_presence=True, local_presence_fallback="region",
                      numbers=[*org()["numbers"], {"number": CHI3, "daily_cap": 1}]))
    answers: list[tuple[str, str, tuple[TraceStep, ...]]] = []
    for hours, to, step in SCRIPT:
        options = {k: v for k, v in step.items() if k != "outcome"}
        try:
            made = backend.dial(to, later(hours), **options)
        except CallsignError as refused:  # a capped override, say: refused alike
            answers.append((str(refused), type(refused).__name__, ()))
            continue
        if "outcome" in step:
            calls.record_outcome(backend.uow(), made.call_id, step["outcome"], now=later(hours))
        answers.append((made.caller_id, str(made.rule), made.trace))
    for caller in (STRANGER, CHICAGO_773, "+13125550197", "anonymous"):
        route = backend.ring(NWK2, caller, later(31))
        answers.append((route.destination, str(route.rule), route.trace))
    return answers


def test_the_fake_and_the_sql_store_decide_alike(sql: Backend) -> None:
    through_sql = run_script(sql)
    through_fake = run_script(fake_backend())

    assert len(through_sql) == len(SCRIPT) + 4
    assert {rule for _, rule, _ in through_sql} >= {
        "local_presence", "local_presence_region", "emergency", "override", "principal",
        "different_each_attempt", "outcome_number", "last_caller", "lead_owner",
        "NotPresentable"}
    assert through_fake == through_sql
