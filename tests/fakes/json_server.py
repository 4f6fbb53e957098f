"""A local HTTP server that answers JSON POSTs, for the fakes of paid third-party APIs.

``serving(answer, name)`` runs a server on 127.0.0.1, on a free port, in a thread, and
yields its URL; each POST is answered by ``answer(path, authorization, body)``, which
returns the status and the JSON payload. Stopped at exit.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[str, str, bytes], tuple[int, Any]]


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
