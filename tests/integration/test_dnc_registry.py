"""SPEC 10 do-not-call, the national registry: a scrub file (10-digit numbers, one a line,
per area code) imported through the CLI marks its numbers with source and date; every
decision refuses them with their own rule and trace line, whatever the consent; a new
file for an area code replaces its numbers; a bad line imports nothing."""

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
MIAMI_2 = "+13055550124"
BALTIMORE = "+14105550123"


def org(slug: str, principal: str) -> dict[str, Any]:
    return {"org": slug, "principal_number": principal, "numbers": [{"number": principal}],
            "users": [{"id": "alice"}]}


@pytest.fixture
def two_orgs(apply_org: Callable[[dict[str, Any]], None]) -> None:
    apply_org(org("acme", "+12125550100"))
    apply_org(org("globex", "+14155550100"))


def refused(dial: Dial, **call: Any) -> NotCompliant:
    with pytest.raises(NotCompliant) as refusal:
        dial(user="alice", at=NOON, **call)
    return refusal.value


@pytest.mark.usefixtures("two_orgs")
def test_a_registry_number_is_refused_with_its_own_rule_and_trace_line(
        cli: Invoke, dial: Dial, tmp_path: Path) -> None:
    file = tmp_path / "305.txt"
    file.write_text("3055550123\n305,5550124\n\n")

    imported = cli("dnc", "import-registry", "--org", "acme", "--date", "2026-11-30",
                   str(file))

    assert imported.exit_code == 0, imported.output
    assert imported.stdout.strip() == ("imported 2 registry numbers for area codes 305 "
                                       "(listed on 2026-11-30); 2 numbers on the registry "
                                       "in all")
    refusal = refused(dial, org="acme", to=MIAMI, consented=True)
    assert refusal.details["rule"] == "do_not_call.registry"
    assert "64.1200(c)(2)" in refusal.details["source"]["citation"]
    assert refusal.details["next_allowed_at"] is None
    assert "scrub file 305.txt of 2026-11-30" in refusal.message
    step = refusal.details["trace"][-1]
    assert (step["step"], step["result"]) == ("do_not_call.registry", "checked")
    assert dial(org="globex", user="alice", to=MIAMI, at=NOON).caller_id
    assert dial(org="acme", user="alice", to=BALTIMORE, at=NOON).caller_id


@pytest.mark.usefixtures("two_orgs")
def test_a_new_scrub_file_replaces_its_area_codes_numbers_only(
        cli: Invoke, dial: Dial, tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("3055550123\n4105550123\n")
    second.write_text("305-555-0124\n")
    assert cli("dnc", "import-registry", "--org", "acme", str(first)).exit_code == 0

    again = cli("dnc", "import-registry", "--org", "acme", "--source", "ftc", str(second))

    assert again.exit_code == 0, again.output
    assert dial(org="acme", user="alice", to=MIAMI, at=NOON).caller_id  # off the new file
    assert refused(dial, org="acme", to=MIAMI_2).details["rule"] == "do_not_call.registry"
    assert refused(dial, org="acme", to=BALTIMORE).details["rule"] == "do_not_call.registry"
    assert "scrub file ftc" in refused(dial, org="acme", to=MIAMI_2).message


@pytest.mark.usefixtures("two_orgs")
def test_a_scrub_file_with_a_bad_line_imports_nothing_and_names_the_line(
        cli: Invoke, dial: Dial, tmp_path: Path) -> None:
    file = tmp_path / "bad.txt"
    file.write_text("3055550123\n12345\n1055550123\n")

    imported = cli("dnc", "import-registry", "--org", "acme", str(file))

    assert imported.exit_code == 2
    assert "line 2" in imported.stderr
    assert "line 3" in imported.stderr
    assert "line 1" not in imported.stderr
    assert dial(org="acme", user="alice", to=MIAMI, at=NOON).caller_id
    bad_date = cli("dnc", "import-registry", "--org", "acme", "--date", "30/11", str(file))
    assert bad_date.exit_code == 2
    assert "date" in bad_date.stderr
