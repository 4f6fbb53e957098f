"""SPEC 9 end to end: reputation labels over REST on the real server. Scan results go in
as CSV or JSON (all or nothing, problems by row and column, only the caller's numbers);
`POST /v1/health/scan` pulls them from a scanning vendor's API (a local fake); a flag
rests the number and a clean re-check brings it back, as GET /v1/numbers/{n}/health
shows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.conftest import Server, error_of, ok, path_of, run_cli, running_server, store_url
from tests.fakes.reputation import FakeScanner, fake_scanner

pytestmark = pytest.mark.slow

ACME = ["+13125550101", "+13125550102", "+13125550103", "+13125550104"]
FLAGGED, CLEANED, SPARE = ACME[0], ACME[1], ACME[2]
GLOBEX = "+16175550111"
TOKEN = "scanner-token-0123456789"


def document(org: str, principal: str, numbers: list[str]) -> str:
    return yaml.safe_dump({
        "org": org, "default_country": "US", "timezone": "America/Chicago",
        "principal_number": principal, "local_presence": True,
        "numbers": [{"number": principal}, *({"number": n} for n in numbers)]})


@dataclass
class Deployment:
    server: Server
    scanner: FakeScanner
    acme: httpx.Client
    globex: httpx.Client


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("reputation")
    docs = {"acme": document("acme", "+12125550100", ACME),
            "globex": document("globex", "+16175550100", [GLOBEX])}
    with contextlib.ExitStack() as stack:
        db_url = stack.enter_context(store_url(store_kind, workdir))
        for org, text in docs.items():
            path = workdir / f"{org}.yaml"
            path.write_text(text, encoding="utf-8")
            run_cli(db_url, "apply", str(path))
        keys = {org: run_cli(db_url, "keys", "create", "--org", org, "--name", "e2e").strip()
                for org in docs}
        scanner = stack.enter_context(fake_scanner(token=TOKEN))
        env = {"CALLSIGN_REPUTATION_FEED_URL": scanner.url,
               "CALLSIGN_REPUTATION_FEED_TOKEN": TOKEN}
        server = stack.enter_context(running_server(db_url, Path(workdir), keys, env=env))
        yield Deployment(server, scanner, stack.enter_context(server.client(keys["acme"])),
                         stack.enter_context(server.client(keys["globex"])))


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def health_of(client: httpx.Client, number: str) -> dict[str, object]:
    shown: dict[str, object] = ok(client.get(f"/v1/numbers/{path_of(number)}/health"))
    return shown


def post_csv(client: httpx.Client, text: str) -> httpx.Response:
    return client.post("/v1/health/reputation", content=text.encode(),
                       headers={"Content-Type": "text/csv; charset=utf-8"})


def test_a_csv_scan_labels_and_rests_a_flagged_number(app: Deployment) -> None:
    text = (" Number , Carrier ,LABEL,Checked At\n"
            f"(312) 555-0101,AT&T,Spam Likely,{days_ago(2)}\n"
            f"{SPARE},Verizon,Clean,{days_ago(2)}\n")
    report = ok(post_csv(app.acme, text))
    assert (report["labels"], report["numbers"]) == (2, 2)
    shown = health_of(app.acme, FLAGGED)
    assert shown["status"] == "resting"
    assert str(shown["summary"]).startswith("resting since")
    assert "labelled Spam Likely by Hiya (AT&T) on" in str(shown["reasons"])
    assert shown["labels"] == [{"engine": "Hiya", "carrier": "AT&T", "label": "spam_likely",
                                "raw": "Spam Likely", "checked_at": shown["labels"][0][  # type: ignore[index]
                                    "checked_at"], "source": "csv", "flag": True}]


def test_json_rows_import_too(app: Deployment) -> None:
    rows = [{"number": CLEANED, "engine": "First Orion", "label": "Nuisance Likely",
             "checked_at": days_ago(1)}]
    report = ok(app.acme.post("/v1/health/reputation", json=rows))
    assert report["labels"] == 1
    labels = health_of(app.acme, CLEANED)["labels"]
    assert [(lb["engine"], lb["label"], lb["flag"]) for lb in labels] == [  # type: ignore[attr-defined]
        ("First Orion", "nuisance", False)]


def test_a_bad_scan_stores_nothing_and_names_each_row_and_column(app: Deployment) -> None:
    text = ("number,engine,label,checked_at\n"
            f"{ACME[3]},Hiya,Scam Likely,{days_ago(1)}\n"
            f"{ACME[3]},TNS,Spam Likely,last tuesday\n"
            f"555,TNS,Spam Likely,{days_ago(1)}\n")
    error = error_of(post_csv(app.acme, text), 400)
    assert error["code"] == "invalid_scan"
    assert [p["field"] for p in error["problems"]] == ["row 3, column checked_at",
                                                        "row 4, column number"]
    assert health_of(app.acme, ACME[3])["labels"] == []
    assert health_of(app.acme, ACME[3])["status"] == "active"
    bad_json = error_of(app.acme.post("/v1/health/reputation", json={"number": ACME[3]}), 400)
    assert bad_json["code"] == "invalid_scan"


def test_one_org_cannot_label_anothers_number(app: Deployment) -> None:
    text = f"number,engine,label,checked_at\n{ACME[3]},Hiya,Scam Likely,{days_ago(1)}\n"
    error = error_of(post_csv(app.globex, text), 400)
    assert error["field"] == "row 2, column number"
    assert "acme" not in error["message"]
    assert health_of(app.acme, ACME[3])["labels"] == []
    error_of(app.globex.get(f"/v1/numbers/{path_of(ACME[3])}/health"), 404)


def test_a_scan_through_the_feed_rests_then_a_clean_recheck_restores(
        app: Deployment) -> None:
    app.scanner.show(GLOBEX, "TNS", "Verizon", "Scam Likely", days_ago(1))
    report = ok(app.globex.post("/v1/health/scan"))
    assert [(c["number"], c["to_state"]) for c in report["changes"]] == [(GLOBEX, "resting")]
    assert all(GLOBEX in batch or not batch for batch in app.scanner.requests)
    assert all(n not in batch for batch in app.scanner.requests for n in ACME)
    shown = health_of(app.globex, GLOBEX)
    assert shown["status"] == "resting"
    assert shown["labels"][0]["source"] == "feed:scanner"  # type: ignore[index]
    app.scanner.show(GLOBEX, "TNS", "Verizon", "Clean", days_ago(0))
    again = ok(app.globex.post("/v1/health/scan"))
    assert [(c["from_state"], c["to_state"]) for c in again["changes"]] == [
        ("resting", "warming")]
    assert health_of(app.globex, GLOBEX)["status"] == "active"


def test_a_failing_feed_is_424(app: Deployment) -> None:
    app.scanner.fail_with(503)
    try:
        error = error_of(app.acme.post("/v1/health/scan"), 424)
    finally:
        app.scanner.fail_with(None)
    assert error["code"] == "provider_error"
    assert "503" in error["message"]


def test_the_flag_policy_is_set_and_read_over_rest(app: Deployment) -> None:
    changed = ok(app.globex.patch("/v1/org", json={"health": {
        "rest_on_flag": ["scam_likely", "nuisance"], "flag_restore": "clean_check"}}))
    assert changed["health"]["rest_on_flag"] == ["scam_likely", "nuisance"]
    assert ok(app.globex.get("/v1/org"))["health"]["flag_restore"] == "clean_check"
    error = error_of(app.globex.patch("/v1/org", json={"health": {
        "rest_on_flag": ["clean"]}}), 400)
    assert error["field"] == "health.rest_on_flag[0]"
