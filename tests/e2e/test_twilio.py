"""Twilio: callsign's webhooks and its agent leg, played against the real server.

Each test runs `callsign serve` on a store of its own (a SQLite file, or with --store
postgresql a PostgreSQL schema) with the Twilio REST API pointed at a local fake
(`tests/fakes/twilio.py`), and plays Twilio: it POSTs form-encoded webhooks signed with
`RequestValidator(token).compute_signature(url, params)` over the URL Twilio would call,
reads the TwiML back with xml.etree, and checks the call log over the REST API.

The organizations:
- acme: the demo organization with a Twilio account, without calling hours (a webhook
  cannot say "consented", and these tests must not depend on the time of day);
- globex: an agent-leg number but no Twilio account;
- night: a Twilio account and calling hours that exclude the time the test runs.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from sqlalchemy import Engine, func, select
from twilio.request_validator import RequestValidator

from callsign.services import access
from callsign.store.tables import inbound_calls
from callsign.store.uow import UnitOfWork
from tests.conftest import ApplyOrg
from tests.e2e._windows import closed_window
from tests.e2e.conftest import (
    GLOBEX_YAML,
    Server,
    acme_yaml,
    error_of,
    ok,
    running_server,
)
from tests.fakes.twilio import FakeTwilio, fake_twilio

pytestmark = pytest.mark.slow

ACCOUNT_SID = "AC" + "5f3a9c0e7b1d4a2f" * 2
AUTH_TOKEN = "7c4e1b9a2d6f8e0c3b5a7d9f1e2c4b6a"
OTHER_TOKEN = "0123456789abcdef0123456789abcdef"
# The server binds each organization's auth token: CALLSIGN_TWILIO_TOKEN_<ORG>.
TOKEN_ENVS = ("CALLSIGN_TWILIO_TOKEN_ACME", "CALLSIGN_TWILIO_TOKEN_NIGHT")
PUBLIC_URL = "https://callsign.example.com"

AGENT_LEG = "+12013450841"  # acme's agent_leg_number
AURORA = "+16305550142"  # acme's only number serving 630
CHI2 = "+13125550102"  # acme's renewals pool number serving 312
SF = "+14155550105"  # bob's caller ID
NWK2 = "+12015550107"  # acme's renewals pool, asked for as an override
ALICE_WORK = "+13125559001"
BOB_WORK = "+14155559002"
NORA_WORK = "+13125559300"

TWIML = "application/xml"
REFUSAL = "Sorry, this call cannot be connected."


# -- the organizations ---------------------------------------------------------------

def twilio_account() -> dict[str, str]:
    return {"account_sid": ACCOUNT_SID}


def acme_document() -> dict[str, Any]:
    """The demo organization with a Twilio account and no calling hours."""
    document: dict[str, Any] = yaml.safe_load(acme_yaml())
    del document["calling_hours"]
    return {**document, "twilio": twilio_account()}


def globex_document() -> dict[str, Any]:
    """An organization that can ring agents but has no Twilio account."""
    document: dict[str, Any] = yaml.safe_load(GLOBEX_YAML)
    assert "twilio" not in document
    return {**document, "agent_leg_number": "+16175550100"}


def night_document(now: datetime) -> dict[str, Any]:
    """Calling hours that start 3 hours after ``now`` in Chicago: now is outside them."""
    chicago = now.astimezone(ZoneInfo("America/Chicago"))
    start, end = chicago + timedelta(hours=3), chicago + timedelta(hours=4)
    return {
        "org": "night", "default_country": "US", "timezone": "America/Chicago",
        "principal_number": "+13125550300",
        "calling_hours": {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"},
        "numbers": [{"number": "+13125550300", "label": "Night HQ"}],
        "users": [{"id": "nora", "name": "Nora Lind", "work_phone": NORA_WORK}],
        "twilio": twilio_account(),
    }


# -- a deployment: callsign serve, the fake Twilio, and Twilio's side of the webhooks --

def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature as Twilio computes it for a POST to ``url``."""
    signature: str = RequestValidator(token).compute_signature(url, params)
    return signature


def sid(prefix: str = "CA") -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class Deployment:
    """callsign serve as Twilio sees it: at ``base`` (the public URL behind a proxy)."""

    server: Server
    twilio: FakeTwilio
    base: str  # the URL Twilio calls
    hooks: httpx.Client  # no API key: webhooks authenticate by signature
    api: dict[str, httpx.Client]  # org → a client with its API key

    def url(self, path: str) -> str:
        """The URL Twilio calls for ``path`` (with its query)."""
        return self.base + path

    def deliver(self, url: str, params: dict[str, str], *, signed_url: str | None = None,
                token: str = AUTH_TOKEN, unsigned: bool = False) -> httpx.Response:
        """Twilio POSTs ``params`` to ``url``, signed for ``signed_url`` (default ``url``).

        A public URL reaches the server through the proxy: its base is swapped for the
        server's own address, as a reverse proxy would.
        """
        assert url.startswith(self.base), f"{url} is not under {self.base}"
        headers = {} if unsigned else {
            "X-Twilio-Signature": sign(signed_url or url, params, token)}
        local = self.server.url + url[len(self.base):]
        return self.hooks.post(local, data=params, headers=headers)

    def webhook(self, path: str, params: dict[str, str], **signing: Any) -> httpx.Response:
        return self.deliver(self.url(path), params, **signing)

    def calls(self, org: str = "acme") -> list[dict[str, Any]]:
        """The organization's call log, newest first."""
        page = ok(self.api[org].get("/v1/calls"))
        assert page["next_cursor"] is None
        calls: list[dict[str, Any]] = page["calls"]
        return calls

    def call(self, call_id: str, org: str = "acme") -> dict[str, Any]:
        found: dict[str, Any] = ok(self.api[org].get(f"/v1/calls/{call_id}"))
        return found


Deploy = Callable[..., Deployment]


@pytest.fixture
def deploy(db_url: str, engine: Engine, apply_org: ApplyOrg,
           tmp_path: Path) -> Iterator[Deploy]:
    """Start the organizations' server with the fake Twilio; ``public_url`` for a proxy."""
    with contextlib.ExitStack() as stack:
        def start(public_url: str | None = None) -> Deployment:
            now = datetime.now(UTC)
            for document in (acme_document(), globex_document(), night_document(now)):
                apply_org(document)
            server_keys = {org: access.create_key(UnitOfWork(engine), org, name="e2e", now=now)
                           for org in ("acme", "globex", "night")}
            twilio = stack.enter_context(fake_twilio({ACCOUNT_SID: AUTH_TOKEN}))
            env = {"CALLSIGN_ACCESS_LOG": "0", "CALLSIGN_TWILIO_API_BASE": twilio.url,
                   **dict.fromkeys(TOKEN_ENVS, AUTH_TOKEN)}
            if public_url:
                env["CALLSIGN_PUBLIC_URL"] = public_url
            server = stack.enter_context(running_server(db_url, tmp_path, server_keys, env=env))
            hooks = stack.enter_context(server.client(None))
            api = {org: stack.enter_context(server.client(key))
                   for org, key in server_keys.items()}
            return Deployment(server, twilio, public_url or server.url, hooks, api)

        yield start


# -- Twilio's requests and callsign's TwiML --------------------------------------------

def voice_params(caller: str, to: str, **custom: str) -> dict[str, str]:
    """What Twilio POSTs to a TwiML app's voice URL when a browser client places a call."""
    return {
        "AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "ApplicationSid": sid("AP"),
        "CallSid": sid(), "CallStatus": "ringing", "Direction": "inbound",
        "Caller": caller, "From": caller, "Called": "", "To": to, **custom,
    }


def inbound_params(caller: str, called: str) -> dict[str, str]:
    """What Twilio POSTs to a number's voice URL when someone calls it."""
    return {
        "AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": sid(),
        "CallStatus": "ringing", "Direction": "inbound", "Caller": caller, "From": caller,
        "FromCountry": "US", "Called": called, "To": called, "ToCountry": "US",
    }


def status_params(**report: str) -> dict[str, str]:
    """What Twilio POSTs to a <Number statusCallback> when the dialled leg ends."""
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": sid(),
            "ParentCallSid": sid(), "Direction": "outbound-dial", **report}


def twiml_of(response: httpx.Response) -> ET.Element:
    """The <Response> of a 200 TwiML answer."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(TWIML), response.headers
    root = ET.fromstring(response.text)
    assert root.tag == "Response", response.text
    return root


@dataclass(frozen=True)
class Dialled:
    caller_id: str | None
    number: str | None
    status_callback: str | None


def dial_of(response: httpx.Response) -> Dialled:
    """The one <Dial><Number> of a TwiML answer."""
    root = twiml_of(response)
    assert [child.tag for child in root] == ["Dial"], response.text
    dial = root[0]
    assert [child.tag for child in dial] == ["Number"], response.text
    number = dial[0]
    return Dialled(dial.get("callerId"), number.text, number.get("statusCallback"))


def refusal_of(response: httpx.Response) -> str:
    """What a TwiML refusal says before it hangs up."""
    root = twiml_of(response)
    assert [child.tag for child in root] == ["Say", "Hangup"], response.text
    said = root[0].text or ""
    assert said.startswith(REFUSAL), said
    return said


def forbidden(response: httpx.Response) -> None:
    """A webhook Twilio did not sign is refused with 403."""
    assert response.status_code == 403, (response.status_code, response.text)


def call_id_of(status_callback: str | None, base: str, org: str = "acme") -> str:
    """The call id named by a statusCallback URL, which must be callsign's own."""
    assert status_callback is not None
    match = re.fullmatch(re.escape(f"{base}/twilio/{org}/status?call_id=") + r"(call_\w+)",
                         status_callback)
    assert match, status_callback
    return match.group(1)


# -- 1. outbound: the voice webhook answers TwiML that dials with the decided caller ID --

@dataclass(frozen=True)
class Outbound:
    """A call placed from Twilio, and the decision it must get."""

    params: dict[str, str]  # From, To and custom parameters
    user: str
    to: str
    caller_id: str
    rule: str
    project: str | None = None


OUTBOUND = {
    "local presence": Outbound({"From": "client:bob", "To": "(630) 555-0187"}, "bob",
                               "+16305550187", AURORA, "local_presence"),
    "a project call": Outbound({"From": "client:alice", "To": "+13125550188",
                                "Project": "renewals"}, "alice", "+13125550188", CHI2,
                               "regionally_random", "renewals"),
    "an agent known by their work phone": Outbound({"From": BOB_WORK, "To": "+14155550177"},
                                                   "bob", "+14155550177", SF,
                                                   "agent_area_code"),
    "a caller ID override": Outbound({"From": "client:carol", "To": "+13125550189",
                                      "CallerId": NWK2}, "carol", "+13125550189", NWK2,
                                     "override"),
}


def test_voice_webhook_dials_the_callee_with_the_decided_caller_id(
        deploy: Deploy, subtests: pytest.Subtests) -> None:
    """<Dial callerId> is the decision's caller ID, <Number> the callee in E.164, logged."""
    app = deploy()
    for name, case in OUTBOUND.items():
        with subtests.test(name):
            before = app.calls()
            extra = {k: v for k, v in case.params.items() if k not in ("From", "To")}

            dialled = dial_of(app.webhook(
                "/twilio/acme/voice", voice_params(case.params["From"], case.params["To"],
                                                   **extra)))

            assert (dialled.caller_id, dialled.number) == (case.caller_id, case.to)
            call, *older = app.calls()
            assert older == before
            assert dialled.status_callback == \
                f"{app.server.url}/twilio/acme/status?call_id={call['call_id']}"
            assert (call["user"], call["to"], call["caller_id"], call["rule"],
                    call["project"]) == (case.user, case.to, case.caller_id, case.rule,
                                         case.project)
            assert (call["channel"], call["telephony_status"]) == ("manual", None)


# -- 2. phone-based calling: ring the agent from the agent-leg number, then bridge ------

def test_connect_rings_the_agent_then_the_bridge_dials_the_contact(deploy: Deploy) -> None:
    """One Calls.json POST rings bob's work phone; his answer fetches TwiML for the contact."""
    app = deploy()

    body = ok(app.api["acme"].post("/v1/calls/connect",
                                   json={"user": "bob", "to": "(630) 555-0191"}), 201)

    assert (body["caller_id"], body["rule"], body["to"]) == \
        (AURORA, "local_presence", "+16305550191")
    [created] = app.twilio.calls_created()
    assert created.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert (created.username, created.status) == (ACCOUNT_SID, 201)
    assert created.answer is not None
    assert body["agent_call_sid"] == created.answer["sid"]
    assert re.fullmatch(r"CA[0-9a-f]{32}", body["agent_call_sid"])
    assert (created.field("To"), created.field("From")) == (BOB_WORK, AGENT_LEG)
    bridge = f"{app.server.url}/twilio/acme/bridge?call_id={body['call_id']}"
    assert (created.field("Url"), created.field("Method")) == (bridge, "POST")
    assert created.field("StatusCallback") == \
        f"{app.server.url}/twilio/acme/status?call_id={body['call_id']}&leg=agent"

    # Bob answers: Twilio fetches the bridge URL it was given.
    dialled = dial_of(app.deliver(created.field("Url"), agent_answered(body)))

    assert (dialled.caller_id, dialled.number) == (AURORA, "+16305550191")
    assert call_id_of(dialled.status_callback, app.server.url) == body["call_id"]
    [call] = app.calls()
    assert (call["call_id"], call["user"], call["to"], call["caller_id"], call["channel"]) == \
        (body["call_id"], "bob", "+16305550191", AURORA, "connect")
    assert call["telephony_status"] == "queued"


def agent_answered(connected: dict[str, Any]) -> dict[str, str]:
    """What Twilio POSTs to the agent leg's Url when the agent picks up."""
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01",
            "CallSid": connected["agent_call_sid"], "CallStatus": "in-progress",
            "Direction": "outbound-api", "From": AGENT_LEG, "To": BOB_WORK}


def test_connect_refused_by_twilio_is_424_and_the_call_is_logged_as_failed(
        deploy: Deploy) -> None:
    """Twilio's error answer becomes provider_error; the decided call says 'failed'."""
    app = deploy()
    app.twilio.fail_with(21211, f"The 'To' number {BOB_WORK} is not a valid phone number.")

    error = error_of(app.api["acme"].post(
        "/v1/calls/connect", json={"user": "bob", "to": "+16305550192"}), 424)

    assert error["code"] == "provider_error"
    assert "is not a valid phone number" in error["message"], error
    assert "21211" in error["message"], error
    [created] = app.twilio.calls_created()
    assert (created.status, created.field("To")) == (400, BOB_WORK)
    [call] = app.calls()
    assert (call["to"], call["channel"], call["telephony_status"]) == \
        ("+16305550192", "connect", "failed")


def agent_leg_ended(connected: dict[str, Any], status: str, duration: int) -> dict[str, str]:
    """What Twilio POSTs to the agent leg's StatusCallback when that leg ends."""
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01",
            "CallSid": connected["agent_call_sid"], "CallStatus": status,
            "CallDuration": str(duration), "Direction": "outbound-api", "From": AGENT_LEG,
            "To": BOB_WORK}


def test_the_agent_legs_status_is_logged_only_when_the_contact_was_never_dialled(
        deploy: Deploy, subtests: pytest.Subtests) -> None:
    """The log tells what happened to the call to the contact; the agent leg's own end
    (its StatusCallback, signed on the whole URL with &leg=agent) speaks only for a
    contact who was never rung."""
    app = deploy()

    with subtests.test("an agent who does not answer leaves the call 'no-answer'"):
        body = ok(app.api["acme"].post("/v1/calls/connect",
                                       json={"user": "bob", "to": "+16305550169"}), 201)
        [created] = app.twilio.calls_created()

        answer = twiml_of(app.deliver(created.field("StatusCallback"),
                                      agent_leg_ended(body, "no-answer", 0)))

        assert list(answer) == []
        call = app.call(body["call_id"])
        assert (call["telephony_status"], call["duration_s"], call["answered_by"]) == \
            ("no-answer", 0, None)

    with subtests.test("a busy contact stays 'busy' when the agent hangs up afterwards"):
        body = ok(app.api["acme"].post("/v1/calls/connect",
                                       json={"user": "bob", "to": "+16305550168"}), 201)
        created = app.twilio.calls_created()[-1]
        dialled = dial_of(app.deliver(created.field("Url"), agent_answered(body)))
        contact_leg = status_params(CallStatus="busy", CallDuration="0")
        twiml_of(app.deliver(dialled.status_callback or "", contact_leg))

        twiml_of(app.deliver(created.field("StatusCallback"),
                             agent_leg_ended(body, "completed", 15)))

        call = app.call(body["call_id"])
        assert (call["telephony_status"], call["duration_s"]) == ("busy", 0)


def test_connect_without_a_twilio_account_is_400_naming_the_field(deploy: Deploy) -> None:
    """globex has an agent-leg number but no Twilio account: nothing is rung or logged."""
    app = deploy()

    error = error_of(app.api["globex"].post(
        "/v1/calls/connect", json={"user": "gina", "to": "+15125550160"}), 400)

    assert error["field"] == "twilio"
    assert "twilio.account_sid" in error["message"], error
    assert app.twilio.calls_created() == []
    assert app.calls("globex") == []


# -- 3. inbound: a call back rings the last caller -------------------------------------

def test_inbound_calls_ring_the_last_caller_or_say_why_not(
        deploy: Deploy, subtests: pytest.Subtests) -> None:
    """A call back rings the work phone of the user who called last; a number we do not
    hold gets <Say> and <Hangup> with 200 (a 5xx would make Twilio play its own error)."""
    app = deploy()
    contact = "+16305550193"

    with subtests.test("a call back rings the work phone of the last user who called"):
        outbound = dial_of(app.webhook("/twilio/acme/voice",
                                       voice_params("client:bob", contact)))
        assert outbound.caller_id == AURORA

        routed = dial_of(app.webhook("/twilio/acme/inbound",
                                     inbound_params(contact, AURORA)))

        assert (routed.caller_id, routed.number) == (contact, BOB_WORK)

    with subtests.test("a call to a number we do not hold says why and hangs up"):
        said = refusal_of(app.webhook("/twilio/acme/inbound",
                                      inbound_params("+16305550194", "+14155550999")))

        assert "+14155550999" in said


# -- 4. status callbacks ---------------------------------------------------------------

STATUS_REPORTS = {
    "CallStatus and CallDuration": (
        {"CallStatus": "completed", "CallDuration": "42", "AnsweredBy": "human"},
        ("completed", 42, "human")),
    "DialCallStatus and DialCallDuration": (
        {"CallStatus": "completed", "DialCallStatus": "busy", "DialCallDuration": "0",
         "AnsweredBy": "machine_start"},
        ("busy", 0, "machine_start")),
}


def test_a_status_callback_records_status_duration_and_answered_by(
        deploy: Deploy, subtests: pytest.Subtests) -> None:
    """What Twilio reports lands on the decision's call, in GET /v1/calls/{id}."""
    app = deploy()
    for (name, (report, expected)), contact in zip(STATUS_REPORTS.items(),
                                                   ("+16305550195", "+16305550196"),
                                                   strict=True):
        with subtests.test(name):
            dialled = dial_of(app.webhook("/twilio/acme/voice",
                                          voice_params("client:bob", contact)))
            call_id = call_id_of(dialled.status_callback, app.server.url)

            answer = twiml_of(app.deliver(dialled.status_callback or "",
                                          status_params(**report)))

            assert list(answer) == []
            call = app.call(call_id)
            assert (call["telephony_status"], call["duration_s"], call["answered_by"]) == \
                expected
            assert (call["to"], call["caller_id"]) == (contact, AURORA)


RESULT_REPORTS = {
    "a 608 from the carriers' analytics": (
        {"CallStatus": "failed", "CallDuration": "0", "SipResponseCode": "608"},
        (False, 608, "rejected_by_analytics", 0)),
    "answered by a person": (
        {"CallStatus": "completed", "CallDuration": "37", "SipResponseCode": "200",
         "AnsweredBy": "human"},
        (True, 200, "answered", 37)),
    "a voicemail picked up": (
        {"CallStatus": "completed", "CallDuration": "12", "AnsweredBy": "machine_end_beep"},
        (False, None, "machine", 12)),
}


def test_a_status_callback_records_the_calls_result_once_however_often_it_comes(
        deploy: Deploy, subtests: pytest.Subtests) -> None:
    """SipResponseCode, CallStatus, CallDuration and AnsweredBy become the call's result
    (SPEC 9) in GET /v1/calls/{id}; Twilio delivering the callback again changes nothing."""
    app = deploy()
    contacts = ("+16305550181", "+16305550182", "+16305550183")
    for (name, (report, expected)), contact in zip(RESULT_REPORTS.items(), contacts,
                                                   strict=True):
        with subtests.test(name):
            dialled = dial_of(app.webhook("/twilio/acme/voice",
                                          voice_params("client:bob", contact)))
            call_id = call_id_of(dialled.status_callback, app.server.url)
            params = status_params(**report)

            for _ in range(2):  # a retry of the same signed callback
                twiml_of(app.deliver(dialled.status_callback or "", params))
                call = app.call(call_id)
                assert (call["answered"], call["sip_code"], call["failure_class"],
                        call["duration_s"]) == expected
                assert call["result_source"] == "twilio"
                assert call["result_at"] is not None


# -- 5. security: only requests Twilio signed for this URL and account are served ----------

def test_webhooks_not_signed_by_the_organizations_twilio_account_are_403(
        deploy: Deploy, subtests: pytest.Subtests) -> None:
    """Unsigned, tampered, signed for another URL or with another token: 403, and the call
    log (with each call's status) is exactly as before."""
    app = deploy()
    voice = "/twilio/acme/voice"
    genuine = dial_of(app.webhook(voice, voice_params("client:bob", "+16305550170")))
    status_url = genuine.status_callback or ""
    log = app.calls()
    assert len(log) == 1

    def refused(response: httpx.Response, org: str = "acme") -> None:
        assert app.calls(org) == (log if org == "acme" else [])
        forbidden(response)

    request = voice_params("client:bob", "+16305550171")
    with subtests.test("an unsigned voice webhook"):
        refused(app.webhook(voice, request, unsigned=True))
    with subtests.test("an unsigned status callback"):
        refused(app.deliver(status_url, status_params(
            CallStatus="completed", CallDuration="999", AnsweredBy="human"), unsigned=True))
    with subtests.test("a parameter changed after signing"):
        tampered = {**request, "To": "+19005550100"}
        refused(app.hooks.post(voice, data=tampered, headers={
            "X-Twilio-Signature": sign(app.url(voice), request)}))
    with subtests.test("a signature for another host"):
        refused(app.webhook(voice, request,
                            signed_url=f"http://twilio-attacker.example.net{voice}"))
    with subtests.test("a signature for another path"):
        refused(app.webhook(voice, request, signed_url=app.url("/twilio/acme/inbound")))
    with subtests.test("a signature with another auth token"):
        refused(app.webhook(voice, request, token=OTHER_TOKEN))
    with subtests.test("a webhook for an organization without a Twilio account"):
        refused(app.webhook("/twilio/globex/voice",
                            voice_params("client:gina", "+15125550161")), org="globex")

    # The refusals were about the signatures: the same request, signed, is served.
    assert dial_of(app.webhook(voice, request)).number == "+16305550171"


def test_behind_a_proxy_signatures_are_checked_on_the_public_url(
        deploy: Deploy, subtests: pytest.Subtests) -> None:
    """With CALLSIGN_PUBLIC_URL, Twilio signs and is given public URLs; a signature on the
    server's local URL is refused."""
    app = deploy(public_url=PUBLIC_URL)
    voice = "/twilio/acme/voice"

    with subtests.test("a signature on the local URL is refused"):
        response = app.webhook(voice, voice_params("client:bob", "+16305550172"),
                               signed_url=f"{app.server.url}{voice}")
        assert app.calls() == []
        forbidden(response)

    with subtests.test("a signature on the public URL is accepted"):
        dialled = dial_of(app.webhook(voice, voice_params("client:bob", "+16305550172")))

        assert (dialled.caller_id, dialled.number) == (AURORA, "+16305550172")
        [call] = app.calls()
        assert call_id_of(dialled.status_callback, PUBLIC_URL) == call["call_id"]

    with subtests.test("the agent leg gives Twilio public bridge and status URLs"):
        body = ok(app.api["acme"].post("/v1/calls/connect",
                                       json={"user": "bob", "to": "+16305550173"}), 201)

        [created] = app.twilio.calls_created()
        bridge = f"{PUBLIC_URL}/twilio/acme/bridge?call_id={body['call_id']}"
        assert created.field("Url") == bridge
        assert created.field("StatusCallback") == \
            f"{PUBLIC_URL}/twilio/acme/status?call_id={body['call_id']}&leg=agent"
        dialled = dial_of(app.deliver(bridge, agent_answered(body)))
        assert (dialled.caller_id, dialled.number) == (AURORA, "+16305550173")
        assert call_id_of(dialled.status_callback, PUBLIC_URL) == body["call_id"]


# -- 6. failures answer TwiML that says why, never a 5xx, and log nothing -------------------

REFUSED = {
    "an invalid To": ("acme", "client:alice", "+1 312 555", "+1 312 555"),
    "outside calling hours": ("night", "client:nora", "+13125550174", "calling hours"),
    "an unknown client": ("acme", "client:mallory", "+13125550175", "mallory"),
    "an unknown phone": ("acme", "+13125559999", "+13125550176", "+13125559999"),
}


def test_a_call_that_cannot_be_decided_says_why_and_hangs_up(
        deploy: Deploy, subtests: pytest.Subtests) -> None:
    """200 TwiML <Say> with the reason, then <Hangup>; the call log stays empty."""
    app = deploy()
    for name, (org, caller, to, explained) in REFUSED.items():
        with subtests.test(name):
            said = refusal_of(app.webhook(f"/twilio/{org}/voice", voice_params(caller, to)))

            assert explained in said
            assert app.calls(org) == []

    with subtests.test("a bridge for a call that is not in the log"):
        said = refusal_of(app.webhook(
            "/twilio/acme/bridge?call_id=call_nosuchcall",
            {"AccountSid": ACCOUNT_SID, "CallSid": sid(), "CallStatus": "in-progress",
             "From": AGENT_LEG, "To": ALICE_WORK}))

        assert "call_nosuchcall" in said


def test_a_compliance_refusal_is_spoken_with_its_rule_source_and_when_to_try(
        deploy: Deploy) -> None:
    """SPEC 10 through Twilio's voice webhook: a project whose window opens 1 to 2 hours from
    now says its rule, its source and the time it may be tried in the callee's clock; a
    number on the do-not-call list says it may not be called. Nothing is logged."""
    app = deploy()
    api = app.api["acme"]
    hours, opens = closed_window(datetime.now(UTC), "America/Chicago")
    ok(api.post("/v1/projects", json={"id": "quiet", "name": "Quiet hours",
                                      "compliance": {"hours": {"daily": [hours]}}}), 201)
    ok(api.post("/v1/dnc", json={"number": "+13125550179", "source": "callee asked"}), 201)

    window = refusal_of(app.webhook("/twilio/acme/voice", voice_params(
        "client:alice", "+13125550178", Project="quiet")))
    listed = refusal_of(app.webhook("/twilio/acme/voice", voice_params(
        "client:alice", "+13125550179")))

    assert "A compliance rule refuses it: project.hours, under the project's " \
        "configuration." in window
    assert window.endswith(f"It may be tried from {opens:%A %B} {opens.day} at "
                           f"{opens:%H:%M}, the callee's time."), window
    assert "A compliance rule refuses it: do not call" in listed
    assert listed.endswith("It may not be called."), listed
    assert app.calls() == []


# -- 7. replays: Twilio may deliver a webhook twice, and a signed one can be replayed ------

def used_today(app: Deployment, number: str) -> int:
    used: int = ok(app.api["acme"].get(f"/v1/numbers/{number.replace('+', '%2B')}"))[
        "used_today"]
    return used


def inbound_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        count: int = conn.execute(select(func.count()).select_from(inbound_calls)).scalar_one()
        return count


def test_a_replayed_voice_webhook_records_one_call_and_takes_one_cap_slot(
        deploy: Deploy) -> None:
    """The same signed request (same CallSid), again and at once: the same TwiML each
    time, one call in the log, one use of the number (a replay took a second slot)."""
    app = deploy()
    params = voice_params("client:bob", "(630) 555-0160")
    before = used_today(app, AURORA)

    first = app.webhook("/twilio/acme/voice", params)
    with ThreadPoolExecutor(4) as pool:
        copies = list(pool.map(lambda _: app.webhook("/twilio/acme/voice", params), range(4)))

    dialled = dial_of(first)
    assert [copy.text for copy in copies] == [first.text] * 4
    [call] = app.calls()
    assert call_id_of(dialled.status_callback, app.server.url) == call["call_id"]
    assert used_today(app, AURORA) == before + 1

    other = dial_of(app.webhook("/twilio/acme/voice", voice_params("client:bob",
                                                                   "(630) 555-0160")))
    assert other.status_callback != dialled.status_callback  # a new CallSid: a new call
    assert used_today(app, AURORA) == before + 2


def test_a_replayed_inbound_webhook_routes_once(deploy: Deploy, engine: Engine) -> None:
    """A call to our number delivered twice: the same TwiML, one inbound call recorded."""
    app = deploy()
    params = inbound_params("+16305550162", AURORA)

    answers = [app.webhook("/twilio/acme/inbound", params).text for _ in range(3)]

    assert answers == [answers[0]] * 3
    assert dial_of(app.webhook("/twilio/acme/inbound", params)).number == "+12125550199"
    assert inbound_rows(engine) == 1


def test_a_replayed_status_callback_changes_nothing_more(deploy: Deploy) -> None:
    """A status callback delivered again sets the same status, duration and answered-by."""
    app = deploy()
    dialled = dial_of(app.webhook("/twilio/acme/voice",
                                  voice_params("client:bob", "+16305550163")))
    report = status_params(CallStatus="completed", CallDuration="42", AnsweredBy="human")

    for _ in range(3):
        assert list(twiml_of(app.deliver(dialled.status_callback or "", report))) == []

    [call] = app.calls()
    assert (call["telephony_status"], call["duration_s"], call["answered_by"]) == \
        ("completed", 42, "human")


def test_connect_with_an_idempotency_key_rings_the_agent_once(deploy: Deploy) -> None:
    """POST /v1/calls/connect sent again with its Idempotency-Key: the first answer, one
    Calls.json request, one call; the key with another body is a 409."""
    app = deploy()
    acme = app.api["acme"]
    body = {"user": "bob", "to": "+16305550164"}
    key = {"Idempotency-Key": "connect-" + secrets.token_hex(8)}

    first = ok(acme.post("/v1/calls/connect", json=body, headers=key), 201)
    again = ok(acme.post("/v1/calls/connect", json=body, headers=key), 201)
    clash = error_of(acme.post("/v1/calls/connect", json={**body, "to": "+16305550165"},
                               headers=key), 409)

    assert again == first
    assert clash["field"] == "Idempotency-Key"
    assert len(app.twilio.calls_created()) == 1
    assert [call["call_id"] for call in app.calls()] == [first["call_id"]]
