"""Number health (SPEC 9): the organization's summary, one number's health, the sweep."""

from __future__ import annotations

from typing import Any

import click

from callsign.cli.calls import parse_at
from callsign.cli.output import emit
from callsign.cli.state import State
from callsign.domain.errors import InvalidInput

ORG_HELP = "The organization."


def _org(ctx: click.Context, org: str | None) -> str:
    """The subcommand's --org, else the group's."""
    chosen = org or (ctx.parent.params.get("org") if ctx.parent is not None
                     and ctx.parent.command.name == "health" else None)
    if not chosen:
        raise InvalidInput("name the organization with --org", field="org")
    return str(chosen)


@click.group("health", invoke_without_command=True)
@click.option("--org", help=ORG_HELP)
@click.option("--at", help="As of when, ISO-8601 (default: now).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def health(ctx: click.Context, org: str | None, at: str | None, as_json: bool) -> None:
    """The organization's numbers by health state, and those resting or watched, with
    their reasons. Subcommands: show NUMBER, sweep."""
    if ctx.invoked_subcommand is not None:
        return
    from callsign.services import health as service

    state: State = ctx.ensure_object(State)
    summary = service.org_health(state.uow(), _org(ctx, org), now=parse_at(at))
    if as_json:
        emit(summary)
        return
    counts = ", ".join(f"{n} {s}" for s, n in summary["states"].items())
    click.echo(f"{summary['org']}: {summary['numbers']} numbers: {counts}, "
               f"{summary['not_judged']} not judged yet")
    for title in ("resting", "watch"):
        for entry in summary[title]:
            click.echo(f"  {entry['number']}  {_line(entry)}")


def _line(entry: dict[str, Any]) -> str:
    score = "" if entry["score"] is None else f" (score {entry['score']})"
    until = f"; until {entry['rest_until'][:16]}" if entry.get("rest_until") else ""
    return f"{entry['summary']}{score}{until}"


@health.command("show")
@click.argument("number")
@click.option("--org", help=ORG_HELP)
@click.option("--at", help="As of when, ISO-8601 (default: now).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, number: str, org: str | None, at: str | None,
         as_json: bool) -> None:
    """One number's health: state, score, reasons, its window's signals, its history."""
    from callsign.services import health as service

    state: State = ctx.ensure_object(State)
    shown = service.number_health(state.uow(), _org(ctx, org), number, now=parse_at(at))
    if as_json:
        emit(shown)
        return
    click.echo(f"{shown['number']} ({shown['status']}): {_line(shown)}")
    window = shown["window"]
    rate = "-" if window["answer_rate"] is None else f"{window['answer_rate']:.0%}"
    click.echo(f"  window: {window['calls']} calls, answer rate {rate}, "
               f"{window['spam_reports']} spam reports")
    for event in shown["events"]:
        click.echo(f"  {event['at'][:16]}  {event['from'] or '-'} -> {event['to']} "
                   f"({event['source']}): {event['reason']}")


@health.command("sweep")
@click.option("--org", help=ORG_HELP)
@click.option("--at", help="As of when, ISO-8601 (default: now).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sweep(ctx: click.Context, org: str | None, at: str | None,
          as_json: bool) -> None:
    """Judge every number of the organization: rest, restore, and say what changed."""
    from callsign.services import health as service

    state: State = ctx.ensure_object(State)
    report = service.sweep_org(state.uow(), _org(ctx, org), now=parse_at(at))
    if as_json:
        emit(report.as_dict())
        return
    click.echo(f"judged {report.judged} numbers; {len(report.changes)} changed")
    for change in report.changes:
        click.echo(f"  {change.number}: {change.from_state} -> {change.to_state}: "
                   f"{'; '.join(change.reasons)}")
