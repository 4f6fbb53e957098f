"""Twilio's REST API through the official library: every call callsign makes to it.

Numbers: searched by area code (falling back to the region, then near a number), bought
with their voice webhook pointed at callsign, released, and listed (the library follows
Twilio's pages). Calls: the agent leg of phone-based calling. The URLs of callsign's own
Twilio webhooks are built here, once (``webhook_url``), and Twilio's errors become
``ProviderError`` here, once (``twilio_errors``).

A client is made per organization from its account SID and the auth token its operator
bound (see callsign.config); the token is never stored or printed. The REST base URL can
be pointed elsewhere (a local server that answers like Twilio's, in tests) through the
library's own HTTP client hook.

The library (and the HTTP stack under it) is imported when a client is first made, not
with this module: a worker that only decides calls never loads it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from callsign.domain.errors import ProviderError
from callsign.providers.base import Available, Owned

if TYPE_CHECKING:
    from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"
TIMEOUT = 10  # seconds Twilio's REST API may take to answer
WEBHOOKS = "/twilio/{org}"  # where callsign answers Twilio: voice, inbound, bridge, status


def webhook_url(base: str, org: str, hook: str, **query: str) -> str:
    """The URL of ``org``'s webhook ``hook`` (voice, inbound, bridge, status) under
    ``base``, callsign's URL as Twilio reaches it, with ``query`` as its parameters."""
    url = f"{base.rstrip('/')}{WEBHOOKS.format(org=org)}/{hook}"
    return f"{url}?{urlencode(query)}" if query else url


@contextlib.contextmanager
def twilio_errors(action: str, *, field: str | None = None) -> Iterator[None]:
    """Twilio's errors raised inside, as a ProviderError saying what it would not do;
    ``field``: the input a refusal concerns."""
    from twilio.base.exceptions import TwilioException, TwilioRestException

    try:
        yield
    except TwilioRestException as exc:
        raise ProviderError(f"Twilio refused to {action}: {exc.msg} (code {exc.code})",
                            field=field) from exc
    except TwilioException as exc:
        if "Unable to fetch page" in str(exc):  # the library's error for a refused list page
            raise ProviderError(f"Twilio refused to {action}: {exc}", field=field) from exc
        raise ProviderError(f"Twilio could not be reached to {action}: {exc}") from exc


@functools.cache
def _redirected_http_client() -> type[Any]:
    """The library's HTTP client, sending api.twilio.com requests to another base URL
    (a class made on first use, as the library is imported then)."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.http.response import Response

    class RedirectedHttpClient(TwilioHttpClient):
        def __init__(self, base: str) -> None:
            super().__init__(timeout=TIMEOUT)
            self.base = base.rstrip("/")

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
            if url.startswith(TWILIO_API):
                url = self.base + url[len(TWILIO_API):]
            return super().request(method, url, *args, **kwargs)

    return RedirectedHttpClient


def client(account_sid: str, token: str, api_base: str | None = None) -> Client:
    """A client of the account; ``api_base``: Twilio's REST API at another URL."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    http = _redirected_http_client()(api_base) if api_base \
        else TwilioHttpClient(timeout=TIMEOUT)
    return Client(account_sid, token, http_client=http)


def call_agent(twilio: Client, *, to: str, from_: str, url: str, status_callback: str) -> str:
    """Ring the agent's phone; Twilio fetches ``url`` for TwiML when they answer."""
    with twilio_errors("ring the agent", field="user"):
        call = twilio.calls.create(to=to, from_=from_, url=url, method="POST",
                                   status_callback=status_callback,
                                   status_callback_event=["completed"],
                                   status_callback_method="POST")
    return str(call.sid)


class TwilioProvider:
    """Twilio as a number provider."""

    name = "twilio"
    label = "twilio"

    def __init__(self, client: Client, country: str = "US") -> None:
        self.client = client
        self.country = country

    def search(self, area_code: str, quantity: int, *, region: str | None = None,
               near: str | None = None) -> list[Available]:
        local = self.client.available_phone_numbers(self.country).local
        with twilio_errors(f"search numbers in {area_code}"):
            found = local.list(area_code=area_code, voice_enabled=True, limit=quantity)
            if not found and region:
                found = local.list(in_region=region, voice_enabled=True, limit=quantity)
            if not found and near:
                found = local.list(near_number=near, voice_enabled=True, limit=quantity)
        return [Available(n.phone_number, n.region) for n in found]

    def buy(self, e164: str, *, voice_url: str | None) -> str:
        with twilio_errors(f"buy {e164}"):
            if voice_url:
                bought = self.client.incoming_phone_numbers.create(
                    phone_number=e164, voice_url=voice_url, voice_method="POST")
            else:
                bought = self.client.incoming_phone_numbers.create(phone_number=e164)
        return str(bought.sid)

    def release(self, e164: str, sid: str | None) -> None:
        with twilio_errors(f"release {e164}"):
            if sid is None:
                matches = self.client.incoming_phone_numbers.list(phone_number=e164, limit=1)
                if not matches:
                    return  # Twilio no longer holds it: nothing to release
                sid = str(matches[0].sid)
            self.client.incoming_phone_numbers(sid).delete()

    def owned(self) -> list[Owned]:
        with twilio_errors("list the account's numbers"):
            return [Owned(n.phone_number, str(n.sid))
                    for n in self.client.incoming_phone_numbers.stream(page_size=100)]
