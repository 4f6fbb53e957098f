"""Calls: decide an outbound call's caller ID, route an inbound call, record an outcome."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import click

from callsign.cli.output import emit, print_trace
from callsign.cli.state import State, pass_state
from callsign.domain.errors import InvalidInput

CHANNELS = ("manual", "click_to_dial", "connect", "dialer")  # domain.model.Channel's values


def parse_at(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not an ISO-8601 time", field="at") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@click.command()
@click.option("--org", required=True)
@click.option("--user", required=True, help="The calling user's id.")
@click.option("--to", "to", required=True, help="The number to call, in any common format.")
@click.option("--project", help="The project (campaign) the call belongs to.")
@click.option("--caller-id", help="A caller ID asked for this one call.")
@click.option("--channel", type=click.Choice(CHANNELS), default="manual",
              show_default=True)
@click.option("--consent", is_flag=True, help="Consented or urgent: allowed outside calling hours.")
@click.option("--subject", help="What the call is about (a debt, a campaign reference): "
              "frequency caps per subject count the person's calls on it.")
@click.option("--dry-run", is_flag=True, help="Decide without recording the call.")
@click.option("--seed", type=int, help="Seed the random choices (for replays).")
@click.option("--at", help="The time of the call, ISO-8601 (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@pass_state
def call(state: State, org: str, user: str, to: str, project: str | None,
         caller_id: str | None, channel: str, consent: bool, subject: str | None,
         dry_run: bool, seed: int | None, at: str | None, as_json: bool) -> None:
    """Decide the caller ID of one outbound call, and record the call."""
    from callsign.domain.model import Channel, OutboundRequest
    from callsign.services import calls

    request = OutboundRequest(org=org, user=user, to=to, project=project, caller_id=caller_id,
                              channel=Channel(channel), consented=consent, subject=subject)
    decision = calls.place_call(state.uow(), request, now=parse_at(at),
                                rng=random.Random(seed), dry_run=dry_run)
    if as_json:
        emit(decision.as_dict())
    else:
        click.echo(f"{decision.caller_id}  rule={decision.rule}  call={decision.call_id}")
        print_trace(decision)


@click.command()
@click.argument("call_id")
@click.argument("outcome")
@click.option("--at", help="When the outcome happened, ISO-8601 (default: now).")
@pass_state
def outcome(state: State, call_id: str, outcome: str, at: str | None) -> None:
    """Record the OUTCOME of a call (it can pick the number of the next call)."""
    from callsign.services import calls

    calls.record_outcome(state.uow(), call_id, outcome, now=parse_at(at))
    click.echo(f"recorded outcome {outcome} for {call_id}")


@click.command()
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
        emit(route.as_dict())
    else:
        click.echo(f"{route.destination}  rule={route.rule}  user={route.user or '-'}")
        print_trace(route)


@click.group("calls")
def calls_group() -> None:
    """Calls' results and spam reports (number health's inputs)."""


FAILURE_CLASSES = ("answered", "machine", "no_answer", "busy", "rejected_by_analytics",
                   "cancelled", "invalid_number", "failed", "unknown")  # domain.results


@calls_group.command("result")
@click.argument("call_id")
@click.option("--org", help="The organization (default: the call's own).")
@click.option("--answered/--not-answered", default=None, help="Whether a person answered.")
@click.option("--duration", type=click.IntRange(min=0), help="Seconds the call lasted.")
@click.option("--sip-code", type=click.IntRange(100, 699), help="The final SIP response code.")
@click.option("--failure-class", type=click.Choice(FAILURE_CLASSES),
              help="Derived from the others when left out.")
@click.option("--at", help="When the result was known, ISO-8601 (default: now).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def result(state: State, call_id: str, org: str | None, answered: bool | None,
           duration: int | None, sip_code: int | None, failure_class: str | None,
           at: str | None, as_json: bool) -> None:
    """Record the result of CALL_ID: answered, duration, SIP code, failure class."""
    from callsign.domain.results import ResultSource
    from callsign.services import results

    stored = results.record_result(state.uow(), org, call_id, source=ResultSource.API,
                                   now=parse_at(at), was_answered=answered,
                                   duration_s=duration, sip_code=sip_code,
                                   failure_class=failure_class)
    if as_json:
        emit(stored)
    else:
        click.echo(f"recorded result {stored['failure_class']} for {call_id}")


@calls_group.command("spam-report")
@click.argument("call_id")
@click.option("--org", help="The organization (default: the call's own).")
@click.option("--by", "reported_by", default="cli", show_default=True,
              help="Who saw it (an agent's id).")
@click.option("--note", default="", help="What the callee saw, in words.")
@click.option("--at", help="When it was reported, ISO-8601 (default: now).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def spam_report(state: State, call_id: str, org: str | None, reported_by: str, note: str,
                at: str | None, as_json: bool) -> None:
    """Report that CALL_ID showed as spam on the callee's phone (once per call)."""
    from callsign.services import results

    report = results.report_spam(state.uow(), org, call_id, reported_by=reported_by,
                                 note=note, now=parse_at(at))
    if as_json:
        emit(report.as_dict())
    elif report.recorded:
        click.echo(f"reported {report.number} as shown as spam on {call_id}")
    else:
        click.echo(f"{call_id} was already reported as spam by {report.reported_by}")
