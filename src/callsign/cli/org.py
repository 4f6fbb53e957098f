"""The organization: apply and export its file, list its users and projects."""

from __future__ import annotations

from pathlib import Path

import click

from callsign.cli.output import emit
from callsign.cli.state import State, pass_state
from callsign.domain.errors import InvalidInput


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True,
              help="Release the numbers FILE leaves out even if they were presented within "
                   "the release guard (release_guard_days).")
@pass_state
def apply(state: State, file: Path, force: bool) -> None:
    """Validate FILE whole, then make the organization equal to it, in one transaction."""
    from callsign.services import organization

    text = read_text(file)
    document = organization.apply_text(state.uow, text, source=str(file),
                                       providers=state.providers(), force=force)
    click.echo(f"applied {file} to organization {document.org}")


def read_text(file: Path) -> str:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}", field="file") from exc
    return decode_utf8(data, source=file)


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


@click.command()
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


@click.command()
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


@click.command()
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
