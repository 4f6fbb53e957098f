"""The command line (SPEC 7): parse, call one use case, print. Errors exit non-zero."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from callsign import inventory, keys, purchasing, service
from callsign.config import Settings
from callsign.domain.errors import (
    CallsignError,
    Conflict,
    InvalidInput,
    NotFound,
    ProviderError,
    Refused,
)
from callsign.domain.model import Channel, Decision, NumberStatus, OutboundRequest, Route
from callsign.orgfile import dump_document, load_yaml, parse_document
from callsign.store import orgs as org_store
from callsign.store.db import create_store_engine
from callsign.store.uow import UnitOfWork

EXIT_CODES: dict[type[CallsignError], int] = {
    InvalidInput: 2, NotFound: 3, Refused: 4, Conflict: 5, ProviderError: 6, CallsignError: 1,
}


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


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CallsignError as error:
            raise CallsignCommandError(error) from error


class State:
    """What every command shares: settings, and the store opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_store_engine(self.settings.database_url)
        return self._engine

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    def providers(self) -> purchasing.ProviderSettings:
        return purchasing.ProviderSettings(twilio_api_base=self.settings.twilio_api_base,
                                           public_url=self.settings.public_url)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


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
@click.version_option(package_name="callsign")
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """callsign: which caller ID each outbound call presents, and where call-backs ring."""
    ctx.obj = State(Settings.load(database_url))
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
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}", field="file") from exc
    return apply_text(state, text, source=str(file))


def apply_text(state: State, text: str, *, source: str) -> str:
    document = parse_document(load_yaml(text, source=source))
    purchasing.apply_document(state.uow, document, settings=state.providers())
    return document.org


@main.command()
@click.option("--org", required=True, help="Organization slug.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_state
def export(state: State, org: str, output: Path | None) -> None:
    """Write the organization as a file that `apply` takes back to the same state."""
    with state.uow() as uow:
        text = dump_document(org_store.export_document(uow.connection, org))
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
@click.option("--channel", type=click.Choice([c.value for c in Channel]), default="manual",
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
    request = OutboundRequest(org=org, user=user, to=to, project=project, caller_id=caller_id,
                              channel=Channel(channel), consented=consent)
    decision = service.place_call(state.uow(), request, now=parse_at(at),
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
    service.record_outcome(state.uow(), call_id, outcome, now=parse_at(at))
    click.echo(f"recorded outcome {outcome} for {call_id}")


@main.command()
@click.option("--to", "to", required=True, help="The called number: one of ours.")
@click.option("--from", "caller", required=True, help="The caller's number.")
@click.option("--at", help="The time of the call, ISO-8601 (default: now).")
@click.option("--dry-run", is_flag=True, help="Route without recording the call.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def inbound(state: State, to: str, caller: str, at: str | None, dry_run: bool,
            as_json: bool) -> None:
    """Decide where a call to one of our numbers rings."""
    route = service.route_call(state.uow(), to, caller, now=parse_at(at), dry_run=dry_run)
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
    views = inventory.list_numbers(state.uow(), org, search=search, area_code=area_code,
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
    e164 = inventory.add_number(state.uow(), org, number, label=label, group=group,
                                area_codes=area_codes, daily_cap=daily_cap)
    click.echo(f"added {e164}")


@numbers.command("map")
@click.option("--org", required=True)
@click.argument("number")
@click.argument("area_codes", nargs=-1, required=True)
@pass_state
def numbers_map(state: State, org: str, number: str, area_codes: tuple[str, ...]) -> None:
    """Make NUMBER also serve AREA_CODES."""
    e164, served = inventory.map_area_codes(state.uow(), org, number, area_codes)
    click.echo(f"{e164} serves {', '.join(served)}")


@numbers.command("unmap")
@click.option("--org", required=True)
@click.argument("number")
@click.argument("area_codes", nargs=-1, required=True)
@pass_state
def numbers_unmap(state: State, org: str, number: str, area_codes: tuple[str, ...]) -> None:
    """Delete mappings of NUMBER to AREA_CODES."""
    e164, served = inventory.map_area_codes(state.uow(), org, number, area_codes, unmap=True)
    click.echo(f"{e164} serves {', '.join(served) or 'no area code'}")


def _status_command(name: str, status: NumberStatus, help_text: str) -> None:
    @numbers.command(name, help=help_text)
    @click.option("--org", required=True)
    @click.argument("number")
    @pass_state
    def command(state: State, org: str, number: str) -> None:
        e164 = inventory.set_status(state.uow(), org, number, status)
        click.echo(f"{e164} is {status}")


_status_command("pause", NumberStatus.PAUSED, "Stop presenting NUMBER; call-backs still route.")
_status_command("resume", NumberStatus.ACTIVE, "Present NUMBER again.")


@numbers.command("release")
@click.option("--org", required=True)
@click.option("--force", is_flag=True,
              help="Release it even if users or projects name it; they forget it.")
@click.argument("number")
@pass_state
def numbers_release(state: State, org: str, number: str, force: bool) -> None:
    """Release NUMBER (its provider is told first); its call history stays."""
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
    with state.uow() as uow:
        document = org_store.export_document(uow.connection, org)
    rows = [u.model_dump(mode="json") for u in document.users]
    if as_json:
        emit(rows)
        return
    for u in document.users:
        click.echo(f"{u.id:<12} {u.name:<20} work={u.work_phone or '-'} "
                   f"caller_id={u.caller_id or '-'} direct={u.direct_number or '-'}"
                   f"{'' if u.active else '  (inactive)'}")


@main.command()
@click.option("--org", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def projects(state: State, org: str, as_json: bool) -> None:
    """List the organization's projects and their number selection logic."""
    with state.uow() as uow:
        document = org_store.export_document(uow.connection, org)
    if as_json:
        emit([p.model_dump(mode="json") for p in document.projects])
        return
    for p in document.projects:
        click.echo(f"{p.id:<12} pool={len(p.numbers)} first_call={p.first_call} "
                   f"next_calls={p.next_calls} keep_previous={p.keep_previous_number} "
                   f"agent_number={p.agent_number}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--demo", is_flag=True,
              help="Apply the demo organization and print a new API key for it first.")
@pass_state
def serve(state: State, host: str, port: int, workers: int, demo: bool) -> None:
    """Serve the REST API, webhooks and web admin on one port."""
    import uvicorn  # the server is needed only here

    if demo:
        org = apply_text(state, _demo_text(), source="demo/acme.yaml")
        key = keys.create_key(state.uow(), org, name="demo", now=datetime.now(UTC))
        click.echo(f"demo organization {org!r} in {state.settings.database_url}")
        click.echo(f"API key for {org!r}: {key}")
    state.engine.dispose()  # migrated; the workers open their own
    os.environ["CALLSIGN_DATABASE_URL"] = state.settings.database_url
    click.echo(f"callsign serving on http://{host}:{port} (API docs: /schema, "
               f"OpenAPI: /openapi.json)", err=True)
    uvicorn.run("callsign.api.app:app_from_environment", factory=True, host=host, port=port,
                workers=workers, log_level="warning", access_log=False, lifespan="on")


@main.group("keys")
def keys_group() -> None:
    """API keys: each belongs to one organization and sees only it."""


@keys_group.command("create")
@click.option("--org", required=True)
@click.option("--name", default="", help="What the key is for.")
@pass_state
def keys_create(state: State, org: str, name: str) -> None:
    """Print a new key; it is stored hashed and never shown again."""
    click.echo(keys.create_key(state.uow(), org, name=name, now=datetime.now(UTC)))


@keys_group.command("list")
@click.option("--org", required=True)
@pass_state
def keys_list(state: State, org: str) -> None:
    """List the organization's keys (their ids; secrets are not kept)."""
    for info in keys.list_keys(state.uow(), org):
        revoked = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        click.echo(f"{info.id}  {revoked:<24} created {info.created_at:%Y-%m-%d %H:%M}  "
                   f"{info.name}")


@keys_group.command("revoke")
@click.option("--org", required=True)
@click.argument("key_id")
@pass_state
def keys_revoke(state: State, org: str, key_id: str) -> None:
    """Revoke a key by its id (the part after cs_); it stops working at once."""
    keys.revoke_key(state.uow(), org, key_id.split("_")[1] if "_" in key_id else key_id,
                    now=datetime.now(UTC))
    click.echo(f"revoked {key_id}")


def _demo_text() -> str:
    return resources.files("callsign").joinpath("demo/acme.yaml").read_text(encoding="utf-8")


DEMO_CALLS = (
    ("alice", "(773) 555-0150", None, "a Chicago mobile: agent's own number serves 773"),
    ("bob", "312-555-0188", None, "Chicago: local presence"),
    ("carol", "+1 217 555 0123", None, "Springfield IL: no 217 number, same-state fallback"),
    ("carol", "+1 907 555 0100", None, "Alaska: nothing local, principal number"),
    ("carol", "+1 201 555 0177", "renewals", "a renewals project call"),
)


@main.command()
@pass_state
def demo(state: State) -> None:
    """Apply the demo organization 'acme' and print sample decisions (recording nothing)."""
    org = apply_text(state, _demo_text(), source="demo/acme.yaml")
    click.echo(f"demo organization {org!r} applied to {state.settings.database_url}\n")
    afternoon = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)  # 14:00 in New York
    for user, to, project, why in DEMO_CALLS:
        request = OutboundRequest(org=org, user=user, to=to, project=project)
        decision = service.place_call(state.uow(), request, now=afternoon,
                                      rng=random.Random(7), dry_run=True)
        click.echo(f"{user} calls {to} ({why}):")
        click.echo(f"  → {decision.caller_id}  rule={decision.rule}")
        print_trace(decision)
        click.echo()
    route = service.route_call(state.uow(), "+13125550101", "+14155550123",
                               now=afternoon, dry_run=True)
    click.echo(f"+14155550123 calls back +13125550101: rings {route.destination} "
               f"(rule={route.rule}, user={route.user})")
