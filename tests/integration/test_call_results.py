"""Each call's result and agents' spam reports (SPEC 9) on the real store: the use cases,
the Twilio status callback's result, the command line, and migration 0009.

SQLite by default, PostgreSQL with ``--store postgresql``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import Result
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.pool import NullPool

from callsign.domain.errors import InvalidInput, NotFound
from callsign.domain.model import Decision
from callsign.domain.results import ResultSource
from callsign.services import calllog, results
from callsign.services.connect import record_status
from callsign.store.db import _alembic_config
from callsign.store.tables import calls, spam_reports
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg, postgres_schema

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 12:00 in New York
LATER = NOW + timedelta(minutes=5)
CHI = "+13125550101"
OTHER_CHI = "+13125550177"


def org(slug: str, number: str) -> dict[str, Any]:
    principal = "+12125550100" if slug == "acme" else "+12125550111"
    return {"org": slug, "default_country": "US", "timezone": "America/New_York",
            "principal_number": principal, "local_presence": True,
            "numbers": [{"number": principal, "label": "HQ"},
                        {"number": number, "label": "Chicago"}],
            "users": [{"id": "alice", "name": "Alice"}]}


@pytest.fixture
def placed(apply_org: ApplyOrg, dial: Callable[..., Decision]) -> tuple[Decision, Decision]:
    """One call of acme (presents 312 555 0101) and one of globex."""
    apply_org(org("acme", CHI))
    apply_org(org("globex", OTHER_CHI))
    mine = dial(user="alice", to="+13125550188", at=NOW)
    theirs = dial(org="globex", user="alice", to="+13125550189", at=NOW)
    assert (mine.caller_id, theirs.caller_id) == (CHI, OTHER_CHI)
    return mine, theirs


def row(engine: Engine, call_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(calls).where(calls.c.id == call_id)).one()


def reports(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(spam_reports).order_by(spam_reports.c.id)).all())


# -- REST/CLI use case: record_result ------------------------------------------------------

def test_a_608_is_stored_as_rejected_by_analytics_with_its_source_and_time(
        engine: Engine, placed: tuple[Decision, Decision]) -> None:
    """The result's columns, and the call log shows them."""
    call = placed[0]
    stored = results.record_result(UnitOfWork(engine), "acme", call.call_id,
                                   source=ResultSource.API, now=LATER, sip_code=608)
    got = row(engine, call.call_id)
    assert (got.answered, got.sip_code, got.failure_class, got.result_source, got.result_at) \
        == (False, 608, "rejected_by_analytics", "api", LATER)
    assert stored["failure_class"] == "rejected_by_analytics"
    shown = calllog.get_call(UnitOfWork(engine), "acme", call.call_id)
    assert (shown.answered, shown.sip_code, shown.failure_class, shown.result_source) == (
        False, 608, "rejected_by_analytics", "api")


def test_a_replayed_result_sets_the_same_values_again(
        engine: Engine, placed: tuple[Decision, Decision]) -> None:
    """Idempotent: reporting twice leaves one result, not two."""
    call = placed[0]
    for _ in range(2):
        results.record_result(UnitOfWork(engine), "acme", call.call_id,
                              source=ResultSource.KAMAILIO, now=LATER, sip_code=200,
                              duration_s=42)
    got = row(engine, call.call_id)
    assert (got.answered, got.duration_s, got.failure_class) == (True, 42, "answered")


def test_an_organization_cannot_report_on_another_ones_call(
        engine: Engine, placed: tuple[Decision, Decision]) -> None:
    """globex's key gets NotFound on acme's call, and acme's call is untouched."""
    mine, _ = placed
    with pytest.raises(NotFound) as refused:
        results.record_result(UnitOfWork(engine), "globex", mine.call_id,
                              source=ResultSource.API, now=LATER, was_answered=True)
    assert refused.value.field == "call_id"
    with pytest.raises(NotFound):
        results.report_spam(UnitOfWork(engine), "globex", mine.call_id, reported_by="eve",
                            now=LATER)
    assert row(engine, mine.call_id).failure_class is None
    assert reports(engine) == []


@pytest.mark.usefixtures("placed")
def test_an_unknown_call_is_not_found_naming_call_id(engine: Engine) -> None:
    with pytest.raises(NotFound) as refused:
        results.record_result(UnitOfWork(engine), "acme", "call_nope",
                              source=ResultSource.API, now=LATER, sip_code=486)
    assert refused.value.field == "call_id"


@pytest.mark.parametrize(("given", "field"), [
    ({}, "answered"),
    ({"failure_class": "spam"}, "failure_class"),
    ({"failure_class": "busy", "was_answered": True}, "answered"),
    ({"sip_code": 99}, "sip_code"),
    ({"was_answered": True, "duration_s": -1}, "duration"),
])
def test_a_result_that_says_nothing_or_contradicts_itself_is_refused_naming_the_field(
        engine: Engine, placed: tuple[Decision, Decision], given: dict[str, Any],
        field: str) -> None:
    """Bad input: InvalidInput naming the field; nothing stored."""
    with pytest.raises(InvalidInput) as refused:
        results.record_result(UnitOfWork(engine), "acme", placed[0].call_id,
                              source=ResultSource.API, now=LATER, **given)
    assert refused.value.field == field
    assert row(engine, placed[0].call_id).result_at is None


def test_a_class_given_by_the_dialer_is_kept_and_implies_answered(
        engine: Engine, placed: tuple[Decision, Decision]) -> None:
    results.record_result(UnitOfWork(engine), "acme", placed[0].call_id,
                          source=ResultSource.API, now=LATER, failure_class="machine")
    got = row(engine, placed[0].call_id)
    assert (got.answered, got.failure_class, got.sip_code) == (False, "machine", None)


# -- spam reports ----------------------------------------------------------------------------

def test_a_spam_report_counts_once_per_call_and_names_the_caller_id(
        engine: Engine, placed: tuple[Decision, Decision]) -> None:
    """The first report stands; a repeat (or a replay) adds nothing."""
    call = placed[0]
    first = results.report_spam(UnitOfWork(engine), "acme", call.call_id, reported_by="alice",
                                note="Spam Likely on an iPhone", now=LATER)
    again = results.report_spam(UnitOfWork(engine), "acme", call.call_id, reported_by="bob",
                                now=LATER + timedelta(minutes=1))
    assert (first.recorded, first.number, first.reported_by) == (True, CHI, "alice")
    assert (again.recorded, again.reported_by, again.at) == (False, "alice", LATER)
    stored = reports(engine)
    assert [(r.call_id, r.number, r.reported_by, r.note) for r in stored] == [
        (call.call_id, CHI, "alice", "Spam Likely on an iPhone")]
    assert calllog.get_call(UnitOfWork(engine), "acme", call.call_id).spam_reported


def test_a_spam_report_without_a_reporter_is_refused(
        engine: Engine, placed: tuple[Decision, Decision]) -> None:
    with pytest.raises(InvalidInput) as refused:
        results.report_spam(UnitOfWork(engine), "acme", placed[0].call_id, reported_by=" ",
                            now=LATER)
    assert refused.value.field == "reported_by"


# -- Twilio status callbacks ---------------------------------------------------------------

def test_a_twilio_status_callback_stores_the_result(
        engine: Engine, placed: tuple[Decision, Decision]) -> None:
    """CallStatus, CallDuration, SipResponseCode and AnsweredBy become the result."""
    call = placed[0]
    record_status(UnitOfWork(engine), "acme", call.call_id, {
        "CallSid": "CA1", "CallStatus": "completed", "CallDuration": "31",
        "SipResponseCode": "200", "AnsweredBy": "machine_end_beep"}, now=LATER)
    got = row(engine, call.call_id)
    assert (got.telephony_status, got.duration_s, got.sip_code, got.answered,
            got.failure_class, got.result_source) == (
        "completed", 31, 200, False, "machine", "twilio")


def test_the_agent_leg_and_a_ringing_status_leave_no_result(
        engine: Engine, placed: tuple[Decision, Decision]) -> None:
    """Only the contact's leg, once over, says how the caller ID fared."""
    call = placed[0]
    record_status(UnitOfWork(engine), "acme", call.call_id,
                  {"CallStatus": "busy", "SipResponseCode": "486", "leg": "agent"}, now=LATER)
    record_status(UnitOfWork(engine), "acme", call.call_id, {"CallStatus": "ringing"},
                  now=LATER)
    got = row(engine, call.call_id)
    assert (got.failure_class, got.sip_code, got.result_at) == (None, None, None)


def test_a_bad_sip_response_code_is_refused_naming_it(
        engine: Engine, placed: tuple[Decision, Decision]) -> None:
    with pytest.raises(InvalidInput) as refused:
        record_status(UnitOfWork(engine), "acme", placed[0].call_id,
                      {"CallStatus": "failed", "SipResponseCode": "6o8"}, now=LATER)
    assert refused.value.field == "SipResponseCode"


# -- the command line --------------------------------------------------------------------

Invoke = Callable[..., Result]


def test_the_cli_records_a_result_and_a_spam_report(
        cli: Invoke, placed: tuple[Decision, Decision], engine: Engine) -> None:
    """`callsign calls result` and `callsign calls spam-report`, JSON and text."""
    call_id = placed[0].call_id
    done = cli("calls", "result", call_id, "--sip-code", "607", "--at", LATER.isoformat(),
               "--json")
    assert (done.exit_code, done.stderr) == (0, ""), done.stderr
    assert json.loads(done.stdout)["failure_class"] == "rejected_by_analytics"
    reported = cli("calls", "spam-report", call_id, "--by", "alice", "--note", "Spam Likely")
    assert (reported.exit_code, reported.stdout) == (
        0, f"reported {CHI} as shown as spam on {call_id}\n")
    again = cli("calls", "spam-report", call_id)
    assert again.stdout == f"{call_id} was already reported as spam by alice\n"
    assert len(reports(engine)) == 1
    assert row(engine, call_id).result_source == "api"


@pytest.mark.usefixtures("placed")
def test_the_cli_refuses_an_unknown_call_in_one_line(cli: Invoke) -> None:
    for args in (("result", "call_nope", "--answered"), ("spam-report", "call_nope")):
        result = cli("calls", *args)
        assert result.exit_code == 3
        assert result.stderr == "Error: call_id: no call 'call_nope'\n"


def test_the_cli_refuses_another_organizations_call(
        cli: Invoke, placed: tuple[Decision, Decision]) -> None:
    result = cli("calls", "spam-report", placed[0].call_id, "--org", "globex")
    assert result.exit_code == 3
    assert "call_id" in result.stderr


# -- migration 0009 ----------------------------------------------------------------------

@pytest.fixture
def bare_url(tmp_path: Path, store_kind: str) -> Iterator[str]:
    with ExitStack() as stack:
        if store_kind == "postgresql":
            yield stack.enter_context(postgres_schema())
        else:
            yield f"sqlite:///{tmp_path / 'm.db'}"


def test_migration_0009_adds_results_and_spam_reports_and_goes_back(bare_url: str) -> None:
    """Upgrade keeps the calls; downgrade drops the new columns and table, and the
    per-number index goes back to (org, caller ID)."""
    engine = create_engine(bare_url, poolclass=NullPool)
    try:
        def migrate(revision: str, *, down: bool = False) -> None:
            with engine.begin() as conn:
                (command.downgrade if down else command.upgrade)(_alembic_config(conn), revision)

        migrate("0008")
        with engine.begin() as conn:
            conn.execute(text("""
                INSERT INTO orgs (id, slug, default_country, timezone, principal_number,
                    local_presence, local_presence_fallback, restrict_caller_ids, call_path,
                    last_caller_days)
                VALUES (1, 'acme', 'US', 'UTC', '+12125550100', TRUE, 'none', FALSE, '[]', 30)"""))
            conn.execute(text("""
                INSERT INTO calls (id, org_id, at, user_key, to_number, caller_id, rule,
                                   channel, trace)
                VALUES ('call_1', 1, '2026-03-02 15:00:00', 'alice', '+13125550188',
                        '+13125550101', 'local_presence', 'manual', '[]')"""))
        migrate("0009")
        with engine.begin() as conn:
            conn.execute(text("UPDATE calls SET sip_code = 608, answered = FALSE, "
                              "failure_class = 'rejected_by_analytics'"))
            conn.execute(text("INSERT INTO spam_reports (org_id, call_id, number, reported_by,"
                              " at) VALUES (1, 'call_1', '+13125550101', 'alice',"
                              " '2026-03-02 15:01:00')"))
            indexes = {i["name"] for i in inspect(conn).get_indexes("calls")}
            kept = conn.execute(text("SELECT id, sip_code FROM calls")).all()
        assert "ix_calls_org_id_caller_id_at" in indexes
        assert [tuple(r) for r in kept] == [("call_1", 608)]
        migrate("0008", down=True)
        with engine.connect() as conn:
            inspector = inspect(conn)
            columns = {c["name"] for c in inspector.get_columns("calls")}
            indexes = {i["name"] for i in inspector.get_indexes("calls")}
            tables = set(inspector.get_table_names())
            left = conn.execute(text("SELECT id FROM calls")).scalars().all()
        assert not {"answered", "sip_code", "failure_class", "result_at",
                    "result_source"} & columns
        assert "spam_reports" not in tables
        assert "ix_calls_org_id_caller_id" in indexes
        assert left == ["call_1"]
        migrate("head")
    finally:
        engine.dispose()
