"""SPEC 6: organization files applied idempotently, exported back, validated whole."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from callsign.domain.document import OrgDocument, parse_document
from callsign.domain.errors import ConfigError, NotFound
from callsign.domain.model import Decision
from callsign.orgfile import dump_document, load_yaml
from callsign.services import numbers as numbers_service
from callsign.store import orgs as org_store
from callsign.store.db import create_store_engine
from callsign.store.tables import calls, numbers, orgs
from callsign.store.uow import UnitOfWork

Export = Callable[[str], dict[str, Any]]
Snapshot = Callable[[], dict[str, list[tuple[Any, ...]]]]
Dial = Callable[..., Decision]

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)

CHI1 = "+13125550101"
CHI2 = "+13125550102"
SF = "+14155550105"
NWK1 = "+12015550106"
PRINCIPAL = "+12125550100"


def valid_document() -> dict[str, Any]:
    """A document using every section, with two projects."""
    return {
        "org": "acme",
        "default_country": "US",
        "timezone": "America/New_York",
        "principal_number": "+12125550100",
        "forwarding_number": "+12125550199",
        "local_presence": True,
        "calling_hours": {"start": "08:00", "end": "21:00"},
        "numbers": [
            {"number": CHI1, "label": "Chicago", "area_codes": ["773"], "daily_cap": 100},
            {"number": "(312) 555-0102", "label": "Chicago 2"},
            {"number": SF, "group": "west"},
            {"number": NWK1, "status": "paused"},
            {"number": PRINCIPAL, "label": "Headquarters"},
        ],
        "users": [
            {"id": "alice", "work_phone": "+13125559001", "caller_id": CHI1,
             "direct_number": CHI1},
            {"id": "bob", "work_phone": "+14155559002", "caller_id": SF},
        ],
        "contacts": [{"phone": "+14155550123", "owner": "alice", "line_type": "landline"}],
        "projects": [
            {"id": "renewals", "numbers": [CHI1, CHI2], "first_call": CHI1,
             "outcome_numbers": {"asked_callback": CHI2}},
            {"id": "outreach", "numbers": [SF, NWK1], "next_calls": "different_each_attempt"},
        ],
        "inbound": {"path": ["lead_owner", "direct_number", "company"], "last_caller_days": 14},
    }


def exported_text(engine: Engine, org: str = "acme") -> str:
    with UnitOfWork(engine) as uow:
        return dump_document(org_store.export_document(uow.connection, org))


# -- apply and export ----------------------------------------------------------------------

def test_applying_the_same_file_twice_changes_nothing(
    apply_org: Any, snapshot: Snapshot
) -> None:
    """Every table is identical after a second apply of the same file."""
    apply_org(valid_document())
    before = snapshot()

    apply_org(valid_document())

    assert snapshot() == before
    assert len(before["numbers"]) == 5


def test_reapplying_keeps_todays_usage_and_history(
    apply_org: Any, dial: Dial, snapshot: Snapshot
) -> None:
    """Applying the file again does not reset caps, rotation or calls."""
    apply_org(valid_document())
    dial(user="alice", to="+13125550188", at=NOW)
    dial(user="bob", to="+14155550188", at=NOW)
    before = snapshot()

    apply_org(valid_document())

    assert snapshot() == before
    assert len(before["calls"]) == 2


def test_export_then_apply_reproduces_the_same_organization(
    apply_org: Any, engine: Engine, tmp_path: Path, demo_yaml: str
) -> None:
    """The exported file, applied to an empty store, exports to the very same text."""
    apply_org(demo_yaml)
    first = exported_text(engine)

    other = create_store_engine(f"sqlite:///{tmp_path}/other.db")
    try:
        with UnitOfWork(other) as uow:
            org_store.apply_document(uow.connection, parse_document(load_yaml(first)))
            uow.commit()
        second = exported_text(other)
    finally:
        other.dispose()

    assert second == first
    assert load_yaml(first)["projects"][0]["outcome_numbers"] == {"asked_callback": NWK1}


def test_export_round_trips_every_section(apply_org: Any, export_org: Export) -> None:
    """Numbers are exported in E.164, and every setting in the file comes back."""
    apply_org(valid_document())

    exported = export_org("acme")

    assert parse_document(exported) == parse_document(valid_document())
    assert [n["number"] for n in exported["numbers"]] == [CHI1, CHI2, SF, NWK1, PRINCIPAL]
    assert exported["inbound"] == {"path": ["lead_owner", "direct_number", "company"],
                                   "last_caller_days": 14}


def test_omitted_settings_take_the_documented_defaults(apply_org: Any, engine: Engine) -> None:
    """A minimal file gets the defaults of SPEC 6."""
    apply_org({"org": "mini", "principal_number": PRINCIPAL,
               "numbers": [{"number": CHI1}, {"number": PRINCIPAL}],
               "projects": [{"id": "p", "numbers": [CHI1]}]})

    with UnitOfWork(engine) as uow:
        doc = org_store.export_document(uow.connection, "mini")

    assert (doc.local_presence, doc.local_presence_fallback, doc.restrict_caller_ids,
            doc.timezone) == (False, "none", False, "UTC")
    assert doc.numbers[0].status == "active"
    (project,) = doc.projects
    assert (project.first_call, project.next_calls, project.keep_previous_number,
            project.agent_number) == ("random", "random", False, "use_project")
    assert [str(step) for step in doc.inbound.path] == [
        "direct_number", "last_caller", "lead_owner", "forwarding", "company"]
    assert doc.inbound.last_caller_days == 30
    assert load_yaml(exported_text(engine, "mini")) == {
        "org": "mini", "principal_number": PRINCIPAL,
        "numbers": [{"number": CHI1}, {"number": PRINCIPAL}],
        "projects": [{"id": "p", "numbers": [CHI1]}]}


@pytest.mark.parametrize(
    "released",
    [pytest.param(CHI2, id="a-projects-outcome-number"),
     pytest.param(SF, id="a-users-caller-id"),
     pytest.param(CHI1, id="a-projects-first-call-number")],
)
def test_export_after_releasing_a_referenced_number_still_applies(
    apply_org: Any, engine: Engine, released: str
) -> None:
    """Releasing a number (forced: it is in use) leaves no reference behind that the
    exported file would refuse."""
    document = valid_document()
    document["users"][0]["caller_id"] = None
    apply_org(document)
    assert numbers_service.release(UnitOfWork(engine), "acme", released, force=True) == (
        released, "deleted")
    exported = exported_text(engine)

    apply_org(exported)

    assert exported_text(engine) == exported
    assert released not in exported


# -- what a file leaves out ----------------------------------------------------------------

def _numbers(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {row.e164: row.status
                for row in conn.execute(select(numbers.c.e164, numbers.c.status))}


def test_numbers_left_out_are_deleted_or_released_when_they_have_history(
    apply_org: Any, dial: Dial, engine: Engine, recorded_calls: Callable[[], list[Any]],
    export_org: Export,
) -> None:
    """A number with calls is released and its calls kept; one without is deleted."""
    apply_org(valid_document())
    call = dial(user="alice", to="+13125550188", at=NOW, caller_id=CHI1)
    smaller = valid_document()
    smaller["numbers"] = smaller["numbers"][2:]
    smaller["users"][0].update(caller_id=None, direct_number=None)
    smaller["projects"] = smaller["projects"][1:]

    apply_org(smaller)

    assert _numbers(engine) == {CHI1: "released", SF: "active", NWK1: "paused",
                                PRINCIPAL: "active"}
    assert [(r.id, r.caller_id) for r in recorded_calls()] == [(call.call_id, CHI1)]
    assert [n["number"] for n in export_org("acme")["numbers"]] == [SF, NWK1, PRINCIPAL]


def test_a_released_number_can_come_back_in_a_later_file(
    apply_org: Any, dial: Dial, engine: Engine
) -> None:
    """Listing a released number again holds it anew, in its old row: one row keeps
    its history and today's usage."""
    apply_org(valid_document())
    dial(user="bob", to="+13125550188", at=NOW, caller_id=CHI1)
    smaller = valid_document()
    smaller["numbers"] = smaller["numbers"][1:]
    smaller["users"] = smaller["users"][1:]
    smaller["contacts"] = []
    smaller["projects"] = smaller["projects"][1:]
    apply_org(smaller)

    apply_org(valid_document())

    with engine.connect() as conn:
        rows = conn.execute(select(numbers.c.status).where(numbers.c.e164 == CHI1)).scalars()
        assert list(rows) == ["active"]
    assert dial(user="alice", to="+13125550188", at=NOW).caller_id == CHI1


def test_users_contacts_and_projects_left_out_are_removed(
    apply_org: Any, export_org: Export, dial: Dial, recorded_calls: Callable[[], list[Any]]
) -> None:
    """The file replaces the configuration; call history of removed users stays."""
    apply_org(valid_document())
    dial(user="bob", to="+13125550188", at=NOW, project="outreach")
    smaller = valid_document()
    smaller["users"] = smaller["users"][:1]
    smaller["contacts"] = []
    smaller["projects"] = smaller["projects"][:1]

    apply_org(smaller)

    exported = export_org("acme")
    assert [u["id"] for u in exported["users"]] == ["alice"]
    assert "contacts" not in exported
    assert [p["id"] for p in exported["projects"]] == ["renewals"]
    assert [(r.user_key, r.project_key) for r in recorded_calls()] == [("bob", "outreach")]


# -- validation ----------------------------------------------------------------------------

def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the valid document at a dotted path with [i] indexes."""

    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.replace("[", ".").replace("]", "").split(".")
        target: Any = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return change


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param(_set("projects[1].first_call", "+13125550109"),
                     "projects[1].first_call: +13125550109 is not in the pool",
                     id="first-call-not-in-pool"),
        pytest.param(_set("projects[0].outcome_numbers.asked_callback", SF),
                     f"projects[0].outcome_numbers.asked_callback: {SF} is not in the pool",
                     id="outcome-number-not-in-pool"),
        pytest.param(_set("projects[1].first_call", "sequential"),
                     "projects[1].first_call: 'sequential' is neither random, "
                     "regionally_random nor a valid phone number", id="unknown-first-call"),
        pytest.param(_set("colour", "blue"), "colour: is not a known setting",
                     id="unknown-top-level-key"),
        pytest.param(_set("numbers[2].lable", "West"), "numbers[2].lable: is not a known setting",
                     id="unknown-nested-key"),
        pytest.param(_set("numbers[1].number", "+1312"),
                     "numbers[1].number: '+1312' is not a valid phone number",
                     id="invalid-number"),
        pytest.param(_set("users[1].work_phone", "call me"),
                     "users[1].work_phone: 'call me' is not a valid phone number",
                     id="invalid-work-phone"),
        pytest.param(_set("contacts[0].owner", "zed"),
                     "contacts[0].owner: 'zed' is not a user of the organization",
                     id="unknown-owner"),
        pytest.param(_set("users[0].direct_number", "+19075550100"),
                     "users[0].direct_number: +19075550100 is not one of the organization's "
                     "numbers", id="direct-number-not-ours"),
        pytest.param(_set("projects[0].numbers[1]", "+19075550100"),
                     "projects[0].numbers[1]: +19075550100 is not one of the organization's "
                     "numbers", id="pool-number-not-ours"),
        pytest.param(_set("numbers[0].area_codes[0]", "999"),
                     "numbers[0].area_codes[0]: '999' is not a geographic area code of US",
                     id="invalid-area-code"),
        pytest.param(_set("numbers[3].number", CHI1),
                     f"numbers[3].number: {CHI1} is listed twice", id="duplicate-number"),
        pytest.param(_set("timezone", "Mars/Olympus"),
                     "timezone: 'Mars/Olympus' is not an IANA time zone", id="invalid-timezone"),
        pytest.param(_set("calling_hours.start", "8am"),
                     "calling_hours.start: '8am' is not a time of day as HH:MM",
                     id="invalid-calling-hours"),
        pytest.param(_set("default_country", "XX"),
                     "default_country: 'XX' is not a country code libphonenumber knows",
                     id="unknown-country"),
        pytest.param(lambda doc: doc.pop("principal_number"),
                     "principal_number: is required", id="missing-principal-number"),
        pytest.param(_set("numbers[0].daily_cap", 0), "numbers[0].daily_cap: ",
                     id="zero-daily-cap"),
        pytest.param(_set("inbound.path[1]", "voicemail"), "inbound.path[1]: ",
                     id="unknown-call-path-step"),
    ],
)
def test_validation_errors_name_the_path(
    change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    """Each problem is reported as `path: message`."""
    document = valid_document()
    change(document)

    with pytest.raises(ConfigError) as invalid:
        parse_document(document)

    assert problem in str(invalid.value)
    path = problem.partition(": ")[0]
    assert invalid.value.field == path
    assert any(p == path for p, _ in invalid.value.problems)


def test_every_problem_in_a_file_is_reported_at_once(apply_org: Any) -> None:
    """Validation covers the whole file, not just the first mistake."""
    document = valid_document()
    document["users"][1]["work_phone"] = "+1312"
    document["contacts"][0]["owner"] = "zed"
    document["projects"][1]["first_call"] = "+13125550109"

    with pytest.raises(ConfigError) as invalid:
        apply_org(document)

    assert [path for path, _ in invalid.value.problems] == [
        "users[1].work_phone", "contacts[0].owner", "projects[1].first_call"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("org: acme\nnumbers: [\n  {number: '+13125550101'\n",
                     "is not valid YAML at line", id="malformed-yaml"),
        pytest.param("- org: acme\n", "the document must be a mapping", id="not-a-mapping"),
    ],
)
def test_a_file_that_is_not_a_yaml_mapping_is_refused(text: str, message: str) -> None:
    """Malformed YAML is a ConfigError that says where, not a crash."""
    with pytest.raises(ConfigError, match=message):
        parse_document(load_yaml(text, source="acme.yaml"))


@pytest.mark.usefixtures("engine")
def test_a_file_with_an_error_writes_nothing(apply_org: Any, snapshot: Snapshot) -> None:
    """One bad entry leaves the stored organization exactly as it was."""
    apply_org(valid_document())
    before = snapshot()
    document = valid_document()
    document["local_presence"] = False
    document["numbers"].append({"number": "+16305550142"})
    document["users"].append({"id": "carol", "caller_id": "+19075550100"})

    with pytest.raises(ConfigError, match=r"users\[2\]\.caller_id"):
        apply_org(document)

    assert snapshot() == before


@pytest.mark.usefixtures("engine")
def test_a_number_held_by_another_organization_writes_nothing(
    apply_org: Any, snapshot: Snapshot
) -> None:
    """Found while writing, the clash still rolls back everything, settings included."""
    apply_org(valid_document())
    apply_org({"org": "beta", "principal_number": "+16175550100", "local_presence": False,
               "numbers": [{"number": "+16175550100"}]})
    before = snapshot()
    beta = {"org": "beta", "principal_number": "+16175550100", "local_presence": True,
            "numbers": [{"number": "+16175550100"}, {"number": CHI1}]}

    with pytest.raises(ConfigError) as clash:
        apply_org(beta)

    assert str(clash.value) == f"numbers[1].number: {CHI1} belongs to another organization"
    assert snapshot() == before


def test_a_new_organization_with_an_error_is_not_created(apply_org: Any, engine: Engine) -> None:
    """Nothing of a refused file is stored, not even the organization's row."""
    apply_org(valid_document())
    document = copy.deepcopy(valid_document())
    document["org"] = "gamma"

    with pytest.raises(ConfigError):
        apply_org(document)  # every number already belongs to acme

    with engine.connect() as conn:
        assert conn.execute(select(orgs.c.slug)).scalars().all() == ["acme"]
    with UnitOfWork(engine) as uow, pytest.raises(NotFound):
        org_store.export_document(uow.connection, "gamma")


def test_parsed_document_holds_numbers_in_e164() -> None:
    """Numbers written in any common format are normalised before anything is stored."""
    document = parse_document(valid_document())

    assert isinstance(document, OrgDocument)
    assert document.numbers[1].number == CHI2
    assert yaml.safe_load(dump_document(document))["numbers"][1]["number"] == CHI2


def test_history_survives_a_file_that_drops_everything(
    apply_org: Any, dial: Dial, engine: Engine
) -> None:
    """An empty configuration releases used numbers but keeps every call."""
    apply_org(valid_document())
    dial(user="alice", to="+13125550188", at=NOW)

    apply_org({"org": "acme", "principal_number": PRINCIPAL,
               "numbers": [{"number": PRINCIPAL}]})

    with engine.connect() as conn:
        assert conn.execute(select(calls.c.caller_id)).scalars().all() == [CHI1]
    assert _numbers(engine) == {CHI1: "released", PRINCIPAL: "active"}
