"""Numbers: list, add, map area codes, pause, release, buy and import; and coverage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from callsign.cli.output import emit
from callsign.cli.state import State, pass_state

if TYPE_CHECKING:
    from callsign.services import purchasing


@click.group()
def numbers() -> None:
    """The organization's numbers: list, add, map area codes, pause, release."""


@numbers.command("list")
@click.option("--org", required=True)
@click.option("--search", default="", help="Digits, label or group to look for.")
@click.option("--area-code", default="")
@click.option("--group", default="")
@click.option("--status", default="")
@click.option("--for-project", is_flag=True,
              help="Order as when adding to a project: numbers in no project first.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def numbers_list(state: State, org: str, search: str, area_code: str, group: str, status: str,
                 for_project: bool, as_json: bool) -> None:
    """List numbers with the area codes they serve and today's use."""
    from callsign.services import numbers as numbers_service

    views = numbers_service.list_numbers(state.uow(), org, search=search, area_code=area_code,
                                         group=group, status=status, for_project=for_project,
                                         now=datetime.now(UTC))
    if as_json:
        emit([v.as_dict() for v in views])
        return
    for v in views:
        cap = f"{v.used_today}/{v.daily_cap}" if v.daily_cap else f"{v.used_today}"
        click.echo(f"{v.number}  {v.status:<8} {','.join(v.area_codes):<16} "
                   f"{v.region or '-':<16} today={cap:<8} {v.group or '-':<10} {v.label}")


@numbers.command("search")
@click.option("--org", required=True)
@click.argument("query")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def numbers_search(ctx: click.Context, org: str, query: str, as_json: bool) -> None:
    """Find numbers by digits, label, group or area code, in project-picker order."""
    if query.isdigit() and len(query) == 3:
        ctx.invoke(numbers_list, org=org, area_code=query, for_project=True, as_json=as_json)
    else:
        ctx.invoke(numbers_list, org=org, search=query, for_project=True, as_json=as_json)


@numbers.command("add")
@click.option("--org", required=True)
@click.argument("number")
@click.option("--label", default="")
@click.option("--group", default="")
@click.option("--area-code", "area_codes", multiple=True, help="Also serve this area code.")
@click.option("--daily-cap", type=int)
@pass_state
def numbers_add(state: State, org: str, number: str, label: str, group: str,
                area_codes: tuple[str, ...], daily_cap: int | None) -> None:
    """Add a number the organization already owns."""
    from callsign.services import numbers as numbers_service

    e164 = numbers_service.add_number(state.uow(), org, number, label=label, group=group,
                                      area_codes=area_codes, daily_cap=daily_cap,
                                      now=datetime.now(UTC))
    click.echo(f"added {e164}")


@numbers.command("map")
@click.option("--org", required=True)
@click.argument("number")
@click.argument("area_codes", nargs=-1, required=True)
@pass_state
def numbers_map(state: State, org: str, number: str, area_codes: tuple[str, ...]) -> None:
    """Make NUMBER also serve AREA_CODES."""
    from callsign.services import numbers as numbers_service

    e164, served = numbers_service.map_area_codes(state.uow(), org, number, area_codes)
    click.echo(f"{e164} serves {', '.join(served)}")


@numbers.command("unmap")
@click.option("--org", required=True)
@click.argument("number")
@click.argument("area_codes", nargs=-1, required=True)
@pass_state
def numbers_unmap(state: State, org: str, number: str, area_codes: tuple[str, ...]) -> None:
    """Delete mappings of NUMBER to AREA_CODES."""
    from callsign.services import numbers as numbers_service

    e164, served = numbers_service.map_area_codes(state.uow(), org, number, area_codes, unmap=True)
    click.echo(f"{e164} serves {', '.join(served) or 'no area code'}")


def _status_command(name: str, status: str, help_text: str) -> None:
    @numbers.command(name, help=help_text)
    @click.option("--org", required=True)
    @click.argument("number")
    @pass_state
    def command(state: State, org: str, number: str) -> None:
        from callsign.domain.model import NumberStatus
        from callsign.services import numbers as numbers_service

        e164 = numbers_service.set_status(state.uow(), org, number, NumberStatus(status))
        click.echo(f"{e164} is {status}")


_status_command("pause", "paused", "Stop presenting NUMBER; call-backs still route.")
_status_command("resume", "active", "Present NUMBER again.")


@numbers.command("release")
@click.option("--org", required=True)
@click.option("--force", is_flag=True,
              help="Release it even if it was presented within the release guard "
                   "(release_guard_days), or users or projects name it; they forget it.")
@click.argument("number")
@pass_state
def numbers_release(state: State, org: str, number: str, force: bool) -> None:
    """Release NUMBER (its provider is told first); its call history stays."""
    from callsign.services import purchasing

    released = purchasing.release(state.uow, org, number, settings=state.providers(),
                                  force=force)
    click.echo(f"{released.number} {released.result}")
    for what in released.cleared:
        click.echo(f"cleared {what}")


@numbers.command("buy")
@click.option("--org", required=True)
@click.option("--area-code", required=True)
@click.option("--quantity", default=1, show_default=True, type=int)
@click.option("--provider", default="sandbox", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def numbers_buy(state: State, org: str, area_code: str, quantity: int, provider: str,
                as_json: bool) -> None:
    """Buy numbers in an area code from a provider; they serve that area code."""
    from callsign.services import purchasing

    result = purchasing.purchase(state.uow, org, area_code, quantity, provider,
                                 now=datetime.now(UTC), settings=state.providers())
    if as_json:
        emit(result.as_dict())
    else:
        show_purchase(result)
    fail_if_failed([result])


def show_purchase(result: purchasing.PurchaseResult) -> None:
    if result.label != result.provider:
        click.echo(f"[{result.label}]")
    for e164 in result.bought:
        click.echo(f"bought {e164} ({result.provider}, serves {result.area_code})")
    if result.warning:
        click.echo(f"warning: {result.warning}", err=True)


def fail_if_failed(results: list[purchasing.PurchaseResult]) -> None:
    """A purchase that failed exits non-zero (after what was bought is printed), with the
    error the service gives it."""
    for result in results:
        failure = result.failure()
        if failure is not None:
            raise failure


@numbers.command("import")
@click.option("--org", required=True)
@click.option("--provider", default="twilio", show_default=True)
@pass_state
def numbers_import(state: State, org: str, provider: str) -> None:
    """Add the numbers the provider account already owns."""
    from callsign.services import purchasing

    result = purchasing.import_owned(state.uow, org, provider, settings=state.providers())
    click.echo(f"added {len(result.added)}, already here {len(result.already)}, "
               f"held by another organization {len(result.elsewhere)}")
    for e164 in result.added:
        click.echo(f"added {e164}")


@click.command()
@click.option("--org", required=True)
@click.option("--buy", "buy_top", default=0, type=click.IntRange(0, 20),
              help="Buy one number for each of the N area codes that would cover most.")
@click.option("--provider", default="sandbox", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def coverage(state: State, org: str, buy_top: int, provider: str, as_json: bool) -> None:
    """How many contacts (and recent callees) a local number covers, and what is missing."""
    from callsign.services import purchasing

    found, bought = purchasing.cover_gaps(state.uow, org, buy_top, provider,
                                          now=datetime.now(UTC), settings=state.providers())
    data = found.as_dict()
    if as_json:
        emit({**data, "purchases": [result.as_dict() for result in bought]})
    else:
        click.echo(f"contacts covered: {found.contacts_covered}/{found.contacts} "
                   f"({data['contact_share']:.0%}); callees of the last 30 days covered: "
                   f"{found.recent_callees_covered}/{found.recent_callees} "
                   f"({data['recent_share']:.0%})")
        for gap in found.uncovered[:20]:
            click.echo(f"  {gap['area_code']}  {gap['contacts']:>6} contacts  "
                       f"{gap['recent_callees']:>6} recent callees  {gap['region'] or ''}")
        for result in bought:
            show_purchase(result)
    fail_if_failed(bought)
