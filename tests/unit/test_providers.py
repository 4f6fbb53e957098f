"""Where providers are reached: webhook URLs built in one place, Twilio's errors translated
in one place, and the provider settings read once from the environment."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException

from callsign.bootstrap import provider_settings
from callsign.config import SANDBOX_EMPTY_AREA_CODES, Settings
from callsign.domain.errors import ProviderError
from callsign.providers.base import ProviderSettings
from callsign.providers.twilio import twilio_errors, webhook_url


@pytest.mark.parametrize(("base", "hook", "query", "url"), [
    ("https://callsign.example.com", "inbound", {},
     "https://callsign.example.com/twilio/acme/inbound"),
    ("https://callsign.example.com/", "status", {"call_id": "call_1"},
     "https://callsign.example.com/twilio/acme/status?call_id=call_1"),
    ("http://127.0.0.1:8080/", "status", {"call_id": "call_2", "leg": "agent"},
     "http://127.0.0.1:8080/twilio/acme/status?call_id=call_2&leg=agent"),
])
def test_a_webhook_url_is_the_base_the_orgs_hook_and_its_parameters(
        base: str, hook: str, query: dict[str, str], url: str) -> None:
    assert webhook_url(base, "acme", hook, **query) == url


def test_a_refusal_names_what_twilio_would_not_do_and_the_field() -> None:
    with pytest.raises(ProviderError) as raised, twilio_errors("ring the agent", field="user"):
        raise TwilioRestException(400, "/Calls", msg="Invalid 'To' number", code=21211)

    assert raised.value.message == "Twilio refused to ring the agent: Invalid 'To' number " \
                                   "(code 21211)"
    assert raised.value.field == "user"


def test_a_refused_list_page_is_a_refusal() -> None:
    with pytest.raises(ProviderError) as raised, twilio_errors("list the account's numbers"):
        raise TwilioException("Unable to fetch page: HTTP 401")

    assert raised.value.message == "Twilio refused to list the account's numbers: " \
                                   "Unable to fetch page: HTTP 401"


def test_anything_else_of_twilios_is_twilio_unreachable_without_a_field() -> None:
    with pytest.raises(ProviderError) as raised, twilio_errors("buy +12125550100",
                                                              field="number"):
        raise TwilioException("Connection reset")

    assert raised.value.message == "Twilio could not be reached to buy +12125550100: " \
                                   "Connection reset"
    assert raised.value.field is None


def test_provider_settings_are_read_once_from_the_environment() -> None:
    settings = Settings.load("sqlite:///unused.db", environ={
        SANDBOX_EMPTY_AREA_CODES: " 907, 217,,", "CALLSIGN_PUBLIC_URL": "https://cs.example",
        "CALLSIGN_TWILIO_API_BASE": "http://127.0.0.1:9"})

    assert provider_settings(settings) == ProviderSettings(
        twilio_api_base="http://127.0.0.1:9", public_url="https://cs.example",
        sandbox_empty_area_codes=frozenset({"907", "217"}))
