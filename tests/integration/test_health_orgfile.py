"""SPEC 9 and 6: the health policy in an organization file, through the loaders and the
command line. (The store keeping it: test_health_policy_store.py.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from callsign.domain.document import parse_document
from callsign.domain.health_policy import HealthPolicy, RampStep
from callsign.orgfile import dump_document, load_document
from tests.integration.test_orgfile import valid_document

Invoke = Callable[..., Any]
HEALTH = {"rest_below": 40, "rest_days": 10, "max_resting_share": 25,
          "ramp": [{"days": 5, "calls_per_day": 15}, {"days": 5, "calls_per_day": 25}],
          "shaping": True, "per_minute": 5, "per_hour": 40}


def with_health(**health: Any) -> dict[str, Any]:
    return {**valid_document(), "health": health}


def test_yaml_and_json_files_give_the_same_health_policy() -> None:
    document = with_health(**HEALTH)
    from_yaml = parse_document(load_document(yaml.safe_dump(document).encode(), source="acme.yaml"))
    from_json = parse_document(load_document(json.dumps(document).encode(), source="acme.json"))
    assert from_yaml == from_json
    assert from_yaml.health.policy() == HealthPolicy(
        rest_below=40, rest_days=10, max_resting_share=25,
        ramp=(RampStep(5, 15), RampStep(5, 25)), shaping=True, per_minute=5, per_hour=40)


def test_a_whole_document_with_health_round_trips_through_its_text() -> None:
    document = parse_document(with_health(**HEALTH))
    text = dump_document(document)
    assert parse_document(load_document(text.encode(), source="acme.yaml")) == document


def test_a_bad_health_value_from_the_cli_is_one_line_naming_its_path_and_exit_2(
        cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(yaml.safe_dump(with_health(rest_below=120)), encoding="utf-8")

    result = cli("apply", str(path))

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert "health.rest_below: must be between 0 and 100" in result.stderr


def test_a_file_with_a_health_section_applies(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(yaml.safe_dump(with_health(**HEALTH)), encoding="utf-8")
    assert cli("apply", str(path)).exit_code == 0
