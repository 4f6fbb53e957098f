"""A local server that answers like a reassigned-numbers database's query API.

``POST /v1/queries`` with ``{"queries": [{"number", "date"}, ...]}`` (and
``Authorization: Bearer TOKEN`` when the fake has a token; else 401) answers
``{"results": [{"number", "answer"}]}`` as ``callsign.providers.reassigned`` expects:
``yes`` when the test said the number was disconnected on a day on or after the date
asked (``disconnect``), ``no_data`` for a number it was told it knows nothing of
(``unknown``), else ``no``. More than 100 queries in one request is a 400. A test can
make the next queries fail (``fail_with``) or answer nonsense (``garble``), and reads
every request made (``requests``). It runs on 127.0.0.1, on a free port, in a thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from tests.fakes.json_server import BatchApi, serving


@dataclass
class FakeReassignedDatabase(BatchApi):
    PATH: ClassVar[str] = "/v1/queries"
    KEY: ClassVar[str] = "queries"

    disconnected: dict[str, date] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)

    def disconnect(self, number: str, on: date) -> None:
        """``number`` was permanently disconnected on ``on``."""
        with self.lock:
            self.disconnected[number] = on

    def results(self, items: list[Any]) -> list[Any]:
        return [{"number": q["number"], "answer": self._answer(q)} for q in items]

    def _answer(self, query: dict[str, str]) -> str:
        number = query["number"]
        if number in self.unknown:
            return "no_data"
        since = date.fromisoformat(query["date"])
        on = self.disconnected.get(number)
        return "yes" if on is not None and on >= since else "no"


@contextlib.contextmanager
def fake_reassigned_database(token: str | None = None) -> Iterator[FakeReassignedDatabase]:
    """A running fake database; stopped at exit."""
    fake = FakeReassignedDatabase(token)
    with serving(fake.answer, "fake-reassigned") as url:
        fake.url = url
        yield fake
