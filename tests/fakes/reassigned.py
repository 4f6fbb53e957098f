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
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tests.fakes.json_server import serving

BATCH = 100


@dataclass
class FakeReassignedDatabase:
    token: str | None = None
    url: str = ""
    disconnected: dict[str, date] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    requests: list[list[dict[str, str]]] = field(default_factory=list)
    failure: int | None = None
    garbled: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def disconnect(self, number: str, on: date) -> None:
        """``number`` was permanently disconnected on ``on``."""
        with self.lock:
            self.disconnected[number] = on

    def fail_with(self, status: int | None) -> None:
        self.failure = status

    def garble(self, body: Any) -> None:
        self.garbled = body

    def answer(self, path: str, authorization: str, body: bytes) -> tuple[int, Any]:
        if self.token is not None and authorization != f"Bearer {self.token}":
            return 401, {"error": "unauthorized"}
        if path != "/v1/queries":
            return 404, {"error": "not found"}
        if self.failure is not None:
            return self.failure, {"error": "failing on purpose"}
        queries = json.loads(body or b"{}").get("queries")
        if not isinstance(queries, list) or len(queries) > BATCH:
            return 400, {"error": f"queries: a list of at most {BATCH}"}
        with self.lock:
            self.requests.append(list(queries))
            if self.garbled is not None:
                return 200, self.garbled
            return 200, {"results": [{"number": q["number"], "answer": self._answer(q)}
                                     for q in queries]}

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
