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
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tests.fakes.json_server import BatchApi, serving


@dataclass
class FakeScanner(BatchApi):
    PATH: ClassVar[str] = "/v1/lookups"
    KEY: ClassVar[str] = "numbers"

    scans: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def show(self, number: str, engine: str, carrier: str, label: str,
             checked_at: str) -> None:
        """The engine's label of ``number``, as of ``checked_at`` (ISO 8601)."""
        with self.lock:
            scans = self.scans.setdefault(number, [])
            scans[:] = [s for s in scans if s["engine"] != engine]
            scans.append({"engine": engine, "carrier": carrier, "label": label,
                          "checked_at": checked_at})

    def results(self, items: list[Any]) -> list[Any]:
        return [{"number": n, "scans": list(self.scans[n])} for n in items if n in self.scans]


@contextlib.contextmanager
def fake_scanner(token: str | None = None) -> Iterator[FakeScanner]:
    """A running fake vendor; stopped at exit."""
    fake = FakeScanner(token)
    with serving(fake.answer, "fake-scanner") as url:
        fake.url = url
        yield fake
