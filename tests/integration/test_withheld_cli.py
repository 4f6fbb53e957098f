"""`callsign inbound` routes a withheld caller as anonymous (issue 10, item 3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

Invoke = Callable[..., Result]
Rows = Callable[[], list[Any]]

CHI2 = "+13125550102"  # nobody's direct number
FORWARDING = "+12125550199"


@pytest.fixture
def acme(cli: Invoke, tmp_path: Path, demo_yaml: str) -> Path:
    path = tmp_path / "acme.yaml"
    path.write_text(demo_yaml, encoding="utf-8")
    result = cli("apply", str(path))
    assert result.exit_code == 0, result.stderr
    return path


@pytest.mark.parametrize("caller", [
    pytest.param(("--from", "anonymous"), id="anonymous"),
    pytest.param(("--from", "Restricted"), id="Restricted"),
    pytest.param(("--from", ""), id="empty"),
    pytest.param((), id="left-out"),
    pytest.param(("--from", "12"), id="no-number"),
])
@pytest.mark.usefixtures("acme")
def test_inbound_from_a_withheld_caller_rings_the_forwarding_number(
        cli: Invoke, recorded_inbound: Rows, caller: tuple[str, ...]) -> None:
    """Exit 0 (it was 2 for an invalid --from, and --from was required); the call is
    recorded from "anonymous"; the trace says why the caller-number steps passed."""
    result = cli("inbound", "--to", CHI2, *caller, "--at", "2026-03-02T19:00:00Z", "--json")

    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    route = json.loads(result.stdout)
    assert (route["destination"], route["rule"]) == (FORWARDING, "forwarding")
    assert [s["detail"] for s in route["trace"] if s["step"] == "last_caller"] == [
        "the caller's number is withheld: no last caller to look up"]
    (row,) = recorded_inbound()
    assert (row.from_number, row.destination) == ("anonymous", FORWARDING)
