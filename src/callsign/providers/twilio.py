"""Twilio as a number provider, through the official library.

Searches local numbers by area code (falling back to the region, then near a number),
buys them with their voice webhook pointed at callsign, releases them, and lists the
numbers the account already owns (the library follows Twilio's pages).
"""

from __future__ import annotations

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from callsign.domain.errors import ProviderError
from callsign.providers.base import Available, Owned


def _error(action: str, exc: Exception) -> ProviderError:
    if isinstance(exc, TwilioRestException):
        return ProviderError(f"Twilio refused to {action}: {exc.msg} (code {exc.code})")
    if "Unable to fetch page" in str(exc):  # the library's error for a refused list page
        return ProviderError(f"Twilio refused to {action}: {exc}")
    return ProviderError(f"Twilio could not be reached to {action}: {exc}")


class TwilioProvider:
    name = "twilio"
    label = "twilio"

    def __init__(self, client: Client, country: str = "US") -> None:
        self.client = client
        self.country = country

    def search(self, area_code: str, quantity: int, *, region: str | None = None,
               near: str | None = None) -> list[Available]:
        local = self.client.available_phone_numbers(self.country).local
        try:
            found = local.list(area_code=area_code, voice_enabled=True, limit=quantity)
            if not found and region:
                found = local.list(in_region=region, voice_enabled=True, limit=quantity)
            if not found and near:
                found = local.list(near_number=near, voice_enabled=True, limit=quantity)
        except (TwilioRestException, TwilioException) as exc:
            raise _error(f"search numbers in {area_code}", exc) from exc
        return [Available(n.phone_number, n.region) for n in found]

    def buy(self, e164: str, *, voice_url: str | None) -> str:
        try:
            if voice_url:
                bought = self.client.incoming_phone_numbers.create(
                    phone_number=e164, voice_url=voice_url, voice_method="POST")
            else:
                bought = self.client.incoming_phone_numbers.create(phone_number=e164)
        except (TwilioRestException, TwilioException) as exc:
            raise _error(f"buy {e164}", exc) from exc
        return str(bought.sid)

    def release(self, e164: str, sid: str | None) -> None:
        try:
            if sid is None:
                matches = self.client.incoming_phone_numbers.list(phone_number=e164, limit=1)
                if not matches:
                    return  # Twilio no longer holds it: nothing to release
                sid = str(matches[0].sid)
            self.client.incoming_phone_numbers(sid).delete()
        except (TwilioRestException, TwilioException) as exc:
            raise _error(f"release {e164}", exc) from exc

    def owned(self) -> list[Owned]:
        try:
            return [Owned(n.phone_number, str(n.sid))
                    for n in self.client.incoming_phone_numbers.stream(page_size=100)]
        except (TwilioRestException, TwilioException) as exc:
            raise _error("list the account's numbers", exc) from exc
