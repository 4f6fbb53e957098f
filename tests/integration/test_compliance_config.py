"""SPEC 10 configuration: the organization's and projects' compliance settings and the
contacts' addresses round-trip through the org file, PATCH /v1/org's service and export;
bad settings are refused naming the field's full path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from callsign.domain.document import parse_document
from callsign.domain.errors import ConfigError
from callsign.services import organization as org_service
from callsign.store.uow import UnitOfWork

COMPLIANCE = {"hours": {"mon-fri": ["08:00-21:00"], "sat": ["09:00-17:00"]},
              "holidays": {"country": "US", "subdivision": "callee"},
              "packs": ["federal", "florida"],
              "caps": [{"calls": 2, "hours": 24, "per": "contact"}],
              "overrides": {"florida.frequency": {"calls": 2}}}
ORG: dict[str, Any] = {
    "org": "acme", "principal_number": "+12125550100", "timezone": "America/New_York",
    "numbers": [{"number": "+12125550100"}, {"number": "+13125550101"}],
    "users": [{"id": "alice", "caller_id": "+13125550101"}],
    "contacts": [{"phone": "+13055550123", "timezone": "America/New_York",
                  "state": "Florida", "postal_code": "33101"}],
    "projects": [{"id": "debts", "numbers": ["+13125550101"],
                  "compliance": {"packs": ["debt_collection"],
                                 "hours": {"mon-fri": ["09:00-20:00"]}}}],
    "compliance": COMPLIANCE,
}


def document(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(ORG)
    data.update(changes)
    return data


def test_compliance_settings_and_addresses_export_as_applied(
    apply_org: Callable[[dict[str, Any]], None], export_org: Callable[[str], dict[str, Any]]
) -> None:
    """The org's and the project's settings come back as written; a state as its code."""
    apply_org(document())

    exported = export_org("acme")

    assert exported["compliance"] == COMPLIANCE
    assert exported["projects"][0]["compliance"] == ORG["projects"][0]["compliance"]
    assert exported["contacts"][0]["state"] == "FL"
    assert exported["contacts"][0]["postal_code"] == "33101"
    apply_org(exported)
    assert export_org("acme") == exported


@pytest.mark.parametrize(("change", "problem"), [
    ({"compliance": {**COMPLIANCE, "packs": ["federal", "texas"]}},
     "compliance.packs[1]: 'texas' is not a pack"),
    ({"compliance": {**COMPLIANCE, "overrides": {"florida.frequency": {"calls": 5}}}},
     "compliance.overrides.florida.frequency.calls: 5 is more than the pack's 3"),
    ({"compliance": {**COMPLIANCE, "caps": [{"calls": 0, "hours": 24}]}},
     "compliance.caps[0].calls"),
    ({"projects": [{"id": "debts", "compliance": {"hours": {"sat": ["08:00-18:00"]}}}]},
     "projects[0].compliance.hours.sat: 08:00–18:00 reaches outside the organization's"),
    ({"contacts": [{"phone": "+13055550123", "timezone": "Mars/Olympus"}]},
     "contacts[0].timezone: 'Mars/Olympus' is not an IANA time zone"),
    ({"contacts": [{"phone": "+13055550123", "state": "Atlantis"}]},
     "contacts[0].state: 'Atlantis' is not a US state"),
    ({"contacts": [{"phone": "+13055550123", "postal_code": "ABCDE"}]},
     "contacts[0].postal_code: 'ABCDE' is not a known US ZIP code"),
])
def test_bad_compliance_settings_are_refused_with_their_full_path(
    change: dict[str, Any], problem: str
) -> None:
    """Each problem names the field by its path in the document."""
    with pytest.raises(ConfigError) as refused:
        parse_document(document(**change))

    assert any(f"{path}: {message}".startswith(problem)
               for path, message in refused.value.problems), refused.value.problems


def test_org_settings_read_and_patch_the_compliance_settings(
    engine: Engine, apply_org: Callable[[dict[str, Any]], None]
) -> None:
    """GET /v1/org's service shows them; PATCH replaces them, or refuses with the path."""
    apply_org(document(compliance=None))
    assert org_service.get_settings(UnitOfWork(engine), "acme")["compliance"] is None

    patched = org_service.update_settings(UnitOfWork(engine), "acme",
                                          {"compliance": {"packs": ["maryland"]}})
    with pytest.raises(ConfigError) as refused:
        org_service.update_settings(UnitOfWork(engine), "acme",
                                    {"compliance": {"packs": ["maryland", "maryland"]}})

    assert patched["compliance"] == {"packs": ["maryland"]}
    assert org_service.get_settings(UnitOfWork(engine), "acme")["compliance"] == \
        {"packs": ["maryland"]}
    assert refused.value.problems == [("compliance.packs[1]", "'maryland' is listed twice")]


def test_a_project_may_not_loosen_the_organizations_hours_through_the_api(
    engine: Engine, apply_org: Callable[[dict[str, Any]], None]
) -> None:
    """A project written alone is checked against the organization's settings."""
    from callsign.domain.document import ProjectDoc

    apply_org(document())
    wider = ProjectDoc(id="late", compliance={"hours": {"mon": ["07:00-22:00"]}})

    with pytest.raises(ConfigError) as refused:
        org_service.put(UnitOfWork(engine), "acme", wider)

    assert refused.value.problems[0][0] == "compliance.hours.mon"
