"""API keys: create, list and revoke an organization's keys."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from callsign.cli.state import State, pass_state


@click.group("keys")
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

    access.revoke_key(state.uow(), org, key_id, now=datetime.now(UTC))
    click.echo(f"revoked {key_id}")
