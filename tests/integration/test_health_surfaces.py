"""SPEC 9's surfaces on the real store: `callsign health` (summary, show, sweep) and
`GET /v1/health`, `GET /v1/numbers/{n}/health`, `POST /v1/health/sweep`, tenant-safe."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine

from callsign.config import Settings
from callsign.services import access
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg, Invoke
from tests.integration.test_health_service import CHI, NOW, OTHER, Report, org, report

__all__ = ["report"]  # the fixture, shared

pytestmark = pytest.mark.filterwarnings(
    "ignore::litestar.exceptions.base_exceptions.LitestarDeprecationWarning")

LATER = (NOW + timedelta(days=8)).isoformat()


@pytest.fixture
def rested(apply_org: ApplyOrg, report: Report) -> None:
    """acme's first Chicago number rested on a 608; globex has a 312 number of its own."""
    apply_org(org("acme", CHI))
    apply_org(org("globex", [OTHER]))
    report(CHI[0], NOW, sip_code=608)
    report(CHI[1], NOW, was_answered=True, duration_s=60)


@pytest.mark.usefixtures("rested")
def test_the_cli_summary_names_the_resting_numbers_with_their_reasons(cli: Invoke) -> None:
    shown = cli("health", "--org", "acme", "--at", NOW.isoformat())
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == ("acme: 6 numbers: 1 healthy, 0 watch, 1 resting, 0 warming, "
                        "4 not judged yet")
    assert lines[1].startswith(f"  {CHI[0]}  resting since 03-02: 608 Rejected on 03-02")
    as_json = json.loads(cli("health", "--org", "acme", "--json").stdout)
    assert as_json["states"]["resting"] == 1


@pytest.mark.usefixtures("rested")
def test_the_cli_shows_one_number_and_sweeps(cli: Invoke) -> None:
    shown = cli("health", "show", "(312) 555-0101", "--org", "acme")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(f"{CHI[0]} (resting): resting since 03-02")
    assert "-> resting (automatic): 608 Rejected" in shown.stdout
    swept = cli("health", "--org", "acme", "sweep", "--at", LATER)
    assert swept.exit_code == 0, swept.output
    assert swept.stdout.splitlines()[1].startswith(f"  {CHI[0]}: resting -> warming: rested")


@pytest.mark.usefixtures("rested")
def test_the_cli_refuses_a_missing_org_and_an_unknown_number_naming_the_field(
        cli: Invoke) -> None:
    missing = cli("health", "sweep")
    assert missing.exit_code != 0
    assert "--org" in missing.stderr
    unknown = cli("health", "show", OTHER, "--org", "acme")  # globex's, not acme's
    assert unknown.exit_code != 0
    assert unknown.stderr.count("\n") == 1
    assert "not a number of organization 'acme'" in unknown.stderr


class Client:
    """One organization's requests to the app (its key on each)."""

    def __init__(self, client: TestClient[Any], key: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {key}"}

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self.headers)

    def post(self, path: str) -> Any:
        return self.client.post(path, headers=self.headers)


@pytest.fixture
def clients(db_url: str, engine: Engine, rested: None) -> Iterator[dict[str, Client]]:
    """The app in this process, with a client of acme's and one of globex's."""
    assert rested is None  # the organizations are there
    from callsign.api.app import create_app

    keys = {slug: access.create_key(UnitOfWork(engine), slug, name="t",
                                    now=datetime.now(UTC)) for slug in ("acme", "globex")}
    app = create_app(Settings(database_url=db_url), key_poll_seconds=3600.0)
    with TestClient(app) as served:
        yield {slug: Client(served, key) for slug, key in keys.items()}


def test_rest_summary_and_one_numbers_health(clients: dict[str, Client]) -> None:
    acme = clients["acme"]
    summary = acme.get("/v1/health")
    assert summary.status_code == 200, summary.text
    assert [r["number"] for r in summary.json()["resting"]] == [CHI[0]]
    one = acme.get(f"/v1/numbers/{CHI[0]}/health")
    assert one.status_code == 200, one.text
    assert one.json()["state"] == "resting"
    assert one.json()["reasons"][0].startswith("608 Rejected on 03-02")
    assert one.json()["window"]["calls"] == 0  # the app's clock is now: March is long gone
    assert one.json()["events"][0]["to"] == "resting"


def test_rest_is_tenant_safe_and_an_unknown_number_is_404_naming_it(
        clients: dict[str, Client]) -> None:
    globex = clients["globex"]
    assert globex.get("/v1/health").json()["resting"] == []
    theirs = globex.get(f"/v1/numbers/{CHI[0]}/health")
    assert theirs.status_code == 404, theirs.text
    assert "number" in theirs.text
    bad = clients["acme"].get("/v1/numbers/not-a-number/health")
    assert bad.status_code == 400, bad.text
    assert "number" in bad.text
    assert globex.post("/v1/health/sweep").json()["changes"] == []
    assert clients["acme"].get("/v1/health").json()["states"]["resting"] == 1
