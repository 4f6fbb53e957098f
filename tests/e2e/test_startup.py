"""Issue 10, item 12: `scripts/run` (`callsign serve --demo`) on a real server.

The demo organization is applied only when absent, so a newcomer's changes survive a
restart; its API key is printed again, the same, and there is one demo key at a time.
The output names the web admin's URL and how to pick another port, and a taken port is
one line. With several workers, a worker that misses the supervisor's health ping for a
while (a busy host) is kept; only one silent past the timeout is replaced.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import (
    Server,
    callsign_command,
    free_port,
    server_environment,
    stop,
    store_url,
    wait_until_healthy,
)

pytestmark = pytest.mark.slow

KEY = re.compile(r"^API key for 'acme': (cs_\S+)$", re.MULTILINE)
HANG_GUARD = 600.0  # seconds: reached only by a hung server
MISSED_PINGS_SECONDS = 8.0  # longer than uvicorn's own 5 s, well within callsign's 30 s


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path


@pytest.fixture
def db_url(workdir: Path, store_kind: str) -> Iterator[str]:
    with store_url(store_kind, workdir) as url:
        yield url


def environment(workdir: Path) -> dict[str, str]:
    """The server's environment, with a user data directory of the test's own."""
    return {**server_environment(), "XDG_DATA_HOME": str(workdir / "data")}


def cli(workdir: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*callsign_command(), "--db", db_url, *args], capture_output=True,
                          text=True, env=environment(workdir), timeout=HANG_GUARD, check=False)


@contextlib.contextmanager
def serving(workdir: Path, db_url: str, *options: str,
            env: dict[str, str] | None = None) -> Iterator[Server]:
    """`callsign serve OPTIONS...` on a free port until the block ends (then stopped);
    ``env``: variables added to its environment."""
    port = free_port()
    run = workdir / f"run-{port}"
    run.mkdir()
    stdout = (run / "server.out").open("wb")
    stderr_path = run / "server.err"
    stderr = stderr_path.open("wb")
    process = subprocess.Popen(
        [*callsign_command(), "--db", db_url, "serve", "--port", str(port), *options],
        stdout=stdout, stderr=stderr, env={**environment(workdir), **(env or {})},
        start_new_session=True)
    server = Server(url=f"http://127.0.0.1:{port}", db_url=db_url, keys={}, process=process,
                    stderr_path=stderr_path, workdir=run, _files=[stdout, stderr])
    try:
        wait_until_healthy(server)
        yield server
    finally:
        died = stop(server)
    assert died is None, f"callsign serve died (exit {died}):\n{server.stderr()}"


def printed(server: Server) -> str:
    return (server.workdir / "server.out").read_text(encoding="utf-8")


def printed_key(server: Server) -> str:
    found = KEY.search(printed(server))
    assert found is not None, printed(server)
    return found.group(1)


def active_demo_keys(workdir: Path, db_url: str) -> list[str]:
    listed = cli(workdir, db_url, "keys", "list", "--org", "acme")
    assert listed.returncode == 0, listed.stderr
    return [line.split()[0] for line in listed.stdout.splitlines()
            if " active " in line and line.endswith(" demo")]


def test_a_restart_keeps_what_was_built_and_prints_the_same_key(
    workdir: Path, db_url: str
) -> None:
    """serve --demo twice on one store, a user added in between: the user is still there,
    the second start prints the first start's key, and acme has one demo key."""
    with serving(workdir, db_url, "--demo", "--as", "scripts/run") as first:
        key = printed_key(first)
        with first.client(key) as acme:
            added = acme.post("/v1/users", json={"id": "dana", "name": "Dana Diaz"})
            assert added.status_code == 201, added.text
        out, err = printed(first), first.stderr()
    assert "demo organization 'acme' created" in out
    assert f"{first.url}/admin" in err
    assert f"scripts/run --port {int(first.url.rsplit(':', 1)[1]) + 1}" in err

    with serving(workdir, db_url, "--demo") as second:
        assert printed_key(second) == key
        assert "organization 'acme' kept as it is" in printed(second)
        with second.client(key) as acme:
            users = acme.get("/v1/users")
            assert users.status_code == 200, users.text
            assert "dana" in [u["id"] for u in users.json()], users.text

    assert len(active_demo_keys(workdir, db_url)) == 1


def test_the_key_file_is_readable_by_its_owner_only(workdir: Path) -> None:
    """Beside a SQLite database, mode 0600, holding the key that was printed."""
    db = workdir / "callsign.db"
    with serving(workdir, f"sqlite:///{db}", "--demo") as running:
        key = printed_key(running)

    kept = workdir / "callsign.demo-key"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert kept.read_text(encoding="utf-8").strip() == key


def test_a_revoked_or_lost_key_is_replaced_and_earlier_demo_keys_revoked(
    workdir: Path, db_url: str, demo_file: Path
) -> None:
    """Earlier versions made a demo key per start; the first start now revokes them and
    makes the one it keeps. A kept key revoked since is replaced the same way."""
    assert cli(workdir, db_url, "apply", str(demo_file)).returncode == 0
    earlier = [cli(workdir, db_url, "keys", "create", "--org", "acme", "--name", "demo")
               .stdout.strip() for _ in range(2)]

    with serving(workdir, db_url, "--demo") as first:
        key = printed_key(first)
        assert "2 earlier demo key(s) revoked" in printed(first)
        for old in earlier:
            with first.client(old) as stale:
                assert stale.get("/v1/org").status_code == 401
    assert key not in earlier
    assert active_demo_keys(workdir, db_url) == [key.split("_")[1]]

    revoked = cli(workdir, db_url, "keys", "revoke", "--org", "acme", key.split("_")[1])
    assert revoked.returncode == 0, revoked.stderr
    with serving(workdir, db_url, "--demo") as second:
        replacement = printed_key(second)
        with second.client(replacement) as acme:
            assert acme.get("/v1/org").status_code == 200
    assert replacement != key
    assert active_demo_keys(workdir, db_url) == [replacement.split("_")[1]]


@pytest.fixture
def demo_file(workdir: Path) -> Path:
    from callsign.services.demo import demo_text

    path = workdir / "acme.yaml"
    path.write_text(demo_text(), encoding="utf-8")
    return path


def test_a_taken_port_is_one_line_naming_another_and_nothing_is_applied(
    workdir: Path, db_url: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]

        done = subprocess.run(
            [*callsign_command(), "--db", db_url, "serve", "--demo", "--port", str(port),
             "--as", "scripts/run"], capture_output=True, text=True,
            env=environment(workdir), timeout=HANG_GUARD, check=False)

    assert done.returncode == 5
    assert done.stderr == (f"Error: port {port} on 127.0.0.1 is in use; serve on another: "
                           f"scripts/run --port {port + 1}\n")
    assert cli(workdir, db_url, "users", "--org", "acme").returncode == 3  # no acme


# -- workers on a busy host ---------------------------------------------------------------------

def workers_of(server: Server) -> set[int]:
    """The live worker processes of a `serve --workers N` (children of its supervisor
    started by multiprocessing's spawn)."""
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == server.process.pid and fields[0] != "Z" \
                    and b"spawn_main" in (entry / "cmdline").read_bytes():  # not the tracker
                found.add(int(entry.name))
    return found


def all_workers(server: Server, count: int) -> set[int]:
    """Wait until the supervisor has ``count`` workers; them."""
    deadline = time.monotonic() + HANG_GUARD
    while len(found := workers_of(server)) != count:
        assert time.monotonic() < deadline, f"not {count} workers:\n{server.stderr()}"
        time.sleep(0.1)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_worker_that_misses_health_pings_for_a_while_is_kept(
    workdir: Path, db_url: str
) -> None:
    """A worker frozen for 8 s (as on a host whose cores are taken) was killed by uvicorn's
    5 s health ping; with callsign's default it answers again and serves on."""
    with serving(workdir, db_url, "--workers", "2") as running:
        frozen = min(all_workers(running, 2))
        os.kill(frozen, signal.SIGSTOP)
        try:
            time.sleep(MISSED_PINGS_SECONDS)  # the freeze itself, not a wait for a result
        finally:
            os.kill(frozen, signal.SIGCONT)

        assert alive(frozen), running.stderr()
        assert frozen in workers_of(running)
        assert httpx.get(f"{running.url}/healthz", timeout=HANG_GUARD).status_code == 200


@pytest.mark.parametrize(("options", "env"), [
    pytest.param(["--worker-timeout", "2"], None, id="flag"),
    pytest.param([], {"CALLSIGN_WORKER_TIMEOUT": "2"}, id="environment"),
    pytest.param(["--timeout-worker-healthcheck", "2"], {"CALLSIGN_WORKER_TIMEOUT": "300"},
                 id="uvicorn-name-over-environment"),
])
def test_a_worker_silent_past_the_timeout_is_replaced(
    workdir: Path, db_url: str, options: list[str], env: dict[str, str] | None
) -> None:
    """--worker-timeout (or uvicorn's name for it, --timeout-worker-healthcheck, or
    CALLSIGN_WORKER_TIMEOUT; the flag wins) reaches uvicorn: past it, the frozen worker is
    killed and another takes its place."""
    with serving(workdir, db_url, "--workers", "2", *options, env=env) as running:
        before = all_workers(running, 2)
        frozen = min(before)
        os.kill(frozen, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + HANG_GUARD
            while alive(frozen):
                assert time.monotonic() < deadline, "the frozen worker was never replaced"
                time.sleep(0.1)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(frozen, signal.SIGCONT)
        after = all_workers(running, 2)

        assert frozen not in after
        assert len(after - before) == 1
        assert httpx.get(f"{running.url}/healthz", timeout=HANG_GUARD).status_code == 200
