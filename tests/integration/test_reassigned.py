"""SPEC 10 reassigned numbers (47 C.F.R. § 64.1200(m)): a contact's consent date, a scrub
step that looks its number up in a reassigned-numbers database (a local fake server) and
stores the answer, and decisions that refuse a number disconnected since the consent,
whatever the consent; answers are reused until stale; one organization's never serve
another's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from callsign.domain.errors import ConfigError, NotCompliant, ProviderError
from callsign.domain.model import Decision
from callsign.providers.reassigned import HttpReassignedLookup
from callsign.services import reassigned
from callsign.store.uow import UnitOfWork
from tests.conftest import Invoke
from tests.fakes.reassigned import FakeReassignedDatabase, fake_reassigned_database

Dial = Callable[..., Decision]
ApplyOrg = Callable[[dict[str, Any]], None]
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
NOON = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)  # 12:00 in Miami, a Monday
MIAMI = "+13055550123"  # disconnected after its consent: reassigned
MIAMI_2 = "+13055550124"  # disconnected before its consent: the consent is the new one's
BALTIMORE = "+14105550123"  # no consent date: never asked


def org(slug: str, principal: str, consented_on: str = "2025-06-01") -> dict[str, Any]:
    return {"org": slug, "principal_number": principal, "numbers": [{"number": principal}],
            "users": [{"id": "alice"}],
            "contacts": [{"phone": MIAMI, "consented_on": consented_on},
                         {"phone": MIAMI_2, "consented_on": consented_on},
                         {"phone": BALTIMORE}]}


@pytest.fixture
def database() -> Iterator[FakeReassignedDatabase]:
    with fake_reassigned_database(token="s3cret") as fake:
        fake.disconnect(MIAMI, date(2026, 3, 1))
        fake.disconnect(MIAMI_2, date(2025, 1, 1))
        yield fake


@pytest.fixture
def check(engine: Engine, database: FakeReassignedDatabase) -> Callable[..., dict[str, Any]]:
    lookup = HttpReassignedLookup(database.url, token="s3cret")

    def run(slug: str = "acme", now: datetime = NOW, **options: Any) -> dict[str, Any]:
        return reassigned.check(UnitOfWork(engine), slug, lookup, now=now, **options)

    return run


def refused(dial: Dial, **call: Any) -> NotCompliant:
    with pytest.raises(NotCompliant) as refusal:
        dial(user="alice", at=NOON, **call)
    return refusal.value


def test_a_number_disconnected_since_the_consent_is_refused_whatever_the_consent(
        apply_org: ApplyOrg, check: Callable[..., dict[str, Any]], dial: Dial,
        database: FakeReassignedDatabase) -> None:
    apply_org(org("acme", "+12125550100"))

    done = check()

    assert done["contacts"] == 2
    assert done["looked_up"] == 2
    assert done["disconnected"] == [MIAMI]
    assert sorted(q["number"] for q in database.requests[0]) == [MIAMI, MIAMI_2]
    assert {q["date"] for q in database.requests[0]} == {"2025-06-01"}
    refusal = refused(dial, org="acme", to=MIAMI, consented=True)
    assert refusal.details["rule"] == "reassigned_number"
    assert "64.1200(m)" in refusal.details["source"]["citation"]
    assert refusal.details["next_allowed_at"] is None
    assert "since the consent of 2025-06-01" in refusal.message
    assert refusal.details["trace"][-1]["step"] == "reassigned_number"
    allowed = dial(org="acme", user="alice", to=MIAMI_2, at=NOON)
    assert any(s.step == "reassigned_number" and "answered no" in s.detail
               for s in allowed.trace)
    assert dial(org="acme", user="alice", to=BALTIMORE, at=NOON).caller_id


def test_a_decision_before_any_lookup_passes_and_says_it_was_not_checked(
        apply_org: ApplyOrg, dial: Dial) -> None:
    apply_org(org("acme", "+12125550100"))
    decision = dial(org="acme", user="alice", to=MIAMI, at=NOON)
    assert any(s.step == "reassigned_number" and "not checked" in s.detail
               for s in decision.trace)


def test_answers_are_reused_until_stale_and_a_yes_is_never_asked_again(
        apply_org: ApplyOrg, check: Callable[..., dict[str, Any]],
        database: FakeReassignedDatabase) -> None:
    apply_org(org("acme", "+12125550100"))
    check()

    again = check(now=NOW + timedelta(days=29))
    later = check(now=NOW + timedelta(days=30))

    assert (again["looked_up"], again["reused"]) == (0, 2)
    assert len(database.requests) == 2  # the second run asked nothing
    assert (later["looked_up"], later["reused"]) == (1, 1)
    assert [q["number"] for q in database.requests[1]] == [MIAMI_2]  # the "no" only


def test_a_new_consent_date_is_asked_about_and_the_old_answer_is_not_used(
        apply_org: ApplyOrg, check: Callable[..., dict[str, Any]], dial: Dial,
        database: FakeReassignedDatabase) -> None:
    apply_org(org("acme", "+12125550100"))
    check()
    apply_org(org("acme", "+12125550100", consented_on="2026-04-01"))  # consent renewed

    assert dial(org="acme", user="alice", to=MIAMI, at=NOON).caller_id
    done = check()
    assert done["looked_up"] == 2
    assert done["disconnected"] == []
    assert {q["date"] for q in database.requests[-1]} == {"2026-04-01"}


def test_one_organizations_answers_never_serve_another(
        apply_org: ApplyOrg, check: Callable[..., dict[str, Any]], dial: Dial) -> None:
    apply_org(org("acme", "+12125550100"))
    apply_org(org("globex", "+14155550100"))
    check("acme")

    assert refused(dial, org="acme", to=MIAMI).details["rule"] == "reassigned_number"
    decision = dial(org="globex", user="alice", to=MIAMI, at=NOON)
    assert any("not checked" in s.detail for s in decision.trace)


@pytest.mark.parametrize(("status", "garbled", "words"), [
    (503, None, "answered 503"),
    (None, {"results": [{"number": MIAMI, "answer": "maybe"}]}, "results[0].answer"),
    (None, {"results": [{"number": "+15555550100", "answer": "no"}]}, "results[0].number"),
])
def test_a_failing_database_stores_nothing(
        apply_org: ApplyOrg, check: Callable[..., dict[str, Any]],
        database: FakeReassignedDatabase, status: int | None, garbled: Any,
        words: str) -> None:
    apply_org(org("acme", "+12125550100"))
    database.fail_with(status)
    database.garble(garbled)
    with pytest.raises(ProviderError, match=words.replace("[", r"\[").replace("]", r"\]")):
        check()
    database.fail_with(None)
    database.garble(None)
    assert check()["looked_up"] == 2  # nothing was stored: all asked again


def test_a_consent_date_must_be_a_date(apply_org: ApplyOrg) -> None:
    with pytest.raises(ConfigError) as bad:
        apply_org(org("acme", "+12125550100", consented_on="June 1st"))
    assert any(path == "contacts[0].consented_on" and "YYYY-MM-DD" in message
               for path, message in bad.value.problems)


def test_the_cli_looks_up_with_the_configured_database(
        cli: Invoke, apply_org: ApplyOrg, database: FakeReassignedDatabase) -> None:
    apply_org(org("acme", "+12125550100"))
    unset = cli("dnc", "check-reassigned", "--org", "acme")
    assert unset.exit_code == 2
    assert "CALLSIGN_REASSIGNED_URL" in unset.stderr
    wrong = cli("dnc", "check-reassigned", "--org", "acme",
                env={"CALLSIGN_REASSIGNED_URL": database.url,
                     "CALLSIGN_REASSIGNED_TOKEN": "wrong"})
    assert wrong.exit_code != 0
    assert "401" in wrong.stderr

    done = cli("dnc", "check-reassigned", "--org", "acme",
               env={"CALLSIGN_REASSIGNED_URL": database.url,
                    "CALLSIGN_REASSIGNED_TOKEN": "s3cret"})

    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines() == [
        "2 contacts with a consent date: 2 looked up, 0 answers reused; 1 disconnected "
        "since their consent, 0 without data",
        f"disconnected since consent: {MIAMI}"]
