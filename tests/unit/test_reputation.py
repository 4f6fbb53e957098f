"""Reputation labels (SPEC 9): scan rows read from CSV and JSON, labels normalised, and a
flag resting a number and a clean re-check (or the rest days) bringing it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callsign.domain.document import HealthDoc
from callsign.domain.errors import InvalidScan
from callsign.domain.health import Metrics
from callsign.domain.health_policy import HealthPolicy
from callsign.domain.health_states import Health, HealthState, Standing, assess, review
from callsign.domain.reputation import Label, Verdict, current, engine_of, verdict_of
from callsign.domain.scans import ScanContext, parse_csv, parse_rows

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
CONTEXT = ScanContext("US", "America/New_York", NOW, "csv")


@pytest.mark.parametrize(("raw", "verdict"), [
    ("Spam Likely", Verdict.SPAM_LIKELY), ("  SPAM-LIKELY ", Verdict.SPAM_LIKELY),
    ("Potential Spam", Verdict.SPAM_LIKELY), ("spam_likely", Verdict.SPAM_LIKELY),
    ("Scam Likely", Verdict.SCAM_LIKELY), ("Potential Fraud", Verdict.SCAM_LIKELY),
    ("Nuisance Likely", Verdict.NUISANCE), ("Telemarketer", Verdict.NUISANCE),
    ("clean", Verdict.CLEAN), ("No label", Verdict.CLEAN), ("Not flagged", Verdict.CLEAN),
    ("Political", Verdict.OTHER), ("Survey", Verdict.OTHER),
])
def test_labels_normalise_to_a_small_set_whatever_the_engine_wrote(
        raw: str, verdict: Verdict) -> None:
    assert verdict_of(raw) is verdict


@pytest.mark.parametrize(("engine", "carrier", "expected"), [
    ("hiya", None, ("Hiya", "AT&T")), ("TNS", "", ("TNS", "Verizon")),
    ("FirstOrion", None, ("First Orion", "T-Mobile")), (None, "AT&T", ("Hiya", "AT&T")),
    ("", "t-mobile", ("First Orion", "t-mobile")), (None, "Verizon", ("TNS", "Verizon")),
    ("Acme Scan", None, ("Acme Scan", None)), (None, "US Cellular", ("US Cellular",
                                                                    "US Cellular")),
])
def test_an_engine_is_known_by_its_name_or_its_carrier(
        engine: str | None, carrier: str | None, expected: tuple[str, str | None]) -> None:
    assert engine_of(engine, carrier) == expected


def test_a_csv_scan_reads_headers_whatever_their_case_and_spacing() -> None:
    text = ("\ufeff Phone Number ,CARRIER, Label ,Checked At\n"
            "(312) 555-0101,AT&T,Spam Likely,2026-11-28\n"
            "+13125550102, Verizon ,Clean,2026-11-28T14:05:00Z\n\n")
    rows = parse_csv(text, CONTEXT)
    assert [(r.where, r.number) for r in rows] == [("row 2", "+13125550101"),
                                                   ("row 3", "+13125550102")]
    first = rows[0].label
    assert (first.engine, first.carrier, first.verdict, first.raw) == \
        ("Hiya", "AT&T", Verdict.SPAM_LIKELY, "Spam Likely")
    # A date alone is the organization's midnight (New York: 05:00 UTC).
    assert first.checked_at == datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    assert rows[1].label.engine == "TNS"
    assert rows[1].label.checked_at == datetime(2026, 11, 28, 14, 5, tzinfo=UTC)


def test_every_bad_cell_is_named_by_row_and_column() -> None:
    text = ("number,engine,label,checked_at\n"
            "+13125550101,Hiya,Spam Likely,2026-11-28\n"
            "312-555,Hiya,Spam Likely,2026-11-28\n"
            "+13125550103,Hiya,,2026-11-28\n"
            "+13125550104,Hiya,Spam Likely,28.11.2026\n"
            "+13125550105,,Spam Likely,2026-11-28\n"
            "+13125550106,Hiya,Spam Likely,2027-01-01\n")
    with pytest.raises(InvalidScan) as caught:
        parse_csv(text, CONTEXT)
    fields = [path for path, _ in caught.value.problems]
    assert fields == ["row 3, column number", "row 4, column label",
                      "row 5, column checked_at", "row 6, column engine",
                      "row 7, column checked_at"]
    assert "row 5, column checked_at: must be a date or time in ISO 8601" in str(caught.value)
    assert "is in the future" in caught.value.problems[-1][1]


def test_a_header_without_the_needed_columns_is_refused() -> None:
    with pytest.raises(InvalidScan) as caught:
        parse_csv("number,colour,label\n+13125550101,red,clean\n", CONTEXT)
    assert caught.value.problems == [
        ("row 1, column 2", "'colour' is not a known column (number, engine, carrier, "
                            "label, checked_at)"),
        ("row 1", "the header lacks checked_at, engine or carrier")]


def test_the_same_reading_twice_in_one_scan_is_refused() -> None:
    text = ("number,engine,label,checked_at\n+13125550101,Hiya,Spam Likely,2026-11-28\n"
            "+13125550101,hiya,Clean,2026-11-28\n")
    with pytest.raises(InvalidScan, match="row 3: repeats row 2"):
        parse_csv(text, CONTEXT)


def test_json_rows_are_checked_like_csv_with_their_path() -> None:
    rows = parse_rows([{"number": "+13125550101", "engine": "Hiya", "label": "clean",
                        "checked_at": "2026-11-28T10:00:00+00:00"}], CONTEXT)
    assert rows[0].label.verdict is Verdict.CLEAN
    with pytest.raises(InvalidScan) as caught:
        parse_rows([{"number": "+13125550101", "carrier": "AT&T", "label": "x",
                     "checked_at": 5, "colour": "red"}, "row"], CONTEXT)
    assert [p for p, _ in caught.value.problems] == ["[0].checked_at", "[0].colour", "[1]"]
    with pytest.raises(InvalidScan, match="must be a list"):
        parse_rows({"number": "+13125550101"}, CONTEXT)


def test_an_empty_scan_is_refused() -> None:
    with pytest.raises(InvalidScan, match="no rows"):
        parse_csv("number,engine,label,checked_at\n", CONTEXT)
    with pytest.raises(InvalidScan, match="header is missing"):
        parse_csv("", CONTEXT)


def label(engine: str, raw: str, days_ago: float, carrier: str | None = None) -> Label:
    name, known = engine_of(engine, carrier)
    return Label(name, known, verdict_of(raw), raw, NOW - timedelta(days=days_ago))


def test_the_latest_reading_of_each_engine_is_its_current_label() -> None:
    readings = [label("Hiya", "Spam Likely", 5), label("hiya", "Clean", 1),
                label("TNS", "Scam Likely", 3)]
    latest = current(readings)
    assert {k: v.verdict for k, v in latest.items()} == {
        "hiya": Verdict.CLEAN, "tns": Verdict.SCAM_LIKELY}


HEALTHY = Health(HealthState.HEALTHY, NOW - timedelta(days=30), 100)


def test_a_flagged_label_rests_the_number_saying_who_flagged_it_and_when() -> None:
    proposal = assess(HEALTHY, Metrics(), HealthPolicy(), NOW,
                      labels=[label("Hiya", "Spam Likely", 3), label("TNS", "Clean", 3)])
    assert proposal.rest
    assert proposal.health.reasons == ("labelled Spam Likely by Hiya (AT&T) on 11-28",)


def test_only_the_labels_the_policy_names_rest_a_number() -> None:
    nuisance = [label("First Orion", "Nuisance Likely", 1)]
    assert not assess(HEALTHY, Metrics(), HealthPolicy(), NOW, labels=nuisance).rest
    strict = HealthPolicy(rest_on_flag=("spam_likely", "scam_likely", "nuisance"))
    assert assess(HEALTHY, Metrics(), strict, NOW, labels=nuisance).rest
    assert not assess(HEALTHY, Metrics(), HealthPolicy(rest_on_flag=()), NOW,
                      labels=[label("Hiya", "Scam Likely", 1)]).rest


RESTING = Health(HealthState.RESTING, NOW - timedelta(days=2), 0,
                 ("labelled Spam Likely by Hiya (AT&T) on 11-28",))
FLAG = label("Hiya", "Spam Likely", 3)


@pytest.mark.parametrize(("mode", "restored"), [
    ("either", True), ("clean_check", True), ("rest_days", False)])
def test_a_clean_recheck_restores_a_flagged_number_unless_only_the_days_count(
        mode: str, restored: bool) -> None:
    policy = HealthPolicy(flag_restore=mode)
    proposal = assess(RESTING, Metrics(), policy, NOW, labels=[FLAG, label("Hiya", "Clean", 1)])
    assert (proposal.health.state is HealthState.WARMING) is restored
    if restored:
        assert proposal.restart_window
        assert proposal.health.reasons[0].startswith("re-checked clean by Hiya (AT&T) on 11-30")


@pytest.mark.parametrize(("mode", "restored"), [
    ("either", True), ("clean_check", False), ("rest_days", True)])
def test_after_the_rest_days_a_still_flagged_number_returns_unless_a_clean_check_is_needed(
        mode: str, restored: bool) -> None:
    policy = HealthPolicy(flag_restore=mode, rest_days=7)
    later = NOW + timedelta(days=6)
    proposal = assess(RESTING, Metrics(), policy, later, labels=[FLAG])
    assert (proposal.health.state is HealthState.WARMING) is restored


def test_a_recheck_that_still_flags_or_misses_an_engine_keeps_the_rest() -> None:
    policy = HealthPolicy(flag_restore="clean_check")
    two_flags = [FLAG, label("TNS", "Scam Likely", 3)]
    assert assess(RESTING, Metrics(), policy, NOW, labels=[
        *two_flags, label("Hiya", "Clean", 1)]).health.state is HealthState.RESTING
    assert assess(RESTING, Metrics(), policy, NOW, labels=[
        FLAG, label("Hiya", "Spam Likely", 1)]).health.state is HealthState.RESTING


def test_a_clean_label_does_not_cut_short_a_rest_that_no_flag_caused() -> None:
    rested = Health(HealthState.RESTING, NOW - timedelta(days=2), 10, ("score 10",))
    proposal = assess(rested, Metrics(), HealthPolicy(), NOW, labels=[label("Hiya", "Clean", 1)])
    assert proposal.health == rested


def test_flag_rests_pass_the_coverage_guard() -> None:
    """Two numbers serve 312 and both are flagged: one rests, the other is kept."""
    codes = frozenset({"312"})
    pool = {n: Standing(HEALTHY, Metrics(), codes, labels=(FLAG,))
            for n in ("+13125550101", "+13125550102")}
    proposals = review(pool, HealthPolicy(), NOW)
    states = sorted(p.health.state for p in proposals.values())
    assert states == [HealthState.RESTING, HealthState.WATCH]
    kept = next(p for p in proposals.values() if p.health.state is HealthState.WATCH)
    assert kept.health.reasons[0] == "labelled Spam Likely by Hiya (AT&T) on 11-28"
    assert kept.health.reasons[-1].startswith("kept: resting it would leave 312")


def test_the_flag_policy_round_trips_through_the_document() -> None:
    doc = HealthDoc.model_validate({"rest_on_flag": ["scam_likely", "nuisance"],
                                    "flag_restore": "clean_check"})
    assert doc.policy().rest_on_flag == ("scam_likely", "nuisance")
    assert doc.policy().flag_restore == "clean_check"
    assert HealthDoc.model_validate(doc.model_dump()) == doc
    assert HealthDoc().policy().rest_on_flag == HealthPolicy().rest_on_flag


@pytest.mark.parametrize(("value", "message"), [
    ({"rest_on_flag": ["clean"]}, "rest_on_flag.0"),
    ({"rest_on_flag": ["spam_likely", "spam_likely"]}, "more than once"),
    ({"flag_restore": "never"}, "flag_restore"),
])
def test_a_bad_flag_policy_is_refused(value: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message.split(".")[0]):
        HealthDoc.model_validate(value)


@settings(max_examples=200)
@given(st.text(alphabet=st.sampled_from(list("+1234567890,\"\n\r abcHiyaSpmLkl-:T\ufeff")),
               max_size=300))
def test_any_text_is_read_or_refused_with_named_problems(text: str) -> None:
    """Whatever the file holds, the reader answers rows or InvalidScan, never a crash."""
    problems: list[tuple[str, str]] = []
    rows = []
    try:
        rows = parse_csv("number,engine,label,checked_at\n" + text, CONTEXT)
    except InvalidScan as refused:
        problems = refused.problems
    assert all(path.startswith("row") or path == "" for path, _ in problems)
    assert all(row.number.startswith("+") for row in rows)
    assert bool(rows) != bool(problems)
