"""The health surfaces' aggregates on the real store (SQLite; PostgreSQL with
``--store postgresql``): seeded calls with known results give exact rates per day (the
organization's days, across a DST change), per rule and per area code; the resting
numbers and the area codes at risk; the health filter of the numbers list; and one
organization never counts another's calls."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from callsign.domain.errors import InvalidInput, NotFound
from callsign.domain.health_report import Tally
from callsign.domain.health_states import HealthState
from callsign.services import health_views, reputation
from callsign.services import numbers as numbers_service
from callsign.services.coverage_map import coverage_map
from callsign.store.tables import calls, number_health, number_health_events, numbers, orgs
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg

# 11:00 in New York (EDT); clocks went forward on 2026-03-08, inside the 30 days.
NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
CHI = ["+13125550101", "+13125550102", "+13125550103", "+13125550104"]
SF = "+14155550101"
GLOBEX_CHI = "+13125550177"
_ids = itertools.count()


def document(slug: str) -> dict[str, Any]:
    principal = "+12125550100" if slug == "acme" else "+12125550111"
    held = [*CHI, SF] if slug == "acme" else [GLOBEX_CHI]
    return {"org": slug, "default_country": "US", "timezone": "America/New_York",
            "principal_number": principal, "local_presence": True,
            "numbers": [{"number": principal}, *({"number": n} for n in held)],
            "users": [{"id": "alice"}]}


@pytest.fixture(autouse=True)
def orgs_applied(apply_org: ApplyOrg) -> None:
    apply_org(document("acme"))
    apply_org(document("globex"))


def org_id(engine: Engine, slug: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(orgs.c.id).where(orgs.c.slug == slug)).scalar_one())


def place(engine: Engine, caller_id: str, at: datetime, answered: bool | None,
          duration: int | None = None, *, rule: str = "local_presence", slug: str = "acme",
          count: int = 1) -> None:
    """``count`` calls presented from ``caller_id`` at ``at`` with the result given."""
    owner = org_id(engine, slug)
    with engine.begin() as conn:
        for _ in range(count):
            conn.execute(insert(calls).values(
                id=f"call{next(_ids):08d}", org_id=owner, at=at,
                user_key="alice", to_number="+13125550188", caller_id=caller_id, rule=rule,
                channel="manual", trace=[], answered=answered, duration_s=duration))


def number_id(engine: Engine, e164: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(numbers.c.id).where(
            numbers.c.e164 == e164, numbers.c.status != "released")).scalar_one())


def rest(engine: Engine, e164: str, since: datetime, *, by_hand: bool = False) -> None:
    """The number resting, by health (with its row and event) or by hand."""
    acme, held = org_id(engine, "acme"), number_id(engine, e164)
    with engine.begin() as conn:
        conn.execute(update(numbers).where(numbers.c.id == held).values(status="resting"))
        if by_hand:
            return
        conn.execute(insert(number_health).values(
            number_id=held, org_id=acme, state="resting", score=12,
            reasons=["answer rate 4% over the last 50 calls (bound 15%)"], since=since,
            rest_until=since + timedelta(days=7), updated_at=since))
        conn.execute(insert(number_health_events).values(
            org_id=acme, number_id=held, from_state="healthy",
            to_state="resting", reason="answer rate 4% over the last 50 calls (bound 15%)",
            at=since, source="automatic"))


def test_a_numbers_days_count_its_calls_in_the_organizations_days(
        engine: Engine) -> None:
    """Calls fall in their New York day (EST before the DST change, EDT after); answer
    rate is answered / calls with a result, short share short / answered."""
    place(engine, CHI[0], datetime(2026, 3, 19, 16, 0, tzinfo=UTC), True, 60, count=3)
    place(engine, CHI[0], datetime(2026, 3, 19, 16, 5, tzinfo=UTC), True, 3)  # short
    place(engine, CHI[0], datetime(2026, 3, 19, 16, 10, tzinfo=UTC), False, count=5)
    place(engine, CHI[0], datetime(2026, 3, 19, 16, 20, tzinfo=UTC), None, count=2)
    # 23:30 EDT on the 19th, 03:30 UTC on the 20th: the 19th in New York.
    place(engine, CHI[0], datetime(2026, 3, 20, 3, 30, tzinfo=UTC), True, 5)
    # 23:30 EST on the 7th (before clocks moved), 04:30 UTC on the 8th.
    place(engine, CHI[0], datetime(2026, 3, 8, 4, 30, tzinfo=UTC), False, count=4)
    place(engine, CHI[0], datetime(2026, 2, 18, 12, 0, tzinfo=UTC), True, 60)  # too old
    place(engine, CHI[1], datetime(2026, 3, 19, 16, 0, tzinfo=UTC), True, 60)  # another
    place(engine, CHI[0], datetime(2026, 3, 19, 16, 0, tzinfo=UTC), True, 60,
          slug="globex")  # not acme's call, whatever it presented

    page = health_views.number_page(UnitOfWork(engine), "acme", "(312) 555-0101", now=NOW)

    by_day = dict(zip(page.days, page.daily, strict=True))
    assert (page.days[0], page.days[-1], len(page.days)) == (
        date(2026, 2, 19), date(2026, 3, 20), 30)
    assert by_day[date(2026, 3, 19)] == Tally(calls=12, known=10, answered=5, short=2)
    assert by_day[date(2026, 3, 19)].answer_rate == 0.5
    assert by_day[date(2026, 3, 19)].short_share == 0.4
    assert by_day[date(2026, 3, 7)] == Tally(calls=4, known=4, answered=0, short=0)
    assert by_day[date(2026, 3, 7)].answer_rate == 0.0
    assert by_day[date(2026, 3, 7)].short_share is None
    assert by_day[date(2026, 3, 20)] == Tally()
    assert page.total == Tally(calls=16, known=14, answered=5, short=2)
    assert page.number.e164 == CHI[0]
    assert page.summary == "not judged yet (read as healthy)"
    assert page.reputation == []


def test_the_timeline_starts_from_the_state_before_the_span(
        engine: Engine) -> None:
    """The state a number had when the span began, then each change within it."""
    acme, chi = org_id(engine, "acme"), number_id(engine, CHI[0])
    with engine.begin() as conn:
        for at, from_, to in [(NOW - timedelta(days=60), None, "warming"),
                              (NOW - timedelta(days=40), "warming", "healthy"),
                              (NOW - timedelta(days=5), "healthy", "watch")]:
            conn.execute(insert(number_health_events).values(
                org_id=acme, number_id=chi, from_state=from_, to_state=to,
                reason=f"to {to}", at=at, source="automatic"))
    rest(engine, CHI[0], NOW - timedelta(days=2))

    page = health_views.number_page(UnitOfWork(engine), "acme", CHI[0], now=NOW)

    assert [state for _, state in page.steps] == [
        HealthState.HEALTHY, HealthState.WATCH, HealthState.RESTING, HealthState.RESTING]
    assert page.steps[1][0] == NOW - timedelta(days=5)
    assert page.steps[-1][0] == NOW
    assert [c.to_state for c in page.changes] == ["resting", "watch"]  # newest first
    assert page.summary.startswith("resting since 03-18: answer rate 4%")


def test_the_dashboard_rates_by_area_code_rule_and_day(
        engine: Engine) -> None:
    day = datetime(2026, 3, 18, 17, 0, tzinfo=UTC)
    place(engine, CHI[0], day, True, 30, count=3)
    place(engine, CHI[0], day, False, count=1)
    place(engine, CHI[1], day, True, 2, rule="project_pool")
    place(engine, CHI[1], day, False, rule="project_pool", count=3)
    place(engine, SF, day - timedelta(days=1), True, 40, rule="caller_id", count=2)
    place(engine, SF, day - timedelta(days=1), None, rule="caller_id")
    place(engine, GLOBEX_CHI, day, True, 40, slug="globex", count=7)

    board = health_views.dashboard(UnitOfWork(engine), "acme", now=NOW)

    assert board.by_area_code == [("312", Tally(8, 8, 4, 1)), ("415", Tally(3, 2, 2, 0))]
    assert dict(board.by_area_code)["312"].answer_rate == 0.5
    assert board.by_rule == [("caller_id", Tally(3, 2, 2, 0)),
                             ("local_presence", Tally(4, 4, 3, 0)),
                             ("project_pool", Tally(4, 4, 1, 1))]
    by_day = dict(zip(board.days, board.daily, strict=True))
    assert by_day[date(2026, 3, 18)] == Tally(8, 8, 4, 1)
    assert by_day[date(2026, 3, 17)] == Tally(3, 2, 2, 0)
    assert board.total == Tally(11, 10, 6, 1)
    globex = health_views.dashboard(UnitOfWork(engine), "globex", now=NOW)
    assert globex.by_area_code == [("312", Tally(7, 7, 7, 0))]
    assert globex.resting == []
    assert globex.at_risk == []


def test_resting_numbers_and_the_area_codes_at_risk(
        engine: Engine) -> None:
    """312 has 4 numbers and 50% may rest: with two resting (one by health, one by hand)
    it is at the bound; 415's one number works and is at no risk."""
    rest(engine, CHI[0], NOW - timedelta(days=2))
    rest(engine, CHI[1], NOW, by_hand=True)

    board = health_views.dashboard(UnitOfWork(engine), "acme", now=NOW)

    assert [(r.number.e164, r.by_hand) for r in board.resting] == [
        (CHI[0], False), (CHI[1], True)]
    assert board.resting[0].why.startswith("resting since 03-18: answer rate 4%")
    assert board.resting[1].why == "resting: rested by hand (health leaves it alone)"
    [risk] = board.at_risk
    assert (risk.area_code, risk.serving, risk.resting, risk.allowed) == ("312", 4, 2, 2)
    assert risk.words(50) == ("2 of 4 numbers resting, at the bound (50%): the next "
                              "number to burn stays in service")
    assert health_views.dashboard(UnitOfWork(engine), "globex", now=NOW).resting == []


def test_the_numbers_list_filters_by_health(engine: Engine) -> None:
    """healthy includes the numbers never judged; an unknown state names the field."""
    rest(engine, CHI[0], NOW - timedelta(days=2))

    def listed(state: str) -> list[str]:
        page = numbers_service.find_numbers(UnitOfWork(engine), "acme",
                                            numbers_service.NumberFilter(health=state),
                                            now=NOW)
        assert page.total == len(page.numbers)
        return [n.number for n in page.numbers]

    assert listed("resting") == [CHI[0]]
    assert listed("healthy") == ["+12125550100", *CHI[1:], SF]
    assert listed("watch") == []
    with pytest.raises(InvalidInput) as refused:
        listed("burnt")
    assert refused.value.field == "health"
    assert refused.value.message == ("must be one of healthy, watch, warming, resting "
                                     "(got 'burnt')")


def test_another_organizations_number_is_not_found(
        engine: Engine) -> None:
    with pytest.raises(NotFound) as missing:
        health_views.number_page(UnitOfWork(engine), "globex", CHI[0], now=NOW)
    assert missing.value.field == "number"
    with pytest.raises(InvalidInput) as bad:
        health_views.number_page(UnitOfWork(engine), "acme", "not a number", now=NOW)
    assert bad.value.field == "number"


def test_a_numbers_page_shows_its_latest_reputation_label_per_engine(engine: Engine) -> None:
    scan = ("number,engine,carrier,label,checked_at\n"
            f"{CHI[1]},Hiya,AT&T,Clean,2026-03-10T12:00:00Z\n"
            f"{CHI[1]},Hiya,AT&T,Spam Likely,2026-03-18T12:00:00Z\n"
            f"{CHI[1]},TNS,Verizon,clean,2026-03-18T12:00:00Z\n"
            f"{GLOBEX_CHI},Hiya,AT&T,Scam Likely,2026-03-18T12:00:00Z\n")
    reputation.import_csv(UnitOfWork(engine), "acme", scan.replace(
        f"{GLOBEX_CHI},Hiya,AT&T,Scam Likely,2026-03-18T12:00:00Z\n", ""), now=NOW)
    reputation.import_csv(UnitOfWork(engine), "globex", "number,engine,carrier,label,"
                          f"checked_at\n{GLOBEX_CHI},Hiya,AT&T,Scam Likely,"
                          "2026-03-18T12:00:00Z\n", now=NOW)

    page = health_views.number_page(UnitOfWork(engine), "acme", CHI[1], now=NOW)

    shown = sorted((r.engine, r.label, r.flagged, r.checked_at) for r in page.reputation)
    day = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)
    assert [(engine_, flagged, at) for engine_, _, flagged, at in shown] == [
        ("Hiya (AT&T)", True, day), ("TNS (Verizon)", False, day)]
    assert health_views.number_page(UnitOfWork(engine), "acme", CHI[2],
                                    now=NOW).reputation == []


def test_the_coverage_map_counts_each_area_codes_numbers_by_state(engine: Engine) -> None:
    """312's four numbers: one rested by health, one by hand, one watched, one never judged
    (healthy); 415's is healthy; a paused number serves nobody; globex's 312 number is
    globex's alone."""
    rest(engine, CHI[0], NOW - timedelta(days=2))
    rest(engine, CHI[1], NOW, by_hand=True)
    acme, watched = org_id(engine, "acme"), number_id(engine, CHI[2])
    with engine.begin() as conn:
        conn.execute(insert(number_health).values(
            number_id=watched, org_id=acme, state="watch", score=64,
            reasons=[], since=NOW, updated_at=NOW))
    with engine.begin() as conn:
        conn.execute(update(numbers).where(numbers.c.e164 == "+12125550100",
                                           numbers.c.org_id == acme).values(status="paused"))
    found = coverage_map(lambda: UnitOfWork(engine), "acme", now=NOW)

    assert found.served["312"] == {"resting": 2, "watch": 1, "healthy": 1}
    assert found.served["415"] == {"healthy": 1}
    assert "212" not in found.served  # paused
    assert found.regions["312"] == "Illinois"
    globex = coverage_map(lambda: UnitOfWork(engine), "globex", now=NOW)
    assert globex.served == {"312": {"healthy": 1}, "212": {"healthy": 1}}
    with pytest.raises(NotFound):
        coverage_map(lambda: UnitOfWork(engine), "initech", now=NOW)
