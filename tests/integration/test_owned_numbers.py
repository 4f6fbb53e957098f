"""SPEC 2: only numbers the organization holds are ever presented. The principal and
agent-leg numbers are the organization's own; the principal is never paused or released;
a number others depend on is released only when forced; a released number added again
comes back in its own row; `callsign apply` tells providers what it releases."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import Engine, func, select, update

from callsign.domain.document import UserDoc, parse_document
from callsign.domain.errors import ConfigError, Conflict, NotPresentable, ProviderError
from callsign.domain.model import Decision, NumberStatus
from callsign.providers.base import ProviderSettings
from callsign.services import numbers as numbers_service
from callsign.services import organization, purchasing
from callsign.store.tables import number_usage, numbers, orgs
from callsign.store.uow import UnitOfWork
from tests.fakes.twilio import Failure, FakeTwilio, fake_twilio

ApplyOrg = Callable[[dict[str, Any] | str], None]
Dial = Callable[..., Decision]
Invoke = Callable[..., Result]
Snapshot = Callable[[], dict[str, list[tuple[Any, ...]]]]

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
PRINCIPAL = "+12125550100"
AGENT_LEG = "+12125550177"
CHI1, CHI2, SF = "+13125550101", "+13125550102", "+14155550105"
OTHERS = "+16175550100"  # globex's principal
ACCOUNT, TOKEN = "AC" + "7a" * 16, "fake-token"
TOKEN_ENV = "CALLSIGN_TWILIO_TOKEN_ACME"  # bound by the operator, per organization


def acme(**changes: Any) -> dict[str, Any]:
    """alice presents CHI1 and answers on it; the renewals project uses CHI1 and CHI2."""
    document: dict[str, Any] = {
        "org": "acme", "principal_number": PRINCIPAL, "agent_leg_number": AGENT_LEG,
        "local_presence": True,
        "numbers": [{"number": PRINCIPAL}, {"number": AGENT_LEG, "status": "paused"},
                    {"number": CHI1}, {"number": CHI2}, {"number": SF}],
        "users": [{"id": "alice", "caller_id": CHI1, "direct_number": CHI1,
                   "allowed_caller_ids": [CHI1, SF]},
                  {"id": "bob", "allowed_caller_ids": [CHI1]}],
        "projects": [{"id": "renewals", "numbers": [CHI1, CHI2], "first_call": CHI1,
                      "outcome_numbers": {"asked_callback": CHI1}}],
    }
    document.update(changes)
    return document


GLOBEX: dict[str, Any] = {"org": "globex", "principal_number": OTHERS,
                          "numbers": [{"number": OTHERS}], "users": [{"id": "gus"}]}


@pytest.fixture
def uow(engine: Engine) -> Callable[[], UnitOfWork]:
    return lambda: UnitOfWork(engine)


@pytest.fixture
def both(apply_org: ApplyOrg) -> None:
    apply_org(acme())
    apply_org(GLOBEX)


def problems(caught: pytest.ExceptionInfo[ConfigError]) -> list[tuple[str, str]]:
    return caught.value.problems


# -- the principal and agent-leg numbers are the organization's own --------------------

@pytest.mark.parametrize(("change", "expected"), [
    pytest.param({"principal_number": "+12125550199"},
                 ("principal_number", "+12125550199 is not one of the organization's numbers"),
                 id="principal-not-listed"),
    pytest.param({"agent_leg_number": "+12125550199"},
                 ("agent_leg_number", "+12125550199 is not one of the organization's numbers"),
                 id="agent-leg-not-listed"),
    pytest.param({"numbers": [{"number": PRINCIPAL, "status": "paused"},
                              {"number": AGENT_LEG}]},
                 ("principal_number", f"{PRINCIPAL} is paused; the principal number is the "
                                      "last resort of every call and must be active"),
                 id="principal-paused"),
])
def test_an_org_file_must_hold_its_principal_and_agent_leg_numbers(
    change: dict[str, Any], expected: tuple[str, str]
) -> None:
    """`callsign apply` and PUT /v1/config refuse them, naming the field."""
    document = acme(users=[], projects=[], **change)
    with pytest.raises(ConfigError) as caught:
        parse_document(document)
    assert problems(caught) == [expected]


def test_a_paused_number_may_be_the_agent_leg(apply_org: ApplyOrg, engine: Engine) -> None:
    """The agent leg is shown to our own agents only: a paused number serves."""
    apply_org(acme())
    with engine.connect() as conn:
        assert conn.execute(select(orgs.c.agent_leg_number)).scalar() == AGENT_LEG


@pytest.mark.usefixtures("both")
@pytest.mark.parametrize(("field", "value"), [
    ("principal_number", "+12125550199"), ("principal_number", OTHERS),
    ("agent_leg_number", "+12125550199"), ("agent_leg_number", OTHERS),
])
def test_org_settings_refuse_a_number_the_org_does_not_hold(
    engine: Engine, snapshot: Snapshot, field: str, value: str
) -> None:
    """PATCH /v1/org: not ours (another org's included) is refused; nothing changes."""
    before = snapshot()
    with pytest.raises(ConfigError) as caught:
        organization.update_settings(UnitOfWork(engine), "acme", {field: value})
    assert problems(caught) == [(field, f"{value} is not one of the organization's numbers")]
    assert snapshot() == before


@pytest.mark.usefixtures("both")
def test_org_settings_accept_the_orgs_own_numbers_in_any_format(engine: Engine) -> None:
    """A held active number becomes the principal; a held one the agent leg."""
    settings = organization.update_settings(UnitOfWork(engine), "acme", {
        "principal_number": "(312) 555-0102", "agent_leg_number": "415 555 0105"})
    assert (settings["principal_number"], settings["agent_leg_number"]) == (CHI2, SF)


@pytest.mark.usefixtures("both")
def test_org_settings_refuse_a_paused_principal(engine: Engine) -> None:
    """The principal is the last resort of every call: it must be active."""
    with pytest.raises(ConfigError) as caught:
        organization.update_settings(UnitOfWork(engine), "acme", {"principal_number": AGENT_LEG})
    assert problems(caught) == [("principal_number", f"{AGENT_LEG} is paused; the principal "
                                 "number is the last resort of every call and must be active")]


@pytest.mark.usefixtures("both")
def test_a_config_document_may_not_take_another_orgs_number(engine: Engine) -> None:
    """PUT /v1/config with globex's number as acme's principal and agent leg."""
    document = acme(principal_number=OTHERS, agent_leg_number=OTHERS)
    document["numbers"].append({"number": OTHERS})
    with pytest.raises(ConfigError) as caught:
        organization.put_config(UnitOfWork(engine), "acme", document)
    assert f"{OTHERS} belongs to another organization" in str(caught.value)


# -- the principal is never paused or released -------------------------------------------

@pytest.mark.usefixtures("both")
@pytest.mark.parametrize("status", [NumberStatus.PAUSED, NumberStatus.RESTING])
def test_pausing_the_principal_is_a_conflict_naming_it(engine: Engine, status: str) -> None:
    """`numbers pause` and POST /v1/numbers/{n}/pause refuse it (409)."""
    with pytest.raises(Conflict, match=re.escape(f"{PRINCIPAL} is the organization's principal")):
        numbers_service.set_status(UnitOfWork(engine), "acme", PRINCIPAL, NumberStatus(status))


@pytest.mark.usefixtures("both")
@pytest.mark.parametrize("force", [False, True])
def test_releasing_the_principal_is_a_conflict_even_forced(
    uow: Callable[[], UnitOfWork], snapshot: Snapshot, force: bool
) -> None:
    """Neither a release nor a forced one takes the principal number away."""
    before = snapshot()
    with pytest.raises(Conflict) as caught:
        purchasing.release(uow, "acme", PRINCIPAL, settings=ProviderSettings(), force=force)
    assert caught.value.message.startswith(
        f"{PRINCIPAL} is the organization's principal number (principal_number)")
    assert snapshot() == before


# -- releasing a number others depend on -------------------------------------------------

@pytest.mark.usefixtures("both")
def test_releasing_a_number_in_use_is_a_conflict_listing_what_names_it(
    uow: Callable[[], UnitOfWork], snapshot: Snapshot
) -> None:
    """Users' caller ID, direct number and allowed lists, projects' pool, first call and
    outcome numbers: all listed, nothing changed."""
    before = snapshot()
    with pytest.raises(Conflict) as caught:
        purchasing.release(uow, "acme", CHI1, settings=ProviderSettings())
    assert caught.value.message == (
        f"{CHI1} is in use: user alice's caller ID; user alice's direct number; user alice's "
        "allowed caller IDs; user bob's allowed caller IDs; project renewals's pool; "
        "project renewals's first call; project renewals's number for outcome "
        "asked_callback; release it with force to clear them")
    assert caught.value.field == "number"
    assert snapshot() == before


@pytest.mark.usefixtures("both")
def test_a_forced_release_clears_what_named_the_number_and_says_so(
    uow: Callable[[], UnitOfWork], export_org: Callable[[str], dict[str, Any]]
) -> None:
    """Forced, the number goes and every setting naming it is cleared and listed."""
    released = purchasing.release(uow, "acme", CHI1, settings=ProviderSettings(), force=True)

    assert (released.number, released.result) == (CHI1, "deleted")
    assert len(released.cleared) == 7
    exported = export_org("acme")
    assert exported["users"] == [{"id": "alice", "allowed_caller_ids": [SF]}, {"id": "bob"}]
    assert exported["projects"] == [{"id": "renewals", "numbers": [CHI2]}]


@pytest.mark.usefixtures("both")
def test_releasing_the_agent_leg_needs_force_and_clears_it(
    uow: Callable[[], UnitOfWork], engine: Engine
) -> None:
    """The agent leg depends on its number like a user does."""
    with pytest.raises(Conflict, match="the organization's agent-leg number"):
        purchasing.release(uow, "acme", AGENT_LEG, settings=ProviderSettings())
    released = purchasing.release(uow, "acme", AGENT_LEG, settings=ProviderSettings(),
                                  force=True)
    assert released.cleared == ["the organization's agent-leg number"]
    with engine.connect() as conn:
        assert conn.execute(select(orgs.c.agent_leg_number)
                            .where(orgs.c.slug == "acme")).scalar() is None


@pytest.mark.usefixtures("both")
def test_a_number_nothing_names_is_released_without_force(
    uow: Callable[[], UnitOfWork]
) -> None:
    """SF is only in alice's allowed list... which names it; CHI2 is in a pool; a fresh
    number is named by nothing."""
    numbers_service.add_number(uow(), "acme", "+13125550103")
    released = purchasing.release(uow, "acme", "+13125550103", settings=ProviderSettings())
    assert released == ("+13125550103", "deleted", [])


def test_cli_release_refuses_a_number_in_use_and_forces_with_force(
    cli: Invoke, apply_org: ApplyOrg
) -> None:
    """Exit 5 and one line listing the dependents; --force releases and lists them."""
    apply_org(acme())
    refused = cli("numbers", "release", "--org", "acme", CHI2)
    assert refused.exit_code == 5
    assert refused.stderr == (
        f"Error: number: {CHI2} is in use: project renewals's pool; release it with force "
        "to clear them\n")
    forced = cli("numbers", "release", "--org", "acme", "--force", CHI2)
    assert (forced.exit_code, forced.stdout) == (
        0, f"{CHI2} deleted\ncleared project renewals's pool\n")
    paused = cli("numbers", "pause", "--org", "acme", PRINCIPAL)
    assert paused.exit_code == 5
    assert "principal number" in paused.stderr


# -- a released number added again is the same number ------------------------------------

def _rows(engine: Engine, e164: str) -> list[tuple[int, str, int]]:
    with engine.connect() as conn:
        used = func.coalesce(func.sum(number_usage.c.used), 0).label("used")
        return [(r.id, r.status, r.used) for r in conn.execute(
            select(numbers.c.id, numbers.c.status, used)
            .join_from(numbers, number_usage, isouter=True)
            .where(numbers.c.e164 == e164).group_by(numbers.c.id, numbers.c.status))]


@pytest.mark.parametrize("how", ["add", "apply", "purchase"])
def test_a_released_number_added_again_revives_its_row_with_its_cap_count(
    apply_org: ApplyOrg, dial: Dial, engine: Engine, uow: Callable[[], UnitOfWork], how: str
) -> None:
    """Same id, same usage today: the cap is not reset by releasing and re-adding."""
    local = "+12175550100"  # the sandbox's first number in 217
    apply_org(acme(numbers=[*acme()["numbers"], {"number": local, "daily_cap": 2}]))
    assert dial(user="bob", to="+12175559876", at=NOW).caller_id == local
    [(number_id, _, used)] = _rows(engine, local)
    assert used == 1
    purchasing.release(uow, "acme", local, settings=ProviderSettings())
    assert _rows(engine, local) == [(number_id, "released", 1)]

    if how == "add":
        numbers_service.add_number(uow(), "acme", local, daily_cap=2)
    elif how == "apply":
        apply_org(acme(numbers=[*acme()["numbers"], {"number": local, "daily_cap": 2}]))
    else:
        bought = purchasing.purchase(uow, "acme", "217", 1, "sandbox", now=NOW,
                                     settings=ProviderSettings()).bought
        assert bought == [local]
        numbers_service.update_number(uow(), "acme", local, daily_cap=2)

    assert _rows(engine, local) == [(number_id, "active", 1)]
    later = NOW + timedelta(minutes=5)
    assert dial(user="bob", to="+12175559876", at=later).caller_id == local
    assert dial(user="bob", to="+12175559876", at=later).rule == "principal"  # cap 2 reached


# -- `callsign apply` tells providers what it releases ------------------------------------

@pytest.fixture
def twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwilio]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with fake_twilio({ACCOUNT: TOKEN}) as fake:
        yield fake


def _with_twilio(**changes: Any) -> dict[str, Any]:
    return acme(twilio={"account_sid": ACCOUNT}, **changes)


def test_apply_releases_left_out_numbers_at_their_provider(
    apply_org: ApplyOrg, engine: Engine, uow: Callable[[], UnitOfWork],
    twilio: FakeTwilio, tmp_path: Any, cli: Invoke
) -> None:
    """A Twilio number the file leaves out is given back to Twilio, like a release."""
    apply_org(_with_twilio())
    twilio.offer("+13125550166", region="IL")
    purchasing.purchase(uow, "acme", "312", 1, "twilio", now=NOW,
                        settings=ProviderSettings(twilio.url))
    assert twilio.held() == ["+13125550166"]
    path = tmp_path / "acme.yaml"
    path.write_text(json.dumps(_with_twilio()), encoding="utf-8")

    result = cli("apply", str(path), env={"CALLSIGN_TWILIO_API_BASE": twilio.url,
                                         TOKEN_ENV: TOKEN})

    assert (result.exit_code, result.stderr) == (0, "")
    assert twilio.held() == []
    assert len(twilio.deletions()) == 1
    assert _rows(engine, "+13125550166") == []


@pytest.mark.usefixtures("engine")
def test_apply_stops_when_the_provider_refuses_a_release(
    apply_org: ApplyOrg, uow: Callable[[], UnitOfWork],
    twilio: FakeTwilio, snapshot: Snapshot
) -> None:
    """Twilio refusing: the number stays, and nothing else of the file is applied."""
    apply_org(_with_twilio())
    twilio.offer("+13125550166", region="IL")
    purchasing.purchase(uow, "acme", "312", 1, "twilio", now=NOW,
                        settings=ProviderSettings(twilio.url))
    twilio.fail_release_of("+13125550166", Failure(20003, "Authenticate", 401))
    before = snapshot()

    with pytest.raises(ProviderError, match="Twilio refused to release"):
        purchasing.apply_document(uow, parse_document(_with_twilio(local_presence=False)),
                                  settings=ProviderSettings(twilio.url))

    assert snapshot() == before
    assert twilio.held() == ["+13125550166"]


# -- restricted caller IDs ----------------------------------------------------------------

def test_a_restricted_org_refuses_a_caller_id_outside_the_users_allowed_list(
    apply_org: ApplyOrg, engine: Engine
) -> None:
    """Else the caller ID would silently never be presented."""
    document = acme(restrict_caller_ids=True)
    document["users"][1]["caller_id"] = SF  # bob may present CHI1 only
    with pytest.raises(ConfigError) as caught:
        parse_document(document)
    assert problems(caught) == [("users[1].caller_id", f"{SF} is not among bob's allowed "
                                 "caller IDs, and the organization restricts caller IDs")]

    apply_org(acme(restrict_caller_ids=True))
    with pytest.raises(ConfigError) as caught:
        organization.put(UnitOfWork(engine), "acme", UserDoc(id="bob", caller_id=SF,
                                                          allowed_caller_ids=[CHI1]))
    assert problems(caught) == [("caller_id", f"{SF} is not among bob's allowed caller IDs, "
                                 "and the organization restricts caller IDs")]


def test_restricting_caller_ids_refuses_users_whose_caller_id_is_not_allowed(
    apply_org: ApplyOrg, engine: Engine
) -> None:
    """PATCH /v1/org restrict_caller_ids: true names the users it would leave stranded."""
    document = acme()
    document["users"][1]["caller_id"] = SF
    apply_org(document)
    with pytest.raises(ConfigError) as caught:
        organization.update_settings(UnitOfWork(engine), "acme", {"restrict_caller_ids": True})
    assert problems(caught) == [("restrict_caller_ids", "these caller IDs are outside their "
                                 f"user's allowed caller IDs: bob's caller ID {SF}; allow or "
                                 "clear them first")]


def test_a_restricted_users_direct_number_may_be_outside_the_allowed_list(
    apply_org: ApplyOrg
) -> None:
    """The direct number is where the user's calls ring, not a caller ID they pick."""
    document = acme(restrict_caller_ids=True)
    document["users"][0].update(caller_id=None, allowed_caller_ids=[SF])
    apply_org(document)


# -- the decision core never presents a number the org does not hold ----------------------

def test_a_principal_not_held_is_never_presented(
    apply_org: ApplyOrg, dial: Dial, engine: Engine, recorded_calls: Callable[[], list[Any]]
) -> None:
    """Data from before these checks: the call is refused, naming the principal."""
    apply_org(acme())
    with engine.begin() as conn:  # as an older version could leave it
        conn.execute(update(orgs).values(principal_number="+12125550199"))

    with pytest.raises(NotPresentable) as caught:
        dial(user="bob", to="+19075559876", at=NOW)

    assert caught.value.field == "principal_number"
    assert "+12125550199 is not one of the organization's numbers" in caught.value.message
    assert recorded_calls() == []
    with pytest.raises(NotPresentable, match="is not one of the organization's numbers"):
        dial(user="bob", to="+19075559876", at=NOW, caller_id="+12125550199")
