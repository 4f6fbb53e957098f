"""The decision explorer's dry run (services/preview.py) and the Compliance page's view
(services/compliance_views.py) on the real store: a refusal comes back as the answer with
its rule, pack, source, local time and next_allowed_at; a typed address or time changes
the verdict; nothing is recorded, and the page shows every rule with its source."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from callsign.domain.errors import InvalidInput, NotFound
from callsign.domain.model import OutboundRequest
from callsign.services import compliance_views, dnc
from callsign.services.preview import Preview, contact_address, preview_call
from callsign.store.tables import calls
from callsign.store.uow import UnitOfWork
from tests.integration.test_compliance_decision import (
    BALTIMORE,
    MIAMI,
    MONDAY_0730_MIAMI,
    MONDAY_0800_MIAMI,
    organization,
)

Dial = Callable[..., Any]


def preview(engine: Engine, to: str, at: datetime, **options: Any) -> Preview:
    contact = options.pop("contact", None)
    request = OutboundRequest(org="acme", user="alice", to=to, **options)
    return preview_call(
        UnitOfWork(engine),
        request,
        now=MONDAY_0800_MIAMI,
        rng=random.Random(0),
        at=at,
        contact=contact,
    )


def recorded(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(calls)).scalar() or 0)


def test_a_refusal_is_the_answer_with_rule_source_local_time_and_when(
    apply_org: Callable[[dict[str, Any]], None], engine: Engine
) -> None:
    apply_org(organization())

    found = preview(engine, "(305) 555-0123", MONDAY_0730_MIAMI)

    assert found.decision is None
    assert found.refusal is not None
    assert found.refusal.compliance
    assert found.to == MIAMI
    details = found.refusal.details
    assert (details["rule"], details["pack"]) == ("federal.hours", "federal")
    assert "64.1200" in details["source"]["citation"]
    assert details["local_times"] == ["2026-12-07T07:30:00-05:00"]
    assert found.refusal.next_allowed_at == MONDAY_0800_MIAMI
    assert [s.step for s in found.trace][:1] == ["compliance.zones"]
    assert found.trace[-1].step == "compliance"
    assert found.place is not None
    assert found.place.zones == ("America/New_York",)
    assert recorded(engine) == 0


def test_an_allowed_call_shows_the_caller_id_and_the_whole_trace(
    apply_org: Callable[[dict[str, Any]], None], engine: Engine, dial: Dial
) -> None:
    """The same decision and trace as a dry run of /v1/calls, and nothing recorded."""
    apply_org(organization())

    found = preview(engine, MIAMI, MONDAY_0800_MIAMI)
    dry = dial(user="alice", to=MIAMI, at=MONDAY_0800_MIAMI, dry_run=True)

    assert found.refusal is None
    assert found.decision is not None
    assert (found.decision.caller_id, found.decision.rule) == (dry.caller_id, dry.rule)
    assert found.trace == dry.trace
    assert any(s.step == "florida.hours" for s in found.trace)
    assert recorded(engine) == 0


def test_a_typed_address_is_judged_instead_of_the_contacts(
    apply_org: Callable[[dict[str, Any]], None], engine: Engine
) -> None:
    """09:00 in Miami is allowed; for a callee living in Los Angeles it is 06:00 there, so
    the call waits for 08:00 Los Angeles time (16:00 UTC)."""
    apply_org(organization())
    nine = MONDAY_0800_MIAMI + timedelta(hours=1)

    plain = preview(engine, MIAMI, nine)
    typed = preview(engine, MIAMI, nine, contact=contact_address("America/Los_Angeles"))

    assert plain.decision is not None
    assert typed.refusal is not None
    assert typed.contact_from == "typed"
    assert typed.refusal.next_allowed_at == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    assert typed.place is not None
    assert set(typed.place.zones) == {"America/Los_Angeles", "America/New_York"}


def test_a_listed_number_is_refused_for_good(
    apply_org: Callable[[dict[str, Any]], None], engine: Engine
) -> None:
    apply_org(organization(compliance=None))
    dnc.add(UnitOfWork(engine), "acme", BALTIMORE, source="callee asked", now=MONDAY_0800_MIAMI)

    found = preview(engine, BALTIMORE, MONDAY_0800_MIAMI + timedelta(hours=3), consented=True)

    assert found.refusal is not None
    assert found.refusal.details["rule"] == "do_not_call"
    assert found.refusal.next_allowed_at is None


def test_a_request_that_is_no_call_is_an_error_naming_the_field(
    apply_org: Callable[[dict[str, Any]], None], engine: Engine
) -> None:
    apply_org(organization())

    with pytest.raises(InvalidInput) as bad_number:
        preview(engine, "12", MONDAY_0800_MIAMI)
    with pytest.raises(NotFound) as no_project:
        preview(engine, MIAMI, MONDAY_0800_MIAMI, project="nope")

    assert bad_number.value.field == "to"
    assert no_project.value.field == "project"


@pytest.mark.parametrize(
    ("typed", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "contact.timezone"),
        ({"state": "Atlantis"}, "contact.state"),
        ({"postal_code": "00000"}, "contact.postal_code"),
    ],
)
def test_a_typed_address_that_is_none_names_its_field(typed: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as bad:
        contact_address(**typed)
    assert bad.value.field == field


def test_a_typed_state_reads_as_its_code() -> None:
    found = contact_address(state="Florida")
    assert found is not None
    assert found.state == "FL"
    assert contact_address() is None


def test_the_page_shows_every_rule_with_its_source_and_the_lists_size(
    apply_org: Callable[[dict[str, Any]], None], engine: Engine
) -> None:
    org = organization()
    org["compliance"] = {
        "packs": ["federal", "maryland"],
        "hours": {"mon-fri": ["08:00-21:00"], "sat": ["09:00-17:00"]},
        "holidays": {"country": "US", "subdivision": "callee"},
        "overrides": {"maryland.frequency": {"calls": 2}},
    }
    apply_org(org)
    dnc.add(UnitOfWork(engine), "acme", BALTIMORE, source="callee asked", now=MONDAY_0800_MIAMI)

    view = compliance_views.page(UnitOfWork(engine), "acme")

    own = {r.id: r for r in view.organization.rules}
    assert (
        own["organization.hours"].what
        == "calls only Mon–Fri 08:00–21:00, Sat 09:00–17:00, Sun closed"
    )
    assert own["organization.holidays"].kind == "holidays"
    packs = {p.id: p for p in view.organization.packs}
    assert list(packs) == ["federal", "maryland"]
    maryland = {r.id: r for r in packs["maryland"].rules}
    assert maryland["maryland.frequency"].overridden
    assert "at most 2 calls" in maryland["maryland.frequency"].what
    assert "14-4503" in maryland["maryland.frequency"].citation
    assert maryland["maryland.frequency"].url.startswith("https://")
    assert not maryland["maryland.hours"].overridden
    assert "MD" in packs["maryland"].applies
    project = {p.owner: p for p in view.projects}["debts"]
    assert [r.what for r in project.rules] == [
        "at most 1 calls in 24 hours per person within the project"
    ]
    assert view.listed == 1
    assert view.entries[0]["number"] == BALTIMORE
