"""SPEC 9 and 6: the organization's health policy is stored, so `callsign apply`, export,
`GET`/`PATCH /v1/org` and `GET /v1/config` round-trip it (SQLite by default, PostgreSQL
with ``--store postgresql``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import TestClient
from sqlalchemy import Engine, select

from callsign.config import Settings
from callsign.domain.document import HealthDoc
from callsign.domain.errors import ConfigError
from callsign.domain.health_policy import HealthPolicy
from callsign.services import access, organization
from callsign.store.tables import orgs
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg, Invoke
from tests.integration.test_health_orgfile import HEALTH, with_health
from tests.integration.test_orgfile import valid_document

pytestmark = pytest.mark.filterwarnings(
    "ignore::litestar.exceptions.base_exceptions.LitestarDeprecationWarning")

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
Export = Callable[[str], dict[str, Any]]
DEFAULTS = HealthDoc()


def test_apply_then_export_gives_the_health_section_back(apply_org: ApplyOrg,
                                                         export_org: Export) -> None:
    apply_org(with_health(**HEALTH))
    exported = export_org("acme")["health"]
    assert exported == HEALTH  # the export leaves out what equals the defaults
    apply_org(export_org("acme"))
    assert export_org("acme")["health"] == exported


def test_a_file_without_health_exports_the_defaults_and_a_reapply_drops_a_change(
        apply_org: ApplyOrg, export_org: Export) -> None:
    """The file is the whole organization: leaving health out means the defaults."""
    apply_org(with_health(rest_below=40))
    apply_org(valid_document())
    assert "health" not in export_org("acme")


def test_the_cli_applies_and_exports_the_health_policy(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(yaml.safe_dump(with_health(**HEALTH)), encoding="utf-8")
    assert cli("apply", str(path)).exit_code == 0
    exported = cli("export", "--org", "acme")
    assert exported.exit_code == 0, exported.output
    health = yaml.safe_load(exported.stdout)["health"]
    assert (health["rest_below"], health["rest_days"], health["ramp"]) \
        == (40, 10, HEALTH["ramp"])


def test_patch_changes_the_health_fields_it_names_and_keeps_the_others(
        engine: Engine, apply_org: ApplyOrg) -> None:
    apply_org(with_health(**HEALTH))
    changed = organization.update_settings(UnitOfWork(engine), "acme",
                                           {"health": {"rest_days": 3}})
    assert (changed["health"]["rest_days"], changed["health"]["rest_below"]) == (3, 40)
    stored = organization.get_settings(UnitOfWork(engine), "acme")["health"]
    assert stored == changed["health"]
    policy = organization.get_config(UnitOfWork(engine), "acme").health.policy()
    assert (policy.rest_days, policy.rest_below, policy.max_resting_share) == (3, 40, 25)
    reset = organization.update_settings(UnitOfWork(engine), "acme", {"health": None})
    assert reset["health"] == DEFAULTS.model_dump(mode="json")


def test_a_bad_health_change_names_its_path_and_changes_nothing(
        engine: Engine, apply_org: ApplyOrg) -> None:
    apply_org(with_health(**HEALTH))
    with pytest.raises(ConfigError) as raised:
        organization.update_settings(UnitOfWork(engine), "acme",
                                     {"health": {"watch_below": 30}})
    assert [p for p, _ in raised.value.problems] == ["health.watch_below"]
    with engine.connect() as conn:
        stored = conn.execute(select(orgs.c.health).where(orgs.c.slug == "acme")).scalar_one()
    assert stored["watch_below"] == HealthPolicy().watch_below
    assert stored["rest_below"] == 40


@pytest.fixture
def client(db_url: str, engine: Engine, apply_org: ApplyOrg) -> Iterator[TestClient[Any]]:
    """The app in this process on the store, with a key of acme's."""
    from callsign.api.app import create_app

    apply_org(valid_document())
    key = access.create_key(UnitOfWork(engine), "acme", name="t", now=NOW)
    app = create_app(Settings(database_url=db_url), key_poll_seconds=3600.0)
    with TestClient(app) as served:
        served.headers["Authorization"] = f"Bearer {key}"
        yield served


def test_rest_patch_get_and_config_round_trip_the_health_policy(
        client: TestClient[Any]) -> None:
    patched = client.patch("/v1/org", json={"health": {"rest_below": 45, "rest_days": 9}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["health"]["rest_below"] == 45
    got = client.get("/v1/org").json()["health"]
    assert (got["rest_below"], got["rest_days"], got["healthy_at"]) == (45, 9, 80)
    assert client.get("/v1/config").json()["health"] == got
    bad = client.patch("/v1/org", json={"health": {"rest_below": "often"}})
    assert bad.status_code == 400, bad.text
    assert "health.rest_below" in bad.text


@pytest.fixture
def client_at_noon(db_url: str, engine: Engine, apply_org: ApplyOrg
                   ) -> Iterator[TestClient[Any]]:
    """As ``client``, its clock stopped at NOW: decisions all fall in one minute."""
    from callsign.api.app import create_app

    apply_org(valid_document())
    key = access.create_key(UnitOfWork(engine), "acme", name="t", now=NOW)
    app = create_app(Settings(database_url=db_url), clock=lambda: NOW, key_poll_seconds=3600.0)
    with TestClient(app) as served:
        served.headers["Authorization"] = f"Bearer {key}"
        yield served


def test_rest_turns_volume_shaping_on_and_the_next_decision_applies_it(
        client_at_noon: TestClient[Any]) -> None:
    """`PATCH /v1/org` changes the organization's state every worker keeps: the next
    decision reads the new limits (SPEC 9), and `/v1/config` gives them back."""
    client = client_at_noon
    patched = client.patch("/v1/org", json={"health": {"shaping": True, "per_minute": 1}})
    assert patched.status_code == 200, patched.text
    got = client.get("/v1/org").json()["health"]
    assert (got["shaping"], got["per_minute"], got["per_hour"]) == (True, 1, 15)
    assert client.get("/v1/config").json()["health"] == got
    body = {"user": "alice", "to": "+13125550188", "caller_id": "+13125550101",
            "consented": True}
    first = client.post("/v1/calls", json=body)
    assert first.status_code == 201, first.text
    second = client.post("/v1/calls", json=body)
    assert second.status_code == 422, second.text
    assert "is throttled: 1 calls in the last minute, limit 1/min" in second.text
    too_many = client.patch("/v1/org", json={"health": {"per_hour": 1001}})
    assert too_many.status_code == 400, too_many.text
    assert "health.per_hour" in too_many.text
