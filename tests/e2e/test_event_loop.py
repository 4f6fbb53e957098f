"""One request never stalls a worker: slow provider calls and large documents run off its loop.

One real `callsign serve` with a single worker, and Twilio played by the local numbers fake
behind a gate: a purchase's buy request is held there until the test lets it go (or for
10 s), so the test can say what the same worker answered while the provider was slow.
Everything is ordered by events (what answered before what), never by measured times.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from tests.e2e.conftest import Server, ok, serve, store_url
from tests.fakes.twilio import FakeTwilio, fake_twilio

SID = "AC" + "5a" * 16
TOKEN = "vandelay-fake-twilio-token"
TOKEN_ENV = "CALLSIGN_TWILIO_TOKEN_VANDELAY"  # bound by the operator, per organization
PROVIDER_ANSWERS_AFTER = 10.0  # seconds the gate holds a request nobody lets go
HANG_GUARD = 600.0
PRINCIPAL = "+15125550100"


def vandelay(contacts: int = 0) -> dict[str, Any]:
    """An organization with a Twilio account and ``contacts`` contacts."""
    return {
        "org": "vandelay", "default_country": "US", "timezone": "America/Chicago",
        "principal_number": PRINCIPAL,
        "numbers": [{"number": PRINCIPAL, "label": "Austin HQ"}],
        "users": [{"id": "art", "name": "Art Vandelay", "work_phone": "+15125559001",
                   "caller_id": PRINCIPAL}],
        "contacts": [{"phone": f"+1512{2000000 + i:07d}", "line_type": "landline"}
                     for i in range(contacts)],
        "twilio": {"account_sid": SID},
    }


@dataclass
class Gate:
    """Holds the fake's answers to purchases until released (or for 10 s); logs events."""

    answer: Any
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    events: list[str] = field(default_factory=list)
    hold: str = "buy"  # which request: "buy", "search" or "release" (a number given back)

    def reset(self, hold: str = "buy") -> None:
        self.arrived, self.release, self.events = threading.Event(), threading.Event(), []
        self.hold = hold

    def _holds(self, method: str, target: str) -> bool:
        return {"buy": method == "POST" and "IncomingPhoneNumbers" in target,
                "search": method == "GET" and "AvailablePhoneNumbers" in target,
                "release": method == "DELETE" and "IncomingPhoneNumbers" in target}[self.hold]

    def held_answer(self, method: str, target: str, authorization: str,
                    body: bytes) -> tuple[int, dict[str, Any] | None]:
        if self._holds(method, target):
            self.arrived.set()
            self.release.wait(PROVIDER_ANSWERS_AFTER)
            self.events.append("provider answered")
        answer: tuple[int, dict[str, Any] | None] = self.answer(method, target, authorization,
                                                                body)
        return answer


@dataclass
class Deployment:
    server: Server
    twilio: FakeTwilio
    gate: Gate
    api: httpx.Client


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, store_kind: str
               ) -> Iterator[Deployment]:
    workdir: Path = tmp_path_factory.mktemp("event-loop")
    with fake_twilio({SID: TOKEN}) as twilio, \
            pytest.MonkeyPatch.context() as env, store_url(store_kind, workdir) as url:
        gate = Gate(twilio.answer)
        twilio.answer = gate.held_answer  # type: ignore[method-assign]
        env.setenv("CALLSIGN_TWILIO_API_BASE", twilio.url)
        env.setenv("CALLSIGN_PUBLIC_URL", "https://callsign.example.com")
        env.setenv(TOKEN_ENV, TOKEN)
        with serve(workdir, {"vandelay": yaml.safe_dump(vandelay())}, db_url=url) as server, \
                server.client(server.keys["vandelay"]) as api:
            yield Deployment(server, twilio, gate, api)


def test_a_decision_completes_while_a_provider_call_is_in_flight(
    deployment: Deployment,
) -> None:
    """The one worker decides a call while a Twilio purchase waits for its answer."""
    deployment.twilio.offer("+17375550142", region="TX", locality="Austin")
    purchase: dict[str, httpx.Response] = {}

    def buy() -> None:
        with deployment.server.client(deployment.server.keys["vandelay"]) as client:
            purchase["answer"] = client.post("/v1/numbers/purchase", json={
                "area_code": "737", "provider": "twilio"})

    buyer = threading.Thread(target=buy)
    buyer.start()
    try:
        assert deployment.gate.arrived.wait(HANG_GUARD), "the purchase never reached Twilio"
        decision = ok(deployment.api.post("/v1/calls", json={
            "user": "art", "to": "+15125550188", "consented": True}), 201)
        ok(deployment.api.get("/healthz"))
        deployment.gate.events.append("decision")
    finally:
        deployment.gate.release.set()
        buyer.join(HANG_GUARD)

    assert deployment.gate.events == ["decision", "provider answered"]
    assert decision["caller_id"] == PRINCIPAL
    assert ok(purchase["answer"], 201)["bought"] == ["+17375550142"]


@pytest.mark.parametrize("held", ["search", "release"])
def test_a_decision_completes_while_twilio_is_slow_to_search_or_release(
    deployment: Deployment, held: str,
) -> None:
    """No store transaction waits on Twilio: on SQLite one would hold the write lock, and
    the decision would wait for Twilio's answer."""
    number = {"search": "+17375550144", "release": "+17375550145"}[held]
    deployment.twilio.offer(number, region="TX", locality="Austin")
    key = deployment.server.keys["vandelay"]
    if held == "release":
        ok(deployment.api.post("/v1/numbers/purchase", json={
            "area_code": "737", "provider": "twilio"}), 201)
    deployment.gate.reset(hold=held)
    answers: dict[str, httpx.Response] = {}

    def ask() -> None:
        with deployment.server.client(key) as client:
            answers["answer"] = client.post("/v1/numbers/purchase", json={
                "area_code": "737", "provider": "twilio"}) if held == "search" else \
                client.delete(f"/v1/numbers/{number.replace('+', '%2B')}")

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        assert deployment.gate.arrived.wait(HANG_GUARD), f"the {held} never reached Twilio"
        ok(deployment.api.post("/v1/calls", json={
            "user": "art", "to": "+15125550187", "consented": True}), 201)
        deployment.gate.events.append("decision")
    finally:
        deployment.gate.release.set()
        asker.join(HANG_GUARD)

    assert deployment.gate.events == ["decision", "provider answered"]
    assert answers["answer"].status_code in (200, 201), answers["answer"].text


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a page's forms (a CSRF token), by name."""
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    return dict(found)


def keep_cookies(response: httpx.Response, jar: dict[str, str]) -> httpx.Response:
    """Keep the cookies ``response`` sets in ``jar``, by name."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        jar[name] = rest.split(";")[0]
    return response


def cookie_header(jar: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in jar.items())}


def test_a_decision_completes_while_an_admin_purchase_waits_for_twilio(
    deployment: Deployment,
) -> None:
    """An admin form post that calls Twilio runs off the loop as well."""
    deployment.gate.reset()
    deployment.twilio.offer("+17375550143", region="TX", locality="Austin")
    server = deployment.server
    admin = server.client(None)
    # The public URL is https, so the admin's cookies are Secure: an http client does not
    # send them by itself; carry them as a browser behind the https proxy would.
    jar: dict[str, str] = {}
    login = keep_cookies(admin.get("/admin/login"), jar)
    signed_in = keep_cookies(admin.post(
        "/admin/login", data={**hidden_fields(login.text), "key": server.keys["vandelay"]},
        headers=cookie_header(jar)), jar)
    assert signed_in.status_code in (302, 303), signed_in.text
    page = keep_cookies(admin.get("/admin/numbers", headers=cookie_header(jar)), jar)
    csrf = hidden_fields(page.text)["csrf"]
    purchase: dict[str, httpx.Response] = {}

    def buy() -> None:
        purchase["answer"] = admin.post("/admin/numbers/purchase", data={
            "csrf": csrf, "area_code": "737", "quantity": "1", "provider": "twilio"},
            headers=cookie_header(jar))

    buyer = threading.Thread(target=buy)
    buyer.start()
    try:
        assert deployment.gate.arrived.wait(HANG_GUARD), "the purchase never reached Twilio"
        ok(deployment.api.post("/v1/calls", json={
            "user": "art", "to": "+15125550189", "consented": True}), 201)
        deployment.gate.events.append("decision")
    finally:
        deployment.gate.release.set()
        buyer.join(HANG_GUARD)
        admin.close()

    assert deployment.gate.events == ["decision", "provider answered"]
    assert purchase["answer"].status_code in (302, 303), purchase["answer"].text
    numbers = {n["number"] for n in ok(deployment.api.get("/v1/numbers"))}
    assert "+17375550143" in numbers


def test_healthz_answers_while_a_large_document_is_applied(deployment: Deployment) -> None:
    """PUT /v1/config of a 1 MB document: /healthz keeps answering meanwhile."""
    document = json.dumps(vandelay(contacts=20_000)).encode()
    assert len(document) > 900_000
    server = deployment.server
    host, port = server.url.removeprefix("http://").split(":")
    head = (f"PUT /v1/config HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {server.keys['vandelay']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(document)}\r\n"
            "Connection: close\r\n\r\n").encode()
    answered_meanwhile = 0
    with socket.create_connection((host, int(port)), timeout=HANG_GUARD) as put:
        put.sendall(head + document)
        with httpx.Client(base_url=server.url, timeout=HANG_GUARD) as probe:
            while not select.select([put], [], [], 0)[0]:
                assert probe.get("/healthz").status_code == 200
                answered_meanwhile += 1
                if answered_meanwhile == 3:
                    break
        answer = _read_all(put)

    assert answered_meanwhile == 3, answer[:300]
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert b'"contacts":20000' in answer


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


WAITING_DECISIONS = 2  # the threads of a worker's lane (store/lane.py THREADS)
POLLS = 60_000  # of pg_locks, 10 ms apart: a hang guard of ten minutes, never a measure


@pytest.mark.postgresql_only
def test_decisions_waiting_on_postgresql_leave_the_event_loop_free(tmp_path: Path) -> None:
    """Two decisions for one contact, held by the contact's lock the test takes: both
    wait on PostgreSQL at once in one worker, which answers /healthz meanwhile; let go,
    each is a 201. (A decision run on the event loop held the worker: one waited.)"""
    callee = "+15125552000"
    with store_url("postgresql", tmp_path) as url, \
            serve(tmp_path, {"vandelay": yaml.safe_dump(vandelay())}, db_url=url) as server:
        holder = create_engine(url, poolclass=NullPool)
        try:
            with holder.connect() as conn:
                key = conn.exec_driver_sql(
                    "SELECT hashtextextended(CAST(id AS text) || ':' || %(phone)s, 0) "
                    "FROM orgs WHERE slug = 'vandelay'", {"phone": callee}).scalar_one()
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%(key)s)", {"key": key})
                answers: list[int] = []

                def decide() -> None:
                    with server.client(server.keys["vandelay"]) as client:
                        answers.append(client.post("/v1/calls", json={
                            "user": "art", "to": callee}).status_code)

                callers = [threading.Thread(target=decide) for _ in range(WAITING_DECISIONS)]
                for caller in callers:
                    caller.start()
                for _ in range(POLLS):
                    waiting = conn.exec_driver_sql(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT "
                        "granted AND ((classid::bigint << 32) | objid::bigint) = %(key)s",
                        {"key": key}).scalar_one()
                    if waiting == WAITING_DECISIONS:
                        break
                    threading.Event().wait(0.01)
                assert waiting == WAITING_DECISIONS, waiting
                with server.client(None) as anyone:
                    assert anyone.get("/healthz").status_code == 200
                assert answers == []
                conn.rollback()  # the contact's lock goes
            for caller in callers:
                caller.join(HANG_GUARD)
        finally:
            holder.dispose()
        assert answers == [201] * WAITING_DECISIONS
