"""The release guard: a number presented as a caller ID within the organization's
``release_guard_days`` is released only with force, through every release path (the
service the REST endpoints and the admin call, the CLI, an applied document), since
callbacks and do-not-call requests still reach it. A forced release is written down as
forced with the purchases."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import Engine, select

from callsign.domain.document import parse_document
from callsign.domain.errors import ConfigError, Conflict
from callsign.domain.model import Decision
from callsign.providers.base import ProviderSettings
from callsign.services import organization, purchasing
from callsign.store.tables import numbers, purchases
from callsign.store.uow import UnitOfWork

ApplyOrg = Callable[[dict[str, Any] | str], None]
Dial = Callable[..., Decision]
Invoke = Callable[..., Result]
Snapshot = Callable[[], dict[str, list[tuple[Any, ...]]]]

PRINCIPAL = "+12125550100"
LOCAL = "+13125550101"  # nothing names it: only the guard can refuse its release
CALLEE = "+13125559876"
NOW = datetime.now(UTC).replace(microsecond=0)
SETTINGS = ProviderSettings()


def acme(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "org": "acme", "principal_number": PRINCIPAL, "local_presence": True,
        "numbers": [{"number": PRINCIPAL}, {"number": LOCAL}],
        "users": [{"id": "bob"}]}
    document.update(changes)
    return document


@pytest.fixture
def uow(engine: Engine) -> Callable[[], UnitOfWork]:
    return lambda: UnitOfWork(engine)


@pytest.fixture
def presented(apply_org: ApplyOrg, dial: Dial) -> datetime:
    """LOCAL presented to a Chicago callee three days ago; returns when."""
    apply_org(acme())
    at = NOW - timedelta(days=3)
    assert dial(user="bob", to=CALLEE, at=at).caller_id == LOCAL
    return at


def _status(engine: Engine, e164: str) -> list[str]:
    with engine.connect() as conn:
        return [str(s) for s in conn.execute(select(numbers.c.status)
                                             .where(numbers.c.e164 == e164)).scalars()]


def _releases(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [(r.e164, r.state, r.detail) for r in conn.execute(
            select(purchases).where(purchases.c.state.in_(["released", "forced"]))
            .order_by(purchases.c.id))]


def test_a_number_presented_lately_is_not_released_without_force(
    presented: datetime, uow: Callable[[], UnitOfWork], snapshot: Snapshot
) -> None:
    """A conflict naming its last presentation and every way to force; nothing changes."""
    before = snapshot()
    with pytest.raises(Conflict) as caught:
        purchasing.release(uow, "acme", LOCAL, settings=SETTINGS, now=NOW)

    when = presented.strftime("%Y-%m-%d %H:%M UTC")
    assert caught.value.field == "number"
    assert caught.value.message == (
        f"{LOCAL} was last presented as a caller ID at {when}, within the release guard of "
        "30 days (release_guard_days): callbacks and do-not-call requests still reach it; "
        "release it with force to release it anyway: --force (CLI), ?force=true (REST) or "
        "the admin's \"release even if presented lately\" box")
    assert snapshot() == before


def test_a_forced_release_goes_through_and_is_recorded_as_forced(
    presented: datetime, engine: Engine, uow: Callable[[], UnitOfWork]
) -> None:
    """The purchases record says forced, and past what."""
    released = purchasing.release(uow, "acme", LOCAL, settings=SETTINGS, force=True, now=NOW)

    assert released == (LOCAL, "released", [])
    assert _status(engine, LOCAL) == ["released"]
    when = presented.strftime("%Y-%m-%d %H:%M UTC")
    assert _releases(engine) == [(LOCAL, "forced", f"forced release of {LOCAL}: presented "
                                  f"{when}, within the release guard of 30 days")]


@pytest.mark.usefixtures("presented")
def test_force_for_what_names_a_number_does_not_pass_the_guard(
    engine: Engine, uow: Callable[[], UnitOfWork]
) -> None:
    """The admin forces the settings it showed; the guard needs its own box."""
    with pytest.raises(Conflict, match="within the release guard of 30 days"):
        purchasing.release(uow, "acme", LOCAL, settings=SETTINGS, force=True,
                           force_recent=False, now=NOW)
    assert _status(engine, LOCAL) == ["active"]


@pytest.mark.usefixtures("presented")
@pytest.mark.parametrize(("days", "later"), [(30, 28), (3, 0), (0, 0)])
def test_past_the_guard_or_with_it_off_a_release_needs_no_force(
    engine: Engine, uow: Callable[[], UnitOfWork], days: int, later: int
) -> None:
    """Presented longer ago than the guard's days, or the guard off (0): released, and
    recorded as a plain release."""
    organization.update_settings(uow(), "acme", {"release_guard_days": days})
    released = purchasing.release(uow, "acme", LOCAL, settings=SETTINGS,
                                  now=NOW + timedelta(days=later))
    assert released == (LOCAL, "released", [])
    assert _releases(engine) == [(LOCAL, "released", "")]


def test_a_number_never_presented_is_released_without_force(
    apply_org: ApplyOrg, engine: Engine, uow: Callable[[], UnitOfWork]
) -> None:
    """A number never presented is released without force."""
    apply_org(acme())
    assert purchasing.release(uow, "acme", LOCAL, settings=SETTINGS, now=NOW) == (
        LOCAL, "deleted", [])
    assert _releases(engine) == [(LOCAL, "released", "")]


def test_cli_release_names_the_guard_and_forces_with_force(
    apply_org: ApplyOrg, dial: Dial, cli: Invoke, engine: Engine
) -> None:
    """Exit 5 and one line naming the last presentation; --force releases it."""
    apply_org(acme())
    at = datetime.now(UTC) - timedelta(hours=1)
    assert dial(user="bob", to=CALLEE, at=at).caller_id == LOCAL

    refused = cli("numbers", "release", "--org", "acme", LOCAL)
    assert refused.exit_code == 5
    assert refused.stderr.startswith(
        f"Error: number: {LOCAL} was last presented as a caller ID at "
        f"{at.strftime('%Y-%m-%d %H:%M UTC')}, within the release guard of 30 days")
    assert "--force (CLI)" in refused.stderr
    assert _status(engine, LOCAL) == ["active"]

    forced = cli("numbers", "release", "--org", "acme", "--force", LOCAL)
    assert (forced.exit_code, forced.stdout) == (0, f"{LOCAL} released\n")
    assert [state for _, state, _ in _releases(engine)] == ["forced"]


def test_a_document_leaving_out_a_number_presented_lately_applies_only_with_force(
    presented: datetime, engine: Engine, uow: Callable[[], UnitOfWork], snapshot: Snapshot
) -> None:
    """The whole apply is refused, naming the numbers and how to force it."""
    without = acme(numbers=[{"number": PRINCIPAL}])
    before = snapshot()
    with pytest.raises(Conflict) as caught:
        organization.put_config(uow(), "acme", without, now=NOW)

    assert caught.value.field == "numbers"
    assert caught.value.message.startswith(
        f"the document leaves out {LOCAL} (last presented "
        f"{presented.strftime('%Y-%m-%d %H:%M UTC')}), presented as caller IDs within the "
        "release guard of 30 days")
    assert caught.value.message.endswith(
        "callsign apply --force (CLI), PUT /v1/config?force=true (REST)")
    assert snapshot() == before

    organization.put_config(uow(), "acme", without, force=True, now=NOW)
    assert _status(engine, LOCAL) == ["released"]
    assert [state for _, state, _ in _releases(engine)] == ["forced"]


@pytest.mark.usefixtures("presented")
def test_a_document_may_turn_the_guard_off_as_it_leaves_numbers_out(
    engine: Engine, uow: Callable[[], UnitOfWork]
) -> None:
    """The document's own release_guard_days applies: 0 is as deliberate as force."""
    organization.put_config(uow(), "acme", acme(numbers=[{"number": PRINCIPAL}],
                                                release_guard_days=0), now=NOW)
    assert _status(engine, LOCAL) == ["released"]


@pytest.mark.usefixtures("presented")
def test_cli_apply_refuses_then_forces(
    cli: Invoke, engine: Engine, tmp_path: Path
) -> None:
    """`callsign apply` exits 5 naming the guard; `--force` applies the file."""
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(acme(numbers=[{"number": PRINCIPAL}])), encoding="utf-8")

    refused = cli("apply", str(path))
    assert refused.exit_code == 5
    assert f"Error: numbers: the document leaves out {LOCAL}" in refused.stderr
    assert _status(engine, LOCAL) == ["active"]

    forced = cli("apply", "--force", str(path))
    assert (forced.exit_code, forced.stderr) == (0, "")
    assert _status(engine, LOCAL) == ["released"]


@pytest.mark.parametrize(("value", "message"), [
    (-1, "must be between 0 and 3650"),
    (3651, "must be between 0 and 3650"),
    (True, "must be a whole number, not True"),
    ("soon", "must be a whole number, not 'soon'"),
])
def test_a_bad_release_guard_is_refused_by_its_path(
    apply_org: ApplyOrg, uow: Callable[[], UnitOfWork], value: Any, message: str
) -> None:
    """In the file and in the settings change alike; nothing changes."""
    with pytest.raises(ConfigError) as caught:
        parse_document(acme(release_guard_days=value))
    [(path, said)] = caught.value.problems
    assert path == "release_guard_days"
    assert message in said

    apply_org(acme())
    with pytest.raises(ConfigError) as caught:
        organization.update_settings(uow(), "acme", {"release_guard_days": value})
    assert [p for p, _ in caught.value.problems] == ["release_guard_days"]
    assert organization.get_settings(uow(), "acme")["release_guard_days"] == 30


def test_the_release_guard_round_trips_through_the_file_and_settings(
    apply_org: ApplyOrg, export_org: Callable[[str], dict[str, Any]],
    uow: Callable[[], UnitOfWork]
) -> None:
    """Default 30; a file's value is stored, exported and changed by settings."""
    apply_org(acme())
    assert organization.get_settings(uow(), "acme")["release_guard_days"] == 30
    apply_org(acme(release_guard_days=7))
    assert export_org("acme")["release_guard_days"] == 7
    changed = organization.update_settings(uow(), "acme", {"release_guard_days": 0})
    assert changed["release_guard_days"] == 0
    assert export_org("acme")["release_guard_days"] == 0
