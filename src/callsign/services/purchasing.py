"""Numbers through providers: buy by area code, import, release, and coverage ([+])."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from callsign.domain import phone
from callsign.domain.document import OrgDocument
from callsign.domain.errors import InvalidInput, NotFound, ProviderError
from callsign.domain.model import NumberStatus
from callsign.domain.release import check_left_out, presented_lately
from callsign.providers import twilio
from callsign.providers.base import NumberProvider, ProviderSettings
from callsign.providers.sandbox import SandboxProvider
from callsign.services.twilio_account import credentials
from callsign.store import numbers as number_store
from callsign.store import orgs as org_store
from callsign.store.calls import recent_callees
from callsign.store.orgs import OrgRecord, hold_number, release_number, set_area_codes
from callsign.store.purchases import add_purchase, settle_purchase
from callsign.store.sql import integrity_errors
from callsign.store.uow import Connection, UnitOfWork

PROVIDERS = ("sandbox", "twilio")
MAX_QUANTITY = 20
UowFactory = Callable[[], UnitOfWork]


@dataclass
class PurchaseResult:
    provider: str
    label: str
    area_code: str
    requested: int
    bought: list[str] = field(default_factory=list)
    warning: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def failure(self) -> ProviderError | None:
        """The provider's refusal that stopped the purchase, naming what was bought before
        it; None when nothing failed."""
        if not self.error:
            return None
        bought = ", ".join(self.bought) or "none"
        return ProviderError(f"{self.error}; bought before the failure: {bought}",
                             field="provider")


def _held_any(uow: UowFactory) -> Callable[[list[str]], set[str]]:
    def taken(candidates: list[str]) -> set[str]:
        with uow() as work:
            return number_store.held_by_anyone(work.connection, candidates)
    return taken


# Providers are asked outside every store transaction: a provider's API can take seconds
# (Twilio's time limit is 10 s), and on SQLite a transaction holds the store's write lock,
# so a call made inside one would hold up every decision meanwhile.

def provider_for(uow: UowFactory, conn: Connection, org: OrgRecord, name: str,
                 settings: ProviderSettings, *, country: str | None = None) -> NumberProvider:
    """The provider called ``name`` for ``org``, with its credentials (read on ``conn``);
    ``country``: where it searches numbers (default: the organization's)."""
    if name == "sandbox":
        return SandboxProvider(_held_any(uow), settings.sandbox_empty_area_codes)
    if name == "twilio":
        account_sid, token = credentials(conn, org)
        client = twilio.client(account_sid, token, settings.twilio_api_base)
        return twilio.TwilioProvider(client, country=country or org.default_country)
    raise InvalidInput(f"{name!r} is not a provider ({', '.join(PROVIDERS)})", field="provider")


def _voice_url(settings: ProviderSettings, org: str) -> str | None:
    """Where Twilio asks what to do with a call to a number bought now (none: unset)."""
    return twilio.webhook_url(settings.public_url, org, "inbound") \
        if settings.public_url else None


def purchase(uow: UowFactory, org: str, area_code: str, quantity: int, provider_name: str,
             *, now: datetime, settings: ProviderSettings) -> PurchaseResult:
    """Buy up to ``quantity`` numbers serving ``area_code``; each is stored as bought.

    Each purchase is written down (pending) before the provider is asked, and marked
    bought in the same transaction that stores the number; a failure half-way keeps
    exactly the numbers bought before it.
    """
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInput(f"must be between 1 and {MAX_QUANTITY}", field="quantity")
    with uow() as work:
        row = org_store.org_row(work.connection, org)
        code = area_code.strip()
        if not phone.valid_area_code(code, row.default_country):
            raise InvalidInput(f"{area_code!r} is not a geographic area code of "
                               f"{row.default_country}", field="area_code")
        # A NANP area code is searched in its own country (905 in Canada, 787 in Puerto Rico).
        country = phone.nanp_country(code)
        provider = provider_for(uow, work.connection, row, provider_name, settings,
                                country=country)
        region = phone.nanp_region(code) if country in ("US", "CA") else None
    found = provider.search(code, quantity,
                            region=phone.region_abbreviation(region) if region else None)
    result = PurchaseResult(provider.name, provider.label, code, quantity)
    if not found:
        result.warning = f"no numbers available in area code {code} from {provider.name}"
        return result
    clash = integrity_errors(uow().engine)
    for offer in found:
        with uow() as work:
            intent = add_purchase(work.connection, row.id, provider=provider.name,
                                  area_code=code, e164=offer.e164, at=now)
            work.commit()
        try:
            sid = provider.buy(offer.e164, voice_url=_voice_url(settings, org))
        except ProviderError as exc:
            _settle(uow, intent, "failed", exc.message)
            result.error = exc.message
            break
        try:
            with uow() as work:
                _store_bought(work.connection, row.id, offer.e164, code, provider.name, sid,
                              added_at=now)
                settle_purchase(work.connection, intent, "bought")
                work.commit()
        except clash:
            # A concurrent purchase stored this (sandbox) number first.
            _settle(uow, intent, "failed", "stored meanwhile by a concurrent purchase")
            continue
        result.bought.append(offer.e164)
    return result


def _settle(uow: UowFactory, intent: int, state: str, detail: str) -> None:
    with uow() as work:
        settle_purchase(work.connection, intent, state, detail)
        work.commit()


def _store_bought(conn: Connection, org_id: int, e164: str, area_code: str, provider: str,
                  sid: str, *, added_at: datetime | None = None) -> None:
    facts = phone.facts_for(e164, "US", field="number")
    number_id = hold_number(
        conn, org_id, e164, label=f"{provider} {area_code}".rstrip(), group_name="",
        status=NumberStatus.ACTIVE, area_code=facts.area_code, region=facts.region,
        daily_cap=None, provider=provider, provider_sid=sid, call_path=None,
        added_at=added_at)
    mapped = [area_code] if area_code and area_code != facts.area_code else []
    set_area_codes(conn, org_id, number_id, facts.area_code, mapped, active=True)


class Released(NamedTuple):
    """A released number: released (kept for its history) or deleted, and what named it."""

    number: str
    result: str
    cleared: list[str]


def release(uow: UowFactory, org: str, raw: str, *, settings: ProviderSettings,
            force: bool = False, force_recent: bool | None = None,
            now: datetime | None = None) -> Released:
    """Release a number: the provider is told first; if it fails, the number stays.

    The principal number is never released; a number presented as a caller ID within the
    organization's release guard only with ``force_recent`` (default: ``force``), since
    callbacks and do-not-call requests still reach it; a number users, projects or the
    agent leg depend on only with ``force`` (they forget it, and the answer lists them).
    A forced release is written down as forced.
    """
    with uow() as work:
        conn = work.connection
        row = org_store.org_row(conn, org)
        e164 = phone.parse_number(raw, row.default_country, field="number")
        held = _held(conn, row.id, e164, org)
        org_store.check_release(conn, row.id, e164, force=force,  # before Twilio
                                force_recent=force_recent, now=now)
        provider = _provider_of(uow, conn, row, held, settings)
    if provider is not None:
        provider.release(held.e164, held.provider_sid)
    with uow() as work:  # checked again: the provider let it go, the store follows
        conn = work.connection
        held = _held(conn, row.id, e164, org)
        outcome, cleared = release_number(conn, row.id, held.id, e164, force=force,
                                          force_recent=force_recent, now=now)
        work.commit()
    return Released(e164, outcome, cleared)


def guarded(uow: UowFactory, org: str, e164s: list[str], *,
            now: datetime) -> tuple[int, dict[str, datetime]]:
    """The organization's release guard in days, and those of ``e164s`` presented within it
    (when each was last presented): they are released only with force."""
    with uow() as work:
        conn = work.connection
        row = org_store.org_row(conn, org)
        days = org_store.guard_days(conn, row.id)
        last = {e164: org_store.last_presented(conn, row.id, e164) for e164 in e164s}
    return days, {e164: at for e164, at in last.items()
                  if at is not None and presented_lately(at, guard_days=days, now=now)}


def _held(conn: Connection, org_id: int, e164: str, org: str) -> Any:
    held = number_store.held_number(conn, org_id, e164)
    if held is None:
        raise NotFound(f"{e164} is not a number of organization {org!r}", field="number")
    return held


def _provider_of(uow: UowFactory, conn: Connection, org: OrgRecord, held: Any,
                 settings: ProviderSettings) -> NumberProvider | None:
    """The provider to tell when ``held`` goes, if it came from one."""
    if held.provider not in PROVIDERS:
        return None
    return provider_for(uow, conn, org, held.provider, settings)


def apply_document(uow: UowFactory, document: OrgDocument, *,
                   settings: ProviderSettings, force: bool = False,
                   now: datetime | None = None) -> None:
    """Make the organization equal to ``document`` (SPEC 6); call history stays.

    Numbers the document leaves out are released like a release does: each provider is
    told first, and each number it let go is recorded released at once; a provider that
    refuses stops the apply before anything else changes (the numbers released before it
    stay released, as a re-run expects). A left-out number presented within the
    document's release guard refuses the whole apply unless ``force``.
    """
    now = now or datetime.now(UTC)
    with uow() as work:
        conn = work.connection
        org_store.check_document(conn, document)
        row = org_store.find_org_row(conn, document.org)
        dropped = [] if row is None else org_store.numbers_left_out(
            conn, row.id, {n.number for n in document.numbers})
        if row is not None and not force:
            check_left_out(
                {held.e164: org_store.last_presented(conn, row.id, held.e164)
                 for held in dropped},
                guard_days=document.release_guard_days, now=now)
        left_out = [(held, _provider_of(uow, conn, row, held, settings))
                    for held in dropped if row is not None and held.provider in PROVIDERS]
    for held, provider in left_out:
        assert row is not None
        assert provider is not None
        provider.release(held.e164, held.provider_sid)
        with uow() as work:
            release_number(work.connection, row.id, held.id, held.e164, force=True, now=now)
            work.commit()
    with uow() as work:
        org_store.apply_document(work.connection, document)
        work.commit()


@dataclass
class ImportResult:
    provider: str
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)  # held by another organization


def import_owned(uow: UowFactory, org: str, provider_name: str, *,
                 settings: ProviderSettings) -> ImportResult:
    """Add the numbers the provider account already owns, in one transaction."""
    with uow() as work:
        row = org_store.org_row(work.connection, org)
        provider = provider_for(uow, work.connection, row, provider_name, settings)
    everything = provider.owned()
    with uow() as work:
        conn = work.connection
        result = ImportResult(provider.name)
        for owned in everything:
            holder = number_store.holder(conn, owned.e164)
            if holder == row.id:
                result.already.append(owned.e164)
            elif holder is not None:
                result.elsewhere.append(owned.e164)
            else:
                facts = phone.facts_for(owned.e164, row.default_country, field="number")
                _store_bought(conn, row.id, facts.e164, facts.area_code or "", provider.name,
                              owned.sid)
                result.added.append(facts.e164)
        work.commit()
    return result


@dataclass
class Coverage:
    contacts: int
    contacts_covered: int
    recent_callees: int
    recent_callees_covered: int
    uncovered: list[dict[str, Any]]  # area codes without a local number, most contacts first

    def as_dict(self) -> dict[str, Any]:
        def share(part: int, whole: int) -> float:
            return round(part / whole, 4) if whole else 0.0
        return {"contacts": self.contacts, "contacts_covered": self.contacts_covered,
                "contact_share": share(self.contacts_covered, self.contacts),
                "recent_callees": self.recent_callees,
                "recent_callees_covered": self.recent_callees_covered,
                "recent_share": share(self.recent_callees_covered, self.recent_callees),
                "uncovered": self.uncovered}


def buy_for_gaps(uow: UowFactory, org: str, found: Coverage, top: int, provider: str, *,
                 now: datetime, settings: ProviderSettings) -> list[PurchaseResult]:
    """One number for each of the ``top`` uncovered area codes; stops at the first
    provider failure, keeping (and reporting) what was bought before it."""
    results: list[PurchaseResult] = []
    for gap in found.uncovered[:top]:
        try:
            result = purchase(uow, org, gap["area_code"], 1, provider, now=now,
                              settings=settings)
        except ProviderError as exc:
            result = PurchaseResult(provider, provider, gap["area_code"], 1, error=exc.message)
        results.append(result)
        if result.error:
            break
    return results


def cover_gaps(uow: UowFactory, org: str, top: int, provider: str, *, now: datetime,
               settings: ProviderSettings) -> tuple[Coverage, list[PurchaseResult]]:
    """The coverage, and one number bought for each of its ``top`` gaps (none for 0)."""
    found = coverage(uow(), org, now=now)
    return found, buy_for_gaps(uow, org, found, top, provider, now=now, settings=settings)


def coverage(uow: UnitOfWork, org: str, *, now: datetime, days: int = 30) -> Coverage:
    """How much of the org's contacts (and last ``days`` of callees) a local number covers."""
    with uow:
        conn = uow.connection
        row = org_store.org_row(conn, org)
        served = number_store.served_area_codes(conn, row.id)
        phones = org_store.contact_phones(conn, row.id)
        recent = recent_callees(conn, row.id, since=now - timedelta(days=days))

    def area_codes(numbers_: list[str]) -> Counter[str]:
        found: Counter[str] = Counter()
        for number in numbers_:
            try:
                code = phone.facts_for(number, row.default_country, field="phone").area_code
            except InvalidInput:
                continue  # an emergency short number in the log
            if code:
                found[code] += 1
        return found

    by_contacts, by_calls = area_codes(phones), area_codes(recent)
    missing = (set(by_contacts) | set(by_calls)) - served
    ranked = sorted(missing, key=lambda c: (-by_contacts[c], -by_calls[c], c))
    return Coverage(
        contacts=sum(by_contacts.values()),
        contacts_covered=sum(n for c, n in by_contacts.items() if c in served),
        recent_callees=sum(by_calls.values()),
        recent_callees_covered=sum(n for c, n in by_calls.items() if c in served),
        uncovered=[{"area_code": c, "contacts": by_contacts[c], "recent_callees": by_calls[c],
                    "region": phone.nanp_region(c) if row.default_country in ("US", "CA")
                    else None} for c in ranked],
    )
