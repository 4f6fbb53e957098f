"""What a number provider does, whatever its API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ProviderSettings:
    """Where providers are reached, built once from the settings (callsign.bootstrap):
    Twilio's REST base, callsign's public URL (its numbers' voice webhooks), and the area
    codes in which the sandbox has no numbers."""

    twilio_api_base: str | None = None
    public_url: str | None = None
    sandbox_empty_area_codes: frozenset[str] = frozenset()
    reputation_feed_url: str | None = None  # a scanning vendor's lookup API (SPEC 9)
    reputation_feed_token: str | None = None
    reassigned_url: str | None = None  # a reassigned-numbers database's API (SPEC 10)
    reassigned_token: str | None = None


@dataclass(frozen=True)
class Available:
    """A number the provider offers, not yet bought."""

    e164: str
    region: str | None = None


@dataclass(frozen=True)
class Owned:
    """A number the account holds at the provider."""

    e164: str
    sid: str


class NumberProvider(Protocol):
    name: str
    label: str  # shown with every answer ("sandbox: test inventory, no real numbers")

    def search(self, area_code: str, quantity: int, *, region: str | None = None,
               near: str | None = None) -> list[Available]:
        """Up to ``quantity`` local numbers in ``area_code`` (or, failing that, the region
        or near a number, where the provider can search that way)."""

    def buy(self, e164: str, *, voice_url: str | None) -> str:
        """Buy one number, pointing its voice webhook at ``voice_url``; its provider id."""

    def release(self, e164: str, sid: str | None) -> None:
        """Give a number back to the provider."""

    def owned(self) -> list[Owned]:
        """Every number the account holds (all pages)."""
