"""A local server that answers like Twilio's REST API: calls and phone numbers.

Under ``/2010-04-01/Accounts/{AccountSid}/`` (HTTP basic auth: account SID and auth token;
anything else is Twilio's 401, code 20003; an unknown resource its 404, code 20404):

- ``POST Calls.json`` creates a call: 201 and a queued call resource; ``To``, ``From`` and
  one of ``Url``, ``Twiml``, ``ApplicationSid`` are required, as Twilio requires them;
  ``fail_with`` makes the next creations fail with a Twilio error;
- ``GET AvailablePhoneNumbers/{US,CA}/Local.json`` searches the stock the test offered, with
  Twilio's filters ``AreaCode``, ``InRegion``, ``NearNumber`` (same area code here) and
  ``PageSize`` (default 50); every offer takes calls, so ``VoiceEnabled`` keeps them all;
- ``POST IncomingPhoneNumbers.json`` buys one offered number (201 and the number's
  resource with a ``PN`` sid); an unoffered number, or one the test made fail, is
  Twilio's error JSON (``{"code": 21422, "message", "more_info", "status": 400}``);
- ``DELETE IncomingPhoneNumbers/{PN...}.json`` gives one back (204), unless the test made
  it fail;
- ``GET IncomingPhoneNumbers.json`` lists the account's numbers a page at a time
  (``Page``, ``PageSize``, ``PageToken``; ``next_page_uri``, ``page``, ``start``, ``end``
  as Twilio answers them), so the official library has to follow the pages; a page asked
  for without the token of the previous one is refused, as a Twilio cursor would be.

A test can make a search (by area code), a purchase or a release fail with a Twilio
error. Every request is recorded with its query and form fields and the answer, so a test
can say what callsign asked Twilio to do. It runs on 127.0.0.1, on a free port, in a
thread of the test process (stdlib http.server only), and closes every connection after
answering.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

API_VERSION = "2010-04-01"
ERRORS = "https://www.twilio.com/docs/errors"
DEFAULT_PAGE_SIZE = 50
_ACCOUNT = rf"/{API_VERSION}/Accounts/(?P<account>AC[0-9a-fA-F]{{32}})"
_CALLS = re.compile(rf"^{_ACCOUNT}/Calls\.json$")
_LOCAL = re.compile(rf"^{_ACCOUNT}/AvailablePhoneNumbers/(?P<country>[A-Z]{{2}})/Local\.json$")
_INCOMING = re.compile(rf"^{_ACCOUNT}/IncomingPhoneNumbers\.json$")
_ONE = re.compile(rf"^{_ACCOUNT}/IncomingPhoneNumbers/(?P<sid>PN[0-9a-fA-F]{{32}})\.json$")

Answer = tuple[int, dict[str, Any] | None]  # a status and the JSON body, if any


@dataclass(frozen=True)
class Failure:
    """An error Twilio answers, as its JSON body says it."""

    code: int
    message: str
    status: int = 400

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message,
                "more_info": f"{ERRORS}/{self.code}", "status": self.status}


NOT_AVAILABLE = Failure(21422, "Phone number is not available")


def _not_found(path: str) -> Answer:
    return 404, Failure(20404, f"The requested resource {path} was not found", 404).body()


@dataclass(frozen=True)
class Recorded:
    """One request the fake received: what callsign asked 'Twilio', and its answer."""

    method: str
    path: str
    query: dict[str, list[str]]
    username: str | None
    form: dict[str, list[str]]  # every value of every field, as sent
    status: int  # what the fake answered
    answer: dict[str, Any] | None  # and the JSON it answered with

    def field(self, name: str) -> str:
        """The single value of a form field (a field sent twice is an error here)."""
        values = self.form.get(name, [])
        assert len(values) == 1, f"{name} was sent {len(values)} times: {self.form}"
        return values[0]

    def param(self, name: str) -> str | None:
        """The single value of a query or form field, None if it was not sent."""
        values = self.query.get(name, []) + self.form.get(name, [])
        assert len(values) <= 1, f"{name} was sent {len(values)} times: {self}"
        return values[0] if values else None


@dataclass(frozen=True)
class Offer:
    """A number Twilio offers for sale."""

    phone_number: str
    region: str  # the state, as Twilio writes it: "IL"
    locality: str = ""

    @property
    def area_code(self) -> str:
        return self.phone_number[2:5]


@dataclass
class FakeTwilio:
    """Twilio's REST API for one set of accounts (SID → auth token), on a local port."""

    accounts: dict[str, str]
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    call_failure: Failure | None = None
    stock: list[Offer] = field(default_factory=list)
    owned: dict[str, dict[str, Any]] = field(default_factory=dict)  # sid → resource
    purchase_failures: dict[str, Failure] = field(default_factory=dict)  # by number
    release_failures: dict[str, Failure] = field(default_factory=dict)  # by number
    search_failures: dict[str, Failure] = field(default_factory=dict)  # by AreaCode
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # -- what a test sets up ------------------------------------------------------------

    def fail_with(self, code: int, message: str, status: int = 400) -> None:
        """From now on, answer every call creation with this Twilio error."""
        with self._lock:
            self.call_failure = Failure(code, message, status)

    def offer(self, *numbers: str, region: str, locality: str = "") -> None:
        """Put numbers up for sale (all voice-capable)."""
        with self._lock:
            self.stock.extend(Offer(n, region, locality) for n in numbers)

    def own(self, account: str, *numbers: str) -> list[str]:
        """Numbers the account already holds, as if bought long ago; their sids."""
        with self._lock:
            return [self._hold(account, n, voice_url=None)["sid"] for n in numbers]

    def fail_purchase_of(self, number: str, failure: Failure = NOT_AVAILABLE) -> None:
        with self._lock:
            self.purchase_failures[number] = failure

    def fail_release_of(self, number: str, failure: Failure) -> None:
        with self._lock:
            self.release_failures[number] = failure

    def fail_search_in(self, area_code: str, failure: Failure) -> None:
        """Searches with this AreaCode filter get ``failure``."""
        with self._lock:
            self.search_failures[area_code] = failure

    # -- what a test asserts ------------------------------------------------------------

    def calls_created(self) -> list[Recorded]:
        """The POSTs to a Calls.json resource, oldest first, whatever was answered."""
        return self._seen("POST", _CALLS)

    def held(self) -> list[str]:
        """The numbers the accounts hold now, in the order they were bought."""
        with self._lock:
            return [r["phone_number"] for r in self.owned.values()]

    def resource_of(self, number: str) -> dict[str, Any]:
        with self._lock:
            [found] = [r for r in self.owned.values() if r["phone_number"] == number]
            return found

    def searches(self) -> list[Recorded]:
        return self._seen("GET", _LOCAL)

    def purchases(self) -> list[Recorded]:
        return self._seen("POST", _INCOMING)

    def listings(self) -> list[Recorded]:
        return self._seen("GET", _INCOMING)

    def deletions(self) -> list[Recorded]:
        return self._seen("DELETE", _ONE)

    def _seen(self, method: str, route: re.Pattern[str]) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method and route.match(r.path)]

    # -- answering ----------------------------------------------------------------------

    def answer(self, method: str, target: str, authorization: str, body: bytes) -> Answer:
        """The status and JSON body Twilio would answer; the request is recorded."""
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        username, password = _basic_auth(authorization)
        with self._lock:
            status, payload = self._respond(method, parts.path, query, form, username,
                                            password)
            self.requests.append(Recorded(method, parts.path, query, username, form, status,
                                          payload))
        return status, payload

    def _respond(self, method: str, path: str, query: dict[str, list[str]],
                 form: dict[str, list[str]], username: str | None,
                 password: str | None) -> Answer:
        routes: list[tuple[re.Pattern[str], str, Callable[..., Answer]]] = [
            (_CALLS, "POST", self._call), (_LOCAL, "GET", self._search),
            (_INCOMING, "POST", self._buy), (_INCOMING, "GET", self._list),
            (_ONE, "DELETE", self._release)]
        for route, verb, handler in routes:
            match = route.match(path)
            if match is None or method != verb:
                continue
            account = match["account"]
            if username != account or password is None \
                    or self.accounts.get(account) != password:
                return 401, Failure(20003, "Authenticate", 401).body()
            params = {k: v[-1] for k, v in {**query, **form}.items()}
            return handler(path, match, params)
        return _not_found(path)

    def _call(self, _path: str, match: re.Match[str], params: dict[str, str]) -> Answer:
        for name, code in (("To", 21201), ("From", 21603)):
            if name not in params:
                return 400, _missing(name, code)
        if not any(name in params for name in ("Url", "Twiml", "ApplicationSid")):
            return 400, _missing("Url", 21205)
        if self.call_failure is not None:
            return self.call_failure.status, self.call_failure.body()
        return 201, _call_resource(match["account"], params)

    def _search(self, path: str, match: re.Match[str], params: dict[str, str]) -> Answer:
        if match["country"] not in ("US", "CA"):
            return _not_found(path)
        failure = self.search_failures.get(params.get("AreaCode", ""))
        if failure is not None:
            return failure.status, failure.body()
        size = int(params.get("PageSize", DEFAULT_PAGE_SIZE))
        near = params.get("NearNumber")
        found = [o for o in self.stock
                 if params.get("AreaCode", o.area_code) == o.area_code
                 and params.get("InRegion", o.region) == o.region
                 and (near is None or near.removeprefix("+1")[:3] == o.area_code)][:size]
        uri = f"{path}?{urlencode(params)}"
        return 200, {
            "available_phone_numbers": [_available(o) for o in found],
            "uri": uri, "first_page_uri": uri, "next_page_uri": None,
            "previous_page_uri": None, "page": 0, "page_size": size, "start": 0,
            "end": max(len(found) - 1, 0),
        }

    def _buy(self, _path: str, match: re.Match[str], params: dict[str, str]) -> Answer:
        number = params.get("PhoneNumber")
        if not number:
            return 400, Failure(21452, "PhoneNumber is required").body()
        if number in self.purchase_failures:
            failure = self.purchase_failures[number]
            return failure.status, failure.body()
        offer = next((o for o in self.stock if o.phone_number == number), None)
        if offer is None:
            return NOT_AVAILABLE.status, NOT_AVAILABLE.body()
        self.stock.remove(offer)
        return 201, self._hold(match["account"], number, voice_url=params.get("VoiceUrl"),
                               voice_method=params.get("VoiceMethod", "POST"))

    def _list(self, path: str, match: re.Match[str], params: dict[str, str]) -> Answer:
        size = int(params.get("PageSize", DEFAULT_PAGE_SIZE))
        page = int(params.get("Page", 0))
        rows = [r for r in self.owned.values() if r["account_sid"] == match["account"]
                and params.get("PhoneNumber", r["phone_number"]) == r["phone_number"]]
        start = page * size
        if page and (start > len(rows)
                     or params.get("PageToken") != f"PA{rows[start - 1]['sid'][2:]}"):
            return 400, Failure(20001, "Invalid PageToken").body()
        chunk = rows[start:start + size]
        filters = {k: v for k, v in params.items() if k not in ("Page", "PageSize", "PageToken")}

        def uri(number: int, token: str | None = None) -> str:
            paging = {**filters, "PageSize": size, "Page": number}
            if token:
                paging["PageToken"] = token
            return f"{path}?{urlencode(paging)}"

        more = start + size < len(rows)
        return 200, {
            "incoming_phone_numbers": chunk,
            "uri": uri(page, params.get("PageToken")), "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1, f"PA{chunk[-1]['sid'][2:]}") if more else None,
            "previous_page_uri": uri(page - 1) if page else None,
            "page": page, "page_size": size, "start": start,
            "end": start + max(len(chunk) - 1, 0),
        }

    def _release(self, path: str, match: re.Match[str], _params: dict[str, str]) -> Answer:
        held = self.owned.get(match["sid"])
        if held is None or held["account_sid"] != match["account"]:
            return _not_found(path)
        failure = self.release_failures.get(held["phone_number"])
        if failure is not None:
            return failure.status, failure.body()
        del self.owned[match["sid"]]
        return 204, None

    def _hold(self, account: str, number: str, *, voice_url: str | None,
              voice_method: str = "POST") -> dict[str, Any]:
        sid = "PN" + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC), usegmt=False)
        base = f"/{API_VERSION}/Accounts/{account}/IncomingPhoneNumbers/{sid}"
        resource = {
            "account_sid": account, "address_requirements": "none", "address_sid": None,
            "api_version": API_VERSION, "beta": False,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "date_created": now, "date_updated": now, "emergency_status": "Active",
            "friendly_name": _friendly(number), "identity_sid": None, "origin": "twilio",
            "phone_number": number, "sid": sid, "sms_url": "", "sms_method": "POST",
            "status": "in-use", "status_callback": "", "trunk_sid": None, "uri": f"{base}.json",
            "voice_application_sid": None, "voice_caller_id_lookup": False,
            "voice_fallback_url": None, "voice_method": voice_method,
            "voice_url": voice_url or "", "voice_receive_mode": "voice",
            "subresource_uris": {"assigned_add_ons": f"{base}/AssignedAddOns.json"},
        }
        self.owned[sid] = resource
        return resource


def _missing(name: str, code: int) -> dict[str, Any]:
    return Failure(code, f"Missing required parameter {name} in the post body").body()


def _call_resource(account: str, params: dict[str, str]) -> dict[str, Any]:
    """A queued call as Twilio's API represents it."""
    sid = "CA" + secrets.token_hex(16)
    now = format_datetime(datetime.now(UTC), usegmt=False)
    base = f"/{API_VERSION}/Accounts/{account}/Calls/{sid}"
    return {
        "account_sid": account, "annotation": None, "answered_by": None,
        "api_version": API_VERSION, "caller_name": None, "date_created": now,
        "date_updated": now, "direction": "outbound-api", "duration": None,
        "end_time": None, "forwarded_from": None, "from": params["From"],
        "from_formatted": params["From"], "group_sid": None, "parent_call_sid": None,
        "phone_number_sid": "PN" + secrets.token_hex(16), "price": None,
        "price_unit": "USD", "queue_time": "0", "sid": sid, "start_time": None,
        "status": "queued", "to": params["To"], "to_formatted": params["To"],
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


def _friendly(number: str) -> str:
    digits = number.removeprefix("+1")
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def _available(offer: Offer) -> dict[str, Any]:
    return {
        "friendly_name": _friendly(offer.phone_number), "phone_number": offer.phone_number,
        "lata": "358", "locality": offer.locality, "rate_center": offer.locality.upper(),
        "latitude": "41.880000", "longitude": "-87.630000", "region": offer.region,
        "postal_code": "60601", "iso_country": "US", "address_requirements": "none",
        "beta": False, "capabilities": {"voice": True, "SMS": True, "MMS": True, "fax": False},
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
            status, payload = fake.answer(self.command, self.path,
                                          self.headers.get("Authorization", ""), body)
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status, HTTPStatus(status).phrase)
            if payload is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            # One request per connection: no client socket is left open for the garbage
            # collector to find (pytest turns its ResourceWarning into an error).
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

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
