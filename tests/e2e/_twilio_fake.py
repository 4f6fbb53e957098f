"""A local server that answers like Twilio's REST API for creating calls.

POST /2010-04-01/Accounts/{AccountSid}/Calls.json with HTTP basic auth (account SID and
auth token) answers 201 and a call resource shaped like Twilio's; a wrong password is
Twilio's 401 (code 20003), another path its 404 (code 20404). Every request is recorded
with its form fields, so a test can say what callsign asked Twilio to do. ``fail_with``
makes the next calls fail as Twilio would, with its error JSON.

It runs on 127.0.0.1 in a thread of the test process (stdlib http.server only).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

API_VERSION = "2010-04-01"
_CALLS = re.compile(rf"^/{API_VERSION}/Accounts/(AC[0-9a-fA-F]{{32}})/Calls\.json$")
ERRORS = "https://www.twilio.com/docs/errors"


@dataclass(frozen=True)
class Recorded:
    """One request the fake received: what callsign sent to 'Twilio'."""

    method: str
    path: str
    username: str | None
    form: dict[str, list[str]]  # every value of every field, as sent
    status: int  # what the fake answered
    answer: dict[str, Any]  # and the JSON it answered with

    def field(self, name: str) -> str:
        """The single value of a form field (a field sent twice is an error here)."""
        values = self.form.get(name, [])
        assert len(values) == 1, f"{name} was sent {len(values)} times: {self.form}"
        return values[0]


@dataclass
class Failure:
    """An error Twilio answers, as its JSON body says it."""

    code: int
    message: str
    status: int = 400

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message,
                "more_info": f"{ERRORS}/{self.code}", "status": self.status}


@dataclass
class FakeTwilio:
    """Twilio's REST API for one set of accounts (SID → auth token), on a local port."""

    accounts: dict[str, str]
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    failure: Failure | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_with(self, code: int, message: str, status: int = 400) -> None:
        """From now on, answer every call creation with this Twilio error."""
        self.failure = Failure(code, message, status)

    def calls_created(self) -> list[Recorded]:
        """The POSTs to a Calls.json resource, oldest first, whatever was answered."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and _CALLS.match(r.path)]

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def answer(self, method: str, path: str, authorization: str,
               body: bytes) -> tuple[int, dict[str, Any]]:
        """The status and JSON body Twilio would answer; the request is recorded."""
        username, password = _basic_auth(authorization)
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        status, payload = self._respond(method, path, username, password, form)
        self._record(Recorded(method, path, username, form, status, payload))
        return status, payload

    def _respond(self, method: str, path: str, username: str | None, password: str | None,
                 form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        match = _CALLS.match(path)
        if match is None or method != "POST":
            return 404, Failure(20404, f"The requested resource {path} was not found",
                                404).body()
        account = match.group(1)
        if username != account or self.accounts.get(account) is None \
                or password != self.accounts[account]:
            return 401, Failure(20003, "Authenticate", 401).body()
        for name, code in (("To", 21201), ("From", 21603)):
            if not form.get(name):
                return 400, missing(name, code)
        if not any(form.get(name) for name in ("Url", "Twiml", "ApplicationSid")):
            return 400, missing("Url", 21205)
        if self.failure is not None:
            return self.failure.status, self.failure.body()
        return 201, call_resource(account, form)


def missing(name: str, code: int) -> dict[str, Any]:
    return Failure(code, f"Missing required parameter {name} in the post body").body()


def call_resource(account: str, form: dict[str, list[str]]) -> dict[str, Any]:
    """A queued call as Twilio's API represents it."""
    sid = "CA" + secrets.token_hex(16)
    now = format_datetime(datetime.now(UTC), usegmt=False)
    base = f"/{API_VERSION}/Accounts/{account}/Calls/{sid}"
    return {
        "account_sid": account, "annotation": None, "answered_by": None,
        "api_version": API_VERSION, "caller_name": None, "date_created": now,
        "date_updated": now, "direction": "outbound-api", "duration": None,
        "end_time": None, "forwarded_from": None, "from": form["From"][0],
        "from_formatted": form["From"][0], "group_sid": None, "parent_call_sid": None,
        "phone_number_sid": "PN" + secrets.token_hex(16), "price": None,
        "price_unit": "USD", "queue_time": "0", "sid": sid, "start_time": None,
        "status": "queued", "to": form["To"][0], "to_formatted": form["To"][0],
        "trunk_sid": None, "uri": f"{base}.json",
        "subresource_uris": {
            "notifications": f"{base}/Notifications.json",
            "recordings": f"{base}/Recordings.json",
            "payments": f"{base}/Payments.json",
            "events": f"{base}/Events.json",
            "siprec": f"{base}/Siprec.json",
            "streams": f"{base}/Streams.json",
            "transcriptions": f"{base}/Transcriptions.json",
            "user_defined_message_subscriptions":
                f"{base}/UserDefinedMessageSubscriptions.json",
            "user_defined_messages": f"{base}/UserDefinedMessages.json",
        },
    }


def _basic_auth(header: str) -> tuple[str | None, str | None]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        username, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return username, password


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = fake.answer(self.command, self.path.split("?")[0],
                                          self.headers.get("Authorization", ""), body)
            data = json.dumps(payload).encode()
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the recorded requests are the log."""

    return Handler


@contextlib.contextmanager
def fake_twilio(accounts: dict[str, str]) -> Iterator[FakeTwilio]:
    """A running fake for ``accounts`` (SID → auth token); stopped at exit."""
    fake = FakeTwilio(accounts)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    httpd.daemon_threads = True
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="fake-twilio", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
