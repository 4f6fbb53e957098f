"""API keys: create, list, rescope and revoke an organization's keys."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from callsign.cli.state import State, pass_state

SCOPE_HELP = ("What the key may do: admin (everything), dialer (the call path), numbers "
              "(the inventory) or read (GET only). Repeat it, or separate scopes with "
              "commas, for several.")


@click.group("keys")
def keys_group() -> None:
    """API keys: each belongs to one organization and sees only it."""


@keys_group.command("create")
@click.option("--org", required=True)
@click.option("--name", default="", help="What the key is for.")
@click.option("--scope", "scopes", multiple=True, default=("admin",), show_default=True,
              help=SCOPE_HELP)
@pass_state
def keys_create(state: State, org: str, name: str, scopes: tuple[str, ...]) -> None:
    """Print a new key; it is stored hashed and never shown again."""
    from callsign.domain import roles
    from callsign.services import access

    held = roles.parse(scopes, field="--scope")
    click.echo(access.create_key(state.uow(), org, name=name, now=datetime.now(UTC),
                                 scopes=held))


@keys_group.command("list")
@click.option("--org", required=True)
@pass_state
def keys_list(state: State, org: str) -> None:
    """List the organization's keys (their ids and scopes; secrets are not kept)."""
    from callsign.domain import roles
    from callsign.services import access

    for info in access.list_keys(state.uow(), org):
        revoked = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        click.echo(f"{info.id}  {revoked:<24} created {info.created_at:%Y-%m-%d %H:%M}  "
                   f"scopes {roles.describe(info.scopes):<22} {info.name}".rstrip())


@keys_group.command("scope")
@click.option("--org", required=True)
@click.option("--scope", "scopes", multiple=True, required=True, help=SCOPE_HELP)
@click.argument("key_id")
@pass_state
def keys_scope(state: State, org: str, scopes: tuple[str, ...], key_id: str) -> None:
    """Give a key these scopes instead of its own; every server sees it within a second."""
    from callsign.domain import roles
    from callsign.services import access

    held = roles.parse(scopes, field="--scope")
    access.set_scopes(state.uow(), org, key_id, held)
    click.echo(f"{access.key_id(key_id)} holds {roles.describe(held)}")


@keys_group.command("revoke")
@click.option("--org", required=True)
@click.argument("key_id")
@pass_state
def keys_revoke(state: State, org: str, key_id: str) -> None:
    """Revoke a key by its id (the part after cs_); it stops working at once."""
    from callsign.services import access

    access.revoke_key(state.uow(), org, key_id, now=datetime.now(UTC))
    click.echo(f"revoked {key_id}")
