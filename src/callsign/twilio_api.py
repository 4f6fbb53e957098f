"""Twilio's REST API through the official library, per organization.

Credentials: the org file names the account SID; the auth token is bound by the server's
operator, never chosen by the organization (see callsign.config): the environment
variable CALLSIGN_TWILIO_TOKEN_<ORG> or the CALLSIGN_TWILIO_SECRETS file. The token is
read when needed and never stored or printed. The REST base URL can be pointed elsewhere
(a local server that answers like Twilio's, in tests) through the library's own HTTP
client hook.
"""

from __future__ import annotations

import os
import re
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from callsign.config import TWILIO_SECRETS, twilio_secrets_token, twilio_token_variable
from callsign.domain.errors import InvalidInput, ProviderError
from callsign.store.orgs import orgs_named_alike
from callsign.store.uow import Connection

TWILIO_API = "https://api.twilio.com"


class _RedirectedHttpClient(TwilioHttpClient):
    """The library's HTTP client, sending api.twilio.com requests to another base URL."""

    def __init__(self, base: str) -> None:
        super().__init__(timeout=10)
        self.base = base.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self.base + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


def credentials(conn: Connection, org: Any) -> tuple[str, str]:
    """The (account SID, auth token) of an organization row, or InvalidInput saying what
    is missing. The token is the one the operator bound to this organization's id."""
    if not org.twilio_account_sid:
        raise InvalidInput("the organization has no Twilio account configured "
                           "(twilio.account_sid)", field="twilio")
    slug = str(org.slug)
    token = twilio_secrets_token(slug)
    if token is None and not _shares_variable(conn, slug):
        token = os.environ.get(twilio_token_variable(slug), "").strip() or None
    if token is None:
        raise InvalidInput(
            f"the server holds no Twilio auth token for organization {slug!r}: its operator "
            f"sets the environment variable {twilio_token_variable(slug)} or an entry "
            f"{slug!r} in the file named by {TWILIO_SECRETS}", field="twilio")
    return str(org.twilio_account_sid), token


def _shares_variable(conn: Connection, slug: str) -> bool:
    """Whether another organization's id maps to the same variable ('a.b' and 'a_b'): then
    the variable belongs to neither, and only the secrets file can bind their tokens."""
    normal = re.sub(r"[^A-Za-z0-9]", "_", slug).upper()
    return orgs_named_alike(conn, normal) > 1


def client(account_sid: str, token: str, api_base: str | None = None) -> Client:
    http = _RedirectedHttpClient(api_base) if api_base else TwilioHttpClient(timeout=10)
    return Client(account_sid, token, http_client=http)


def call_agent(twilio: Client, *, to: str, from_: str, url: str, status_callback: str) -> str:
    """Ring the agent's phone; Twilio fetches ``url`` for TwiML when they answer."""
    try:
        call = twilio.calls.create(to=to, from_=from_, url=url, method="POST",
                                   status_callback=status_callback,
                                   status_callback_event=["completed"],
                                   status_callback_method="POST")
    except TwilioRestException as exc:
        raise ProviderError(f"Twilio refused the agent leg: {exc.msg} (code {exc.code})",
                            field="user") from exc
    except TwilioException as exc:
        raise ProviderError(f"Twilio could not be reached: {exc}", field=None) from exc
    return str(call.sid)
