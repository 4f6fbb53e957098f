"""The admin's Compliance page and the decision explorer's compliance verdicts in a real
browser (SPEC 10).

The demo organization acme runs here with compliance settings: its own weekly hours and
holidays, the federal, Florida and Maryland packs (Maryland's cap tightened to 2 calls),
and a cap on the renewals project. The Compliance page shows every rule with its source;
its do-not-call forms add and remove a number (as the REST API then confirms), errors
beside their field. The explorer refuses a Miami call at 20:30 Miami time with Florida's
rule, its source, the callee's local time and when it may be tried, records nothing, and
refuses a listed number for good. Saves docs/screenshots/compliance.png and
explorer-refusal.png. Needs Chromium and Playwright (scripts/install-browser).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from tests.e2e._browser import (
    Tab,
    chromium,
    field_error,
    require_browser,
    screenshot,
    toast,
    trace_of,
)
from tests.e2e.conftest import Server, acme_yaml, ok, serve, store_url

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

pytestmark = pytest.mark.slow

MIAMI = "+13055550123"
LISTED = "+14105550177"  # a Baltimore number put on the list in the tests
# Monday 2026-12-07 20:30 in Miami (EST): inside acme's calling hours (08:00–21:00) and the
# federal window, outside Florida's 08:00–20:00; next allowed Tuesday 08:00 EST = 13:00 UTC.
EVENING_MIAMI = datetime(2026, 12, 8, 1, 30, tzinfo=UTC)
NOON_MIAMI = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
COMPLIANCE = {
    "hours": {"mon-fri": ["08:00-21:00"], "sat": ["09:00-17:00"]},
    "holidays": {"country": "US", "subdivision": "callee"},
    "packs": ["federal", "florida", "maryland"],
    "overrides": {"maryland.frequency": {"calls": 2}},
}


def org_yaml() -> str:
    data = yaml.safe_load(acme_yaml())
    data["compliance"] = COMPLIANCE
    for project in data["projects"]:
        if project["id"] == "renewals":
            project["compliance"] = {"caps": [{"calls": 1, "hours": 24, "across": "project"}]}
    return yaml.safe_dump(data, sort_keys=False)


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Server]:
    require_browser()
    workdir = tmp_path_factory.mktemp("admin-compliance")
    with (
        store_url(store_kind, workdir) as url,
        serve(workdir, {"acme": org_yaml()}, db_url=url) as running,
    ):
        yield running


@pytest.fixture(scope="module")
def api(admin: Server) -> Iterator[httpx.Client]:
    with admin.client(admin.keys["acme"]) as client:
        yield client


@pytest.fixture
def page(admin: Server) -> Iterator[Page]:
    with chromium() as browser:
        tab = Tab(browser, admin.url)
        try:
            tab.page.goto("/admin/login")
            tab.page.fill("#key", admin.keys["acme"])
            with tab.page.expect_navigation():
                tab.page.click("form[action='/admin/login'] button[type=submit]")
            assert toast(tab.page, "success") == "Signed in to acme"
            yield tab.page
        finally:
            tab.close()


def submit(page: Page, selector: str, status: int) -> Response:
    with page.expect_navigation() as navigation:
        page.click(selector)
    response = navigation.value
    assert response is not None
    assert response.status == status, f"{response.url} answered {response.status}"
    return response


def listed(api: httpx.Client) -> list[str]:
    return [e["number"] for e in ok(api.get("/v1/dnc", params={"limit": 1000}))["entries"]]


def calls_count(api: httpx.Client) -> int:
    return len(ok(api.get("/v1/calls", params={"limit": 500}))["calls"])


def in_org_zone(at: datetime) -> str:
    """``at`` as the explorer's datetime-local field takes it (acme's zone: New York)."""
    return at.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%dT%H:%M")


def rules_of(page: Page, scope: str) -> dict[str, str]:
    items = page.locator(f"{scope} li[data-rule]").all()
    return {str(li.get_attribute("data-rule")): li.inner_text() for li in items}


# -- the Compliance page -----------------------------------------------------------------


def test_the_page_shows_windows_packs_and_caps_each_rule_with_its_source(page: Page) -> None:
    page.goto("/admin/numbers")
    with page.expect_navigation():
        page.click("header nav a[href='/admin/compliance']")
    assert page.locator("header nav a.active").inner_text() == "Compliance"

    assert page.locator("#calling-hours").inner_text() == "08:00–21:00"
    org = rules_of(page, "#compliance-org")
    assert "Mon–Fri 08:00–21:00, Sat 09:00–17:00, Sun closed" in org["organization.hours"]
    assert "public holidays of US and the callee's state" in org["organization.holidays"]
    packs = page.locator("#compliance-org .pack").all()
    assert [p.get_attribute("data-pack") for p in packs] == ["federal", "florida", "maryland"]
    assert "64.1200" in org["federal.hours"]
    assert "501.616" in org["florida.hours"]
    assert "at most 2 calls in 24 hours" in org["maryland.frequency"]
    assert "(tightened by the organization)" in org["maryland.frequency"]
    assert "14-4503" in org["maryland.frequency"]
    assert "tightened" not in org["maryland.hours"]
    florida = page.locator("#compliance-org .pack[data-pack=florida]").inner_text()
    assert "presumed a resident" in florida
    links = page.locator("#compliance-org li[data-rule='florida.hours'] a")
    assert links.count() == 1
    assert (links.get_attribute("href") or "").startswith("https://")

    renewals = rules_of(page, "#compliance-project-renewals")
    assert (
        "at most 1 calls in 24 hours per person within the project" in renewals["project.caps[0]"]
    )
    assert "the project's configuration" in renewals["project.caps[0]"]
    assert page.locator("#dnc-size").inner_text() == "0"
    screenshot(page, "compliance")


def test_a_number_is_listed_and_taken_off_through_the_forms(page: Page, api: httpx.Client) -> None:
    page.goto("/admin/compliance")
    before = int(page.locator("#dnc-size").inner_text())

    # A number that is none: the error beside the field, what was typed kept.
    page.fill("#dnc-number", "12")
    page.fill("#dnc-source", "callee asked")
    submit(page, "#dnc-add button", 400)
    assert field_error(page.locator("#dnc-add"), "number")
    assert page.locator("#dnc-number").input_value() == "12"
    assert page.locator("#dnc-source").input_value() == "callee asked"
    assert int(page.locator("#dnc-size").inner_text()) == before

    page.fill("#dnc-number", "(410) 555-0177")
    submit(page, "#dnc-add button", 200)
    assert toast(page, "success") == f"Listed {LISTED}: every call to it is refused"
    assert int(page.locator("#dnc-size").inner_text()) == before + 1
    row = page.locator(f"#dnc-entries tr[data-number='{LISTED}']")
    assert "callee asked" in row.inner_text()
    assert LISTED in listed(api)

    # Taking off a number that is not listed: 404 beside the remove form's field.
    page.fill("#dnc-remove-number", "+14105550199")
    submit(page, "#dnc-remove button", 404)
    assert "not on the do-not-call list" in field_error(page.locator("#dnc-remove"), "number")
    assert page.locator("#dnc-remove-number").input_value() == "+14105550199"

    submit(page, f"#dnc-entries tr[data-number='{LISTED}'] button", 200)
    assert toast(page, "success") == f"Took {LISTED} off the do-not-call list"
    assert int(page.locator("#dnc-size").inner_text()) == before
    assert LISTED not in listed(api)


def test_a_post_without_the_sessions_token_lists_nothing(admin: Server, api: httpx.Client) -> None:
    """CSRF: the forms carry the session's token; a post without it is refused."""
    with httpx.Client(base_url=admin.url, timeout=600) as browser:
        form = browser.get("/admin/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        browser.post("/admin/login", data={"key": admin.keys["acme"], "csrf": token.group(1)})
        refused = browser.post("/admin/compliance/dnc", data={"number": LISTED, "csrf": "forged"})
    assert refused.status_code == 400
    assert "the form expired or came from elsewhere" in refused.text
    assert LISTED not in listed(api)


# -- the decision explorer ---------------------------------------------------------------


def try_call(page: Page, to: str, at: datetime, status: int = 200, **typed: str) -> None:
    page.goto("/admin/explorer")
    page.select_option("#try-user", "alice")
    page.fill("#try-to", to)
    page.select_option("#try-project", "")
    page.click("#try-call summary")
    page.fill("#try-at", in_org_zone(at))
    for field, value in typed.items():
        page.fill(f"#try-contact-{field.replace('_', '-')}", value)
    submit(page, "#try-call button", status)


def test_the_explorer_shows_a_refusal_with_its_rule_source_local_time_and_when(
    page: Page, api: httpx.Client
) -> None:
    calls = calls_count(api)

    try_call(page, "(305) 555-0123", EVENING_MIAMI)

    assert page.locator("#decision").count() == 0
    assert page.locator("#refusal-rule").inner_text() == "florida.hours"
    assert page.locator("#refusal-pack").inner_text() == "florida 2026.1"
    assert "501.616" in page.locator("#refusal-source").inner_text()
    reason = page.locator("#refusal-reason").inner_text()
    assert "Mon 2026-12-07 20:30 America/New_York" in reason
    assert "outside 08:00–20:00" in reason
    local = page.locator("#callee-local-times li").all_inner_texts()
    assert local == ["Mon 2026-12-07 20:30 EST (America/New_York: the number's area code 305)"]
    when = {
        li.get_attribute("data-zone"): li.inner_text()
        for li in page.locator("#next-allowed-at li").all()
    }
    assert when["UTC"].startswith("2026-12-08T13:00Z")
    assert when["the callee's (America/New_York)"].startswith("Tue 2026-12-08 08:00 EST")
    trace: list[dict[str, Any]] = trace_of(page.locator("#refusal"))
    steps = [s["step"] for s in trace]
    assert steps[0] == "compliance.zones"
    assert {"pack.federal", "pack.florida", "pack.maryland"} <= set(steps)
    florida = next(s for s in trace if s["step"] == "florida.hours")
    assert florida["detail"].startswith("refused:")
    assert next(s for s in trace if s["step"] == "pack.maryland")["result"] == "passed"
    # The form keeps what was asked.
    assert page.locator("#try-at").input_value() == in_org_zone(EVENING_MIAMI)
    screenshot(page, "explorer-refusal")

    # The same time for a callee living in Los Angeles: still refused, and the typed
    # address is what was judged (both zones shown).
    try_call(page, MIAMI, NOON_MIAMI, timezone="America/Los_Angeles")
    assert page.locator("#decision-caller-id").count() == 1  # 09:00 in Los Angeles
    assert (
        "the contact's address (typed): America/Los_Angeles"
        in page.locator("#asked-at").inner_text()
    )
    zones = page.locator("#callee-local-times li").all_inner_texts()
    assert [z.split(" (")[1].split(":")[0] for z in zones] == [
        "America/Los_Angeles",
        "America/New_York",
    ]
    assert any(
        s["step"] == "florida.hours" and s["result"] == "checked"
        for s in trace_of(page.locator("#decision"))
    )

    assert calls_count(api) == calls, "the explorer records no call"


def test_the_explorer_refuses_a_listed_number_for_good_and_names_bad_fields(
    page: Page, api: httpx.Client
) -> None:
    ok(api.post("/v1/dnc", json={"number": LISTED, "source": "callee asked"}), 201)
    try:
        try_call(page, LISTED, NOON_MIAMI)
        assert page.locator("#refusal-rule").inner_text() == "do_not_call"
        assert "callee asked" in page.locator("#refusal-reason").inner_text()
        assert page.locator("#next-allowed-never").inner_text() == "never"
    finally:
        assert api.delete(f"/v1/dnc/{LISTED}").status_code == 204

    try_call(page, MIAMI, NOON_MIAMI, status=400, state="Atlantis")
    assert "'Atlantis' is not a US state" in field_error(page.locator("#try-call"), "contact.state")
    assert page.locator("#try-contact-state").input_value() == "Atlantis"
    assert page.locator("#refusal").count() == 0
