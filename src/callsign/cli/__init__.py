"""The command line (SPEC 7): parse, call one use case, print. Errors exit non-zero.

One module per group of commands; each command parses its options, calls one service and
prints what it answers. `callsign --help` stays fast: these modules import Click and the
error tree only; each command imports the services it needs when it runs.
"""

from __future__ import annotations

import click

from callsign.cli import calls, demo, dnc, health, keys, numbers, org, serve
from callsign.cli.errors import OneLineErrors, exit_code
from callsign.cli.state import State

__all__ = ["State", "exit_code", "main"]


@click.group(cls=OneLineErrors)
@click.option("--db", "database_url", envvar="CALLSIGN_DATABASE_URL", metavar="URL",
              help="Database URL (default: a SQLite file in the user data directory).")
@click.option("--debug", is_flag=True, envvar="CALLSIGN_DEBUG",
              help="Print the traceback of an unexpected error (also CALLSIGN_DEBUG=1).")
@click.version_option(package_name="callsign")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, debug: bool) -> None:
    """callsign: which caller ID each outbound call presents, and where call-backs ring."""
    ctx.obj = State(database_url, debug=debug)
    ctx.call_on_close(ctx.obj.close)


main.add_command(org.apply)
main.add_command(org.export)
main.add_command(org.users)
main.add_command(org.projects)
main.add_command(calls.call)
main.add_command(calls.outcome)
main.add_command(calls.inbound)
main.add_command(calls.calls_group)
main.add_command(numbers.numbers)
main.add_command(numbers.coverage)
main.add_command(health.health)
main.add_command(keys.keys_group)
main.add_command(dnc.dnc_group)
main.add_command(serve.serve)
main.add_command(demo.demo)
