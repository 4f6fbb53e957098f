"""Area codes described by the geocoder only on longer prefixes (203, 310, 713, 718,
905) work everywhere: purchase, mapping, org files, and the same-region fallback; a
toll-free number serves no area code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from callsign.domain.errors import ConfigError, InvalidInput
from callsign.domain.model import Decision
from callsign.providers.base import ProviderSettings
from callsign.services import numbers as numbers_service
from callsign.services import purchasing
from callsign.store.tables import number_area_codes, numbers
from callsign.store.uow import UnitOfWork
from tests.fakes.twilio import fake_twilio

ApplyOrg = Callable[[dict[str, Any] | str], None]
Dial = Callable[..., Decision]

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
PRINCIPAL = "+15705550100"  # Scranton, PA
FIVE = [("203", "Connecticut"), ("310", "California"), ("713", "Texas"), ("718", "New York"),
        ("905", "Ontario")]
TOLL_FREE = "+18005550100"


def org(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "org": "wide", "principal_number": PRINCIPAL, "local_presence": True,
        "local_presence_fallback": "region",
        "numbers": [{"number": PRINCIPAL}],
        "users": [{"id": "ann"}],
    }
    document.update(changes)
    return document


def served(engine: Engine, e164: str) -> list[tuple[str, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(number_area_codes.c.area_code, number_area_codes.c.mapped)
            .join(numbers, numbers.c.id == number_area_codes.c.number_id)
            .where(numbers.c.e164 == e164).order_by(number_area_codes.c.area_code)).all()
    return [(r.area_code, r.mapped) for r in rows]


@pytest.mark.parametrize(("npa", "region"), FIVE)
def test_a_sandbox_purchase_in_the_area_code_stores_numbers_with_their_region(
    engine: Engine, apply_org: ApplyOrg, npa: str, region: str
) -> None:
    """Buying in 203/310/713/718/905 is no longer refused; the numbers have a region."""
    apply_org(org(default_country="CA" if npa == "905" else "US"))
    result = purchasing.purchase(lambda: UnitOfWork(engine), "wide", npa, 1, "sandbox",
                                 now=NOW, settings=ProviderSettings())
    assert result.warning is None
    assert len(result.bought) == 1
    view = numbers_service.get_number(UnitOfWork(engine), "wide", result.bought[0], now=NOW)
    assert (view.area_codes, view.region) == ((npa,), region)


@pytest.mark.parametrize("npa", [npa for npa, _ in FIVE])
def test_a_number_maps_to_the_area_code_by_hand_and_in_an_org_file(
    engine: Engine, apply_org: ApplyOrg, npa: str
) -> None:
    """Mapping the NPA works through the inventory and through `callsign apply`."""
    apply_org(org(numbers=[{"number": PRINCIPAL, "area_codes": [npa]}]))
    assert served(engine, PRINCIPAL) == sorted([("570", False), (npa, True)])
    numbers_service.map_area_codes(UnitOfWork(engine), "wide", PRINCIPAL, (npa,), unmap=True)
    numbers_service.map_area_codes(UnitOfWork(engine), "wide", PRINCIPAL, (npa,))
    assert served(engine, PRINCIPAL) == sorted([("570", False), (npa, True)])


@pytest.mark.parametrize(("npa", "region"), FIVE)
@pytest.mark.usefixtures("engine")
def test_the_same_region_fallback_finds_a_number_in_the_area_codes_state(
    apply_org: ApplyOrg, dial: Dial, npa: str, region: str
) -> None:
    """A callee in another NPA of the same state or province gets a number of that state."""
    local = f"+1{npa}5550111"
    callee = {"203": "+18605559876", "310": "+12135559876", "713": "+12145559876",
              "718": "+12125559876", "905": "+14165559876"}[npa]
    apply_org(org(numbers=[{"number": PRINCIPAL}, {"number": local}]))
    decision = dial(org="wide", user="ann", to=callee, at=NOW)
    assert (decision.rule, decision.caller_id) == ("local_presence_region", local)
    assert f"in {region}" in decision.trace[-1].detail


def test_a_toll_free_number_serves_no_area_code_and_800_cannot_be_mapped(
    engine: Engine, apply_org: ApplyOrg, dial: Dial
) -> None:
    """A toll-free number is nobody's local number; 800 is no area code to serve."""
    apply_org(org())
    numbers_service.add_number(UnitOfWork(engine), "wide", TOLL_FREE)
    assert served(engine, TOLL_FREE) == []
    view = numbers_service.get_number(UnitOfWork(engine), "wide", TOLL_FREE, now=NOW)
    assert (view.area_codes, view.region) == ((), None)
    for code in ("800", "888"):
        with pytest.raises(InvalidInput, match="not a geographic area code"):
            numbers_service.map_area_codes(UnitOfWork(engine), "wide", PRINCIPAL, (code,))
    with pytest.raises(ConfigError) as caught:
        apply_org(org(numbers=[{"number": PRINCIPAL, "area_codes": ["312", "877"]}]))
    assert caught.value.problems == [
        ("numbers[0].area_codes[1]", "'877' is not a geographic area code of US")]
    # A toll-free callee is matched by no number's area code.
    decision = dial(org="wide", user="ann", to="+18005559876", at=NOW)
    assert decision.rule == "principal"
    assert "has no area code" in decision.trace[1].detail


def test_an_org_file_with_a_toll_free_number_serves_nothing_local(
    engine: Engine, apply_org: ApplyOrg
) -> None:
    """Through `callsign apply` too, a toll-free number's own NPA is not recorded."""
    apply_org(org(numbers=[{"number": PRINCIPAL}, {"number": "+18885550123"}]))
    assert served(engine, "+18885550123") == []


def test_twilio_searches_a_canadian_area_code_in_canada(
    engine: Engine, apply_org: ApplyOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A US organization buying in 905 asks Twilio for Canadian numbers, by province."""
    account, token, env = "AC" + "9e" * 16, "fake-token", "CALLSIGN_TWILIO_TOKEN_WIDE"
    monkeypatch.setenv(env, token)
    apply_org(org(twilio={"account_sid": account}))
    with fake_twilio({account: token}) as fake:
        fake.offer("+19055550123", region="ON")
        result = purchasing.purchase(lambda: UnitOfWork(engine), "wide", "905", 1, "twilio",
                                     now=NOW, settings=ProviderSettings(fake.url))
        assert result.bought == ["+19055550123"]
        assert "/AvailablePhoneNumbers/CA/" in fake.searches()[0].path
