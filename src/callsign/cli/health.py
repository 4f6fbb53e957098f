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
    their reasons. Subcommands: show NUMBER, sweep, import-reputation FILE, scan."""
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
    for label in shown["labels"]:
        carrier = f" ({label['carrier']})" if label["carrier"] else ""
        flag = " - a flag" if label["flag"] else ""
        click.echo(f"  label: {label['engine']}{carrier}: {label['raw']} [{label['label']}] "
                   f"checked {label['checked_at'][:16]} ({label['source']}){flag}")
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


@health.command("import-reputation")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--org", help=ORG_HELP)
@click.option("--at", help="As of when, ISO-8601 (default: now).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def import_reputation(ctx: click.Context, file: str, org: str | None, at: str | None,
                      as_json: bool) -> None:
    """Import reputation scan results from a CSV file (columns: number, engine or carrier,
    label, checked_at): all rows or none; flagged numbers rest per the health policy."""
    from callsign.services import reputation

    state: State = ctx.ensure_object(State)
    text = _read_scan(file)
    report = reputation.import_csv(state.uow(), _org(ctx, org), text, now=parse_at(at))
    _labelled(report.as_dict(), as_json)


def _read_scan(file: str) -> str:
    from callsign.domain.scans import MAX_BYTES

    try:
        with click.open_file(file, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot be read: {exc.strerror}", field=file) from exc
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"is larger than {MAX_BYTES} bytes", field=file)
    try:
        return str(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"is not UTF-8 text (byte {exc.start})", field=file) from exc


def _labelled(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(report)
        return
    click.echo(f"stored {report['labels']} labels of {report['numbers']} numbers; "
               f"{len(report['changes'])} changed")
    for change in report["changes"]:
        click.echo(f"  {change['number']}: {change['from_state'] or '-'} -> "
                   f"{change['to_state']}: {'; '.join(change['reasons'])}")


@health.command("scan")
@click.option("--org", help=ORG_HELP)
@click.option("--feed", help="The feed's URL (default: CALLSIGN_REPUTATION_FEED_URL).")
@click.option("--at", help="As of when, ISO-8601 (default: now).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def scan(ctx: click.Context, org: str | None, feed: str | None, at: str | None,
         as_json: bool) -> None:
    """Pull the reputation labels of every number through the configured feed; flagged
    numbers rest per the health policy."""
    from callsign.providers.reputation import reputation_feed
    from callsign.services import reputation

    state: State = ctx.ensure_object(State)
    chosen = reputation_feed(state.providers(), feed)
    report = reputation.scan(state.uow(), _org(ctx, org), chosen, now=parse_at(at))
    _labelled(report.as_dict(), as_json)
