"""SPEC 9 on the real store: reputation labels imported (CSV, JSON rows) or pulled through
a feed are kept with their history; an import is all or nothing; an organization labels
only its own numbers; a flag rests the number (coverage allowing) and a clean re-check or
the rest days restore it (SQLite by default, PostgreSQL with ``--store postgresql``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from callsign.domain.errors import InvalidScan, ProviderError
from callsign.providers.reputation import HttpReputationFeed
from callsign.services import health, reputation
from callsign.store.tables import number_labels
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg, Invoke
from tests.fakes.reputation import FakeScanner, fake_scanner
from tests.integration.test_health_service import (
    CHI,
    OTHER,
    history,
    org,
    status,
    stored_health,
)

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
HEADER = "number,engine,carrier,label,checked_at\n"


def both_orgs(apply_org: ApplyOrg, **policy: Any) -> None:
    apply_org(org("acme", CHI, **policy))
    apply_org(org("globex", [OTHER]))


def stored_labels(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(number_labels)).scalar_one())


def import_csv(engine: Engine, text: str, *, at: datetime = NOW,
               org_: str = "acme") -> reputation.LabelReport:
    return reputation.import_csv(UnitOfWork(engine), org_, text, now=at)


def test_a_flag_in_a_csv_scan_rests_the_number_saying_who_flagged_it(
        engine: Engine, apply_org: ApplyOrg) -> None:
    both_orgs(apply_org)
    report = import_csv(engine, HEADER + "(312) 555-0101,hiya,,Spam Likely,2026-11-28\n"
                                         "+13125550102,,Verizon,Clean,2026-11-28T10:00Z\n")
    assert (report.labels, report.numbers) == (2, 2)
    assert [(c.number, c.from_state, c.to_state) for c in report.changes] == [
        (CHI[0], "healthy", "resting")]
    assert status(engine, CHI[0]) == "resting"
    assert stored_health(engine, CHI[0]).reasons == \
        ["labelled Spam Likely by Hiya (AT&T) on 11-28"]
    assert history(engine, CHI[0]) == [(None, "resting", "feed")]
    assert status(engine, CHI[1]) == "active"


def test_one_bad_row_stores_nothing_and_names_its_row_and_column(
        engine: Engine, apply_org: ApplyOrg) -> None:
    both_orgs(apply_org)
    text = HEADER + ("+13125550101,Hiya,,Spam Likely,2026-11-28\n"
                     "+13125550102,TNS,,Clean,yesterday\n")
    with pytest.raises(InvalidScan) as caught:
        import_csv(engine, text)
    assert caught.value.field == "row 3, column checked_at"
    assert stored_labels(engine) == 0
    assert status(engine, CHI[0]) == "active"
    assert stored_health(engine, CHI[0]) is None


def test_an_org_cannot_label_another_orgs_number(engine: Engine,
                                                 apply_org: ApplyOrg) -> None:
    both_orgs(apply_org)
    text = HEADER + (f"{CHI[0]},Hiya,,Clean,2026-11-28\n"
                     f"{OTHER},Hiya,,Scam Likely,2026-11-28\n")
    with pytest.raises(InvalidScan) as caught:
        import_csv(engine, text)
    assert caught.value.problems == [
        ("row 3, column number", f"{OTHER} is not a number of organization 'acme'")]
    with pytest.raises(InvalidScan, match=r"\[0\]\.number"):
        reputation.import_rows(UnitOfWork(engine), "acme", [
            {"number": OTHER, "engine": "Hiya", "label": "Scam Likely",
             "checked_at": "2026-11-28"}], now=NOW)
    assert stored_labels(engine) == 0
    assert status(engine, OTHER) == "active"
    # And globex's own view of its number holds no label of acme's making.
    shown = health.number_health(UnitOfWork(engine), "globex", OTHER, now=NOW)
    assert shown["labels"] == []
    with pytest.raises(Exception, match="not a number of organization 'acme'"):
        health.number_health(UnitOfWork(engine), "acme", OTHER, now=NOW)


def test_labels_keep_their_history_and_the_latest_per_engine_is_current(
        engine: Engine, apply_org: ApplyOrg) -> None:
    both_orgs(apply_org, rest_on_flag=[])  # labels only, no rests
    import_csv(engine, HEADER + f"{CHI[2]},Hiya,,Spam Likely,2026-11-20\n"
                                f"{CHI[2]},First Orion,,Nuisance Likely,2026-11-21\n")
    import_csv(engine, HEADER + f"{CHI[2]},HIYA,,Clean,2026-11-27\n")
    import_csv(engine, HEADER + f"{CHI[2]},HIYA,,Clean,2026-11-27\n")  # the same again
    assert stored_labels(engine) == 3
    shown = health.number_health(UnitOfWork(engine), "acme", CHI[2], now=NOW)
    assert [(lb["engine"], lb["carrier"], lb["label"], lb["raw"]) for lb in shown["labels"]] \
        == [("First Orion", "T-Mobile", "nuisance", "Nuisance Likely"),
            ("Hiya", "AT&T", "clean", "Clean")]
    assert [lb["label"] for lb in shown["label_history"]] == ["clean", "nuisance",
                                                              "spam_likely"]
    assert status(engine, CHI[2]) == "active"


def test_a_clean_recheck_restores_a_flagged_number_warming(
        engine: Engine, apply_org: ApplyOrg) -> None:
    both_orgs(apply_org)
    import_csv(engine, HEADER + f"{CHI[0]},Hiya,,Spam Likely,2026-11-28\n")
    assert status(engine, CHI[0]) == "resting"
    later = NOW + timedelta(days=1)
    report = import_csv(engine, HEADER + f"{CHI[0]},Hiya,,Clean,2026-12-02T09:00:00\n",
                        at=later)
    assert [(c.from_state, c.to_state) for c in report.changes] == [("resting", "warming")]
    assert status(engine, CHI[0]) == "active"
    restored = stored_health(engine, CHI[0])
    assert restored.reasons[0].startswith("re-checked clean by Hiya (AT&T) on 12-02")
    assert restored.window_since == later


def test_with_clean_check_only_the_rest_days_do_not_restore_a_flagged_number(
        engine: Engine, apply_org: ApplyOrg) -> None:
    both_orgs(apply_org, flag_restore="clean_check", rest_days=3)
    import_csv(engine, HEADER + f"{CHI[0]},Hiya,,Scam Likely,2026-11-28\n")
    health.sweep_org(UnitOfWork(engine), "acme", now=NOW + timedelta(days=10))
    assert status(engine, CHI[0]) == "resting"


def test_after_the_rest_days_a_flag_read_before_the_restore_does_not_rest_again(
        engine: Engine, apply_org: ApplyOrg) -> None:
    both_orgs(apply_org, rest_days=3)
    import_csv(engine, HEADER + f"{CHI[0]},Hiya,,Spam Likely,2026-11-28\n")
    back = NOW + timedelta(days=4)
    changes = health.sweep_org(UnitOfWork(engine), "acme", now=back).changes
    assert [(c.number, c.to_state) for c in changes] == [(CHI[0], "warming")]
    assert health.sweep_org(UnitOfWork(engine), "acme", now=back + timedelta(hours=1)) \
        .changes == []
    assert status(engine, CHI[0]) == "active"
    # A new scan that still flags it rests it again.
    import_csv(engine, HEADER + f"{CHI[0]},Hiya,,Spam Likely,2026-12-05T11:00:00\n",
               at=back + timedelta(hours=2))
    assert status(engine, CHI[0]) == "resting"


def test_flags_rest_no_more_than_the_coverage_guard_allows(
        engine: Engine, apply_org: ApplyOrg) -> None:
    both_orgs(apply_org)
    report = import_csv(engine, HEADER + "".join(
        f"{n},TNS,,Spam Likely,2026-11-28\n" for n in CHI[:3]))
    assert [status(engine, n) for n in CHI] == ["resting", "resting", "active", "active"]
    kept = stored_health(engine, CHI[2])
    assert kept.state == "watch"
    assert kept.reasons == ["labelled Spam Likely by TNS (Verizon) on 11-28",
                            "kept: resting it would leave 312 with 1 of 4 numbers; "
                            "at most 50% may rest"]
    assert len(report.changes) == 3


def test_a_manual_pause_wins_over_a_flag(engine: Engine, apply_org: ApplyOrg) -> None:
    apply_org(org("acme", CHI, paused=(CHI[3],)))
    import_csv(engine, HEADER + f"{CHI[3]},Hiya,,Spam Likely,2026-11-28\n")
    assert status(engine, CHI[3]) == "paused"
    assert stored_labels(engine) == 1


def test_the_flag_policy_round_trips_through_apply_and_export(
        engine: Engine, apply_org: ApplyOrg, export_org: Any) -> None:
    apply_org(org("acme", CHI, rest_on_flag=["scam_likely"], flag_restore="rest_days"))
    exported = export_org("acme")["health"]
    assert (exported["rest_on_flag"], exported["flag_restore"]) == (["scam_likely"],
                                                                   "rest_days")
    import_csv(engine, HEADER + f"{CHI[0]},Hiya,,Spam Likely,2026-11-28\n"
                                f"{CHI[1]},Hiya,,Scam Likely,2026-11-28\n")
    assert (status(engine, CHI[0]), status(engine, CHI[1])) == ("active", "resting")


@pytest.fixture
def scanner() -> Iterator[FakeScanner]:
    with fake_scanner(token="s3cret") as fake:
        yield fake


def test_a_scan_pulls_every_number_through_the_feed(
        engine: Engine, apply_org: ApplyOrg, scanner: FakeScanner) -> None:
    both_orgs(apply_org)
    scanner.show(CHI[1], "Hiya", "AT&T", "Spam Likely", "2026-11-30T12:00:00Z")
    scanner.show(CHI[1], "TNS", "Verizon", "Clean", "2026-11-30T12:00:00Z")
    scanner.show(OTHER, "Hiya", "AT&T", "Spam Likely", "2026-11-30T12:00:00Z")
    feed = HttpReputationFeed(scanner.url, token="s3cret", name="fake")
    report = reputation.scan(UnitOfWork(engine), "acme", feed, now=NOW)
    assert (report.labels, report.numbers) == (2, 1)
    assert OTHER not in scanner.requests[0]
    assert CHI[0] in scanner.requests[0]
    assert status(engine, CHI[1]) == "resting"
    shown = health.number_health(UnitOfWork(engine), "acme", CHI[1], now=NOW)
    assert {lb["source"] for lb in shown["labels"]} == {"feed:fake"}
    assert status(engine, OTHER) == "active"


@pytest.mark.parametrize("trouble", ["status", "garbled", "token"])
def test_a_failing_feed_is_a_provider_error_and_stores_nothing(
        engine: Engine, apply_org: ApplyOrg, scanner: FakeScanner, trouble: str) -> None:
    both_orgs(apply_org)
    scanner.show(CHI[1], "Hiya", "AT&T", "Spam Likely", "2026-11-30T12:00:00Z")
    token = "wrong" if trouble == "token" else "s3cret"
    if trouble == "status":
        scanner.fail_with(503)
    if trouble == "garbled":
        scanner.garble({"results": [{"number": CHI[1], "scans": [{"engine": "Hiya"}]}]})
    with pytest.raises(ProviderError, match="reputation feed"):
        reputation.scan(UnitOfWork(engine), "acme", HttpReputationFeed(
            scanner.url, token=token), now=NOW)
    assert stored_labels(engine) == 0


def test_the_cli_imports_a_scan_and_shows_the_labels(
        cli: Invoke, apply_org: ApplyOrg, tmp_path: Path) -> None:
    apply_org(org("acme", CHI))
    scan = tmp_path / "scan.csv"
    scan.write_text(" NUMBER , Carrier ,Label,Checked_At\n"
                    "312-555-0101,AT&T,Spam Likely,2026-11-28\n", encoding="utf-8")
    done = cli("health", "import-reputation", str(scan), "--org", "acme",
               "--at", NOW.isoformat())
    assert done.exit_code == 0, done.stderr
    assert "stored 1 labels of 1 numbers; 1 changed" in done.stdout
    assert "labelled Spam Likely by Hiya (AT&T) on 11-28" in done.stdout
    shown = cli("health", "show", CHI[0], "--org", "acme", "--at", NOW.isoformat())
    assert "label: Hiya (AT&T): Spam Likely [spam_likely]" in shown.stdout
    as_json = json.loads(cli("health", "show", CHI[0], "--org", "acme", "--json").stdout)
    assert as_json["labels"][0]["flag"] is True


def test_the_cli_refuses_a_bad_scan_with_its_row_and_column(
        cli: Invoke, apply_org: ApplyOrg, tmp_path: Path) -> None:
    apply_org(org("acme", CHI))
    scan = tmp_path / "scan.csv"
    scan.write_text(HEADER + "312-555-0101,Hiya,,Spam Likely,2026-11-28\n"
                             "312-555-0102,Hiya,,Spam Likely,11/28\n", encoding="utf-8")
    done = cli("health", "import-reputation", str(scan), "--org", "acme")
    assert done.exit_code == 2
    assert done.stderr.startswith("Error: row 3, column checked_at: must be a date or time")
    missing = cli("health", "import-reputation", str(tmp_path / "none.csv"), "--org", "acme")
    assert missing.exit_code == 2
    assert "cannot be read" in missing.stderr


def test_the_cli_scan_needs_a_feed(cli: Invoke, apply_org: ApplyOrg,
                                   scanner: FakeScanner) -> None:
    apply_org(org("acme", CHI))
    done = cli("health", "scan", "--org", "acme")
    assert done.exit_code == 2
    assert "CALLSIGN_REPUTATION_FEED_URL" in done.stderr
    scanner.show(CHI[0], "First Orion", "T-Mobile", "Scam Likely", "2026-11-30T12:00:00Z")
    pulled = cli("health", "scan", "--org", "acme", "--json",
                 env={"CALLSIGN_REPUTATION_FEED_URL": scanner.url,
                      "CALLSIGN_REPUTATION_FEED_TOKEN": "s3cret"})
    assert pulled.exit_code == 0, pulled.stderr
    assert json.loads(pulled.stdout)["changes"][0]["to_state"] == "resting"
