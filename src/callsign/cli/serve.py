"""`callsign serve`: the REST API, webhooks and web admin on one port."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import click

from callsign.cli.state import State, pass_state
from callsign.domain.errors import Conflict, InvalidInput

# callsign.config's DEFAULT_WORKER_TIMEOUT and MAX_WORKER_TIMEOUT, spelled out here so
# that `serve --help` does not import the settings (a test keeps them the same)
DEFAULT_WORKER_TIMEOUT = 30
MAX_WORKER_TIMEOUT = 3600


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes sharing the port (each with its own store connections).")
@click.option("--worker-timeout", "--timeout-worker-healthcheck", "worker_timeout",
              type=click.IntRange(1, MAX_WORKER_TIMEOUT), metavar="SECONDS",
              help="With --workers 2 or more: how long a worker may take to answer the "
                   "supervisor's health ping before it is killed and replaced (also "
                   "CALLSIGN_WORKER_TIMEOUT; default "
                   f"{DEFAULT_WORKER_TIMEOUT}, where uvicorn's own is 5). Generous, so that "
                   "workers starting on a busy host are not restarted in a loop.")
@click.option("--health-sweep", "health_sweep", type=click.IntRange(0, 7 * 24 * 3600),
              metavar="SECONDS",
              help="Seconds between health sweeps (rest, restore; one worker at a time "
                   "sweeps every organization); 0: none. Also CALLSIGN_HEALTH_SWEEP_SECONDS; "
                   "default 600.")
@click.option("--demo", is_flag=True,
              help="Create the demo organization 'acme' if it is absent (existing data is "
                   "kept) and print its API key, the same on every start.")
@click.option("--as", "command_name", default="callsign serve", hidden=True,
              help="The command to name in hints (scripts/run passes its own name).")
@pass_state
def serve(state: State, host: str, port: int, workers: int, worker_timeout: int | None,
          health_sweep: int | None, demo: bool, command_name: str) -> None:
    """Serve the REST API, webhooks and web admin on one port."""
    import uvicorn  # the server is needed only here

    from callsign.bootstrap import shown_database_url

    if worker_timeout is None:
        worker_timeout = state.settings.worker_timeout  # CALLSIGN_WORKER_TIMEOUT, or 30
    other_port = port + 1 if port < 65535 else 8000
    refuse_a_taken_port(host, port, hint=f"{command_name} --port {other_port}")
    shown_url = shown_database_url(state.settings.database_url)
    if demo:
        show_demo(state, shown_url)
    state.store.close()  # migrated; the workers open their own
    os.environ["CALLSIGN_DATABASE_URL"] = state.settings.database_url
    if health_sweep is not None:
        os.environ["CALLSIGN_HEALTH_SWEEP_SECONDS"] = str(health_sweep)
    base = f"http://{host}:{port}"
    click.echo(f"callsign serving on {base} ({workers} worker{'s' if workers > 1 else ''}, "
               f"store {shown_url})\n"
               f"  web admin: {base}/admin (sign in with "
               f"{'the API key above' if demo else 'an API key'})\n"
               f"  API docs:  {base}/schema (OpenAPI: {base}/openapi.json)\n"
               f"  another port: {command_name} --port {other_port}; stop: Ctrl-C", err=True)
    uvicorn.run("callsign.api.app:app_from_environment", factory=True, host=host, port=port,
                workers=workers, log_level="warning", access_log=False, lifespan="on",
                timeout_worker_healthcheck=worker_timeout)


def refuse_a_taken_port(host: str, port: int, *, hint: str) -> None:
    """A port already in use (or a host that cannot be listened on) is one line, not a log."""
    import errno
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.create_server((host, port), family=family):
            pass
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise Conflict(f"port {port} on {host} is in use; serve on another: {hint}",
                           field="port") from None
        raise InvalidInput(f"cannot listen on {host} port {port}: {exc.strerror or exc}",
                           field="host") from None


def show_demo(state: State, shown_url: str) -> None:
    """Set up the demo organization if absent, and print its one API key."""
    from callsign.services.demo import ensure_demo

    setup = ensure_demo(state.store, state.settings.database_url, now=datetime.now(UTC))
    if setup.created:
        click.echo(f"demo organization {setup.org!r} created in {shown_url}")
    else:
        click.echo(f"organization {setup.org!r} kept as it is in {shown_url} "
                   "(the demo is applied only when it is absent)")
    click.echo(f"API key for {setup.org!r}: {setup.key}")
    if not setup.key_kept:
        click.echo(f"  (it could not be saved to {setup.key_file}: the next start makes "
                   "another)")
    elif setup.new_key:
        revoked = f"; {setup.revoked} earlier demo key(s) revoked" if setup.revoked else ""
        click.echo(f"  (saved in {setup.key_file}, readable by you only: the same key is "
                   f"printed on every start{revoked})")
    else:
        click.echo(f"  (the key of the earlier starts, saved in {setup.key_file})")
