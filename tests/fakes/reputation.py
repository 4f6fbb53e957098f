"""A local server that answers like a reputation scanning vendor's lookup API.

``POST /v1/lookups`` with ``{"numbers": [...]}`` (and ``Authorization: Bearer TOKEN``
when the fake has a token; else 401) answers ``{"results": [{"number", "scans": [{
"engine", "carrier", "label", "checked_at"}]}]}`` for the numbers it has scans of (a
number it knows nothing of is left out), as ``callsign.providers.reputation`` expects.
More than 100 numbers in one request is a 400, as a vendor's batch bound would be. A
test sets what each engine shows (``show``), can make the next lookups fail
(``fail_with``) or answer nonsense (``garble``), and reads every request made
(``requests``). It runs on 127.0.0.1, on a free port, in a thread of the test process.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.json_server import serving

BATCH = 100


@dataclass
class FakeScanner:
    token: str | None = None
    url: str = ""
    scans: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    requests: list[list[str]] = field(default_factory=list)
    failure: int | None = None
    garbled: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def show(self, number: str, engine: str, carrier: str, label: str,
             checked_at: str) -> None:
        """The engine's label of ``number``, as of ``checked_at`` (ISO 8601)."""
        with self.lock:
            scans = self.scans.setdefault(number, [])
            scans[:] = [s for s in scans if s["engine"] != engine]
            scans.append({"engine": engine, "carrier": carrier, "label": label,
                          "checked_at": checked_at})

    def fail_with(self, status: int | None) -> None:
        self.failure = status

    def garble(self, body: Any) -> None:
        self.garbled = body

    def answer(self, path: str, authorization: str, body: bytes) -> tuple[int, Any]:
        if self.token is not None and authorization != f"Bearer {self.token}":
            return 401, {"error": "unauthorized"}
        if path != "/v1/lookups":
            return 404, {"error": "not found"}
        if self.failure is not None:
            return self.failure, {"error": "failing on purpose"}
        numbers = json.loads(body or b"{}").get("numbers")
        if not isinstance(numbers, list) or len(numbers) > BATCH:
            return 400, {"error": f"numbers: a list of at most {BATCH}"}
        with self.lock:
            self.requests.append(list(numbers))
            if self.garbled is not None:
                return 200, self.garbled
            return 200, {"results": [{"number": n, "scans": list(self.scans[n])}
                                     for n in numbers if n in self.scans]}


@contextlib.contextmanager
def fake_scanner(token: str | None = None) -> Iterator[FakeScanner]:
    """A running fake vendor; stopped at exit."""
    fake = FakeScanner(token)
    with serving(fake.answer, "fake-scanner") as url:
        fake.url = url
        yield fake
