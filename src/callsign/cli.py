"""The command line (SPEC 7): parse, call one use case, print. Errors exit non-zero.

`callsign --help` stays fast: this module imports Click and the error tree only; each
command imports the store, the rules and the server it needs when it runs.
"""

from __future__ import annotations

import json
import os
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from callsign.domain.errors import (
    CallsignError,
    Conflict,
    InvalidInput,
    NotFound,
    ProviderError,
    Refused,
    StoreUnavailable,
)

if TYPE_CHECKING:
    from callsign.bootstrap import ProviderSettings, Store, UnitOfWork
    from callsign.config import Settings
    from callsign.domain.model import Decision, Route
    from callsign.services import purchasing

EXIT_CODES: dict[type[CallsignError], int] = {
    InvalidInput: 2, NotFound: 3, Refused: 4, Conflict: 5, ProviderError: 6,
    StoreUnavailable: 7, CallsignError: 1,
}
CHANNELS = ("manual", "click_to_dial", "connect", "dialer")  # domain.model.Channel's values
DEBUG_MARK = "_callsign_debug"
DEBUG_HINT = "run again with --debug (or CALLSIGN_DEBUG=1) for the traceback"


def exit_code(error: CallsignError) -> int:
    for kind in type(error).__mro__:
        if kind in EXIT_CODES:
            return EXIT_CODES[kind]
    return 1  # pragma: no cover


class CallsignCommandError(click.ClickException):
    """A CallsignError as Click prints it: one line on stderr, its own exit code."""

    def __init__(self, error: CallsignError) -> None:
        super().__init__(str(error))
        self.exit_code = exit_code(error)  # type: ignore[misc]  # Click reads it per instance


class UnexpectedError(click.ClickException):
    """An error callsign did not raise on purpose: one line naming it, and the hint."""

    exit_code = 1

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"unexpected {describe(error)}; {DEBUG_HINT}")


def describe(error: BaseException) -> str:
    """``Kind: first line of the message``, at most 300 characters."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= 300 else f"{text[:297]}..."


def _passes_through(error: Exception) -> bool:
    """Click's own exits and errors, and a closed pipe (Click answers it quietly)."""
    return isinstance(error, click.ClickException | click.exceptions.Exit | click.Abort
                      | EOFError | BrokenPipeError)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CallsignError as error:
            raise CallsignCommandError(error) from error
        except Exception as error:
            if ctx.params.get("debug"):
                setattr(error, DEBUG_MARK, True)  # main() lets it through too
                raise
            if _passes_through(error):
                raise
            fault = _store_fault(ctx, error)
            if fault is not None:  # a store fault outside a unit of work
                raise CallsignCommandError(fault) from error
            raise UnexpectedError(error) from error

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Whatever escapes the commands (closing the store, say) is one line too."""
        try:
            return super().main(*args, **kwargs)
        except CallsignError as error:
            if not kwargs.get("standalone_mode", True):
                raise
            click.echo(f"Error: {error}", err=True)
            sys.exit(exit_code(error))
        except Exception as error:
            if not kwargs.get("standalone_mode", True) or _passes_through(error) \
                    or getattr(error, DEBUG_MARK, False) or _debug_from_environment():
                raise
            click.echo(f"Error: {UnexpectedError(error).message}", err=True)
            sys.exit(UnexpectedError.exit_code)


def _store_fault(ctx: click.Context, error: Exception) -> CallsignError | None:
    """A driver's error as the store translates it (a store fault, a value it refuses),
    else None."""
    state = ctx.find_object(State)
    if state is None:
        return None
    from callsign.bootstrap import driver_error

    return driver_error(error, state.settings.database_url)


def _debug_from_environment() -> bool:
    from callsign.config import debug_requested

    return debug_requested()


class State:
    """What every command shares: settings, and the store opened on first use."""

    def __init__(self, database_url: str | None) -> None:
        self._database_url = database_url
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from callsign.config import Settings

            self._settings = Settings.load(self._database_url)
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            from callsign.bootstrap import open_store

            self._store = open_store(self.settings)
        return self._store

    def uow(self) -> UnitOfWork:
        return self.store.uow()

    def providers(self) -> ProviderSettings:
        from callsign.bootstrap import provider_settings

        return provider_settings(self.settings)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


pass_state = click.make_pass_decorator(State)


def parse_at(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not an ISO-8601 time", field="at") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group(cls=_Group)
@click.option("--db", "database_url", envvar="CALLSIGN_DATABASE_URL", metavar="URL",
              help="Database URL (default: a SQLite file in the user data directory).")
@click.option("--debug", is_flag=True, envvar="CALLSIGN_DEBUG",
              help="Print the traceback of an unexpected error (also CALLSIGN_DEBUG=1).")
@click.version_option(package_name="callsign")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, debug: bool) -> None:
    """callsign: which caller ID each outbound call presents, and where call-backs ring."""
    ctx.obj = State(database_url)
    ctx.call_on_close(ctx.obj.close)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
def apply(state: State, file: Path) -> None:
    """Validate FILE whole, then make the organization equal to it, in one transaction."""
    org = apply_file(state, file)
    click.echo(f"applied {file} to organization {org}")


def apply_file(state: State, file: Path) -> str:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}", field="file") from exc
    return apply_text(state, decode_utf8(data, source=file), source=str(file))


def decode_utf8(data: bytes, *, source: Path) -> str:
    """The text of a file, which must be UTF-8: else one error naming the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InvalidInput(
            f"{source} is not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, "
            f"column {column}; save the file as UTF-8", field="file") from None


def apply_text(state: State, text: str, *, source: str) -> str:
    from callsign.orgfile import load_document, parse_document
    from callsign.services import purchasing

    document = parse_document(load_document(text, source=source))
    purchasing.apply_document(state.uow, document, settings=state.providers())
    return document.org


@main.command()
@click.option("--org", required=True, help="Organization slug.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_state
def export(state: State, org: str, output: Path | None) -> None:
    """Write the organization as a file that `apply` takes back to the same state."""
    from callsign.orgfile import dump_document
    from callsign.services import organization

    text = dump_document(organization.get_config(state.uow(), org))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@main.command()
@click.option("--org", required=True)
@click.option("--user", required=True, help="The calling user's id.")
@click.option("--to", "to", required=True, help="The number to call, in any common format.")
@click.option("--project", help="The project (campaign) the call belongs to.")
@click.option("--caller-id", help="A caller ID asked for this one call.")
@click.option("--channel", type=click.Choice(CHANNELS), default="manual",
              show_default=True)
@click.option("--consent", is_flag=True, help="Consented or urgent: allowed outside calling hours.")
@click.option("--dry-run", is_flag=True, help="Decide without recording the call.")
@click.option("--seed", type=int, help="Seed the random choices (for replays).")
@click.option("--at", help="The time of the call, ISO-8601 (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@pass_state
def call(state: State, org: str, user: str, to: str, project: str | None,
         caller_id: str | None, channel: str, consent: bool, dry_run: bool, seed: int | None,
         at: str | None, as_json: bool) -> None:
    """Decide the caller ID of one outbound call, and record the call."""
    from callsign.domain.model import Channel, OutboundRequest
    from callsign.services import calls

    request = OutboundRequest(org=org, user=user, to=to, project=project, caller_id=caller_id,
                              channel=Channel(channel), consented=consent)
    decision = calls.place_call(state.uow(), request, now=parse_at(at),
                                rng=random.Random(seed), dry_run=dry_run)
    if as_json:
        emit(decision_json(decision))
    else:
        click.echo(f"{decision.caller_id}  rule={decision.rule}  call={decision.call_id}")
        print_trace(decision)


def decision_json(decision: Decision) -> dict[str, Any]:
    return {"call_id": decision.call_id, "caller_id": decision.caller_id, "rule": decision.rule,
            "to": decision.to, "trace": [step.as_dict() for step in decision.trace]}


def route_json(route: Route) -> dict[str, Any]:
    return {"call_id": route.call_id, "destination": route.destination, "rule": route.rule,
            "user": route.user, "trace": [step.as_dict() for step in route.trace]}


def print_trace(result: Decision | Route) -> None:
    for step in result.trace:
        number = f" {step.number}" if step.number else ""
        click.echo(f"  {step.result:>7}  {step.step}{number}: {step.detail}")


@main.command()
@click.argument("call_id")
@click.argument("outcome")
@click.option("--at", help="When the outcome happened, ISO-8601 (default: now).")
@pass_state
def outcome(state: State, call_id: str, outcome: str, at: str | None) -> None:
    """Record the OUTCOME of a call (it can pick the number of the next call)."""
    from callsign.services import calls

    calls.record_outcome(state.uow(), call_id, outcome, now=parse_at(at))
    click.echo(f"recorded outcome {outcome} for {call_id}")


@main.command()
@click.option("--to", "to", required=True, help="The called number: one of ours.")
@click.option("--from", "caller", default="",
              help="The caller's number; left out, 'anonymous' or 'Restricted' when withheld.")
@click.option("--at", help="The time of the call, ISO-8601 (default: now).")
@click.option("--dry-run", is_flag=True, help="Route without recording the call.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def inbound(state: State, to: str, caller: str, at: str | None, dry_run: bool,
            as_json: bool) -> None:
    """Decide where a call to one of our numbers rings."""
    from callsign.services import calls

    route = calls.route_call(state.uow(), to, caller, now=parse_at(at), dry_run=dry_run)
    if as_json:
        emit(route_json(route))
    else:
        click.echo(f"{route.destination}  rule={route.rule}  user={route.user or '-'}")
        print_trace(route)


@main.group()
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
                                      area_codes=area_codes, daily_cap=daily_cap)
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
              help="Release it even if users or projects name it; they forget it.")
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
    print_purchase(result, as_json)


def print_purchase(result: purchasing.PurchaseResult, as_json: bool) -> None:
    if as_json:
        emit(result.as_dict())
    else:
        show_purchase(result)
    fail_if_error(result)


def show_purchase(result: purchasing.PurchaseResult) -> None:
    if result.label != result.provider:
        click.echo(f"[{result.label}]")
    for e164 in result.bought:
        click.echo(f"bought {e164} ({result.provider}, serves {result.area_code})")
    if result.warning:
        click.echo(f"warning: {result.warning}", err=True)


def fail_if_error(result: purchasing.PurchaseResult) -> None:
    """A purchase that failed exits non-zero, naming what was bought before it failed."""
    if result.error:
        bought = ", ".join(result.bought) or "none"
        raise ProviderError(f"{result.error}; bought before the failure: {bought}",
                            field="provider")


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


@main.command()
@click.option("--org", required=True)
@click.option("--buy", "buy_top", default=0, type=click.IntRange(0, 20),
              help="Buy one number for each of the N area codes that would cover most.")
@click.option("--provider", default="sandbox", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def coverage(state: State, org: str, buy_top: int, provider: str, as_json: bool) -> None:
    """How many contacts (and recent callees) a local number covers, and what is missing."""
    from callsign.services import purchasing

    now = datetime.now(UTC)
    found = purchasing.coverage(state.uow(), org, now=now)
    data = found.as_dict()
    bought = purchasing.buy_for_gaps(state.uow, org, found, buy_top, provider, now=now,
                                     settings=state.providers()) if buy_top else []
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
    for result in bought:
        fail_if_error(result)


@main.command()
@click.option("--org", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def users(state: State, org: str, as_json: bool) -> None:
    """List the organization's users."""
    from callsign.services import organization

    found = organization.list_users(state.uow(), org)
    if as_json:
        emit([u.model_dump(mode="json") for u in found])
        return
    for u in found:
        click.echo(f"{u.id:<12} {u.name:<20} work={u.work_phone or '-'} "
                   f"caller_id={u.caller_id or '-'} direct={u.direct_number or '-'}"
                   f"{'' if u.active else '  (inactive)'}")


@main.command()
@click.option("--org", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def projects(state: State, org: str, as_json: bool) -> None:
    """List the organization's projects and their number selection logic."""
    from callsign.services import organization

    found = organization.list_projects(state.uow(), org)
    if as_json:
        emit([p.model_dump(mode="json") for p in found])
        return
    for p in found:
        click.echo(f"{p.id:<12} pool={len(p.numbers)} first_call={p.first_call} "
                   f"next_calls={p.next_calls} keep_previous={p.keep_previous_number} "
                   f"agent_number={p.agent_number}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes sharing the port (each with its own store connections).")
@click.option("--timeout-worker-healthcheck", "healthcheck_seconds", default=30,
              show_default=True, type=click.IntRange(1, 3600), metavar="SECONDS",
              help="With --workers 2 or more: how long a worker may take to answer the "
                   "supervisor's health ping before it is restarted. Generous, so that "
                   "workers on a busy host are not restarted in a loop.")
@click.option("--demo", is_flag=True,
              help="Create the demo organization 'acme' if it is absent (existing data is "
                   "kept) and print its API key, the same on every start.")
@click.option("--as", "command_name", default="callsign serve", hidden=True,
              help="The command to name in hints (scripts/run passes its own name).")
@pass_state
def serve(state: State, host: str, port: int, workers: int, healthcheck_seconds: int,
          demo: bool, command_name: str) -> None:
    """Serve the REST API, webhooks and web admin on one port."""
    import uvicorn  # the server is needed only here

    from callsign.bootstrap import shown_database_url

    other_port = port + 1 if port < 65535 else 8000
    refuse_a_taken_port(host, port, hint=f"{command_name} --port {other_port}")
    shown_url = shown_database_url(state.settings.database_url)
    if demo:
        show_demo(state, shown_url)
    state.store.close()  # migrated; the workers open their own
    os.environ["CALLSIGN_DATABASE_URL"] = state.settings.database_url
    base = f"http://{host}:{port}"
    click.echo(f"callsign serving on {base} ({workers} worker{'s' if workers > 1 else ''}, "
               f"store {shown_url})\n"
               f"  web admin: {base}/admin (sign in with "
               f"{'the API key above' if demo else 'an API key'})\n"
               f"  API docs:  {base}/schema (OpenAPI: {base}/openapi.json)\n"
               f"  another port: {command_name} --port {other_port}; stop: Ctrl-C", err=True)
    uvicorn.run("callsign.api.app:app_from_environment", factory=True, host=host, port=port,
                workers=workers, log_level="warning", access_log=False, lifespan="on",
                timeout_worker_healthcheck=healthcheck_seconds)


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


@main.group("keys")
def keys_group() -> None:
    """API keys: each belongs to one organization and sees only it."""


@keys_group.command("create")
@click.option("--org", required=True)
@click.option("--name", default="", help="What the key is for.")
@pass_state
def keys_create(state: State, org: str, name: str) -> None:
    """Print a new key; it is stored hashed and never shown again."""
    from callsign.services import access

    click.echo(access.create_key(state.uow(), org, name=name, now=datetime.now(UTC)))


@keys_group.command("list")
@click.option("--org", required=True)
@pass_state
def keys_list(state: State, org: str) -> None:
    """List the organization's keys (their ids; secrets are not kept)."""
    from callsign.services import access

    for info in access.list_keys(state.uow(), org):
        revoked = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        click.echo(f"{info.id}  {revoked:<24} created {info.created_at:%Y-%m-%d %H:%M}  "
                   f"{info.name}")


@keys_group.command("revoke")
@click.option("--org", required=True)
@click.argument("key_id")
@pass_state
def keys_revoke(state: State, org: str, key_id: str) -> None:
    """Revoke a key by its id (the part after cs_); it stops working at once."""
    from callsign.services import access

    access.revoke_key(state.uow(), org, key_id.split("_")[1] if "_" in key_id else key_id,
                      now=datetime.now(UTC))
    click.echo(f"revoked {key_id}")


DEMO_CALLS = (
    ("alice", "(773) 555-0150", None, "a Chicago mobile: agent's own number serves 773"),
    ("bob", "312-555-0188", None, "Chicago: local presence"),
    ("carol", "+1 217 555 0123", None, "Springfield IL: no 217 number, same-state fallback"),
    ("carol", "+1 907 555 0100", None, "Alaska: nothing local, principal number"),
    ("carol", "+1 201 555 0177", "renewals", "a renewals project call"),
)


@main.command()
@click.option("--reset", is_flag=True,
              help="Replace an organization 'acme' that differs from the demo with it.")
@pass_state
def demo(state: State, reset: bool) -> None:
    """Apply the demo organization 'acme' and print sample decisions (recording nothing).

    An 'acme' changed since it was applied is kept and the command stops, unless --reset.
    """
    from callsign.domain.model import OutboundRequest
    from callsign.services import calls
    from callsign.services.demo import demo_text

    org = apply_demo(state, demo_text(), reset=reset)
    click.echo(f"demo organization {org!r} applied to {state.settings.database_url}\n")
    afternoon = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)  # 14:00 in New York
    for user, to, project, why in DEMO_CALLS:
        request = OutboundRequest(org=org, user=user, to=to, project=project)
        decision = calls.place_call(state.uow(), request, now=afternoon,
                                    rng=random.Random(7), dry_run=True)
        click.echo(f"{user} calls {to} ({why}):")
        click.echo(f"  → {decision.caller_id}  rule={decision.rule}")
        print_trace(decision)
        click.echo()
    route = calls.route_call(state.uow(), "+13125550101", "+14155550123",
                             now=afternoon, dry_run=True)
    click.echo(f"+14155550123 calls back +13125550101: rings {route.destination} "
               f"(rule={route.rule}, user={route.user})")


def apply_demo(state: State, text: str, *, reset: bool) -> str:
    """Apply the demo document unless its organization exists and differs (then Conflict)."""
    from callsign.services.demo import apply_demo_text

    return apply_demo_text(state.uow(), text, reset=reset)
