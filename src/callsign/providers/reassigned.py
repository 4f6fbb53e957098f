"""Reassigned-numbers lookups: adapters of ``services.ports.ReassignedLookup`` (SPEC 10).

``HttpReassignedLookup`` speaks a reassigned-numbers database's query API in its plain
form, as the FCC's Reassigned Numbers Database answers (and resellers of it do):

    POST {base}/v1/queries            Authorization: Bearer TOKEN (if one is set)
    {"queries": [{"number": "+13125550101", "date": "2025-06-01"}, ...]}
                                      (at most BATCH queries a request)
    200 {"results": [{"number": "+13125550101", "answer": "yes"}, ...]}

An answer is ``yes`` (permanently disconnected since the date), ``no`` or ``no_data``.
The operator names the database with ``CALLSIGN_REASSIGNED_URL`` (and its token with
``CALLSIGN_REASSIGNED_TOKEN``); ``callsign dnc check-reassigned --url URL`` overrides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx

from callsign.domain.compliance.reassigned import ANSWERS, Answer
from callsign.domain.errors import InvalidInput, ProviderError
from callsign.providers.base import ProviderSettings

BATCH = 100  # queries per request
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class HttpReassignedLookup:
    """A reassigned-numbers database's query API over HTTP."""

    def __init__(self, base_url: str, *, token: str | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidInput(f"must be an http:// or https:// URL, not {base_url[:60]!r}",
                               field="url")
        self.name = f"reassigned numbers database at {urlsplit(base_url).netloc}"
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._transport = transport

    def lookup(self, asked: Sequence[tuple[str, date]]) -> dict[str, Answer]:
        found: dict[str, Answer] = {}
        with httpx.Client(timeout=TIMEOUT, transport=self._transport,
                          headers=self._headers) as client:
            for start in range(0, len(asked), BATCH):
                batch = list(asked[start:start + BATCH])
                found.update(self._answers(self._query(client, batch),
                                           {number for number, _ in batch}))
        return found

    def _query(self, client: httpx.Client, batch: list[tuple[str, date]]) -> Any:
        body = {"queries": [{"number": n, "date": d.isoformat()} for n, d in batch]}
        try:
            answer = client.post(f"{self._base}/v1/queries", json=body)
        except httpx.HTTPError as exc:
            raise ProviderError(f"the reassigned numbers database at {self._base} cannot be "
                                f"reached: {type(exc).__name__}", field="url") from exc
        if answer.status_code != 200:
            raise ProviderError(f"the reassigned numbers database answered "
                                f"{answer.status_code} {answer.reason_phrase}", field="url")
        try:
            return answer.json()
        except ValueError as exc:
            raise ProviderError("the reassigned numbers database answered something other "
                                "than JSON", field="url") from exc

    def _answers(self, body: Any, asked: set[str]) -> dict[str, Answer]:
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise _bad("results", "is not a list")
        found: dict[str, Answer] = {}
        for i, result in enumerate(results):
            number = result.get("number") if isinstance(result, dict) else None
            if number not in asked:
                raise _bad(f"results[{i}].number", "is not a number asked about")
            answer = result.get("answer")
            if answer not in ANSWERS:
                raise _bad(f"results[{i}].answer", "is not one of " + ", ".join(ANSWERS))
            found[str(number)] = answer
        return found


def _bad(path: str, why: str) -> ProviderError:
    return ProviderError(f"the reassigned numbers database's answer is not usable: {path} "
                         f"{why}", field="url")


def reassigned_lookup(settings: ProviderSettings,
                      url: str | None = None) -> HttpReassignedLookup:
    """The configured database (``url`` overrides the settings'); InvalidInput if none is."""
    chosen = url or settings.reassigned_url
    if not chosen:
        raise InvalidInput("no reassigned numbers database is configured: set "
                           "CALLSIGN_REASSIGNED_URL (or give --url URL)", field="url")
    return HttpReassignedLookup(chosen, token=settings.reassigned_token)
