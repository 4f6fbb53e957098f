"""Reputation feeds: adapters of ``services.ports.ReputationFeed`` (SPEC 9).

``HttpReputationFeed`` speaks the lookup API scanning vendors offer, in its plain form:

    POST {base}/v1/lookups            Authorization: Bearer TOKEN (if one is set)
    {"numbers": ["+13125550101", ...]}            (at most BATCH numbers a request)
    200 {"results": [{"number": "+13125550101",
                      "scans": [{"engine": "Hiya", "carrier": "AT&T",
                                 "label": "Spam Likely",
                                 "checked_at": "2026-11-28T14:05:00Z"}, ...]}, ...]}

A vendor with another shape gets its own adapter beside this one. The operator names
the feed with ``CALLSIGN_REPUTATION_FEED_URL`` (and its token with
``CALLSIGN_REPUTATION_FEED_TOKEN``); ``callsign health scan --feed URL`` overrides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from callsign.domain.errors import InvalidInput, ProviderError
from callsign.domain.reputation import Label, engine_of, verdict_of
from callsign.providers.base import ProviderSettings

BATCH = 100  # numbers per lookup request
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class HttpReputationFeed:
    """A scanning vendor's lookup API over HTTP."""

    def __init__(self, base_url: str, *, token: str | None = None, name: str = "scanner",
                 transport: httpx.BaseTransport | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidInput(f"must be an http:// or https:// URL, not {base_url[:60]!r}",
                               field="feed")
        self.name = name
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._transport = transport

    def fetch(self, numbers: Sequence[str]) -> list[tuple[str, Label]]:
        found: list[tuple[str, Label]] = []
        with httpx.Client(timeout=TIMEOUT, transport=self._transport,
                          headers=self._headers) as client:
            for start in range(0, len(numbers), BATCH):
                batch = list(numbers[start:start + BATCH])
                found += self._readings(self._lookup(client, batch), set(batch))
        return found

    def _lookup(self, client: httpx.Client, batch: list[str]) -> Any:
        url = f"{self._base}/v1/lookups"
        try:
            answer = client.post(url, json={"numbers": batch})
        except httpx.HTTPError as exc:
            raise ProviderError(f"the reputation feed at {self._base} cannot be reached: "
                                f"{type(exc).__name__}", field="feed") from exc
        if answer.status_code != 200:
            raise ProviderError(f"the reputation feed answered {answer.status_code} "
                                f"{answer.reason_phrase}", field="feed")
        try:
            return answer.json()
        except ValueError as exc:
            raise ProviderError("the reputation feed answered something other than JSON",
                                field="feed") from exc

    def _readings(self, body: Any, asked: set[str]) -> list[tuple[str, Label]]:
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise _bad("results", "is not a list")
        found = []
        for i, result in enumerate(results):
            number = result.get("number") if isinstance(result, dict) else None
            if number not in asked:
                raise _bad(f"results[{i}].number", "is not a number asked for")
            scans = result.get("scans")
            if not isinstance(scans, list):
                raise _bad(f"results[{i}].scans", "is not a list")
            found += [(str(number), self._label(scan, f"results[{i}].scans[{j}]"))
                      for j, scan in enumerate(scans)]
        return found

    def _label(self, scan: Any, path: str) -> Label:
        if not isinstance(scan, dict):
            raise _bad(path, "is not an object")
        texts = {}
        for key in ("engine", "carrier", "label", "checked_at"):
            value = scan.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > 64):
                raise _bad(f"{path}.{key}", "is not text of at most 64 characters")
            texts[key] = (value or "").strip()
        engine, carrier = engine_of(texts["engine"], texts["carrier"])
        if not engine or not texts["label"]:
            raise _bad(path, "names no engine or carrier, or no label")
        try:
            checked_at = datetime.fromisoformat(texts["checked_at"])
        except ValueError:
            raise _bad(f"{path}.checked_at", "is not an ISO 8601 time") from None
        if checked_at.tzinfo is None:
            raise _bad(f"{path}.checked_at", "has no time zone")
        return Label(engine, carrier, verdict_of(texts["label"]), texts["label"], checked_at,
                     f"feed:{self.name}")


def _bad(path: str, why: str) -> ProviderError:
    return ProviderError(f"the reputation feed's answer is not usable: {path} {why}",
                         field="feed")


def reputation_feed(settings: ProviderSettings, url: str | None = None) -> HttpReputationFeed:
    """The configured feed (``url`` overrides the settings'); InvalidInput if none is."""
    chosen = url or settings.reputation_feed_url
    if not chosen:
        raise InvalidInput("no reputation feed is configured: set "
                           "CALLSIGN_REPUTATION_FEED_URL (or give --feed URL)", field="feed")
    return HttpReputationFeed(chosen, token=settings.reputation_feed_token)
