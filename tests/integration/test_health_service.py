"""SPEC 9 on the real store: each ingested result or spam report re-judges the number's
health in its transaction; a rest sets the number's status (so the decision passes it
over), the coverage guard keeps an area code served, a manual pause always wins, and a
sweep restores a number whose rest is over into warming (SQLite by default, PostgreSQL
with ``--store postgresql``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select, update

from callsign.domain.model import Decision
from callsign.domain.results import ResultSource
from callsign.services import health, results
from callsign.services.connect import record_status
from callsign.store.tables import calls, number_health, number_health_events, numbers, orgs
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CHI = ["+13125550101", "+13125550102", "+13125550103", "+13125550104"]
SF = "+14155550101"
OTHER = "+13125550177"  # globex's


def org(slug: str, chicago: list[str], *, paused: tuple[str, ...] = (),
        **health_policy: Any) -> dict[str, Any]:
    principal = "+12125550100" if slug == "acme" else "+12125550111"
    numbers_ = [{"number": principal, "label": "HQ"},
                *({"number": n, "status": "paused" if n in paused else "active"}
                  for n in chicago)]
    if slug == "acme":
        numbers_.append({"number": SF})
    document = {"org": slug, "default_country": "US", "timezone": "America/New_York",
                "principal_number": principal, "local_presence": True,
                "numbers": numbers_, "users": [{"id": "alice"}]}
    if health_policy:
        document["health"] = health_policy
    return document


Report = Callable[..., dict[str, Any]]


@pytest.fixture
def report(engine: Engine) -> Report:
    """A call presented from ``caller_id`` at ``at``, and its result reported a minute
    later through the REST/CLI use case."""

    def place_and_report(caller_id: str, at: datetime, *, org_: str = "acme",
                         **result: Any) -> dict[str, Any]:
        call_id = uuid.uuid4().hex
        with engine.begin() as conn:
            org_id = conn.execute(select(orgs.c.id).where(orgs.c.slug == org_)).scalar_one()
            conn.execute(insert(calls).values(
                id=call_id, org_id=org_id, at=at, user_key="alice", to_number="+13125550188",
                caller_id=caller_id, rule="local_presence", channel="manual", trace=[]))
        return results.record_result(UnitOfWork(engine), org_, call_id,
                                     source=ResultSource.API, now=at + timedelta(minutes=1),
                                     **result)

    return place_and_report


def status(engine: Engine, e164: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(numbers.c.status).where(
            numbers.c.e164 == e164, numbers.c.status != "released")).scalar_one())


def stored_health(engine: Engine, e164: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(number_health).join(
            numbers, numbers.c.id == number_health.c.number_id)
            .where(numbers.c.e164 == e164)).first()


def history(engine: Engine, e164: str) -> list[tuple[str | None, str, str]]:
    with engine.connect() as conn:
        return [(r.from_state, r.to_state, r.source) for r in conn.execute(
            select(number_health_events).join(
                numbers, numbers.c.id == number_health_events.c.number_id)
            .where(numbers.c.e164 == e164).order_by(number_health_events.c.id))]


def test_a_608_rests_the_number_and_the_decision_passes_it_over(
        engine: Engine, apply_org: ApplyOrg, report: Report,
        dial: Callable[..., Decision]) -> None:
    apply_org(org("acme", CHI))
    report(CHI[0], NOW, sip_code=608)
    assert status(engine, CHI[0]) == "resting"
    rested = stored_health(engine, CHI[0])
    assert rested.state == "resting"
    assert rested.reasons == ["608 Rejected on 03-02 (an analytics engine rejected the call)"]
    assert rested.rest_until == NOW + timedelta(minutes=1, days=7)
    assert history(engine, CHI[0]) == [(None, "resting", "automatic")]
    presented = {dial(user="alice", to=f"+1312555{i:04d}", at=NOW + timedelta(minutes=i),
                      seed=i).caller_id for i in range(200, 212)}
    assert CHI[0] not in presented
    assert presented == set(CHI[1:])


def test_healthy_results_keep_the_number_active_with_its_score(
        engine: Engine, apply_org: ApplyOrg, report: Report) -> None:
    apply_org(org("acme", CHI))
    for i in range(40):
        report(CHI[1], NOW + timedelta(minutes=5 * i), was_answered=i % 2 == 0,
               duration_s=60)
    kept = stored_health(engine, CHI[1])
    assert (kept.state, kept.score, status(engine, CHI[1])) == ("healthy", 100, "active")
    assert history(engine, CHI[1]) == []


def test_a_low_answer_rate_over_enough_calls_rests_with_the_rate_in_words(
        engine: Engine, apply_org: ApplyOrg, report: Report) -> None:
    apply_org(org("acme", CHI))
    for i in range(30):
        report(CHI[2], NOW + timedelta(minutes=5 * i), was_answered=i == 0, duration_s=30)
    rested = stored_health(engine, CHI[2])
    assert rested.state == "resting"
    assert "answer rate 3% over the last 30 calls (bound 15%)" in rested.reasons[0]


def test_two_spam_reports_rest_the_number(engine: Engine, apply_org: ApplyOrg,
                                          report: Report) -> None:
    apply_org(org("acme", CHI))
    first = report(CHI[0], NOW, was_answered=True, duration_s=40)
    second = report(CHI[0], NOW + timedelta(hours=1), was_answered=True, duration_s=40)
    results.report_spam(UnitOfWork(engine), "acme", first["call_id"], reported_by="bob",
                        now=NOW + timedelta(hours=2))
    assert status(engine, CHI[0]) == "active"
    results.report_spam(UnitOfWork(engine), "acme", second["call_id"], reported_by="bob",
                        now=NOW + timedelta(hours=3))
    assert status(engine, CHI[0]) == "resting"
    assert stored_health(engine, CHI[0]).reasons[-1] == "2 spam reports in 7 days (limit 2)"


def test_a_paused_number_is_never_changed(engine: Engine, apply_org: ApplyOrg,
                                          report: Report) -> None:
    apply_org(org("acme", CHI, paused=(CHI[3],)))
    report(CHI[3], NOW, sip_code=608)
    assert status(engine, CHI[3]) == "paused"
    assert stored_health(engine, CHI[3]) is None
    assert health.sweep_org(UnitOfWork(engine), "acme", now=NOW + timedelta(days=8)) \
        .changes == []
    assert status(engine, CHI[3]) == "paused"


def test_the_coverage_guard_keeps_half_of_an_area_codes_numbers(
        engine: Engine, apply_org: ApplyOrg, report: Report) -> None:
    """Four numbers serve 312 (and may rest two at once): the third 608 is kept, watched,
    with the reason."""
    apply_org(org("acme", CHI))
    for i, number in enumerate(CHI[:3]):
        report(number, NOW + timedelta(minutes=i), sip_code=608)
    assert [status(engine, n) for n in CHI] == ["resting", "resting", "active", "active"]
    kept = stored_health(engine, CHI[2])
    assert kept.state == "watch"
    assert kept.reasons[-1] == ("kept: resting it would leave 312 with 1 of 4 numbers; "
                                "at most 50% may rest")


def test_a_sweep_after_the_rest_restores_the_number_warming_on_a_fresh_window(
        engine: Engine, apply_org: ApplyOrg, report: Report) -> None:
    apply_org(org("acme", CHI, rest_days=3))
    report(CHI[0], NOW, sip_code=608)
    early = health.sweep_org(UnitOfWork(engine), "acme", now=NOW + timedelta(days=2))
    assert (early.changes, status(engine, CHI[0])) == ([], "resting")

    swept = health.sweep_org(UnitOfWork(engine), "acme", now=NOW + timedelta(days=3, hours=1))

    assert [(c.number, c.from_state, c.to_state) for c in swept.changes] \
        == [(CHI[0], "resting", "warming")]
    assert status(engine, CHI[0]) == "active"
    back = stored_health(engine, CHI[0])
    assert (back.state, back.window_since) == ("warming", NOW + timedelta(days=3, hours=1))
    # The old 608 is before the fresh window: a good call keeps it warming, not resting.
    report(CHI[0], NOW + timedelta(days=3, hours=2), was_answered=True, duration_s=60)
    assert stored_health(engine, CHI[0]).state == "warming"
    assert history(engine, CHI[0]) == [(None, "resting", "automatic"),
                                       ("resting", "warming", "automatic")]


def test_a_rested_number_made_active_by_hand_warms_up(engine: Engine, apply_org: ApplyOrg,
                                                      report: Report) -> None:
    apply_org(org("acme", CHI))
    report(CHI[0], NOW, sip_code=608)
    with engine.begin() as conn:
        conn.execute(update(numbers).where(numbers.c.e164 == CHI[0]).values(status="active"))
    report(CHI[0], NOW + timedelta(hours=1), was_answered=True, duration_s=60)
    assert (stored_health(engine, CHI[0]).state, status(engine, CHI[0])) \
        == ("warming", "active")
    assert history(engine, CHI[0])[-1] == ("resting", "warming", "manual")


def test_one_organization_never_rests_or_sweeps_anothers_numbers(
        engine: Engine, apply_org: ApplyOrg, report: Report) -> None:
    apply_org(org("acme", CHI))
    apply_org(org("globex", [OTHER]))
    report(OTHER, NOW, org_="globex", sip_code=608)  # globex's only 312 number: kept
    report(CHI[0], NOW, sip_code=608)
    assert (status(engine, OTHER), stored_health(engine, OTHER).state) == ("active", "watch")
    swept = health.sweep_org(UnitOfWork(engine), "acme", now=NOW + timedelta(days=8))
    assert {c.number for c in swept.changes} == {CHI[0]}
    assert stored_health(engine, OTHER).state == "watch"


def test_the_views_show_the_org_summary_and_one_numbers_window_and_history(
        engine: Engine, apply_org: ApplyOrg, report: Report) -> None:
    apply_org(org("acme", CHI))
    report(CHI[0], NOW, sip_code=608)
    report(CHI[1], NOW, was_answered=True, duration_s=60)
    summary = health.org_health(UnitOfWork(engine), "acme", now=NOW)
    assert summary["states"] == {"healthy": 1, "watch": 0, "resting": 1, "warming": 0}
    assert summary["not_judged"] == 4  # the principal, two of 312 and 415
    assert [r["number"] for r in summary["resting"]] == [CHI[0]]
    shown = health.number_health(UnitOfWork(engine), "acme", "(312) 555-0101", now=NOW)
    assert shown["state"] == "resting"
    assert shown["window"]["calls"] == 1
    assert shown["summary"].startswith("resting since 03-02: 608 Rejected on 03-02")
    assert [(e["from"], e["to"]) for e in shown["events"]] == [(None, "resting")]


def test_a_twilio_status_callback_with_a_608_rests_the_number_it_presented(
        engine: Engine, apply_org: ApplyOrg, dial: Callable[..., Decision]) -> None:
    apply_org(org("acme", CHI))
    call = dial(user="alice", to="+13125550188", at=NOW)
    assert call.caller_id in CHI
    record_status(UnitOfWork(engine), "acme", call.call_id, {
        "CallSid": "CA1", "CallStatus": "failed", "SipResponseCode": "608"},
        now=NOW + timedelta(minutes=1))
    assert status(engine, call.caller_id) == "resting"
    # A ringing status says nothing of the result: no judgement, nothing changes.
    other = dial(user="alice", to="+13125550189", at=NOW + timedelta(minutes=2))
    record_status(UnitOfWork(engine), "acme", other.call_id, {
        "CallSid": "CA2", "CallStatus": "ringing"}, now=NOW + timedelta(minutes=3))
    assert stored_health(engine, other.caller_id) is None


def test_reapplying_the_file_keeps_healths_rest_and_the_export_says_active(
        engine: Engine, apply_org: ApplyOrg, report: Report,
        export_org: Callable[[str], dict[str, Any]]) -> None:
    """Health's rest is not configuration: the file keeps the number active, applying it
    again does not end the rest; a number rested by hand exports as resting."""
    apply_org(org("acme", CHI))
    report(CHI[0], NOW, sip_code=608)
    exported = {n["number"]: n.get("status", "active") for n in export_org("acme")["numbers"]}
    assert exported[CHI[0]] == "active"
    apply_org(org("acme", CHI))
    apply_org(export_org("acme"))
    assert (status(engine, CHI[0]), stored_health(engine, CHI[0]).state) \
        == ("resting", "resting")
    by_hand = org("acme", CHI)
    by_hand["numbers"][2]["status"] = "resting"  # CHI[1], rested by a person
    apply_org(by_hand)
    assert status(engine, CHI[1]) == "resting"
    assert {n["number"]: n.get("status") for n in export_org("acme")["numbers"]}[CHI[1]] \
        == "resting"
    swept = health.sweep_org(UnitOfWork(engine), "acme", now=NOW + timedelta(days=8))
    assert [c.number for c in swept.changes] == [CHI[0]]  # the rest by hand stays
    assert (status(engine, CHI[0]), status(engine, CHI[1])) == ("active", "resting")


def test_the_principal_number_is_never_rested(engine: Engine, apply_org: ApplyOrg,
                                              report: Report) -> None:
    """It is every call's last resort (it cannot be paused either): watched, saying why,
    though another number serves its area code (coverage alone would let it rest)."""
    document = org("acme", CHI)
    document["numbers"].append({"number": "+12125550177"})
    apply_org(document)
    principal = "+12125550100"
    report(principal, NOW, sip_code=608)
    report(principal, NOW + timedelta(minutes=5), sip_code=608)
    kept = stored_health(engine, principal)
    assert (status(engine, principal), kept.state) == ("active", "watch")
    assert kept.reasons[-1] == ("kept: the principal number is every call's last resort and "
                                "never rests")
    swept = health.sweep_org(UnitOfWork(engine), "acme", now=NOW + timedelta(hours=1))
    assert swept.changes == []
    assert (status(engine, principal), stored_health(engine, principal).state) \
        == ("active", "watch")


def test_a_sweep_judges_in_short_transactions_and_still_keeps_coverage(
        engine: Engine, apply_org: ApplyOrg, monkeypatch: pytest.MonkeyPatch) -> None:
    """Results stored without judging (as before a policy existed): a sweep of one number
    per transaction rests the two worst of the three burned 312 numbers, keeps the third
    (coverage), and never holds one transaction for the whole organization."""
    apply_org(org("acme", CHI))
    with engine.begin() as conn:
        org_id = conn.execute(select(orgs.c.id).where(orgs.c.slug == "acme")).scalar_one()
        for j in range(40):  # CHI[2]'s window is long enough for a score (80): the worst
            conn.execute(insert(calls).values(
                id=uuid.uuid4().hex, org_id=org_id, at=NOW - timedelta(hours=2, minutes=j),
                user_key="alice", to_number="+13125550188", caller_id=CHI[2],
                rule="local_presence", channel="manual", trace=[], answered=True,
                duration_s=90, sip_code=200, failure_class="answered",
                result_at=NOW - timedelta(hours=2), result_source="api"))
        for number in CHI[:3]:
            for j in range(3):
                conn.execute(insert(calls).values(
                    id=uuid.uuid4().hex, org_id=org_id, at=NOW + timedelta(minutes=j),
                    user_key="alice", to_number="+13125550188", caller_id=number,
                    rule="local_presence", channel="manual", trace=[], answered=False,
                    sip_code=608, failure_class="rejected_by_analytics",
                    result_at=NOW + timedelta(minutes=j), result_source="api"))
    begun: list[object] = []

    def begin(conn: object) -> None:
        begun.append(conn)

    event.listen(engine, "begin", begin)
    monkeypatch.setattr(health, "SWEEP_CHUNK", 1)
    try:
        swept = health.sweep_org(UnitOfWork(engine), "acme", now=NOW + timedelta(hours=1))
    finally:
        event.remove(engine, "begin", begin)

    # The worst score rests first (CHI[2]), then the number order breaks the tie of two
    # windows too short for a score (100): CHI[0] rests, CHI[1] is kept for coverage.
    assert [stored_health(engine, n).score for n in CHI[:3]] == [100, 100, 80]
    assert [status(engine, n) for n in CHI] == ["resting", "active", "resting", "active"]
    assert {(c.number, c.to_state) for c in swept.changes} \
        == {(CHI[0], "resting"), (CHI[2], "resting"), (CHI[1], "watch")}
    assert stored_health(engine, CHI[1]).reasons[-1].startswith("kept: resting it would")
    numbers_held = len(CHI) + 2  # the principal, four 312 numbers and one 415
    assert len(begun) >= 1 + numbers_held + 3  # the ids, one per number, one per rest
