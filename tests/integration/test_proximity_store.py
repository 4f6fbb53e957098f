"""SPEC 3.3, proximity, through the service on the real stores (SQLite and PostgreSQL):
the settings round-trip through the org file, the nearby numbers are read for the
decision, and a local-only project refuses or presents the principal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from callsign.domain.errors import ConfigError, Refused
from callsign.domain.model import Decision
from callsign.services import organization
from callsign.store.uow import UnitOfWork

ApplyOrg = Callable[[dict[str, Any] | str], None]
Dial = Callable[..., Decision]

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
PRINCIPAL = "+12125550100"
LOOP_555 = "+13125550101"
CITY_773 = "+17735550150"
CITY_872 = "+18725550160"
DUPAGE = "+16305550142"
SF = "+14155550105"
CALLEE = "+13125550188"
OTHER_LOOP = "+13124440188"


def org(numbers: list[str], **settings: Any) -> dict[str, Any]:
    return {
        "org": "acme",
        "principal_number": PRINCIPAL,
        "local_presence": True,
        "numbers": [{"number": n} for n in [PRINCIPAL, *numbers]],
        "users": [{"id": "alice"}],
        **settings,
    }


@pytest.mark.usefixtures("engine")
def test_the_chain_reads_and_presents_nearby_numbers(apply_org: ApplyOrg, dial: Dial) -> None:
    """Exchange, overlay, adjacent and radius each decide when the step before finds none."""
    chain = {"exchange": True, "overlay": True, "adjacent": True, "radius_miles": 50}
    apply_org(org([LOOP_555, CITY_773, CITY_872, DUPAGE, SF], proximity=chain))
    assert dial(user="alice", to=CALLEE, at=NOW, dry_run=True).rule == "local_exchange"
    # another exchange of 312: the area code decides, as ever
    assert dial(user="alice", to=OTHER_LOOP, at=NOW, dry_run=True).rule == "local_presence"

    apply_org(org([CITY_773, CITY_872, DUPAGE, SF], proximity=chain))
    decision = dial(user="alice", to=CALLEE, at=NOW)
    assert (decision.rule, decision.caller_id) == ("local_overlay", CITY_872)

    apply_org(org([CITY_773, DUPAGE, SF], proximity=chain))
    decision = dial(user="alice", to=CALLEE, at=NOW)
    assert (decision.rule, decision.caller_id) == ("local_adjacent", CITY_773)

    apply_org(org([DUPAGE, SF], proximity=chain))
    decision = dial(user="alice", to=CALLEE, at=NOW)
    assert (decision.rule, decision.caller_id) == ("local_radius", DUPAGE)
    steps = [(s.step, s.result) for s in decision.trace]
    assert steps[-4:] == [
        ("local_presence", "passed"),
        ("local_overlay", "passed"),
        ("local_adjacent", "passed"),
        ("local_radius", "chosen"),
    ]


@pytest.mark.usefixtures("engine")
def test_without_proximity_settings_the_decision_is_todays(apply_org: ApplyOrg, dial: Dial) -> None:
    """An org file that says nothing of proximity: the nearby numbers are never presented."""
    apply_org(org([CITY_773, CITY_872, DUPAGE]))
    decision = dial(user="alice", to=CALLEE, at=NOW)
    assert (decision.rule, decision.caller_id) == ("principal", PRINCIPAL)


@pytest.mark.usefixtures("engine")
def test_a_local_only_project_refuses_or_presents_the_principal(
    apply_org: ApplyOrg, dial: Dial
) -> None:
    """Per project: refuse with the reason, or present the principal, never SF."""
    apply_org(
        org(
            [SF, DUPAGE],
            projects=[
                {"id": "strict", "numbers": [SF], "local_only": "refuse"},
                {"id": "soft", "numbers": [SF], "local_only": "principal"},
                {
                    "id": "near",
                    "numbers": [SF, DUPAGE],
                    "local_only": "refuse",
                    "proximity": {"radius_miles": 40},
                },
            ],
        )
    )
    with pytest.raises(Refused, match="local only"):
        dial(user="alice", to=CALLEE, at=NOW, project="strict")
    soft = dial(user="alice", to=CALLEE, at=NOW, project="soft")
    assert (soft.rule, soft.caller_id) == ("principal", PRINCIPAL)
    near = dial(user="alice", to=CALLEE, at=NOW, project="near")
    assert near.caller_id == DUPAGE


def test_the_settings_round_trip_through_export(
    apply_org: ApplyOrg, export_org: Callable[[str], dict[str, Any]]
) -> None:
    """What is applied is exported back, for the org and for each project."""
    apply_org(
        org(
            [SF],
            proximity={"overlay": True, "radius_miles": 25},
            projects=[
                {
                    "id": "near",
                    "numbers": [SF],
                    "local_only": "principal",
                    "proximity": {"adjacent": True},
                }
            ],
        )
    )
    exported = export_org("acme")
    assert exported["proximity"] == {"overlay": True, "radius_miles": 25}  # defaults unsaid
    (project,) = exported["projects"]
    assert project["local_only"] == "principal"
    assert project["proximity"] == {"adjacent": True}


def test_the_rest_config_changes_proximity_and_names_a_bad_field_by_its_path(
    engine: Engine, apply_org: ApplyOrg
) -> None:
    """PATCH /v1/org's service: a change is kept; a bad one names its full path and
    changes nothing."""
    apply_org(org([SF]))
    changed = organization.update_settings(UnitOfWork(engine), "acme",
                                           {"proximity": {"adjacent": True}})
    assert changed["proximity"]["adjacent"] is True
    with pytest.raises(ConfigError) as refused:
        organization.update_settings(UnitOfWork(engine), "acme",
                                     {"proximity": {"radius_miles": -3}})
    assert refused.value.problems[0][0] == "proximity.radius_miles"
    kept = organization.get_settings(UnitOfWork(engine), "acme")["proximity"]
    assert kept == {"exchange": False, "overlay": False, "adjacent": True, "radius_miles": None}
