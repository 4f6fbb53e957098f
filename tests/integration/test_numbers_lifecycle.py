"""SPEC 5: numbers bought by area code, imported, mapped, paused, released; coverage.

Through the service layer and the command line, on this test's own store (SQLite, or
PostgreSQL with ``--store postgresql``). Twilio is a local server that answers like its
REST API (`tests/fakes/twilio.py`); callsign reaches it through its own setting for
Twilio's base URL, as it would reach api.twilio.com.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import Engine, select

from callsign.domain.errors import InvalidInput, NotFound, ProviderError
from callsign.domain.model import Decision, Route
from callsign.providers.base import ProviderSettings
from callsign.providers.sandbox import SandboxProvider
from callsign.services import numbers, purchasing
from callsign.services.purchasing import PurchaseResult
from callsign.store.tables import numbers as numbers_table
from callsign.store.tables import purchases
from callsign.store.uow import UnitOfWork
from tests.fakes.twilio import (
    Failure,
    FakeTwilio,
    fake_twilio,
)

Invoke = Callable[..., Result]
ApplyOrg = Callable[[dict[str, Any] | str], None]
Dial = Callable[..., Decision]
Ring = Callable[..., Route]
Snapshot = Callable[[], dict[str, list[tuple[Any, ...]]]]

ORG = "dunder"
PRINCIPAL = "+15705550100"  # Scranton, PA
PAM_WORK = "+15705559001"
ACCOUNT_SID = "AC" + "5c" * 16
AUTH_TOKEN = "fake-twilio-auth-token"
TOKEN_ENV = "CALLSIGN_TWILIO_TOKEN_DUNDER"  # the variable the server binds to dunder
SANDBOX_LABEL = SandboxProvider.label
NOW = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)  # 14:00 in Scranton

# Callees, none of them a number anyone holds.
SPRINGFIELD_CALLEE = "+12175559876"  # 217: Illinois
CARBONDALE_CALLEE = "+16185559876"  # 618: Illinois
PEORIA_CALLEE = "+13095559876"  # 309: Illinois
CHICAGO_CALLEE = "+13125559876"  # 312: Illinois


def dunder_document(**changes: Any) -> dict[str, Any]:
    """An organization with local presence, one agent without a caller ID, and Twilio."""
    document: dict[str, Any] = {
        "org": ORG,
        "default_country": "US",
        "timezone": "America/New_York",
        "principal_number": PRINCIPAL,
        "local_presence": True,
        "numbers": [{"number": PRINCIPAL, "label": "Scranton HQ", "group": "main"}],
        "users": [{"id": "pam", "name": "Pam Beesly", "work_phone": PAM_WORK}],
        "twilio": {"account_sid": ACCOUNT_SID},
    }
    document.update(changes)
    return document


VANCE_DOCUMENT: dict[str, Any] = {
    "org": "vance",
    "default_country": "US",
    "principal_number": "+15705550200",
    "numbers": [{"number": "+15705550200"}],
}


@pytest.fixture(autouse=True)
def _no_provider_settings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test says itself where Twilio is and which sandbox area codes are empty."""
    for name in ("CALLSIGN_TWILIO_API_BASE", "CALLSIGN_PUBLIC_URL",
                 "CALLSIGN_SANDBOX_EMPTY_AREA_CODES", TOKEN_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def dunder(apply_org: ApplyOrg) -> None:
    """The organization applied, its Twilio account configured."""
    apply_org(dunder_document())


@pytest.fixture
def twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwilio]:
    """Twilio's number API for dunder's account, its auth token in the environment."""
    monkeypatch.setenv(TOKEN_ENV, AUTH_TOKEN)
    with fake_twilio({ACCOUNT_SID: AUTH_TOKEN}) as fake:
        yield fake


@pytest.fixture
def uow(engine: Engine) -> Callable[[], UnitOfWork]:
    """A new unit of work on this test's store each time it is called."""
    return lambda: UnitOfWork(engine)


def buy(uow: Callable[[], UnitOfWork], area_code: str, quantity: int = 1,
        provider: str = "sandbox", *, twilio: FakeTwilio | None = None,
        public_url: str | None = None,
        sandbox_empty: frozenset[str] = frozenset()) -> PurchaseResult:
    settings = ProviderSettings(twilio_api_base=twilio.url if twilio else None,
                                public_url=public_url, sandbox_empty_area_codes=sandbox_empty)
    return purchasing.purchase(uow, ORG, area_code, quantity, provider, now=NOW,
                               settings=settings)


def held(engine: Engine, org: str = ORG, **filters: Any) -> list[numbers.NumberView]:
    return numbers.list_numbers(UnitOfWork(engine), org, now=NOW, **filters)


def numbers_of(engine: Engine, org: str = ORG, **filters: Any) -> list[str]:
    return [v.number for v in held(engine, org, **filters)]


def intents(engine: Engine) -> list[tuple[str, str, str, str]]:
    """The purchase intents: (number, area code, provider, state), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(purchases).order_by(purchases.c.id)).all()
    return [(r.e164, r.area_code, r.provider, r.state) for r in rows]


def twilio_env(fake: FakeTwilio) -> dict[str, str]:
    """What a shell running the CLI against the fake Twilio would export."""
    return {"CALLSIGN_TWILIO_API_BASE": fake.url, TOKEN_ENV: AUTH_TOKEN}


def ok(result: Result) -> Result:
    """The command succeeded and wrote nothing on stderr."""
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr or result.stdout
    return result


def refusal(result: Result, exit_code: int) -> str:
    """The one line a refused command writes on stderr, after Click's "Error: "."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    return lines[0].removeprefix("Error: ")


# -- buying on the sandbox ------------------------------------------------------------

@pytest.mark.usefixtures("dunder")
def test_sandbox_numbers_bought_are_stored_active_and_serve_their_area_code(
    engine: Engine, uow: Callable[[], UnitOfWork]
) -> None:
    """Three sandbox numbers in 217 are bought, active, labelled, and serve 217."""
    result = buy(uow, "217", 3)

    bought = ["+12175550100", "+12175550101", "+12175550102"]
    assert result.as_dict() == {"provider": "sandbox", "label": SANDBOX_LABEL,
                                "area_code": "217", "requested": 3, "bought": bought,
                                "warning": None, "error": None}
    assert [(v.number, v.status, v.area_codes, v.provider, v.label, v.region)
            for v in held(engine, area_code="217")] == [
        (n, "active", ("217",), "sandbox", "sandbox 217", "Illinois") for n in bought]
    assert intents(engine) == [(n, "217", "sandbox", "bought") for n in bought]


@pytest.mark.usefixtures("dunder")
def test_a_callee_in_a_bought_area_code_sees_a_bought_number_by_local_presence(
    uow: Callable[[], UnitOfWork], dial: Dial
) -> None:
    """Before the purchase a 217 callee sees the principal number; after it, a 217 one."""
    before = dial(org=ORG, user="pam", to=SPRINGFIELD_CALLEE, at=NOW)
    bought = buy(uow, "217", 2).bought
    after = dial(org=ORG, user="pam", to=SPRINGFIELD_CALLEE, at=NOW + timedelta(minutes=1))

    assert (before.caller_id, before.rule) == (PRINCIPAL, "principal")
    assert after.rule == "local_presence"
    assert after.caller_id in bought


def test_the_sandbox_never_sells_a_number_another_organization_holds(
    apply_org: ApplyOrg, engine: Engine, uow: Callable[[], UnitOfWork]
) -> None:
    """vance holds 217-555-0100, so dunder gets 0101."""
    apply_org(dunder_document())
    apply_org({**VANCE_DOCUMENT, "numbers": [{"number": "+15705550200"},
                                             {"number": "+12175550100"}]})

    assert buy(uow, "217").bought == ["+12175550101"]
    assert numbers_of(engine, area_code="217") == ["+12175550101"]
    assert numbers_of(engine, "vance", area_code="217") == ["+12175550100"]


@pytest.mark.usefixtures("dunder")
def test_no_numbers_available_is_a_warning_naming_the_area_code_and_nothing_is_stored(
    uow: Callable[[], UnitOfWork], snapshot: Snapshot
) -> None:
    """An empty area code: a warning that names it; no number, no purchase row."""
    before = snapshot()

    result = buy(uow, "217", 2, sandbox_empty=frozenset({"907", "217"}))

    assert result.bought == []
    assert result.warning == "no numbers available in area code 217 from sandbox"
    assert result.error is None
    assert snapshot() == before


@pytest.mark.usefixtures("dunder")
def test_cli_buy_prints_the_sandbox_label_and_each_number_bought(cli: Invoke) -> None:
    """`numbers buy` says it is the sandbox, then one line per number; --json the result."""
    text = ok(cli("numbers", "buy", "--org", ORG, "--area-code", "618", "--quantity", "2"))
    as_json = ok(cli("numbers", "buy", "--org", ORG, "--area-code", "618", "--json"))

    assert text.stdout.splitlines() == [
        f"[{SANDBOX_LABEL}]",
        "bought +16185550100 (sandbox, serves 618)",
        "bought +16185550101 (sandbox, serves 618)",
    ]
    assert json.loads(as_json.stdout) == {
        "provider": "sandbox", "label": SANDBOX_LABEL, "area_code": "618", "requested": 1,
        "bought": ["+16185550102"], "warning": None, "error": None}


@pytest.mark.usefixtures("dunder")
def test_cli_buy_with_none_available_warns_on_stderr_and_stores_nothing(
    cli: Invoke, snapshot: Snapshot
) -> None:
    """The warning names the area code; the command still succeeds; nothing is stored."""
    before = snapshot()

    result = cli("numbers", "buy", "--org", ORG, "--area-code", "217",
                 env={"CALLSIGN_SANDBOX_EMPTY_AREA_CODES": "217"})

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"[{SANDBOX_LABEL}]\n"
    assert result.stderr == "warning: no numbers available in area code 217 from sandbox\n"
    assert snapshot() == before


# -- buying from Twilio --------------------------------------------------------------------

CHI = ["+13125550101", "+13125550102", "+13125550103"]


@pytest.mark.usefixtures("dunder")
def test_a_twilio_purchase_failing_half_way_keeps_exactly_the_numbers_bought(
    engine: Engine, uow: Callable[[], UnitOfWork], twilio: FakeTwilio
) -> None:
    """3 asked, the 2nd refused: the 1st is stored, the 3rd never asked, intents say so."""
    twilio.offer(*CHI, region="IL", locality="Chicago")
    twilio.fail_purchase_of(CHI[1])

    result = buy(uow, "312", 3, "twilio", twilio=twilio)

    assert result.bought == [CHI[0]]
    assert result.error == (f"Twilio refused to buy {CHI[1]}: Unable to create record: "
                            "Phone number is not available (code 21422)")
    assert [r.param("PhoneNumber") for r in twilio.purchases()] == CHI[:2]
    assert twilio.held() == [CHI[0]]
    [number] = held(engine, area_code="312")
    assert (number.number, number.status, number.provider) == (CHI[0], "active", "twilio")
    assert intents(engine) == [(CHI[0], "312", "twilio", "bought"),
                               (CHI[1], "312", "twilio", "failed")]
    with engine.connect() as conn:
        details = conn.execute(select(purchases.c.detail).order_by(purchases.c.id)).scalars()
        assert [("21422" in d) for d in details] == [False, True]


@pytest.mark.usefixtures("dunder")
def test_cli_reports_a_half_way_failure_in_one_line_naming_what_was_bought(
    cli: Invoke, engine: Engine, twilio: FakeTwilio
) -> None:
    """Exit non-zero; stdout lists the number bought; stderr says why and what was bought."""
    twilio.offer(*CHI, region="IL", locality="Chicago")
    twilio.fail_purchase_of(CHI[1])

    result = cli("numbers", "buy", "--org", ORG, "--area-code", "312", "--quantity", "3",
                 "--provider", "twilio", env=twilio_env(twilio))

    line = refusal(result, 6)
    assert line.startswith(f"provider: Twilio refused to buy {CHI[1]}: ")
    assert "(code 21422)" in line
    assert line.endswith(f"; bought before the failure: {CHI[0]}")
    assert result.stdout == f"bought {CHI[0]} (twilio, serves 312)\n"
    assert numbers_of(engine, area_code="312") == [CHI[0]]


@pytest.mark.usefixtures("dunder")
def test_twilio_search_falls_back_to_the_region_of_the_area_code(
    engine: Engine, uow: Callable[[], UnitOfWork], twilio: FakeTwilio, dial: Dial
) -> None:
    """No 217 numbers: Twilio is asked for Illinois (IL); what it sells serves 217 too."""
    twilio.offer("+14155550101", region="CA", locality="San Francisco")
    twilio.offer("+16305550142", "+13125550101", region="IL")

    result = buy(uow, "217", 2, "twilio", twilio=twilio)

    assert [(r.param("AreaCode"), r.param("InRegion"), r.param("PageSize"))
            for r in twilio.searches()] == [("217", None, "2"), (None, "IL", "2")]
    assert result.bought == ["+16305550142", "+13125550101"]
    assert result.warning is None
    assert {v.number: v.area_codes for v in held(engine, area_code="217")} == {
        "+13125550101": ("312", "217"), "+16305550142": ("630", "217")}
    decision = dial(org=ORG, user="pam", to=SPRINGFIELD_CALLEE, at=NOW)
    assert decision.rule == "local_presence"
    assert decision.caller_id in result.bought


@pytest.mark.usefixtures("dunder")
def test_twilio_finding_nothing_anywhere_is_a_warning_and_buys_nothing(
    uow: Callable[[], UnitOfWork], twilio: FakeTwilio, snapshot: Snapshot
) -> None:
    """Area code and region both empty: the warning names 217; Twilio sold nothing."""
    twilio.offer("+14155550101", region="CA")
    before = snapshot()

    result = buy(uow, "217", 1, "twilio", twilio=twilio)

    assert result.warning == "no numbers available in area code 217 from twilio"
    assert result.bought == []
    assert twilio.purchases() == []
    assert snapshot() == before


@pytest.mark.usefixtures("dunder")
def test_twilio_numbers_ring_callsign_when_it_has_a_public_url(
    uow: Callable[[], UnitOfWork], twilio: FakeTwilio
) -> None:
    """With a public URL the voice webhook is /twilio/ORG/inbound; without, none is set."""
    twilio.offer(*CHI[:2], region="IL")

    buy(uow, "312", 1, "twilio", twilio=twilio, public_url="https://callsign.example.com/")
    buy(uow, "312", 1, "twilio", twilio=twilio)

    first, second = twilio.purchases()
    assert (first.param("VoiceUrl"), first.param("VoiceMethod")) == (
        "https://callsign.example.com/twilio/dunder/inbound", "POST")
    assert twilio.resource_of(CHI[0])["voice_url"] == \
        "https://callsign.example.com/twilio/dunder/inbound"
    assert (second.param("PhoneNumber"), second.param("VoiceUrl")) == (CHI[1], None)
    assert {r.username for r in twilio.requests} == {ACCOUNT_SID}


@pytest.mark.usefixtures("dunder")
def test_a_wrong_twilio_token_buys_nothing_and_says_twilio_refused(
    monkeypatch: pytest.MonkeyPatch, uow: Callable[[], UnitOfWork],
    twilio: FakeTwilio, snapshot: Snapshot
) -> None:
    """Twilio answers 401 to a wrong token: a provider error, nothing stored."""
    twilio.offer(CHI[0], region="IL")
    monkeypatch.setenv(TOKEN_ENV, "not-the-token")
    before = snapshot()

    with pytest.raises(ProviderError) as refused:
        buy(uow, "312", 1, "twilio", twilio=twilio)

    assert "401" in refused.value.message
    assert [r.status for r in twilio.requests] == [401]
    assert snapshot() == before


# -- importing an account's numbers --------------------------------------------------------

def account_numbers() -> list[str]:
    """250 numbers in three Illinois area codes, as an account bought them over time."""
    return [f"+1{code}55501{i:02d}" for code in ("312", "630", "773") for i in range(84)][:250]


def test_import_follows_twilios_pages_and_skips_numbers_already_held(
    apply_org: ApplyOrg, engine: Engine, uow: Callable[[], UnitOfWork],
    twilio: FakeTwilio
) -> None:
    """250 numbers on 3 pages of 100: 248 added, 1 already dunder's, 1 vance's."""
    owned = account_numbers()
    mine, theirs = owned[10], owned[200]
    apply_org(dunder_document(numbers=[{"number": PRINCIPAL}, {"number": mine}]))
    apply_org({**VANCE_DOCUMENT, "numbers": [{"number": "+15705550200"}, {"number": theirs}]})
    sids = dict(zip(owned, twilio.own(ACCOUNT_SID, *owned), strict=True))

    result = purchasing.import_owned(uow, ORG, "twilio",
                                     settings=ProviderSettings(twilio_api_base=twilio.url))

    assert [(r.param("Page"), r.param("PageSize")) for r in twilio.listings()] == [
        (None, "100"), ("1", "100"), ("2", "100")]
    assert result.added == [n for n in owned if n not in (mine, theirs)]
    assert (result.already, result.elsewhere) == ([mine], [theirs])
    views = {v.number: v for v in held(engine)}
    assert set(views) == {PRINCIPAL, *owned} - {theirs}
    assert {(v.provider, v.status) for n, v in views.items()
            if n in result.added} == {("twilio", "active")}
    assert views["+16305550142"].area_codes == ("630",)
    assert numbers_of(engine, "vance") == ["+15705550200", theirs]
    with engine.connect() as conn:
        stored_sids = dict(conn.execute(select(numbers_table.c.e164,
                                               numbers_table.c.provider_sid)
                                        .where(numbers_table.c.provider == "twilio")).all())
    assert stored_sids == {n: sids[n] for n in result.added}


def test_cli_import_reports_added_already_held_and_held_elsewhere(
    apply_org: ApplyOrg, cli: Invoke, twilio: FakeTwilio
) -> None:
    """A second import adds nothing: everything is already here (or vance's)."""
    apply_org(dunder_document())
    apply_org({**VANCE_DOCUMENT, "numbers": [{"number": "+15705550200"},
                                             {"number": "+13125550199"}]})
    twilio.own(ACCOUNT_SID, "+13125550101", "+13125550199", "+16305550142")

    first = ok(cli("numbers", "import", "--org", ORG, env=twilio_env(twilio)))
    again = ok(cli("numbers", "import", "--org", ORG, env=twilio_env(twilio)))

    assert first.stdout.splitlines() == [
        "added 2, already here 0, held by another organization 1",
        "added +13125550101", "added +16305550142"]
    assert again.stdout == "added 0, already here 2, held by another organization 1\n"


# -- mapping area codes ----------------------------------------------------------------

@pytest.mark.usefixtures("dunder")
def test_one_number_serves_many_mapped_area_codes_until_unmapped(
    cli: Invoke, engine: Engine, uow: Callable[[], UnitOfWork], dial: Dial
) -> None:
    """Mapped to 618 and 309 it is presented there; unmapped from 618 it no longer is."""
    [number] = buy(uow, "217").bought

    mapped = ok(cli("numbers", "map", "--org", ORG, number, "618", "309"))
    in_618 = dial(org=ORG, user="pam", to=CARBONDALE_CALLEE, at=NOW)
    in_309 = dial(org=ORG, user="pam", to=PEORIA_CALLEE, at=NOW)
    unmapped = ok(cli("numbers", "unmap", "--org", ORG, number, "618"))
    after = dial(org=ORG, user="pam", to=CARBONDALE_CALLEE, at=NOW + timedelta(minutes=1))

    assert mapped.stdout == f"{number} serves 217, 309, 618\n"
    assert (in_618.caller_id, in_618.rule) == (number, "local_presence")
    assert (in_309.caller_id, in_309.rule) == (number, "local_presence")
    assert unmapped.stdout == f"{number} serves 217, 309\n"
    assert (after.caller_id, after.rule) == (PRINCIPAL, "principal")
    assert numbers_of(engine, area_code="309") == [number]
    assert numbers_of(engine, area_code="618") == []


@pytest.mark.usefixtures("dunder")
def test_mapping_refuses_what_it_cannot_do_and_changes_nothing(
    cli: Invoke, uow: Callable[[], UnitOfWork], snapshot: Snapshot
) -> None:
    """Its own area code cannot be unmapped, nor one never mapped; 999 is no area code."""
    [number] = buy(uow, "217").bought
    before = snapshot()

    refused = {f"{command} {code}": refusal(cli("numbers", command, "--org", ORG, number,
                                                code), 2)
               for command, code in (("unmap", "217"), ("unmap", "618"), ("map", "999"))}

    assert refused == {
        "unmap 217": f"area_code: 217: its own area code for {number}",
        "unmap 618": f"area_code: 618: not mapped for {number}",
        "map 999": "area_code: '999' is not a geographic area code of US",
    }
    assert snapshot() == before


# -- releasing -------------------------------------------------------------------------

@pytest.mark.usefixtures("dunder")
def test_release_tells_twilio_first_then_the_number_is_gone(
    cli: Invoke, engine: Engine, uow: Callable[[], UnitOfWork], twilio: FakeTwilio,
    dial: Dial
) -> None:
    """Twilio gets a DELETE for the number's sid; dunder no longer holds or presents it."""
    twilio.offer(CHI[0], region="IL")
    buy(uow, "312", 1, "twilio", twilio=twilio)
    sid = twilio.resource_of(CHI[0])["sid"]

    result = ok(cli("numbers", "release", "--org", ORG, CHI[0], env=twilio_env(twilio)))

    assert result.stdout == f"{CHI[0]} deleted\n"
    [deletion] = twilio.deletions()
    assert (deletion.path, deletion.status) == (
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers/{sid}.json", 204)
    assert twilio.held() == []
    assert numbers_of(engine) == [PRINCIPAL]
    assert dial(org=ORG, user="pam", to=CHICAGO_CALLEE, at=NOW).rule == "principal"


@pytest.mark.usefixtures("dunder")
def test_a_release_twilio_refuses_keeps_the_number_active_and_says_why(
    cli: Invoke, engine: Engine, uow: Callable[[], UnitOfWork], twilio: FakeTwilio,
    dial: Dial, snapshot: Snapshot
) -> None:
    """Twilio answers 500 to the DELETE: the CLI says so; the number is still presented."""
    twilio.offer(CHI[0], region="IL")
    buy(uow, "312", 1, "twilio", twilio=twilio)
    twilio.fail_release_of(CHI[0], Failure(20500, "Internal Server Error", 500))
    before = snapshot()

    result = cli("numbers", "release", "--org", ORG, CHI[0], env=twilio_env(twilio))

    line = refusal(result, 6)
    assert line.startswith(f"Twilio refused to release {CHI[0]}: ")
    assert "Internal Server Error (code 20500)" in line
    assert [d.status for d in twilio.deletions()] == [500]
    assert snapshot() == before
    assert [(v.number, v.status) for v in held(engine, area_code="312")] == [
        (CHI[0], "active")]
    decision = dial(org=ORG, user="pam", to=CHICAGO_CALLEE, at=NOW)
    assert (decision.caller_id, decision.rule) == (CHI[0], "local_presence")


@pytest.mark.usefixtures("dunder")
def test_a_released_number_keeps_its_call_history(
    engine: Engine, uow: Callable[[], UnitOfWork], dial: Dial, ring: Ring,
    recorded_calls: Callable[[], list[Any]]
) -> None:
    """Released after presenting a call: the call stays; the number shows as released."""
    [number] = buy(uow, "217").bought
    call = dial(org=ORG, user="pam", to=SPRINGFIELD_CALLEE, at=NOW)

    released = purchasing.release(uow, ORG, number, settings=ProviderSettings())

    assert call.caller_id == number
    assert released == (number, "released", [])
    assert [(c.id, c.caller_id, c.to_number) for c in recorded_calls()] == [
        (call.call_id, number, SPRINGFIELD_CALLEE)]
    assert numbers_of(engine) == [PRINCIPAL]
    assert [(v.number, v.area_codes) for v in held(engine, status="released")] == [
        (number, ())]
    with pytest.raises(NotFound):
        ring(to=number, caller=SPRINGFIELD_CALLEE, at=NOW + timedelta(hours=1))


# -- pausing ---------------------------------------------------------------------------

@pytest.mark.usefixtures("dunder")
def test_a_paused_number_is_not_presented_but_still_routes_calls_back(
    cli: Invoke, uow: Callable[[], UnitOfWork], dial: Dial, ring: Ring
) -> None:
    """Paused: 217 callees see the principal; a callee calling it back still gets Pam."""
    [number] = buy(uow, "217").bought
    first = dial(org=ORG, user="pam", to=SPRINGFIELD_CALLEE, at=NOW)

    paused = ok(cli("numbers", "pause", "--org", ORG, number))
    while_paused = dial(org=ORG, user="pam", to="+12175554321", at=NOW + timedelta(minutes=1))
    call_back = ring(to=number, caller=SPRINGFIELD_CALLEE, at=NOW + timedelta(minutes=2))
    resumed = ok(cli("numbers", "resume", "--org", ORG, number))
    after = dial(org=ORG, user="pam", to="+12175554321", at=NOW + timedelta(minutes=3))

    assert (first.caller_id, first.rule) == (number, "local_presence")
    assert paused.stdout == f"{number} is paused\n"
    assert (while_paused.caller_id, while_paused.rule) == (PRINCIPAL, "principal")
    assert (call_back.destination, call_back.rule, call_back.user) == (
        PAM_WORK, "last_caller", "pam")
    assert resumed.stdout == f"{number} is active\n"
    assert (after.caller_id, after.rule) == (number, "local_presence")


# -- coverage ----------------------------------------------------------------------------

def coverage_document() -> dict[str, Any]:
    """Contacts in 217 (3), 618 (2), 309 (1, served only by a paused number), 312 (1)."""
    contacts = ["+12175550150", "+12175550151", "+12175550152", "+16185550150",
                "+16185550151", "+13095550150", "+13125550150"]
    return dunder_document(
        numbers=[{"number": PRINCIPAL},
                 {"number": "+13125550101", "label": "Chicago"},
                 {"number": "+13095550101", "label": "Peoria", "status": "paused"}],
        contacts=[{"phone": c} for c in contacts])


def test_coverage_counts_contacts_and_recent_callees_and_ranks_the_gaps(
    apply_org: ApplyOrg, engine: Engine, dial: Dial
) -> None:
    """1 of 7 contacts covered; recent callees in 312 and 415; 217 is the biggest gap."""
    apply_org(coverage_document())
    now = datetime.now(UTC)
    for to, days_ago in (("+13125550150", 2), ("+14155550150", 3), ("+13125550150", 5),
                         ("+15035550150", 45)):
        dial(org=ORG, user="pam", to=to, at=now - timedelta(days=days_ago))

    found = purchasing.coverage(UnitOfWork(engine), ORG, now=now)

    assert found.as_dict() == {
        "contacts": 7, "contacts_covered": 1, "contact_share": 0.1429,
        "recent_callees": 2, "recent_callees_covered": 1, "recent_share": 0.5,
        "uncovered": [
            {"area_code": "217", "contacts": 3, "recent_callees": 0, "region": "Illinois"},
            {"area_code": "618", "contacts": 2, "recent_callees": 0, "region": "Illinois"},
            {"area_code": "309", "contacts": 1, "recent_callees": 0, "region": "Illinois"},
            {"area_code": "415", "contacts": 0, "recent_callees": 1,
             "region": "California"},
        ]}


def test_coverage_buy_buys_one_number_for_each_of_the_top_gaps(
    apply_org: ApplyOrg, cli: Invoke, engine: Engine
) -> None:
    """`coverage --buy 2` buys in 217 and 618; then 6 of 7 contacts are covered."""
    apply_org(coverage_document())

    bought = ok(cli("coverage", "--org", ORG, "--buy", "2", "--provider", "sandbox"))
    after = json.loads(ok(cli("coverage", "--org", ORG, "--json")).stdout)

    assert bought.stdout.splitlines() == [
        "contacts covered: 1/7 (14%); callees of the last 30 days covered: 0/0 (0%)",
        "  217       3 contacts       0 recent callees  Illinois",
        "  618       2 contacts       0 recent callees  Illinois",
        "  309       1 contacts       0 recent callees  Illinois",
        f"[{SANDBOX_LABEL}]",
        "bought +12175550100 (sandbox, serves 217)",
        f"[{SANDBOX_LABEL}]",
        "bought +16185550100 (sandbox, serves 618)",
    ]
    assert (after["contacts_covered"], after["contact_share"]) == (6, 0.8571)
    assert after["uncovered"] == [
        {"area_code": "309", "contacts": 1, "recent_callees": 0, "region": "Illinois"}]
    assert numbers_of(engine, area_code="217") == ["+12175550100"]
    assert numbers_of(engine, area_code="618") == ["+16185550100"]


def test_coverage_buy_with_json_prints_json(apply_org: ApplyOrg, cli: Invoke) -> None:
    """`coverage --buy 1 --json` answers JSON (that names the number it bought)."""
    apply_org(coverage_document())

    result = ok(cli("coverage", "--org", ORG, "--buy", "1", "--json"))

    try:
        answer = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"--json with --buy printed text, not JSON:\n{result.stdout}")
    assert "+12175550100" in json.dumps(answer)


# -- listing and searching -------------------------------------------------------------

def listing_document() -> dict[str, Any]:
    """Numbers in no project (with and without a group), and in projects."""
    return dunder_document(
        numbers=[
            {"number": PRINCIPAL, "label": "Scranton HQ", "group": "main"},
            {"number": "+13125550101", "label": "Chicago", "group": "sales",
             "area_codes": ["773"]},
            {"number": "+13125550102", "label": "Chicago 2"},
            {"number": "+16305550142", "label": "Aurora", "group": "sales"},
            {"number": "+14155550105", "label": "San Francisco"},
            {"number": "+12015550106", "label": "Newark", "group": "renewals"},
        ],
        projects=[{"id": "spring", "numbers": ["+16305550142", "+14155550105"]},
                  {"id": "renewals", "numbers": ["+12015550106"]}])


def test_numbers_for_a_project_come_unused_first_then_grouped_then_the_rest(
    apply_org: ApplyOrg, cli: Invoke
) -> None:
    """SPEC 5: in no project, then in a project and a group, then in a project only."""
    apply_org(listing_document())

    listed = json.loads(ok(cli("numbers", "list", "--org", ORG, "--for-project",
                               "--json")).stdout)

    tiers = [(n["projects"] > 0, n["projects"] > 0 and not n["group"]) for n in listed]
    assert tiers == sorted(tiers)
    by_tier: dict[tuple[bool, bool], set[str]] = {}
    for tier, entry in zip(tiers, listed, strict=True):
        by_tier.setdefault(tier, set()).add(entry["number"])
    assert by_tier == {
        (False, False): {PRINCIPAL, "+13125550101", "+13125550102"},
        (True, False): {"+16305550142", "+12015550106"},
        (True, True): {"+14155550105"},
    }


def test_numbers_are_found_by_digits_label_group_and_area_code(
    apply_org: ApplyOrg, cli: Invoke, engine: Engine
) -> None:
    """Digits in any format, a label or group in any case, or an area code it serves."""
    apply_org(listing_document())
    searches: dict[str, dict[str, str]] = {
        "digits formatted": {"search": "630-555-0142"},
        "some digits": {"search": "5550105"},
        "label": {"search": "CHICAGO"},
        "group text": {"search": "renew"},
        "group": {"group": "sales"},
        "mapped area code": {"area_code": "773"},
        "own area code": {"area_code": "312"},
        "nothing": {"search": "nowhere"},
    }

    found = {name: numbers_of(engine, **query) for name, query in searches.items()}
    by_cli = json.loads(ok(cli("numbers", "search", "--org", ORG, "773", "--json")).stdout)

    assert found == {
        "digits formatted": ["+16305550142"],
        "some digits": ["+14155550105"],
        "label": ["+13125550101", "+13125550102"],
        "group text": ["+12015550106"],
        "group": ["+13125550101", "+16305550142"],
        "mapped area code": ["+13125550101"],
        "own area code": ["+13125550101", "+13125550102"],
        "nothing": [],
    }
    # Three digits are an area code to `numbers search`, not digits anywhere in a number.
    assert [(n["number"], n["area_codes"]) for n in by_cli] == [
        ("+13125550101", ["312", "773"])]


# -- refusals --------------------------------------------------------------------------

BAD_PURCHASES: dict[str, tuple[list[str], str, str]] = {
    "area code 999": (["--area-code", "999"], "area_code",
                      "area_code: '999' is not a geographic area code of US"),
    "area code 123": (["--area-code", "123"], "area_code",
                      "area_code: '123' is not a geographic area code of US"),
    "area code abc": (["--area-code", "abc"], "area_code",
                      "area_code: 'abc' is not a geographic area code of US"),
    "quantity 0": (["--area-code", "217", "--quantity", "0"], "quantity",
                   "quantity: must be between 1 and 20"),
    "quantity 21": (["--area-code", "217", "--quantity", "21"], "quantity",
                    "quantity: must be between 1 and 20"),
    "unknown provider": (["--area-code", "217", "--provider", "bandwidth"], "provider",
                         "provider: 'bandwidth' is not a provider (sandbox, twilio)"),
}


@pytest.mark.usefixtures("dunder")
def test_a_bad_purchase_is_refused_naming_the_field_and_writes_nothing(
    cli: Invoke, uow: Callable[[], UnitOfWork], snapshot: Snapshot
) -> None:
    """The service raises InvalidInput on the field; the CLI exits 2 with one line."""
    before = snapshot()
    fields: dict[str, str | None] = {}
    lines: dict[str, str] = {}

    for case, (args, _, _) in BAD_PURCHASES.items():
        options = dict(zip(args[::2], args[1::2], strict=True))
        with pytest.raises(InvalidInput) as refused:
            buy(uow, options["--area-code"], int(options.get("--quantity", 1)),
                options.get("--provider", "sandbox"))
        fields[case] = refused.value.field
        result = cli("numbers", "buy", "--org", ORG, *args)
        assert result.stdout == "", case
        lines[case] = refusal(result, 2)

    assert fields == {case: field for case, (_, field, _) in BAD_PURCHASES.items()}
    assert lines == {case: line for case, (_, _, line) in BAD_PURCHASES.items()}
    assert snapshot() == before


def test_twilio_without_credentials_is_refused_before_twilio_is_asked(
    apply_org: ApplyOrg, cli: Invoke, uow: Callable[[], UnitOfWork],
    twilio: FakeTwilio, snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No account in the org file, or its token variable unset: the error names which."""
    twilio.offer(CHI[0], region="IL")
    outcomes: dict[str, tuple[str | None, str, str]] = {}
    for case, document in (("no account", dunder_document(twilio=None)),
                            ("token unset", dunder_document())):
        apply_org({k: v for k, v in document.items() if v is not None})
        monkeypatch.delenv(TOKEN_ENV)
        env: dict[str, str | None] = {**twilio_env(twilio), TOKEN_ENV: None}
        if case == "no account":
            monkeypatch.setenv(TOKEN_ENV, AUTH_TOKEN)
            env[TOKEN_ENV] = AUTH_TOKEN
        before = snapshot()
        with pytest.raises(InvalidInput) as refused:
            buy(uow, "312", 1, "twilio", twilio=twilio)
        bought = cli("numbers", "buy", "--org", ORG, "--area-code", "312", "--provider",
                     "twilio", env=env)
        imported = cli("numbers", "import", "--org", ORG, env=env)
        assert refusal(imported, 2) == refusal(bought, 2), case
        assert snapshot() == before, case
        outcomes[case] = (refused.value.field, refusal(bought, 2), refusal(imported, 2))

    assert outcomes == {
        "no account": ("twilio", *["twilio: the organization has no Twilio account "
                                   "configured (twilio.account_sid)"] * 2),
        "token unset": ("twilio", *[
            f"twilio: the server holds no Twilio auth token for organization 'dunder': its "
            f"operator sets the environment variable {TOKEN_ENV} or an entry 'dunder' in "
            "the file named by CALLSIGN_TWILIO_SECRETS"] * 2),
    }
    assert twilio.requests == []
