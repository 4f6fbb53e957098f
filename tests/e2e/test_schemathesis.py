"""SPEC 8: generated requests against the published /openapi.json of a live server.

Schemathesis (its command line, in a process of its own) fuzzes every operation with
an organization's key. It runs on a server of its own: it creates, replaces and deletes
whatever it likes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import GLOBEX_YAML, Server, acme_yaml, serve, store_url

MAX_EXAMPLES = 25
HANG_GUARD = 3600  # seconds: a bound on a hung run, never on a slow one
REQUEST_HANG_GUARD = 600  # seconds per request: a busy host answers late, not never


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory,
                  store_kind: str) -> Iterator[Server]:
    """A server of its own, holding acme and globex."""
    workdir = tmp_path_factory.mktemp("fuzzed")
    with store_url(store_kind, workdir) as url, serve(
            workdir, {"acme": acme_yaml(), "globex": GLOBEX_YAML}, db_url=url) as running:
        yield running


def schemathesis(server: Server, workdir: Path, check: str) -> subprocess.CompletedProcess[str]:
    """`st run` against the server's /openapi.json with acme's key and one check."""
    script = Path(sys.executable).with_name("st")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "schemathesis.cli"]
    return subprocess.run(
        [*command, "run", f"{server.url}/openapi.json",
         "--header", f"Authorization: Bearer {server.keys['acme']}",
         "--checks", check, "--max-examples", str(MAX_EXAMPLES), "--seed", "20260302",
         "--workers", "1", "--request-timeout", str(REQUEST_HANG_GUARD),
         "--output-truncate", "false"],
        cwd=workdir, capture_output=True, text=True, timeout=HANG_GUARD, check=False,
        env={**os.environ, "NO_COLOR": "1"})


def test_generated_requests_never_cause_a_server_error(
    fuzzed_server: Server, tmp_path: Path
) -> None:
    """No input, however odd, gets a 5xx."""
    run = schemathesis(fuzzed_server, tmp_path, "not_a_server_error")

    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n{fuzzed_server.stderr()}"
    assert "passed" in run.stdout


def test_every_response_matches_the_published_schema(
    fuzzed_server: Server, tmp_path: Path
) -> None:
    """Each answer, success or error, has the shape /openapi.json says."""
    run = schemathesis(fuzzed_server, tmp_path, "response_schema_conformance")

    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
