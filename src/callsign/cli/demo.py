"""`callsign demo`: the demo organization and sample decisions, recording nothing."""

from __future__ import annotations

import click

from callsign.cli.output import print_trace
from callsign.cli.state import State, pass_state


@click.command()
@click.option("--reset", is_flag=True,
              help="Replace an organization 'acme' that differs from the demo with it.")
@pass_state
def demo(state: State, reset: bool) -> None:
    """Apply the demo organization 'acme' and print sample decisions (recording nothing).

    An 'acme' changed since it was applied is kept and the command stops, unless --reset.
    """
    from callsign.services.demo import run_demo

    run = run_demo(state.uow, reset=reset)
    click.echo(f"demo organization {run.org!r} applied to {state.settings.database_url}\n")
    for sample in run.calls:
        click.echo(f"{sample.user} calls {sample.to} ({sample.why}):")
        click.echo(f"  → {sample.decision.caller_id}  rule={sample.decision.rule}")
        print_trace(sample.decision)
        click.echo()
    route = run.callback
    click.echo(f"{run.caller} calls back {run.called}: rings {route.destination} "
               f"(rule={route.rule}, user={route.user})")
