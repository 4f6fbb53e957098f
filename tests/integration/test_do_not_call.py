"""SPEC 10 do-not-call: the organization's list through the CLI (add, remove, list, import
all or nothing, naming row and column), checked by every decision; one tenant's list
never touches another's calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from callsign.domain.errors import NotCompliant
from callsign.domain.model import Decision
from tests.conftest import Invoke

Dial = Callable[..., Decision]
NOON = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
MIAMI = "+13055550123"


def org(slug: str, principal: str) -> dict[str, Any]:
    return {"org": slug, "principal_number": principal, "numbers": [{"number": principal}],
            "users": [{"id": "alice"}]}


@pytest.fixture
def two_orgs(apply_org: Callable[[dict[str, Any]], None]) -> None:
    apply_org(org("acme", "+12125550100"))
    apply_org(org("globex", "+14155550100"))


@pytest.mark.usefixtures("two_orgs")
def test_a_listed_number_is_refused_in_its_organization_only(cli: Invoke, dial: Dial) -> None:
    """Listed by acme, the number is refused for acme's calls, consented or not; globex
    still calls it; removed, acme calls it again."""
    added = cli("dnc", "add", "--org", "acme", "--source", "callee asked", "305-555-0123")
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith(f"listed {MIAMI}")

    with pytest.raises(NotCompliant) as refused:
        dial(org="acme", user="alice", to=MIAMI, at=NOON, consented=True)
    assert refused.value.details["rule"] == "do_not_call"
    assert "callee asked" in refused.value.message
    assert dial(org="globex", user="alice", to=MIAMI, at=NOON).caller_id

    listed = cli("dnc", "list", "--org", "acme")
    assert listed.stdout.split()[0] == MIAMI
    assert cli("dnc", "list", "--org", "globex").stdout == ""
    assert cli("dnc", "remove", "--org", "acme", MIAMI).exit_code == 0
    assert dial(org="acme", user="alice", to=MIAMI, at=NOON).caller_id
    assert cli("dnc", "remove", "--org", "acme", MIAMI).exit_code == 3  # not found


@pytest.mark.usefixtures("two_orgs")
def test_a_csv_import_lists_every_row(cli: Invoke, tmp_path: Path) -> None:
    """number, source and note columns; a row without a source takes the file's name."""
    file = tmp_path / "scrub.csv"
    file.write_text("number,source,note\n305-555-0123,registry,\n+14105550123,,asked twice\n")

    imported = cli("dnc", "import", "--org", "acme", str(file))

    assert imported.exit_code == 0, imported.output
    assert imported.stdout.strip() == "imported 2 numbers"
    lines = cli("dnc", "list", "--org", "acme").stdout.splitlines()
    assert [line.split()[0] for line in lines] == [MIAMI, "+14105550123"]
    assert lines[1].split()[2:] == ["scrub.csv", "asked", "twice"]


@pytest.mark.usefixtures("two_orgs")
def test_a_csv_with_a_bad_row_imports_nothing_and_names_the_row_and_column(
        cli: Invoke, tmp_path: Path) -> None:
    """All or nothing: the bad row's line and column are named; no number is listed."""
    file = tmp_path / "bad.csv"
    file.write_text("number,note\n305-555-0123,fine\nnot a number,oops\n")

    imported = cli("dnc", "import", "--org", "acme", str(file))

    assert imported.exit_code == 2
    assert "row 3.number" in imported.stderr
    assert cli("dnc", "list", "--org", "acme").stdout == ""


@pytest.mark.usefixtures("two_orgs")
def test_a_csv_without_a_number_column_is_refused(cli: Invoke, tmp_path: Path) -> None:
    """The header must name the number column."""
    file = tmp_path / "bad.csv"
    file.write_text("phone\n305-555-0123\n")

    imported = cli("dnc", "import", "--org", "acme", str(file))

    assert imported.exit_code == 2
    assert "header" in imported.stderr
