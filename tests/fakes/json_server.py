"""A local HTTP server that answers JSON POSTs, for the fakes of paid third-party APIs.

``serving(answer, name)`` runs a server on 127.0.0.1, on a free port, in a thread, and
yields its URL; each POST is answered by ``answer(path, authorization, body)``, which
returns the status and the JSON payload. Stopped at exit.

``BatchApi`` is what the fakes' APIs share: ``POST PATH`` with ``{KEY: [...]}`` (at most
``BATCH`` items; else 400), ``Authorization: Bearer TOKEN`` when the fake has a token
(else 401), ``{"results": ...}`` as the subclass's ``results`` makes them. A test can
make the next requests fail (``fail_with``) or answer nonsense (``garble``), and reads
every request made (``requests``).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

Answer = Callable[[str, str, bytes], tuple[int, Any]]
BATCH = 100


@dataclass
class BatchApi:
    PATH: ClassVar[str]
    KEY: ClassVar[str]

    token: str | None = None
    url: str = ""
    requests: list[list[Any]] = field(default_factory=list)
    failure: int | None = None
    garbled: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_with(self, status: int | None) -> None:
        self.failure = status

    def garble(self, body: Any) -> None:
        self.garbled = body

    def results(self, items: list[Any]) -> list[Any]:
        """The answer to one request's items (called with the lock held)."""
        raise NotImplementedError

    def answer(self, path: str, authorization: str, body: bytes) -> tuple[int, Any]:
        if self.token is not None and authorization != f"Bearer {self.token}":
            return 401, {"error": "unauthorized"}
        if path != self.PATH:
            return 404, {"error": "not found"}
        if self.failure is not None:
            return self.failure, {"error": "failing on purpose"}
        items = json.loads(body or b"{}").get(self.KEY)
        if not isinstance(items, list) or len(items) > BATCH:
            return 400, {"error": f"{self.KEY}: a list of at most {BATCH}"}
        with self.lock:
            self.requests.append(list(items))
            if self.garbled is not None:
                return 200, self.garbled
            return 200, {"results": self.results(items)}


def _handler(answer: Answer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = answer(self.path, self.headers.get("Authorization", ""), body)
            data = json.dumps(payload).encode()
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the fakes record the requests they answer."""

    return Handler


@contextlib.contextmanager
def serving(answer: Answer, name: str) -> Iterator[str]:
    """The URL of a running server answering with ``answer``; stopped at exit."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(answer))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
