"""SPEC 7: the command line contract, through Click's CliRunner on a SQLite file."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from callsign.domain.document import parse_document
from callsign.orgfile import load_yaml

Invoke = Callable[..., Result]
Rows = Callable[[], list[Any]]

AFTERNOON = "2026-03-02T19:00:00Z"  # 13:00 in Chicago, 14:00 in New York
AN_HOUR_LATER = "2026-03-02T20:00:00Z"
DAWN = "2026-03-02T12:00:00Z"  # 06:00 in Chicago

PRINCIPAL = "+12125550100"
CHI1 = "+13125550101"  # alice's caller ID and direct number; also serves 773 and 872
CHI2 = "+13125550102"
AURORA = "+16305550142"
MANHATTAN = "+16465550104"  # paused
SF = "+14155550105"  # bob's caller ID
NWK1 = "+12015550106"
NWK2 = "+12015550107"
AGENT_LEG = "+12013450841"  # the demo's agent-leg number, paused


@pytest.fixture
def acme(cli: Invoke, tmp_path: Path, demo_yaml: str) -> Path:
    """The demo organization file, applied."""
    path = tmp_path / "acme.yaml"
    path.write_text(demo_yaml, encoding="utf-8")
    result = cli("apply", str(path))
    assert result.exit_code == 0, result.stderr
    return path


def ok(result: Result) -> Result:
    """The command succeeded and wrote nothing on stderr."""
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def call(cli: Invoke, *args: str, at: str = AFTERNOON) -> Any:
    return as_json(cli("call", "--org", "acme", "--at", at, "--json", *args))


def refusal(result: Result) -> str:
    """The one line a refused command writes on stderr; nothing goes to stdout."""
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- apply and export ----------------------------------------------------------------------

def test_apply_then_export_gives_back_the_organization(
    cli: Invoke, tmp_path: Path, demo_yaml: str
) -> None:
    """`apply FILE` reports the organization; `export` writes a file equal to it."""
    path = tmp_path / "acme.yaml"
    path.write_text(demo_yaml, encoding="utf-8")

    applied = ok(cli("apply", str(path)))
    exported = ok(cli("export", "--org", "acme"))

    assert applied.stdout == f"applied {path} to organization acme\n"
    assert parse_document(load_yaml(exported.stdout)) == parse_document(load_yaml(demo_yaml))


@pytest.mark.usefixtures("acme")
def test_exported_file_applies_back_to_the_same_export(
    cli: Invoke, tmp_path: Path
) -> None:
    """`export -o FILE` then `apply FILE` leaves the export unchanged."""
    out = tmp_path / "exported.yaml"
    ok(cli("export", "--org", "acme", "-o", str(out)))

    ok(cli("apply", str(out)))

    assert ok(cli("export", "--org", "acme")).stdout == out.read_text(encoding="utf-8")


@pytest.mark.usefixtures("acme")
def test_apply_of_an_invalid_file_names_the_path_and_exits_2(
    cli: Invoke, tmp_path: Path, demo_yaml: str
) -> None:
    """A validation error is one line naming the path; nothing is applied."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(demo_yaml.replace("first_call: regionally_random",
                                     "first_call: '+13125550109'"), encoding="utf-8")
    before = ok(cli("export", "--org", "acme")).stdout

    result = cli("apply", str(bad))

    assert result.exit_code == 2
    assert "projects[0].first_call: +13125550109 is not in the pool" in refusal(result)
    assert ok(cli("export", "--org", "acme")).stdout == before


@pytest.mark.parametrize(
    ("content", "message"),
    [pytest.param("org: [acme\n", "is not valid YAML at line", id="malformed-yaml"),
     pytest.param(None, "file: cannot read", id="missing-file")],
)
def test_apply_of_an_unreadable_file_exits_2(
    cli: Invoke, tmp_path: Path, content: str | None, message: str
) -> None:
    """A file that cannot be read or parsed is refused with one line."""
    path = tmp_path / "org.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    result = cli("apply", str(path))

    assert result.exit_code == 2
    assert message in refusal(result)


@pytest.mark.usefixtures("acme")
def test_database_url_can_come_from_the_environment(cli: Invoke, db_url: str) -> None:
    """CALLSIGN_DATABASE_URL stands in for --db."""
    result = cli("users", "--org", "acme", "--json", db=False,
                 env={"CALLSIGN_DATABASE_URL": db_url})

    assert [u["id"] for u in as_json(result)] == ["alice", "bob", "carol"]


@pytest.mark.parametrize(
    "url",
    [pytest.param("nonsense", id="not-a-url"),
     pytest.param("nonsense://somewhere", id="unknown-backend"),
     pytest.param("sqlite:////nonexistent-dir/callsign.db", id="unopenable-sqlite-file")],
)
def test_an_unusable_database_url_is_refused_with_one_line(cli: Invoke, url: str) -> None:
    """A bad --db is reported on one line naming database_url, not with a traceback."""
    result = cli("--db", url, "users", "--org", "acme", db=False, catch=True)

    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code != 0
    assert refusal(result).startswith("Error: database_url: ")


# -- call, outcome, inbound ----------------------------------------------------------------

@pytest.mark.usefixtures("acme")
def test_call_json_prints_the_decision(cli: Invoke, recorded_calls: Rows) -> None:
    """`call --json` prints call_id, caller_id, rule, to and the trace, and records the call."""
    decision = call(cli, "--user", "alice", "--to", "(773) 555-0150")

    assert set(decision) == {"call_id", "caller_id", "rule", "to", "trace"}
    assert (decision["caller_id"], decision["rule"], decision["to"]) == (
        CHI1, "agent_area_code", "+17735550150")
    assert decision["call_id"].startswith("call_")
    assert [(s["step"], s["result"], s["number"]) for s in decision["trace"]] == [
        ("calling_hours", "checked", None), ("agent_area_code", "chosen", CHI1)]
    assert all(set(step) == {"step", "result", "detail", "number"} for step in decision["trace"])
    (row,) = recorded_calls()
    assert (row.id, row.caller_id, row.rule, row.user_key) == (
        decision["call_id"], CHI1, "agent_area_code", "alice")
    assert row.at == datetime(2026, 3, 2, 19, 0, tzinfo=UTC)


@pytest.mark.usefixtures("acme")
def test_call_without_json_prints_a_summary_and_the_trace(cli: Invoke) -> None:
    """The human form: caller ID, rule and call id, then one line per trace step."""
    result = ok(cli("call", "--org", "acme", "--user", "bob", "--to", "312-555-0188",
                    "--at", AFTERNOON, "--seed", "1"))

    first, *trace = result.stdout.splitlines()
    caller_id, rule, call_id = first.split("  ")
    assert (caller_id in {CHI1, CHI2}, rule) == (True, "rule=local_presence")
    assert call_id.startswith("call=call_")
    assert [line.split()[:2] for line in trace] == [
        ["checked", "calling_hours:"], ["passed", "agent_area_code:"],
        ["chosen", "local_presence"]]


@pytest.mark.usefixtures("acme")
def test_a_call_back_rings_the_agent_the_cli_recorded(cli: Invoke) -> None:
    """The call recorded by `call` is the history `inbound` reads."""
    call(cli, "--user", "carol", "--to", "+1 907 555 0100")

    route = as_json(cli("inbound", "--to", CHI2, "--from", "+19075550100",
                        "--at", AN_HOUR_LATER, "--json"))

    assert (route["destination"], route["rule"], route["user"]) == (
        "+12015559003", "last_caller", "carol")


@pytest.mark.usefixtures("acme")
def test_inbound_json_prints_the_route(cli: Invoke, recorded_inbound: Rows) -> None:
    """`inbound --json` prints destination, rule, user and trace, and records the call."""
    route = as_json(cli("inbound", "--to", CHI1, "--from", "+14155550123", "--at", AFTERNOON,
                        "--json"))

    assert {"destination", "rule", "user", "trace"} <= set(route)
    assert (route["destination"], route["rule"], route["user"]) == (
        "+13125559001", "direct_number", "alice")
    assert [(s["step"], s["result"]) for s in route["trace"]] == [("direct_number", "chosen")]
    (row,) = recorded_inbound()
    assert (row.to_number, row.from_number, row.destination) == (
        CHI1, "+14155550123", "+13125559001")


@pytest.mark.usefixtures("acme")
def test_outcome_picks_the_number_of_the_next_call(cli: Invoke) -> None:
    """An outcome named in outcome_numbers decides the next call of the project."""
    first = call(cli, "--user", "carol", "--to", "+1 201 555 0177", "--project", "renewals",
                 "--seed", "3")
    recorded = ok(cli("outcome", first["call_id"], "asked_callback"))

    second = call(cli, "--user", "carol", "--to", "+1 201 555 0177", "--project", "renewals",
                  at=AN_HOUR_LATER)

    assert first["rule"] == "regionally_random"
    assert first["caller_id"] in {NWK1, NWK2}
    assert recorded.stdout == f"recorded outcome asked_callback for {first['call_id']}\n"
    assert (second["caller_id"], second["rule"]) == (NWK1, "outcome_number")


@pytest.mark.usefixtures("acme")
def test_call_to_an_emergency_number_is_placed_even_at_dawn(
    cli: Invoke, recorded_calls: Rows
) -> None:
    """911 presents alice's direct number outside calling hours, and is recorded."""
    decision = call(cli, "--user", "alice", "--to", "911", at=DAWN)

    assert (decision["caller_id"], decision["rule"], decision["to"]) == (CHI1, "emergency", "911")
    assert [(row.to_number, row.channel) for row in recorded_calls()] == [("911", "manual")]


@pytest.mark.usefixtures("acme")
def test_outcome_for_an_unknown_call_exits_3(cli: Invoke) -> None:
    """A call id that does not exist is a not-found error naming call_id."""
    result = cli("outcome", "call_nope", "asked_callback")

    assert result.exit_code == 3
    assert refusal(result) == "Error: call_id: no call 'call_nope'"


# -- --at replays --------------------------------------------------------------------------

@pytest.mark.usefixtures("acme")
def test_at_outside_calling_hours_is_refused_with_the_callees_local_time(
    cli: Invoke, recorded_calls: Rows
) -> None:
    """At 06:00 in Chicago the call is refused, exit 4, and nothing is recorded."""
    result = cli("call", "--org", "acme", "--user", "alice", "--to", "312-555-0188",
                 "--at", DAWN, "--json")

    assert result.exit_code == 4
    assert refusal(result) == ("Error: to: the callee's local time is 06:00 America/Chicago, "
                               "outside calling hours 08:00–21:00")
    assert recorded_calls() == []


@pytest.mark.usefixtures("acme")
def test_consent_allows_a_call_outside_calling_hours(cli: Invoke) -> None:
    """--consent marks the call consented or urgent."""
    decision = call(cli, "--user", "alice", "--to", "312-555-0188", "--consent", at=DAWN)

    assert decision["caller_id"] == CHI1
    assert "allowed: consented/urgent" in decision["trace"][0]["detail"]


@pytest.mark.usefixtures("acme")
def test_same_time_and_seed_replay_the_same_decision(cli: Invoke) -> None:
    """--at and --seed make a dry run repeatable; only the call id differs."""
    args = ("--user", "carol", "--to", "+1 201 555 0177", "--project", "renewals",
            "--seed", "42", "--dry-run")

    first, second = call(cli, *args), call(cli, *args)

    assert first["call_id"] != second["call_id"]
    del first["call_id"], second["call_id"]
    assert first == second


@pytest.mark.usefixtures("acme")
def test_at_with_an_offset_is_honoured(cli: Invoke, recorded_calls: Rows) -> None:
    """An ISO-8601 time with an offset is stored as the same instant."""
    call(cli, "--user", "alice", "--to", "312-555-0188", at="2026-03-02T14:00:00-05:00")

    assert recorded_calls()[0].at == datetime(2026, 3, 2, 19, 0, tzinfo=UTC)


@pytest.mark.usefixtures("acme")
def test_an_unreadable_at_is_refused(cli: Invoke) -> None:
    """--at must be ISO-8601."""
    result = cli("call", "--org", "acme", "--user", "alice", "--to", "312-555-0188",
                 "--at", "yesterday")

    assert result.exit_code == 2
    assert refusal(result) == "Error: at: 'yesterday' is not an ISO-8601 time"


# -- refusals ------------------------------------------------------------------------------

CALL = ("call", "--org", "acme", "--user", "alice", "--to", "312-555-0188", "--at", AFTERNOON)


@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        pytest.param(("call", "--org", "nope", *CALL[3:]), 3,
                     "Error: org: no organization 'nope'", id="unknown-org"),
        pytest.param((*CALL[:4], "zed", *CALL[5:]), 3,
                     "Error: user: no user 'zed' in organization 'acme'", id="unknown-user"),
        pytest.param((*CALL, "--project", "nope"), 3, "Error: project: no project 'nope'",
                     id="unknown-project"),
        pytest.param((*CALL[:5], "--to", "555-01", *CALL[7:]), 2,
                     "Error: to: '555-01' is not a valid phone number", id="invalid-number"),
        pytest.param((*CALL, "--caller-id", MANHATTAN), 4,
                     f"Error: caller_id: {MANHATTAN} is paused; it cannot be presented",
                     id="caller-id-not-presentable"),
        pytest.param((*CALL, "--caller-id", "+19075550199"), 4,
                     "Error: caller_id: +19075550199 is not one of the organization's numbers; "
                     "it cannot be presented", id="caller-id-not-ours"),
        pytest.param((*CALL[:-1], DAWN), 4,
                     "Error: to: the callee's local time is 06:00 America/Chicago, "
                     "outside calling hours 08:00–21:00", id="outside-calling-hours"),
    ],
)
@pytest.mark.usefixtures("acme")
def test_a_refused_call_exits_non_zero_with_one_line_naming_the_field(
    cli: Invoke, recorded_calls: Rows, args: tuple[str, ...], code: int, line: str
) -> None:
    """Scripts get an exit code by kind and one line on stderr; no call is recorded."""
    result = cli(*args, "--json")

    assert result.exit_code == code
    assert refusal(result) == line
    assert recorded_calls() == []


@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        pytest.param(("export", "--org", "nope"), 3, "Error: org: no organization 'nope'",
                     id="export-unknown-org"),
        pytest.param(("inbound", "--to", "+13125550999", "--from", "+19075550100"), 3,
                     "Error: to: +13125550999 is not a number any organization holds",
                     id="inbound-to-a-number-not-ours"),
        pytest.param(("numbers", "add", "--org", "acme", CHI1), 5,
                     f"Error: number: {CHI1} already belongs to this organization",
                     id="add-a-number-twice"),
        pytest.param(("numbers", "add", "--org", "acme", "+1312"), 2,
                     "Error: number: '+1312' is not a valid phone number",
                     id="add-an-invalid-number"),
        pytest.param(("numbers", "add", "--org", "acme", "+13125550111", "--area-code", "999"),
                     2, "Error: area_code: '999' is not a geographic area code of US",
                     id="add-an-invalid-area-code"),
        pytest.param(("numbers", "pause", "--org", "acme", "+13125550111"), 3,
                     "Error: number: +13125550111 is not a number of organization 'acme'",
                     id="pause-a-number-not-ours"),
        pytest.param(("numbers", "list", "--org", "acme", "--status", "lost"), 2,
                     "Error: status: 'lost' is not a status (active, paused, resting, released)",
                     id="list-an-unknown-status"),
        pytest.param(("outcome", "call_nope", " "), 2,
                     "Error: outcome: an outcome is required", id="empty-outcome"),
        pytest.param(("numbers", "unmap", "--org", "acme", SF, "415"), 2,
                     f"Error: area_code: 415: its own area code for {SF}",
                     id="unmap-its-own-area-code"),
    ],
)
@pytest.mark.usefixtures("acme")
def test_other_refused_commands_exit_non_zero_with_one_line(
    cli: Invoke, args: tuple[str, ...], code: int, line: str
) -> None:
    """Every command maps domain errors to an exit code and one line on stderr."""
    result = cli(*args)

    assert result.exit_code == code
    assert refusal(result) == line


# -- numbers -------------------------------------------------------------------------------

def numbers_json(cli: Invoke, *args: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = as_json(cli("numbers", "list", "--org", "acme", "--json",
                                               *args))
    return listed


@pytest.mark.usefixtures("acme")
def test_numbers_list_shows_area_codes_status_and_caps(cli: Invoke) -> None:
    """Every held number is listed, with the area codes it serves."""
    listed = numbers_json(cli)

    assert [n["number"] for n in listed] == sorted(
        [PRINCIPAL, CHI1, CHI2, AURORA, MANHATTAN, SF, NWK1, NWK2, AGENT_LEG])
    chicago = next(n for n in listed if n["number"] == CHI1)
    assert {key: chicago[key] for key in ("label", "group", "status", "area_codes", "region",
                                          "daily_cap", "used_today", "assigned_user")} == {
        "label": "Chicago", "group": "sales", "status": "active",
        "area_codes": ["312", "773", "872"], "region": "Illinois", "daily_cap": 100,
        "used_today": 0, "assigned_user": "alice"}
    assert [n["number"] for n in numbers_json(cli, "--status", "paused")] == [
        AGENT_LEG, MANHATTAN]


@pytest.mark.usefixtures("acme")
def test_numbers_add_serves_its_own_and_the_given_area_codes(cli: Invoke) -> None:
    """An added number is stored in E.164 and serves the mapped area codes at once."""
    added = ok(cli("numbers", "add", "--org", "acme", "(217) 555-0199", "--label", "Springfield",
                   "--group", "sales", "--area-code", "618", "--daily-cap", "50"))

    assert added.stdout == "added +12175550199\n"
    (listed,) = numbers_json(cli, "--area-code", "618")
    assert (listed["number"], listed["area_codes"], listed["daily_cap"], listed["label"]) == (
        "+12175550199", ["217", "618"], 50, "Springfield")
    decision = call(cli, "--user", "carol", "--to", "+1 618 555 0100")
    assert (decision["caller_id"], decision["rule"]) == ("+12175550199", "local_presence")


@pytest.mark.usefixtures("acme")
def test_numbers_map_and_unmap_change_what_local_presence_picks(cli: Invoke) -> None:
    """A mapped area code is served at once; an unmapped one no longer."""
    mapped = ok(cli("numbers", "map", "--org", "acme", SF, "650", "510"))
    with_mapping = call(cli, "--user", "carol", "--to", "+1 650 555 0100", "--dry-run")
    unmapped = ok(cli("numbers", "unmap", "--org", "acme", SF, "650"))
    without_mapping = call(cli, "--user", "carol", "--to", "+1 650 555 0100", "--dry-run")

    assert mapped.stdout == f"{SF} serves 415, 510, 650\n"
    assert (with_mapping["caller_id"], with_mapping["rule"]) == (SF, "local_presence")
    assert unmapped.stdout == f"{SF} serves 415, 510\n"
    # 650 is in California like 415: only the region fallback finds SF now.
    assert (without_mapping["caller_id"], without_mapping["rule"]) == (
        SF, "local_presence_region")


@pytest.mark.usefixtures("acme")
def test_numbers_pause_stops_presenting_and_resume_restores(cli: Invoke) -> None:
    """A paused number is refused as caller ID but still routes call-backs."""
    paused = ok(cli("numbers", "pause", "--org", "acme", SF))
    refused = cli(*CALL, "--caller-id", SF)
    route = as_json(cli("inbound", "--to", SF, "--from", "+19075550100", "--json"))
    resumed = ok(cli("numbers", "resume", "--org", "acme", SF))
    allowed = call(cli, "--user", "alice", "--to", "312-555-0188", "--caller-id", SF)

    assert paused.stdout == f"{SF} is paused\n"
    assert refused.exit_code == 4
    assert "is paused" in refusal(refused)
    assert route["rule"] == "forwarding"
    assert resumed.stdout == f"{SF} is active\n"
    assert (allowed["caller_id"], allowed["rule"]) == (SF, "override")


@pytest.mark.usefixtures("acme")
def test_numbers_release_deletes_unused_and_releases_used_numbers(cli: Invoke) -> None:
    """A number with history is released and kept; one without is deleted. SF is bob's
    caller ID: its release is forced, and says what it cleared."""
    call(cli, "--user", "bob", "--to", "312-555-0188", "--caller-id", SF)

    used = ok(cli("numbers", "release", "--org", "acme", "--force", SF))
    unused = ok(cli("numbers", "release", "--org", "acme", AURORA))

    assert (used.stdout, unused.stdout) == (
        f"{SF} released\ncleared user bob's caller ID\n", f"{AURORA} deleted\n")
    listed = [n["number"] for n in numbers_json(cli)]
    assert SF not in listed
    assert AURORA not in listed
    assert [n["number"] for n in numbers_json(cli, "--status", "released")] == [SF]
    refused = cli("inbound", "--to", SF, "--from", "+19075550100")
    assert refused.exit_code == 3


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("chicago", [CHI1, CHI2], id="label"),
        pytest.param("renewals", [NWK1, NWK2], id="group"),
        pytest.param("773", [CHI1], id="area-code"),
        pytest.param("0142", [AURORA], id="digits"),
        # SPEC 5: numbers in no project first, then those in a group, then the rest.
        pytest.param("5550", [PRINCIPAL, CHI1, SF, AURORA, MANHATTAN, NWK1, NWK2, CHI2],
                     id="project-picker-order"),
    ],
)
@pytest.mark.usefixtures("acme")
def test_numbers_search_finds_by_label_group_area_code_and_digits(
    cli: Invoke, query: str, expected: list[str]
) -> None:
    """Search matches digits, label, group or area code, in project-picker order."""
    found = as_json(cli("numbers", "search", "--org", "acme", query, "--json"))

    assert [n["number"] for n in found] == expected


# -- users, projects, demo -----------------------------------------------------------------

@pytest.mark.usefixtures("acme")
def test_users_lists_the_organizations_users(cli: Invoke) -> None:
    """`users --json` gives each user's phones and numbers."""
    listed = as_json(cli("users", "--org", "acme", "--json"))

    assert [(u["id"], u["work_phone"], u["caller_id"], u["direct_number"]) for u in listed] == [
        ("alice", "+13125559001", CHI1, CHI1),
        ("bob", "+14155559002", SF, None),
        ("carol", "+12015559003", None, None),
    ]
    assert ok(cli("users", "--org", "acme")).stdout.splitlines()[0].startswith("alice")


@pytest.mark.usefixtures("acme")
def test_projects_lists_pools_and_selection_logic(cli: Invoke) -> None:
    """`projects --json` gives each project's pool and number selection logic."""
    (renewals,) = as_json(cli("projects", "--org", "acme", "--json"))

    assert renewals["id"] == "renewals"
    assert renewals["numbers"] == [NWK1, NWK2, CHI2]
    assert (renewals["first_call"], renewals["next_calls"], renewals["agent_number"]) == (
        "regionally_random", "different_each_attempt", "use_project")
    assert renewals["outcome_numbers"] == {"asked_callback": NWK1}


def test_demo_applies_acme_and_prints_decisions_without_recording(
    cli: Invoke, recorded_calls: Rows, recorded_inbound: Rows
) -> None:
    """The demo shows each rule at work and leaves no call behind."""
    result = ok(cli("demo"))

    out = result.stdout
    assert "demo organization 'acme' applied" in out
    assert f"→ {CHI1}  rule=agent_area_code" in out
    assert "rule=local_presence\n" in out
    assert "rule=local_presence_region" in out
    assert f"→ {PRINCIPAL}  rule=principal" in out
    assert "rings +13125559001 (rule=direct_number, user=alice)" in out
    assert recorded_calls() == []
    assert recorded_inbound() == []
    assert [u["id"] for u in as_json(cli("users", "--org", "acme", "--json"))] == [
        "alice", "bob", "carol"]
