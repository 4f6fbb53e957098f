"""An organization's Twilio account: the SID its document names, and the auth token the
server's operator bound to its id (callsign.config), never one the organization chose."""

from __future__ import annotations

from callsign.config import (
    TWILIO_SECRETS,
    twilio_secrets_token,
    twilio_token_variable,
    twilio_variable_name,
    twilio_variable_token,
)
from callsign.domain.errors import InvalidInput
from callsign.store import orgs as org_store
from callsign.store.uow import Connection, UnitOfWork


def twilio_account(uow: UnitOfWork, org: str) -> tuple[str, str]:
    """The org's (account SID, auth token); InvalidInput when not configured."""
    with uow:
        return credentials(uow.connection, org_store.org_row(uow.connection, org))


def credentials(conn: Connection, org: org_store.OrgRecord) -> tuple[str, str]:
    """The (account SID, auth token) of an organization row, or InvalidInput saying what
    is missing. The token is the one the operator bound to this organization's id."""
    if not org.twilio_account_sid:
        raise InvalidInput("the organization has no Twilio account configured "
                           "(twilio.account_sid)", field="twilio")
    slug = str(org.slug)
    token = twilio_secrets_token(slug)
    # When another organization's id reads the same in a variable's name ('a.b' and
    # 'a_b'), the variable belongs to neither: only the secrets file binds their tokens.
    if token is None and org_store.orgs_named_alike(conn, twilio_variable_name(slug)) <= 1:
        token = twilio_variable_token(slug)
    if token is None:
        raise InvalidInput(
            f"the server holds no Twilio auth token for organization {slug!r}: its operator "
            f"sets the environment variable {twilio_token_variable(slug)} or an entry "
            f"{slug!r} in the file named by {TWILIO_SECRETS}", field="twilio")
    return str(org.twilio_account_sid), token
