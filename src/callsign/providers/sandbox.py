"""A local, clearly labelled test inventory: deterministic fictional numbers per area code.

Numbers are NPA-555-01xx (reserved for fiction, valid to libphonenumber). The area codes
it is told are empty (CALLSIGN_SANDBOX_EMPTY_AREA_CODES, read by callsign.config) have
none, to show the "none available" path. Nothing leaves this machine.
"""

from __future__ import annotations

from collections.abc import Callable

from callsign.domain import phone
from callsign.domain.errors import InvalidNumber
from callsign.providers.base import Available, Owned


class SandboxProvider:
    name = "sandbox"
    label = "sandbox: a local test inventory of fictional numbers, no real number bought"

    def __init__(self, taken: Callable[[list[str]], set[str]],
                 empty_area_codes: frozenset[str] = frozenset()) -> None:
        self._taken = taken  # which of these numbers some organization already holds
        self.empty_area_codes = empty_area_codes

    def search(self, area_code: str, quantity: int, *, region: str | None = None,
               near: str | None = None) -> list[Available]:
        del region, near  # the fictional stock is by area code only
        if area_code in self.empty_area_codes:
            return []
        candidates = [f"+1{area_code}55501{i:02d}" for i in range(100)]
        taken = self._taken(candidates)
        found: list[Available] = []
        for e164 in candidates:
            if e164 in taken:
                continue
            try:
                facts = phone.facts_for(e164, "US", field="number")
            except InvalidNumber:
                return found  # this area code has no fictional range
            found.append(Available(e164, facts.region))
            if len(found) == quantity:
                break
        return found

    def buy(self, e164: str, *, voice_url: str | None) -> str:
        del voice_url  # nobody calls a fictional number
        return f"sandbox-{e164.lstrip('+')}"

    def release(self, e164: str, sid: str | None) -> None:
        del e164, sid  # nothing was bought: nothing to give back

    def owned(self) -> list[Owned]:
        return []
