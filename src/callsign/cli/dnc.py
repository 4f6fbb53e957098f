"""The organization's do-not-call list (SPEC 10): add, remove, list, import a CSV file; and
the national registry's scrub files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from callsign.cli.state import State, pass_state


@click.group("dnc")
def dnc_group() -> None:
    """The do-not-call list: every decision refuses a listed number, whatever the consent."""


@dnc_group.command("add")
@click.option("--org", required=True)
@click.option("--source", default="cli", help="Where the entry comes from.")
@click.option("--note", default="")
@click.argument("number")
@pass_state
def dnc_add(state: State, org: str, source: str, note: str, number: str) -> None:
    """List a number."""
    from callsign.services import dnc

    entry = dnc.add(state.uow(), org, number, source=source, note=note, now=datetime.now(UTC))
    click.echo(f"listed {entry['number']} (since {entry['added_at'][:10]})")


@dnc_group.command("remove")
@click.option("--org", required=True)
@click.argument("number")
@pass_state
def dnc_remove(state: State, org: str, number: str) -> None:
    """Take a number off the list."""
    from callsign.services import dnc

    dnc.remove(state.uow(), org, number)
    click.echo(f"removed {number}")


@dnc_group.command("list")
@click.option("--org", required=True)
@click.option("--limit", default=1000, show_default=True)
@click.option("--after", default=None, help="The last number of the previous page.")
@pass_state
def dnc_list(state: State, org: str, limit: int, after: str | None) -> None:
    """The listed numbers, with source, date and note."""
    from callsign.services import dnc

    page = dnc.listed(state.uow(), org, limit=limit, after=after)
    for entry in page["entries"]:
        click.echo(f"{entry['number']}  {entry['added_at'][:10]}  {entry['source']}"
                   + (f"  {entry['note']}" if entry["note"] else ""))
    click.echo(f"{page['size']} numbers listed", err=True)


@dnc_group.command("import")
@click.option("--org", required=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_state
def dnc_import(state: State, org: str, file: Path) -> None:
    """List every number of a CSV file (columns number[,source][,note]), all or nothing."""
    from callsign.domain.errors import InvalidInput
    from callsign.services import dnc

    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{file} is not UTF-8 text", field="FILE") from exc
    count = dnc.import_csv(state.uow(), org, text, now=datetime.now(UTC), source=file.name)
    click.echo(f"imported {count} numbers")


@dnc_group.command("import-registry")
@click.option("--org", required=True)
@click.option("--source", default=None, help="Where the file comes from (default: its name).")
@click.option("--date", "listed_on", default=None,
              help="The download's date, YYYY-MM-DD (default: today).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_state
def dnc_import_registry(state: State, org: str, source: str | None, listed_on: str | None,
                        file: Path) -> None:
    """Import a national do-not-call registry scrub file (10-digit numbers, one a line):
    it replaces the registry's numbers of the area codes it holds, all or nothing."""
    from datetime import date

    from callsign.domain.errors import InvalidInput
    from callsign.services import dnc

    try:
        day = date.fromisoformat(listed_on) if listed_on else None
    except ValueError:
        raise InvalidInput(f"{listed_on!r} is not a date (YYYY-MM-DD)", field="date") from None
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{file} is not UTF-8 text", field="FILE") from exc
    done = dnc.import_registry(state.uow(), org, text, source=source or file.name,
                               listed_on=day, now=datetime.now(UTC))
    click.echo(f"imported {done['imported']} registry numbers for area codes "
               f"{', '.join(done['area_codes'])} (listed on {done['listed_on']}); "
               f"{done['registry']['size']} numbers on the registry in all")


@dnc_group.command("check-reassigned")
@click.option("--org", required=True)
@click.option("--url", default=None,
              help="The reassigned numbers database's API (default: CALLSIGN_REASSIGNED_URL).")
@click.option("--max-age-days", default=30, show_default=True,
              help="Look a number up again once its answer is this old.")
@pass_state
def dnc_check_reassigned(state: State, org: str, url: str | None, max_age_days: int) -> None:
    """Look up each contact with a consent date in the reassigned numbers database and
    store the answers: a number disconnected since its consent is refused (rule
    reassigned_number, 47 C.F.R. § 64.1200(m))."""
    from datetime import timedelta

    from callsign.domain.errors import InvalidInput
    from callsign.providers.reassigned import reassigned_lookup
    from callsign.services import reassigned

    if max_age_days < 0:
        raise InvalidInput("must be 0 or more", field="max-age-days")
    lookup = reassigned_lookup(state.providers(), url)
    done = reassigned.check(state.uow(), org, lookup, now=datetime.now(UTC),
                            max_age=timedelta(days=max_age_days))
    click.echo(f"{done['contacts']} contacts with a consent date: {done['looked_up']} looked "
               f"up, {done['reused']} answers reused; {len(done['disconnected'])} "
               f"disconnected since their consent, {done['no_data']} without data")
    for number in done["disconnected"]:
        click.echo(f"disconnected since consent: {number}")
    for number in done["unanswered"]:
        click.echo(f"not answered (asked again next time): {number}", err=True)
