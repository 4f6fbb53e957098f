"""The SIP proxy: real calls through Kamailio (deploy/kamailio/kamailio.cfg) and callsign.

sipp plays the dialer, the carrier and the agents' PBX, all on 127.0.0.1. The carrier's
scenario refuses a call whose From / P-Asserted-Identity is not the expected caller ID,
and the PBX's one a call that does not ring the expected work phone, so a sipp exit code
of 0 is the assertion; what each side saw (its <log> lines) is checked as well.

Needs kamailio (with http_client, jansson, uac) and sipp: scripts/install-sip. Without
them these tests skip, except on CI (CI=true), where they fail.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e._sip import (
    KAMAILIO_CFG,
    LOOPBACK,
    Callsign,
    CountingRelay,
    Kamailio,
    SippResult,
    free_udp_port,
    require_sip_tools,
    start_sipp,
    tail,
)
from tests.e2e._windows import closed_window
from tests.e2e.conftest import store_url

pytestmark = pytest.mark.slow

PRINCIPAL = "+12125550100"  # also the fail-open caller ID
FORWARDING = "+12125550199"  # where a call nobody in particular answers rings
CHICAGO = "+13125550101"  # the only 312 number
SAN_FRANCISCO = "+14155550105"  # bob's caller ID
NEWARK = "+12015550106"  # the renewals project's pool
BOB_WORK = "+14155559002"
CAROL_WORK = "+12015559003"
TOKYO_CALLEE = "+81312345678"  # always outside the calling hours set below
# Kamailio waits this long for a decision before failing open: in these tests, long enough
# for a callsign on a busy host (the shipped 1 s is for production), and short of the
# dialer's own 32 s INVITE timeout (SIP timer B). The test of a hung callsign uses 1 s.
DECISION_HANG_GUARD = 30


def calling_hours(now: datetime) -> tuple[str, str]:
    """A window of Chicago's time now ± 4 h: Chicago, New York and SF are inside it, Tokyo
    (14–15 h away) is not, whenever the tests run."""
    chicago = now.astimezone(ZoneInfo("America/Chicago"))
    return (f"{(chicago - timedelta(hours=4)):%H:%M}", f"{(chicago + timedelta(hours=4)):%H:%M}")


def org_yaml(now: datetime) -> str:
    start, end = calling_hours(now)
    quiet, _ = closed_window(now, "America/Chicago")
    return f"""\
org: sipco
default_country: US
timezone: America/New_York
principal_number: "{PRINCIPAL}"
forwarding_number: "{FORWARDING}"
local_presence: true
local_presence_fallback: region
calling_hours: {{start: "{start}", end: "{end}"}}
numbers:
  - {{number: "{PRINCIPAL}", label: Headquarters, group: main}}
  - {{number: "{CHICAGO}", label: Chicago, group: sales}}
  - {{number: "{SAN_FRANCISCO}", label: San Francisco, group: sales}}
  - {{number: "{NEWARK}", label: Newark, group: renewals}}
users:
  - {{id: bob, name: Bob Ortiz, work_phone: "{BOB_WORK}", caller_id: "{SAN_FRANCISCO}"}}
  - {{id: carol, name: Carol Diaz, work_phone: "{CAROL_WORK}"}}
projects:
  - id: renewals
    name: Policy renewals
    numbers: ["{NEWARK}"]
    first_call: "{NEWARK}"
    next_calls: random
    agent_number: use_project
  - id: quiet
    name: Calls only in a window closed now (SPEC 10)
    compliance: {{hours: {{daily: ["{quiet}"]}}}}
"""


@dataclass
class Call:
    """A call as the side that answered (UAS: the carrier, or the PBX for a callback) and
    the side that placed it (UAC: the dialer, or the carrier) saw it."""

    uas: SippResult
    uac: SippResult
    kamailio_log: str

    def explain(self) -> str:
        return (f"{self.uas.describe()}\n{self.uac.describe()}\n"
                f"-- kamailio --\n{tail(self.kamailio_log)}")

    def answered(self) -> None:
        assert self.uas.returncode == 0, self.explain()
        assert self.uac.returncode == 0, self.explain()

    def field(self, side: SippResult, prefix: str, name: str) -> str:
        """``name=value`` from the first log line of ``side`` starting with ``prefix``."""
        lines = side.lines(prefix)
        assert lines, self.explain()
        for word in lines[0].split():
            if word.startswith(f"{name}="):
                return word.split("=", 1)[1]
        raise AssertionError(f"no {name}= in {lines[0]!r}\n{self.explain()}")


@dataclass
class Proxy:
    """callsign, Kamailio in front of it, and the UDP ports of the parties around them."""

    workdir: Path
    callsign: Callsign
    key: str
    kamailio: Kamailio
    dialer_port: int
    carrier_port: int
    pbx_port: int
    runs: int = 0

    def defines(self, callsign_url: str) -> dict[str, str | int]:
        return {"CALLSIGN_URL": callsign_url, "CALLSIGN_KEY": self.key,
                "HTTP_TIMEOUT": DECISION_HANG_GUARD,
                "FALLBACK_CALLER_ID": PRINCIPAL, "DIALER_IP": LOOPBACK,
                "DIALER_PORT": self.dialer_port, "CARRIER_IP": LOOPBACK,
                "CARRIER_ADDR": f"{LOOPBACK}:{self.carrier_port}",
                "PBX_ADDR": f"{LOOPBACK}:{self.pbx_port}"}

    def _dir(self, what: str) -> Path:
        self.runs += 1
        return self.workdir / f"{self.runs:02d}-{what}"

    def call(self, user: str, to: str, *, project: str = "", caller_id: str = "*",
             callee: str = "", via: Kamailio | None = None) -> Call:
        """The dialer calls ``to`` as ``user``; the carrier expects ``caller_id``."""
        kamailio = via or self.kamailio
        workdir = self._dir("call")
        carrier = start_sipp(workdir, "carrier", "carrier_uas.xml", port=self.carrier_port,
                             variables={"expected_caller_id": caller_id,
                                        "expected_callee": callee})
        dialer = start_sipp(workdir, "dialer", "dialer_uac.xml", port=self.dialer_port,
                            remote=kamailio.port, fields=[[user, to, project]]).wait()
        return Call(carrier.wait(), dialer, kamailio.log())

    def unanswered(self, user: str, to: str, *, scenario: str = "dialer_refused.xml",
                   via: Kamailio | None = None, after: tuple[str, ...] = (),
                   linger: float = 0.0, project: str = "") -> tuple[SippResult, list[bytes]]:
        """A call that must not reach the carrier: the dialer's result, and what the carrier
        got by ``linger`` seconds after the dialer was done and, if given, a line holding
        every string of ``after`` appeared in Kamailio's log."""
        kamailio = via or self.kamailio
        workdir = self._dir("unanswered")
        received: list[bytes] = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as carrier:
            carrier.bind((LOOPBACK, self.carrier_port))
            carrier.settimeout(0.2)
            stop = threading.Event()

            def listen() -> None:
                while not stop.is_set():
                    try:
                        received.append(carrier.recv(65535))
                    except TimeoutError:
                        continue

            listener = threading.Thread(target=listen)
            listener.start()
            try:
                dialer = start_sipp(workdir, "dialer", scenario, port=self.dialer_port,
                                    remote=kamailio.port, fields=[[user, to, project]]).wait()
                deadline = time.monotonic() + DECISION_HANG_GUARD * 20  # a hang guard
                while after and not any(all(part in line for part in after)
                                        for line in kamailio.log().splitlines()):
                    assert time.monotonic() < deadline, f"no {after!r} in Kamailio's log"
                    time.sleep(0.05)
                time.sleep(linger)  # a window for a wrong relay to arrive, not a wait
            finally:
                stop.set()
                listener.join()
        return dialer, received

    def callback(self, caller: str, our_number: str, rings: str,
                 scenario: str = "carrier_uac.xml") -> Call:
        """The carrier delivers a call from ``caller`` to ``our_number``; the PBX expects it
        to ring ``rings``."""
        workdir = self._dir("callback")
        pbx = start_sipp(workdir, "pbx", "agent_uas.xml", port=self.pbx_port,
                         variables={"expected_destination": rings})
        carrier = start_sipp(workdir, "carrier", scenario, port=free_udp_port(),
                             remote=self.kamailio.port, fields=[[caller, our_number]]).wait()
        return Call(pbx.wait(), carrier, self.kamailio.log())


@contextlib.contextmanager
def running_proxy(tmp_path_factory: pytest.TempPathFactory, store_kind: str,
                  name: str, *, defines: dict[str, str | int] | None = None
                  ) -> Iterator[Proxy]:
    """callsign with organization sipco, and Kamailio asking (and reporting to) it with
    sipco's key; both must still be alive at the end."""
    require_sip_tools()
    workdir = tmp_path_factory.mktemp(name)
    with store_url(store_kind, workdir) as db_url:
        callsign = Callsign(workdir, db_url)
        key = callsign.apply("sipco", org_yaml(datetime.now(UTC)))
        callsign.start()
        kamailio = Kamailio(workdir / "kamailio", free_udp_port(), {})
        running = Proxy(workdir, callsign, key, kamailio, dialer_port=free_udp_port(),
                        carrier_port=free_udp_port(), pbx_port=free_udp_port())
        kamailio.defines = {**running.defines(callsign.url), **(defines or {})}
        try:
            kamailio.start()
            yield running
        finally:
            kamailio_died = kamailio.stop()
            callsign_died = callsign.close()
        assert kamailio_died is None, f"kamailio died during the tests:\n{tail(kamailio.log())}"
        assert callsign_died is None, f"callsign died during the tests:\n{callsign.stderr()}"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Proxy]:
    with running_proxy(tmp_path_factory, store_kind, "kamailio") as running:
        yield running


def test_the_config_passes_kamailios_check_in_both_variants() -> None:
    """`kamailio -c` accepts the config, with callsign and with the static htable."""
    kamailio, _ = require_sip_tools()
    for extra in ([], ["-A", "WITH_STATIC_DECISIONS"]):
        done = subprocess.run([kamailio, "-c", "-f", str(KAMAILIO_CFG), *extra],
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr


def test_a_callee_in_312_is_shown_the_312_number(proxy: Proxy) -> None:
    """Local presence: bob (a 415 caller ID) dials a Chicago number the way people write
    it; the carrier gets the org's only 312 number in From and P-Asserted-Identity, and
    the callee in E.164."""
    call = proxy.call("bob", "3125550188", caller_id=CHICAGO, callee="+13125550188")
    call.answered()
    assert call.field(call.uas, "INVITE", "pai") == CHICAGO
    assert call.field(call.uas, "BYE", "from") == CHICAGO  # in-dialog, through the proxy
    assert call.field(call.uac, "200", "rule") == "local_presence"
    call_id = call.field(call.uac, "200", "call_id")
    recorded = proxy.callsign.get(proxy.key, f"/v1/calls/{call_id}")
    assert recorded["caller_id"] == CHICAGO
    assert recorded["to"] == "+13125550188"


def test_a_project_call_presents_the_project_number(proxy: Proxy) -> None:
    """X-Callsign-Project: renewals presents the project's first-call number."""
    call = proxy.call("bob", "+13125550166", project="renewals", caller_id=NEWARK)
    call.answered()
    assert call.field(call.uac, "200", "rule") == "first_call_number"
    assert call.field(call.uac, "200", "caller_id") == NEWARK


def test_a_callback_rings_the_agent_who_called_last(proxy: Proxy) -> None:
    """carol calls a contact; when the contact calls our number back, carol's work phone
    rings, and a caller's own X-Callsign-User header does not reach the PBX."""
    contact = "+13125550177"
    outbound = proxy.call("carol", contact, caller_id=CHICAGO)
    outbound.answered()
    callback = proxy.callback(contact, CHICAGO, rings=CAROL_WORK)
    callback.answered()
    assert callback.field(callback.uas, "INVITE", "rule") == "last_caller"
    assert callback.field(callback.uas, "INVITE", "user") == "carol"  # not "mallory"
    assert callback.field(callback.uas, "INVITE", "from") == contact


@pytest.mark.parametrize(("scenario", "from_user"), [
    pytest.param("carrier_uac_withheld.xml", "anonymous", id="anonymous@anonymous.invalid"),
    pytest.param("carrier_uac.xml", "Restricted", id="Restricted"),
    pytest.param("carrier_uac.xml", "12", id="not-a-number"),
])
def test_a_withheld_caller_reaches_the_forwarding_number_not_a_404(
        proxy: Proxy, scenario: str, from_user: str) -> None:
    """A caller who withholds their number is routed as anonymous: the steps that need
    the caller's number pass, and the call rings sipco's forwarding number at the PBX
    (before, callsign answered 400 and Kamailio hung up with 404)."""
    callback = proxy.callback(from_user, CHICAGO, rings=FORWARDING, scenario=scenario)
    callback.answered()
    assert callback.field(callback.uas, "INVITE", "rule") == "forwarding"
    assert callback.field(callback.uas, "INVITE", "from") == from_user


def test_a_call_outside_calling_hours_is_refused_with_403_and_callsigns_reason(
        proxy: Proxy) -> None:
    """callsign's 422 becomes a 403 whose reason phrase says why; the carrier gets nothing."""
    dialer, carrier_got = proxy.unanswered("bob", TOKYO_CALLEE)
    assert dialer.returncode == 0, dialer.describe()
    final = dialer.lines("FINAL")
    assert final, dialer.describe()
    assert final[0].startswith("FINAL 403 "), dialer.describe()
    assert "outside calling hours" in final[0], final
    assert carrier_got == []


def test_a_call_outside_a_compliance_window_is_refused_with_403_and_retry_after(
        proxy: Proxy) -> None:
    """SPEC 10: the quiet project's window opens 1 to 2 hours from now in Chicago. The
    dialer gets 403 whose reason names the rule and when, and Retry-After in seconds until
    the window opens; the carrier gets nothing."""
    dialer, carrier_got = proxy.unanswered("bob", "+13125550144",
                                           scenario="dialer_refused_retry.xml",
                                           project="quiet")
    assert dialer.returncode == 0, dialer.describe()
    final = dialer.lines("FINAL")
    assert final, dialer.describe()
    assert final[0].startswith("FINAL 403 project.hours ("), dialer.describe()
    retry = dialer.lines("RETRY")
    assert retry, dialer.describe()
    seconds = int(retry[0].split()[1])
    assert 0 < seconds <= 3 * 3600, retry  # 1 to 2 hours, give or take a DST change
    assert carrier_got == []


def test_an_unknown_agent_is_refused_with_404(proxy: Proxy) -> None:
    """callsign's 404 for an unknown user becomes a SIP 404."""
    dialer, carrier_got = proxy.unanswered("nobody", "+13125550155")
    assert dialer.returncode == 0, dialer.describe()
    assert dialer.lines("FINAL")[0].startswith("FINAL 404 "), dialer.describe()
    assert carrier_got == []


def test_a_number_that_is_no_number_is_refused_with_484(proxy: Proxy) -> None:
    """callsign's 400 for an invalid number called becomes 484 Address Incomplete."""
    dialer, carrier_got = proxy.unanswered("bob", "12")
    assert dialer.returncode == 0, dialer.describe()
    assert dialer.lines("FINAL")[0].startswith("FINAL 484 "), dialer.describe()
    assert carrier_got == []


def test_with_callsign_down_calls_go_out_with_the_fallback_caller_id(proxy: Proxy) -> None:
    """Fail-open: callsign stopped, the call still goes out, presenting the fallback caller
    ID, and Kamailio's log says so; when callsign is back, decisions resume."""
    proxy.callsign.stop()
    try:
        call = proxy.call("bob", "+13125550144", caller_id=PRINCIPAL)
    finally:
        proxy.callsign.start()
    call.answered()
    assert call.field(call.uac, "200", "rule") == "fail_open"
    fail_open = [line for line in call.kamailio_log.splitlines() if "callsign fail-open" in line]
    assert fail_open, call.explain()
    assert "refused the connection" in fail_open[-1]
    assert "+13125550144" in fail_open[-1]

    again = proxy.call("bob", "+13125550145", caller_id=CHICAGO)
    again.answered()


def test_a_callsign_that_does_not_answer_costs_the_timeout_then_fails_open(
        proxy: Proxy) -> None:
    """A callsign that accepts the connection but never answers: after HTTP_TIMEOUT (1 s)
    the call goes out with the fallback caller ID; a dialer that hangs up meanwhile gets
    487 and the carrier never hears of the call."""
    with socket.socket() as silent:
        silent.bind((LOOPBACK, 0))
        silent.listen(16)  # the kernel completes the handshake; nobody ever reads
        url = f"http://{LOOPBACK}:{silent.getsockname()[1]}"
        hung = Kamailio(proxy.workdir / "kamailio-hung", free_udp_port(),
                        {**proxy.defines(url), "HTTP_TIMEOUT": 1})
        hung.start()
        try:
            call = proxy.call("bob", "+13125550133", caller_id=PRINCIPAL, via=hung)
            cancelled, carrier_got = proxy.unanswered("bob", "+13125550134",
                                                      scenario="dialer_cancel.xml", via=hung,
                                                      after=("timed out", "%2b13125550134"),
                                                      linger=0.5)
        finally:
            assert hung.stop() is None, tail(hung.log())
    call.answered()
    assert call.uac.elapsed >= 1.0, call.explain()  # no upper bound: a busy host is slow
    assert "did not answer within 1 s" in call.kamailio_log, call.explain()
    assert cancelled.returncode == 0, cancelled.describe()
    assert cancelled.lines("FINAL") == ["FINAL 487"], cancelled.describe()
    assert carrier_got == []


KEPT_CALLS = 60
KEPT_CHILDREN = 4


def test_kamailio_keeps_its_connections_to_callsign_open(proxy: Proxy) -> None:
    """Keep-alive: 60 calls through a Kamailio of 4 workers reach callsign over a handful
    of TCP connections (each worker keeps its own), not one per call as before. A relay in
    front of callsign counts the connections it is given and the decisions asked."""
    relay = CountingRelay(proxy.callsign.port)
    kamailio = Kamailio(proxy.workdir / "kamailio-kept", free_udp_port(),
                        proxy.defines(relay.url), children=KEPT_CHILDREN)
    workdir = proxy.workdir / "kept-connections"
    rows = [["bob" if i % 2 else "carol", f"+1312555{300 + i:04d}", ""]
            for i in range(KEPT_CALLS)]
    try:
        kamailio.start()
        carrier = start_sipp(workdir, "carrier", "carrier_uas.xml", port=proxy.carrier_port,
                             calls=KEPT_CALLS, variables={"expected_caller_id": "*"})
        dialer = start_sipp(workdir, "dialer", "dialer_uac.xml", port=proxy.dialer_port,
                            remote=kamailio.port, calls=KEPT_CALLS, fields=rows).wait()
        carried = carrier.wait()
    finally:
        died = kamailio.stop()
        relay.close()
    assert died is None, tail(kamailio.log())
    assert dialer.returncode == 0, dialer.describe()
    assert carried.returncode == 0, carried.describe()
    assert "callsign fail-open" not in kamailio.log(), tail(kamailio.log())
    assert relay.requests == KEPT_CALLS  # every call was decided through the relay
    assert 1 <= relay.connections <= KEPT_CALLS // 5, relay.connections
