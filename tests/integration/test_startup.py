"""Issue 10, items 7 and 12: a command line that starts at once and never prints a traceback.

`callsign --help` imports neither the store, the rules, the server nor the providers
(checked by the modules a fresh interpreter holds after it, not by a stopwatch). Every
error is one line on stderr with its exit code; an unexpected one names itself and how
to see its traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from callsign import cli as command_line
from callsign import config
from callsign.api.admin import pages as admin_pages
from callsign.api.admin.rendering import LazyJinja
from callsign.cli import serve as serve_command
from callsign.cli.calls import CHANNELS
from callsign.config import Settings
from callsign.domain.errors import Conflict
from callsign.domain.model import Channel
from callsign.services import organization
from callsign.services.demo import key_file_for

Invoke = Callable[..., Result]

HEAVY = ("phonenumbers", "sqlalchemy", "alembic", "litestar", "uvicorn", "twilio", "pydantic",
         "yaml", "msgspec", "jinja2", "psycopg", "prometheus_client", "httpx", "platformdirs")
MAX_NEW_MODULES = 150  # Click itself brings about 60; before the fix it was over 700
HANG_GUARD = 600  # seconds: only a hung interpreter reaches it

LOADED = """
import json, sys
before = set(sys.modules)
from callsign.cli import main
try:
    main({args!r}, prog_name="callsign")
except SystemExit:
    pass
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def modules_loaded_by(*args: str) -> list[str]:
    """The modules a fresh interpreter imports to run `callsign ARGS...`."""
    env = {k: v for k, v in os.environ.items() if k != "CALLSIGN_DATABASE_URL"}
    done = subprocess.run([sys.executable, "-c", LOADED.format(args=list(args))],
                          capture_output=True, text=True, env=env, timeout=HANG_GUARD,
                          check=True)
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def callsign(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`callsign ARGS...` as a real process (`python -m callsign`)."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"CALLSIGN_DATABASE_URL", "CALLSIGN_DEBUG"}}
    return subprocess.run([sys.executable, "-m", "callsign", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=HANG_GUARD, check=False)


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# -- a fast --help ---------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    pytest.param(["--help"], id="help"),
    pytest.param(["numbers", "--help"], id="group-help"),
    pytest.param(["serve", "--help"], id="serve-help"),
    pytest.param(["call", "--help"], id="call-help"),
])
def test_help_imports_no_store_rules_server_or_provider(args: list[str]) -> None:
    """`callsign --help` loads Click, the command line's own modules and the error tree,
    nothing heavy: it answers at once however busy the machine (it took ~1.8 s of imports,
    the geocoder first)."""
    loaded = modules_loaded_by(*args)

    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == [], heavy
    assert not [m for m in loaded if m.startswith("callsign.") and m not in {
        "callsign.cli", "callsign.domain", "callsign.domain.errors"}
        and not m.startswith("callsign.cli.")], loaded
    assert len(loaded) <= MAX_NEW_MODULES, len(loaded)


# -- a light worker ----------------------------------------------------------------------------

# What a worker deciding calls does not need, loaded on first use: Twilio's library (and
# the HTTP stack under it) by a Twilio webhook or REST call, Jinja by an admin page,
# Alembic (with Mako and Pygments) by a migration, the geocoder's data by the first
# callee it names, platformdirs when no database is named.
LAZY = ("twilio", "requests", "urllib3", "jinja2", "alembic", "mako", "pygments",
        "phonenumbers.geocoder", "phonenumbers.geodata", "platformdirs")

WORKER_LOADED = """
import json, sys
from callsign.api.app import create_app
from callsign.config import Settings
app = create_app(Settings.load({url!r}, environ={{}}))
print(json.dumps(sorted(sys.modules)))
"""


def lazy_in(loaded: list[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == lazy or m.startswith(f"{lazy}.")
                                           for lazy in LAZY))


def test_importing_the_app_loads_nothing_a_decision_does_not_need() -> None:
    """`import callsign.api.app`, as each worker does, leaves the Twilio library, Jinja,
    Alembic and the geocoder's data for later: a worker starts in less CPU time on a busy
    host (the import took ~1.8 s of CPU with them, 1,170 modules)."""
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys, callsign.api.app; "
                               "print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, timeout=HANG_GUARD, check=True)

    assert lazy_in(json.loads(done.stdout)) == []


def test_a_worker_on_a_migrated_store_loads_nothing_a_decision_does_not_need(
    db_url: str
) -> None:
    """The app made on a store already at the newest migration (what every worker of
    `serve` finds) checks its revision with one read, without Alembic."""
    done = subprocess.run([sys.executable, "-c", WORKER_LOADED.format(url=db_url)],
                          capture_output=True, text=True, timeout=HANG_GUARD, check=True)

    assert lazy_in(json.loads(done.stdout.splitlines()[-1])) == []


def test_the_admin_templates_are_rendered_by_jinja_made_on_first_use() -> None:
    """LazyJinja keeps what Litestar registers before the first page and renders the
    admin's templates as Litestar's Jinja engine does, autoescaped."""
    engine = LazyJinja(admin_pages.TEMPLATES)
    engine.register_template_callable("shout", lambda _, text: f"{text}!")

    assert engine.render_string("{{ shout(who) }}", {"who": "<b>"}) == "&lt;b&gt;!"
    assert engine.get_template("login.html").filename is not None
    engine.register_template_callable("whisper", lambda _, text: text.lower())
    assert engine.render_string("{{ whisper('HI') }}", {}) == "hi"


def test_the_channel_choices_are_the_domains_channels() -> None:
    """The CLI spells the channels out (to stay light); they are exactly the domain's."""
    assert set(CHANNELS) == {c.value for c in Channel}


# -- one line, never a traceback ---------------------------------------------------------------

def test_a_latin1_file_is_refused_with_one_line_naming_the_file_and_byte(
    cli: Invoke, tmp_path: Path, demo_yaml: str
) -> None:
    """A YAML file saved as Latin-1 (not UTF-8) is exit 2 with where its first bad byte is."""
    text = demo_yaml.replace("name: Alice Ng", "name: Zoé Ng")
    path = tmp_path / "acme-latin1.yaml"
    path.write_bytes(text.encode("latin-1"))
    line_of_e = next(n for n, line in enumerate(text.splitlines(), 1) if "Zoé" in line)

    result = cli("apply", str(path))

    assert result.exit_code == 2
    assert result.stdout == ""
    message = one_line(result.stderr)
    assert str(path) in message
    assert f"is not UTF-8 text: byte 0xe9 at line {line_of_e}" in message
    assert cli("users", "--org", "acme").exit_code == 3  # nothing applied


def test_a_latin1_file_is_one_line_from_a_real_process(tmp_path: Path) -> None:
    """The same through `python -m callsign`: exit 2, one line, no traceback."""
    (tmp_path / "org.yaml").write_bytes("org: acme\nname: Société\n".encode("latin-1"))

    done = callsign("--db", f"sqlite:///{tmp_path / 'c.db'}", "apply", "org.yaml",
                    cwd=tmp_path)

    assert done.returncode == 2
    assert one_line(done.stderr) == (
        "Error: file: org.yaml is not UTF-8 text: byte 0xe9 at line 2, column 11; "
        "save the file as UTF-8")


def test_an_unexpected_error_is_one_line_with_a_hint(
    cli: Invoke, tmp_path: Path, demo_yaml: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error callsign did not raise on purpose is exit 1 with one line naming it."""
    def broken(*_: object, **__: object) -> str:
        raise KeyError("numbers")

    monkeypatch.setattr(organization, "apply_text", broken)
    path = tmp_path / "acme.yaml"
    path.write_text(demo_yaml, encoding="utf-8")

    result = cli("apply", str(path))

    assert result.exit_code == 1
    assert one_line(result.stderr) == (
        "Error: unexpected KeyError: 'numbers'; run again with --debug (or CALLSIGN_DEBUG=1) "
        "for the traceback")


@pytest.mark.parametrize(("args", "env"), [
    pytest.param(["--debug"], None, id="flag"),
    pytest.param([], {"CALLSIGN_DEBUG": "1"}, id="environment"),
])
def test_debug_lets_the_traceback_through(
    cli: Invoke, tmp_path: Path, demo_yaml: str, monkeypatch: pytest.MonkeyPatch,
    args: list[str], env: dict[str, str] | None
) -> None:
    """With --debug (or CALLSIGN_DEBUG=1) the unexpected error is raised as it is."""
    def broken(*_: object, **__: object) -> str:
        raise KeyError("numbers")

    monkeypatch.setattr(organization, "apply_text", broken)
    path = tmp_path / "acme.yaml"
    path.write_text(demo_yaml, encoding="utf-8")

    result = cli(*args, "apply", str(path), env=env, catch=True)

    assert isinstance(result.exception, KeyError)


def test_an_error_after_the_command_is_one_line_with_its_exit_code(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CallsignError raised outside a command (closing the store) keeps its exit code."""
    def refuse(_: object) -> None:
        raise Conflict("the store could not be closed", field="database_url")

    monkeypatch.setattr(command_line.State, "close", refuse)

    result = cli("numbers", "--help")

    assert result.exit_code == 5
    assert result.stderr == "Error: database_url: the store could not be closed\n"


def test_a_file_that_is_no_database_is_one_line_from_a_real_process(tmp_path: Path) -> None:
    """A corrupt database file gave a 63-line traceback; now one line and a non-zero exit."""
    (tmp_path / "broken.db").write_bytes(b"this is not a database\n" * 300)

    done = callsign("--db", "sqlite:///broken.db", "users", "--org", "acme", cwd=tmp_path)

    assert done.returncode != 0
    assert done.stdout == ""
    assert one_line(done.stderr).startswith("Error: ")


# -- the demo ------------------------------------------------------------------------------

@pytest.mark.usefixtures("demo_yaml")
def test_demo_keeps_an_acme_changed_since_unless_reset(cli: Invoke) -> None:
    """`callsign demo` runs on an untouched demo, but never overwrites a changed acme."""
    assert cli("demo").exit_code == 0
    assert cli("demo").exit_code == 0  # the demo as it was applied: shown again
    added = cli("numbers", "add", "--org", "acme", "+13125550177", "--label", "mine")
    assert added.exit_code == 0, added.stderr

    refused = cli("demo")

    assert refused.exit_code == 5
    assert "differs from the demo" in one_line(refused.stderr)
    assert "+13125550177" in cli("numbers", "list", "--org", "acme").stdout

    reset = cli("demo", "--reset")

    assert reset.exit_code == 0, reset.stderr
    assert "+13125550177" not in cli("numbers", "list", "--org", "acme").stdout


@pytest.mark.parametrize(("url", "expected"), [
    pytest.param("sqlite:////srv/data/callsign.db", "/srv/data/callsign.demo-key", id="file"),
    pytest.param("sqlite:///rel/t.db", "rel/t.demo-key", id="relative"),
])
def test_the_demo_key_lives_beside_a_sqlite_file(url: str, expected: str) -> None:
    assert key_file_for(url) == Path(expected)


def test_the_demo_key_of_a_server_store_is_named_after_its_url_without_password() -> None:
    one = key_file_for("postgresql+psycopg://u:secret@db/x")
    same = key_file_for("postgresql+psycopg://u:other@db/x")
    other = key_file_for("postgresql+psycopg://u:secret@db/y")

    assert one == same != other
    assert "secret" not in str(one)


# -- the workers' health-ping timeout --------------------------------------------------------

@pytest.mark.parametrize(("text", "seconds"), [
    pytest.param("", 30, id="unset"),
    pytest.param("  ", 30, id="blank"),
    pytest.param("45", 45, id="set"),
    pytest.param(" 1 ", 1, id="spaces"),
    pytest.param("3600", 3600, id="largest"),
])
def test_the_worker_timeout_is_read_from_the_environment(text: str, seconds: int) -> None:
    settings = Settings.load("sqlite:///unused.db", environ={"CALLSIGN_WORKER_TIMEOUT": text})

    assert settings.worker_timeout == seconds


def test_the_worker_timeout_defaults_to_30_seconds_not_uvicorns_5() -> None:
    assert Settings.load("sqlite:///unused.db", environ={}).worker_timeout == 30
    assert (serve_command.DEFAULT_WORKER_TIMEOUT, serve_command.MAX_WORKER_TIMEOUT) == (
        config.DEFAULT_WORKER_TIMEOUT, config.MAX_WORKER_TIMEOUT)


@pytest.mark.parametrize("text", ["0", "3601", "-5", "1.5", "30s", "abc", "٣"])
def test_a_bad_worker_timeout_in_the_environment_is_one_line_naming_it(
    cli: Invoke, text: str
) -> None:
    """CALLSIGN_WORKER_TIMEOUT out of range or not a whole number: exit 2 (as every invalid
    input) before anything is served."""
    result = cli("serve", "--workers", "2", env={"CALLSIGN_WORKER_TIMEOUT": text})

    assert result.exit_code == 2
    assert result.stdout == ""
    assert one_line(result.stderr) == (
        "Error: CALLSIGN_WORKER_TIMEOUT: must be a whole number of seconds from 1 to 3600 "
        f"(the default is 30), not {text!r}")


@pytest.mark.parametrize("option", ["--worker-timeout", "--timeout-worker-healthcheck"])
@pytest.mark.parametrize("value", ["0", "3601", "soon"])
def test_a_bad_worker_timeout_flag_is_refused_naming_it(
    cli: Invoke, option: str, value: str
) -> None:
    result = cli("serve", "--workers", "2", option, value)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith(
        "Error: Invalid value for '--worker-timeout' / '--timeout-worker-healthcheck': "
        f"{value!r}" if value == "soon" else
        "Error: Invalid value for '--worker-timeout' / '--timeout-worker-healthcheck': "
        f"{value} is not in the range 1<=x<=3600"), result.stderr


def test_serve_help_names_the_worker_timeout_and_its_variable(cli: Invoke) -> None:
    shown = " ".join(cli("serve", "--help").stdout.split())

    assert "--worker-timeout, --timeout-worker-healthcheck SECONDS" in shown
    assert "CALLSIGN_WORKER_TIMEOUT; default 30, where uvicorn's own is 5" in shown
