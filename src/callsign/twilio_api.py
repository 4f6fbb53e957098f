"""Twilio's REST API through the official library, per organization.

Credentials: the org file names the account SID and the environment variable that holds
the auth token; the token is read when needed and never stored or printed. The REST base
URL can be pointed elsewhere (a local server that answers like Twilio's, in tests)
through the library's own HTTP client hook.
"""

from __future__ import annotations

import os
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from callsign.domain.errors import InvalidInput, ProviderError

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


def auth_token(account_sid: str | None, token_env: str | None) -> str:
    """The org's auth token from its environment variable, or InvalidInput naming it."""
    if not account_sid or not token_env:
        raise InvalidInput("the organization has no Twilio account configured "
                           "(twilio.account_sid and twilio.auth_token_env)", field="twilio")
    token = os.environ.get(token_env, "")
    if not token:
        raise InvalidInput(f"the environment variable {token_env} (the Twilio auth token) "
                           "is not set", field="twilio.auth_token_env")
    return token


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
