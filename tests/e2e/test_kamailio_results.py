"""Kamailio reports each call's result to callsign after the call (SPEC 9), for real.

sipp plays the dialer and the carrier around deploy/kamailio/kamailio.cfg and callsign:
a call answered 200 and hung up with a BYE, and a call the carrier rejects with 608.
Kamailio's SIP workers only queue the result (dialog end, failure_route); its rtimer
process POSTs it to /v1/kamailio/result; the call log then shows it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e._sip import SCENARIOS, start_sipp, tail
from tests.e2e.test_kamailio import CHICAGO, Proxy, running_proxy

pytestmark = pytest.mark.slow

POLLS = 6000  # a hang guard on a busy host: the report is sent every 0.2 s
POLL_PAUSE = 0.1


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Proxy]:
    with running_proxy(tmp_path_factory, store_kind, "kamailio-results") as running:
        yield running


def place(proxy: Proxy, to: str, *, carrier: str, dialer: str) -> None:
    """One call from the dialer to ``to`` through Kamailio; both sipps must succeed."""
    workdir = proxy.workdir / f"call-{to}"
    uas = start_sipp(workdir, "carrier", carrier, port=proxy.carrier_port,
                     variables={"expected_caller_id": CHICAGO, "expected_callee": to}
                     if carrier == "carrier_uas.xml" else None)
    uac = start_sipp(workdir, "dialer", dialer, port=proxy.dialer_port,
                     remote=proxy.kamailio.port, fields=[["bob", to, ""]]).wait()
    done = uas.wait()
    explain = f"{done.describe()}\n{uac.describe()}\n{tail(proxy.kamailio.log())}"
    assert (done.returncode, uac.returncode) == (0, 0), explain


def reported(proxy: Proxy, to: str) -> dict[str, Any]:
    """The call to ``to`` once its result has arrived (bounded by a count of polls)."""
    for _ in range(POLLS):
        page = proxy.callsign.get(proxy.key, f"/v1/calls?contact={to.replace('+', '%2B')}")
        [call] = page["calls"]
        if call["result_at"] is not None:
            return dict(call)
        time.sleep(POLL_PAUSE)
    raise AssertionError(f"no result for the call to {to}:\n{tail(proxy.kamailio.log())}")


def test_an_answered_call_reports_200_and_its_duration_when_it_ends(proxy: Proxy) -> None:
    """200, held 2 s, BYE: answered, SIP 200, at least a second, from kamailio."""
    to = "+13125550171"
    place(proxy, to, carrier="carrier_uas.xml", dialer="dialer_uac_hold.xml")

    call = reported(proxy, to)

    assert call["caller_id"] == CHICAGO
    assert (call["answered"], call["sip_code"], call["failure_class"],
            call["result_source"]) == (True, 200, "answered", "kamailio")
    assert call["duration_s"] >= 1
    assert "callsign result stored: call " + call["call_id"] in proxy.kamailio.log()


def test_a_call_the_carrier_rejects_with_608_reports_an_analytics_rejection(
        proxy: Proxy) -> None:
    """608 Rejected (RFC 8688) reaches the dialer unchanged, and callsign as the result."""
    to = "+13125550172"
    place(proxy, to, carrier="carrier_uas_reject.xml", dialer="dialer_rejected.xml")

    call = reported(proxy, to)

    assert (call["answered"], call["sip_code"], call["failure_class"], call["duration_s"],
            call["result_source"]) == (False, 608, "rejected_by_analytics", 0, "kamailio")


def test_a_result_callsign_could_not_take_is_sent_again_once_it_is_back(
        tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> None:
    """callsign stops while the call is held (10 s): the BYE's report finds it down, is
    queued for a retry (every second here), and is stored once callsign is back."""
    with running_proxy(tmp_path_factory, store_kind, "kamailio-retry",
                       defines={"RETRY_TIMER": "name=cs_retry;interval=1;mode=1;"}
                       ) as proxy:
        to = "+13125550173"
        workdir = proxy.workdir / "held-call"
        workdir.mkdir(parents=True, exist_ok=True)
        scenario = workdir / "dialer_uac_long_hold.xml"
        held = (SCENARIOS / "dialer_uac_hold.xml").read_text()
        assert '<pause milliseconds="2000"/>' in held
        scenario.write_text(held.replace('<pause milliseconds="2000"/>',
                                         '<pause milliseconds="10000"/>'))
        uas = start_sipp(workdir, "carrier", "carrier_uas.xml", port=proxy.carrier_port,
                         variables={"expected_caller_id": CHICAGO, "expected_callee": to})
        uac = start_sipp(workdir, "dialer", str(scenario), port=proxy.dialer_port,
                         remote=proxy.kamailio.port, fields=[["bob", to, ""]])
        for _ in range(POLLS):  # decided (and answered) before callsign goes
            page = proxy.callsign.get(proxy.key, f"/v1/calls?contact={to.replace('+', '%2B')}")
            if page["calls"]:
                break
            time.sleep(POLL_PAUSE)
        assert proxy.callsign.stop() is None
        done, dialer = uas.wait(), uac.wait()
        assert (done.returncode, dialer.returncode) == (0, 0), tail(proxy.kamailio.log())
        for _ in range(POLLS):  # the BYE's report failed and waits for a retry
            if "callsign result not taken, to retry" in proxy.kamailio.log():
                break
            time.sleep(POLL_PAUSE)
        else:
            raise AssertionError(tail(proxy.kamailio.log()))
        proxy.callsign.start()
        call = reported(proxy, to)
        stored = [line for line in proxy.kamailio.log().splitlines()
                  if f"callsign result stored: call {call['call_id']}" in line]
    assert len(stored) == 1
    assert "(attempt 1)" not in stored[0]  # a retry stored it
    assert (call["answered"], call["sip_code"], call["result_source"]) == (
        True, 200, "kamailio")
    assert call["duration_s"] >= 5
