"""The web admin (/admin) in a real browser, each workflow end to end.

Every test signs in through the sign-in form in a fresh browser context, does what an
administrator does, checks what the page shows, and then checks with the REST API (the
organization's key, on the same server) what the store holds. One `callsign serve` and one
Chromium serve the whole module; before each test the demo organization is applied again
(PUT /v1/config), so each test starts from src/callsign/demo/acme.yaml as shipped. The
sandbox provider has no numbers in area code 907 here (CALLSIGN_SANDBOX_EMPTY_AREA_CODES).

Each page is saved to docs/screenshots/ on the way. Needs Chromium and Playwright
(scripts/install-browser): without them these tests skip, except on CI, where they fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from callsign.providers.sandbox import EMPTY_AREA_CODES_ENV
from callsign.store.tables import inbound_calls
from tests.e2e._browser import (
    Tab,
    chromium,
    errors_shown,
    field_error,
    no_toast,
    require_browser,
    screenshot,
    squash,
    toast,
    trace_of,
)
from tests.e2e.conftest import Server, acme_yaml, error_of, ok, path_of, serve, store_url

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Response

pytestmark = pytest.mark.slow

HQ = "+12125550100"  # the principal number
CHICAGO = "+13125550101"  # alice's caller ID and direct number; also serves 773 and 872
CHICAGO_2 = "+13125550102"  # in the renewals pool
AURORA = "+16305550142"  # the only number serving 630; in no project
MANHATTAN = "+16465550104"  # paused, in no group
SAN_FRANCISCO = "+14155550105"  # bob's caller ID
NEWARK = "+12015550106"  # renewals pool; asked_callback's number
NEWARK_2 = "+12015550107"  # renewals pool
ALICE_WORK = "+13125559001"
CONTACT_415 = "+14155550123"  # a contact of alice's
EMPTY_AREA_CODE = "907"
DEFAULT_PATH = ["direct_number", "last_caller", "lead_owner", "forwarding", "company"]


# -- fixtures ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Server]:
    """`callsign serve` holding the demo organization acme, on SQLite or PostgreSQL."""
    require_browser()  # skip (or fail on CI) before starting anything
    workdir = tmp_path_factory.mktemp("admin")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(EMPTY_AREA_CODES_ENV, EMPTY_AREA_CODE)  # the server inherits it
        with store_url(store_kind, workdir) as url, \
                serve(workdir, {"acme": acme_yaml()}, db_url=url) as running:
            yield running


@pytest.fixture(scope="module")
def browser(admin: Server) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def api(admin: Server) -> Iterator[httpx.Client]:
    """The REST API with acme's key: what the store holds after each step."""
    with admin.client(admin.keys["acme"]) as client:
        yield client


@pytest.fixture(autouse=True)
def demo(api: httpx.Client) -> None:
    """The demo organization as shipped, again (calls stay: history is never deleted)."""
    ok(api.put("/v1/config", content=acme_yaml()))


@pytest.fixture
def tab(browser: Browser, admin: Server) -> Iterator[Tab]:
    """A fresh browser context (no cookies) with one page; closed after the test."""
    opened = Tab(browser, admin.url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def page(tab: Tab, admin: Server) -> Page:
    """The page, signed in to acme through the sign-in form."""
    sign_in(tab.page, admin.keys["acme"])
    assert toast(tab.page, "success") == "Signed in to acme"
    return tab.page


# -- helpers -----------------------------------------------------------------------------

def sign_in(page: Page, key: str) -> Response:
    page.goto("/admin/login")
    page.fill("#key", key)
    return submit(page, "form[action='/admin/login'] button[type=submit]")


def submit(page: Page, selector: str, status: int | None = None) -> Response:
    """Click ``selector`` and wait for the page it loads; its (final) response."""
    with page.expect_navigation() as navigation:
        page.click(selector)
    response = navigation.value
    assert response is not None
    if status is not None:
        assert response.status == status, f"{response.url} answered {response.status}"
    return response


def go(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None, path
    assert response.status == 200, f"{path} answered {response.status}"


def numbers_of(api: httpx.Client, **params: Any) -> dict[str, dict[str, Any]]:
    return {n["number"]: n for n in ok(api.get("/v1/numbers", params=params))}


def calls_count(api: httpx.Client) -> int:
    page = ok(api.get("/v1/calls", params={"limit": 500}))
    assert page["next_cursor"] is None, "more calls than one page"
    return len(page["calls"])


def inbound_count(admin: Server) -> int:
    engine = create_engine(admin.db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(inbound_calls)).scalar_one())
    finally:
        engine.dispose()


def table_rows(page: Page) -> list[dict[str, Any]]:
    """The numbers table of /admin/numbers, a dict per row."""
    rows: list[dict[str, Any]] = page.locator("#mappings tbody tr[data-number]").evaluate_all("""
        rows => rows.map(row => {
            const cells = [...row.children].map(td => td.textContent.trim());
            return {
                number: row.dataset.number, label: cells[1],
                area_codes: cells[2].split(/\\s+/).filter(Boolean),
                mappable: [...row.querySelectorAll("input[name=mapping]")].map(i => i.value),
                region: cells[3], status: cells[4], group: cells[5], assigned_user: cells[6],
                calls_today: cells[7],
                actions: [...row.querySelectorAll(".actions button")]
                    .map(b => b.textContent.trim()),
            };
        })""")
    return rows


def dialog_rows(page: Page) -> list[dict[str, Any]]:
    """The rows of the Add numbers dialog, in order, with whether each is shown and ticked."""
    rows: list[dict[str, Any]] = page.locator("#numbers-choices tbody tr").evaluate_all("""
        rows => rows.map(row => {
            const cells = [...row.children].map(td => td.textContent.trim());
            const box = row.querySelector("input[type=checkbox]");
            return {number: box.value, label: cells[2], group: cells[3],
                    projects: Number(cells[4]), shown: !row.hidden && row.offsetParent !== null,
                    ticked: box.checked};
        })""")
    return rows


def shown_in_dialog(page: Page) -> list[str]:
    return [row["number"] for row in dialog_rows(page) if row["shown"]]


def values(page: Page, selector: str) -> list[str]:
    found: list[str] = page.locator(selector).evaluate_all("items => items.map(i => i.value)")
    return found


def same_trace(shown: list[dict[str, Any]], answered: list[dict[str, Any]]) -> None:
    """The trace the page lists is the API's, step for step (the callee's local time in
    the calling-hours step may have moved on by a minute between the two)."""
    def plain(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"step": s["step"], "result": s["result"], "number": s["number"],
                 "detail": re.sub(r"local time \d\d:\d\d", "local time HH:MM",
                                  squash(s["detail"]))} for s in steps]
    assert plain(shown) == plain(answered)


# -- 1. sign in, sign out, CSRF ----------------------------------------------------------

def test_sign_in_sign_out_and_csrf(tab: Tab, admin: Server, api: httpx.Client) -> None:
    page = tab.page
    go(page, "/admin/numbers")
    assert page.url.endswith("/admin/login"), "a page without a session shows sign-in"
    screenshot(page, "login")

    response = sign_in(page, "cs_000000000000_not-a-key")
    assert response.status == 401
    assert page.url.endswith("/admin/login")
    error = page.locator("#key + p.error[data-field=key]")  # right below the field
    assert error.is_visible()
    assert error.inner_text().strip()
    assert not page.context.cookies(), "a wrong key opens no session"

    response = sign_in(page, admin.keys["acme"])
    assert response.status == 200
    assert re.search(r"/admin/numbers\?ok=", page.url), page.url
    assert toast(page, "success") == "Signed in to acme"
    assert page.locator("h1").inner_text() == "Local Dial Presence numbers"
    assert page.locator("header .muted").inner_text() == "acme"
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/admin"

    # A POST without the form's CSRF token (or with another one) is refused: nothing stored.
    before = numbers_of(api)[AURORA]["area_codes"]
    form = {"number": AURORA, "area_code": "331"}
    for token in ({}, {"csrf": "forged"}):
        refused = page.request.post("/admin/numbers/mappings", form={**form, **token})
        assert refused.status == 400, refused.text()
        assert refused.json()["error"]["field"] == "csrf"
        assert numbers_of(api)[AURORA]["area_codes"] == before
    # ... and the same request with the page's token goes through: only the token was missing.
    csrf = page.locator("#add-mapping input[name=csrf]").input_value()
    accepted = page.request.post("/admin/numbers/mappings", form={**form, "csrf": csrf})
    assert accepted.status == 200
    assert "ok=" in accepted.url
    assert numbers_of(api)[AURORA]["area_codes"] == [*before, "331"]

    submit(page, "header button:has-text('Sign out')", status=200)
    assert page.url.endswith("/admin/login")
    assert page.locator("#key").is_visible()
    assert not page.context.cookies()
    go(page, "/admin/numbers")
    assert page.url.endswith("/admin/login")

    # The session is gone on the server too: its old cookie no longer signs anyone in.
    page.context.add_cookies([{"name": cookie["name"], "value": cookie["value"],
                               "domain": cookie["domain"], "path": cookie["path"]}])
    assert [c["value"] for c in page.context.cookies()] == [cookie["value"]]
    go(page, "/admin/projects")
    assert page.url.endswith("/admin/login")


# -- 2. numbers --------------------------------------------------------------------------

def test_numbers_table_search_and_coverage(page: Page, api: httpx.Client) -> None:
    ok(api.post("/v1/calls", json={"user": "alice", "to": "+13125550188", "consented": True}),
       201)  # Chicago's call of the day
    ok(api.put(f"/v1/contacts/{path_of('+19075550150')}",
               json={"phone": "+19075550150", "owner": "bob"}))  # an area code nobody serves
    go(page, "/admin/numbers")
    screenshot(page, "numbers")

    stored = numbers_of(api)
    rows = table_rows(page)
    assert [r["number"] for r in rows] == sorted(stored)
    for row in rows:
        number = stored[row["number"]]
        cap = number["daily_cap"]
        assert row == {
            "number": number["number"], "label": number["label"],
            "area_codes": number["area_codes"],
            "mappable": [f"{number['number']}|{code}" for code in number["area_codes"][1:]],
            "region": number["region"] or "", "status": number["status"],
            "group": number["group"], "assigned_user": number["assigned_user"] or "",
            "calls_today": f"{number['used_today']}/{cap}" if cap else str(number["used_today"]),
            "actions": ["Resume" if number["status"] == "paused" else "Pause", "Release"],
        }
    chicago = next(r for r in rows if r["number"] == CHICAGO)
    assert chicago["area_codes"] == ["312", "773", "872"]
    assert chicago["region"] == "Illinois"
    assert chicago["assigned_user"] == "alice"
    assert chicago["group"] == "sales"
    assert stored[CHICAGO]["used_today"] >= 1, "the call above presented it"
    assert chicago["calls_today"] == f"{stored[CHICAGO]['used_today']}/100"
    assert next(r for r in rows if r["number"] == MANHATTAN)["status"] == "paused"

    coverage = ok(api.get("/v1/coverage"))
    summary = squash(page.locator("#coverage").inner_text())
    assert f"Contacts with a local number: {coverage['contacts_covered']}/" \
           f"{coverage['contacts']}" in summary
    assert (coverage["contacts"], coverage["contacts_covered"]) == (3, 2)
    assert "(67%)" in summary
    assert f"{coverage['recent_callees_covered']}/{coverage['recent_callees']}" in summary
    assert "most wanted area codes: 907 (1)" in summary

    for query, expected in [("aurora", [AURORA]), ("renewals", [NEWARK, NEWARK_2]),
                            ("(312) 555", [CHICAGO, CHICAGO_2]), ("zzz", [])]:
        page.fill("#q", query)
        submit(page, "form[action='/admin/numbers'] button", status=200)
        assert page.locator("#q").input_value() == query
        shown = [r["number"] for r in table_rows(page)]
        assert shown == expected, query
        assert shown == sorted(numbers_of(api, search=query)), query
    assert "No numbers match “zzz”" in page.locator("#mappings tbody").inner_text()


def test_add_and_delete_mappings(page: Page, api: httpx.Client) -> None:
    go(page, "/admin/numbers")
    page.select_option("#map-number", AURORA)
    page.fill("#map-area-code", "331")
    submit(page, "#add-mapping button", status=200)
    assert toast(page, "success") == f"{AURORA} now serves 630, 331"
    row = page.locator(f'tr[data-number="{AURORA}"]')
    assert row.locator("label.mapping").inner_text().strip() == "331"
    assert numbers_of(api)[AURORA]["area_codes"] == ["630", "331"]

    # An area code that is none: the error beside the field, nothing stored.
    page.select_option("#map-number", AURORA)
    page.fill("#map-area-code", "33x")
    submit(page, "#add-mapping button", status=400)
    assert field_error(page.locator("#add-mapping"), "area_code")
    no_toast(page, "success")
    assert numbers_of(api)[AURORA]["area_codes"] == ["630", "331"]

    # Delete with nothing ticked: a warning, nothing deleted.
    go(page, "/admin/numbers")
    submit(page, "#delete-mappings", status=200)
    assert "Tick the mappings" in toast(page, "warning")

    page.check(f'input[name=mapping][value="{AURORA}|331"]')
    page.check(f'input[name=mapping][value="{CHICAGO}|872"]')
    submit(page, "#delete-mappings", status=200)
    assert toast(page, "success") == "Deleted 2 mapping(s)"
    assert page.locator(f'input[name=mapping][value="{AURORA}|331"]').count() == 0
    assert page.locator(f'input[name=mapping][value="{CHICAGO}|872"]').count() == 0
    assert page.locator(f'input[name=mapping][value="{CHICAGO}|773"]').count() == 1
    stored = numbers_of(api)
    assert stored[AURORA]["area_codes"] == ["630"]
    assert stored[CHICAGO]["area_codes"] == ["312", "773"]


def test_purchase_by_area_code(page: Page, api: httpx.Client) -> None:
    before = numbers_of(api)
    go(page, "/admin/numbers")
    page.fill("#purchase-area-code", "505")
    page.fill("#purchase-quantity", "2")
    page.select_option("#purchase-provider", "sandbox")
    submit(page, "#purchase button", status=200)
    message = toast(page, "success")
    bought = sorted(set(numbers_of(api)) - set(before))
    assert len(bought) == 2
    assert message.startswith(f"Purchased {', '.join(bought)} (sandbox")
    stored = numbers_of(api)
    for number in bought:
        assert number.startswith("+1505")
        assert stored[number]["provider"] == "sandbox"
        assert stored[number]["area_codes"] == ["505"]
        assert stored[number]["status"] == "active"
    assert {r["number"] for r in table_rows(page)} == set(stored)

    # None available: a warning naming the area code, nothing stored.
    page.fill("#purchase-area-code", EMPTY_AREA_CODE)
    page.fill("#purchase-quantity", "1")
    submit(page, "#purchase button", status=200)
    warning = toast(page, "warning")
    assert f"no numbers available in area code {EMPTY_AREA_CODE}" in warning
    no_toast(page, "success")
    assert numbers_of(api) == stored

    # Not an area code: the error beside the field, nothing stored.
    for code in ("123", "5o5"):
        go(page, "/admin/numbers")
        page.fill("#purchase-area-code", code)
        submit(page, "#purchase button", status=400)
        assert code in field_error(page.locator("#purchase"), "area_code")
        no_toast(page, "success")
        assert numbers_of(api) == stored


def test_pause_resume_and_release(page: Page, api: httpx.Client) -> None:
    go(page, "/admin/numbers")
    row = f'tr[data-number="{AURORA}"]'
    submit(page, f"{row} button.pause", status=200)
    assert toast(page, "success") == f"{AURORA}: paused"
    assert page.locator(f"{row} .status").inner_text() == "paused"
    assert page.locator(f"{row} .actions button").all_inner_texts() == ["Resume", "Release"]
    assert numbers_of(api)[AURORA]["status"] == "paused"
    assert numbers_of(api)[CHICAGO]["status"] == "active", "only the clicked row changes"

    submit(page, f"{row} button.resume", status=200)
    assert toast(page, "success") == f"{AURORA}: resumed"
    assert page.locator(f"{row} .status").inner_text() == "active"
    assert numbers_of(api)[AURORA]["status"] == "active"

    others = set(numbers_of(api)) - {AURORA}
    submit(page, f"{row} button.release", status=200)
    result = toast(page, "success")
    assert result in (f"{AURORA} released", f"{AURORA} deleted")
    assert page.locator(row).count() == 0
    assert set(numbers_of(api)) == others
    error_of(api.get(f"/v1/numbers/{path_of(AURORA)}"), 404)


# -- 3. projects -------------------------------------------------------------------------

def test_project_add_numbers_dialog(page: Page, api: httpx.Client) -> None:
    # Manhattan, in no group, goes in a project: the dialog has all three kinds of number.
    ok(api.put("/v1/projects/spare", json={"id": "spare", "numbers": [MANHATTAN]}))
    go(page, "/admin/projects")
    submit(page, "a[href='/admin/projects/renewals']", status=200)
    assert page.locator("h1").inner_text() == "Project renewals"
    assert not page.locator("#numbers-dialog").evaluate("d => d.open")
    page.click("#add-numbers")
    assert page.locator("#numbers-dialog").evaluate("d => d.open")
    screenshot(page, "project")

    rows = dialog_rows(page)
    assert all(row["shown"] for row in rows)
    # SPEC 5: numbers in no project first, then numbers in a group, then the rest.
    kinds = [0 if not row["projects"] else 1 if row["group"] else 2 for row in rows]
    assert kinds == sorted(kinds), rows
    assert set(kinds) == {0, 1, 2}, rows
    assert [row["number"] for row in rows] == list(numbers_of(api, for_project="true"))
    assert rows[-1]["number"] == MANHATTAN
    pool = ok(api.get("/v1/projects/renewals"))["numbers"]
    assert {row["number"] for row in rows if row["ticked"]} == set(pool)

    search = page.locator("#numbers-search")
    search.press_sequentially("aurora")
    assert shown_in_dialog(page) == [AURORA]
    for words, expected in [("Renewals", [NEWARK, NEWARK_2]), ("(630)", [AURORA]),
                            ("nothing like it", []), ("", [r["number"] for r in rows])]:
        search.fill(words)
        assert shown_in_dialog(page) == expected, words

    search.fill("aurora")
    page.check(f'#numbers-choices input[value="{AURORA}"]')
    submit(page, "#numbers-save", status=200)  # the numbers hidden by the search stay ticked
    assert toast(page, "success") == "Saved project renewals"
    assert sorted(page.locator("#pool li").all_inner_texts()) == sorted([*pool, AURORA])
    saved = ok(api.get("/v1/projects/renewals"))
    assert sorted(saved["numbers"]) == sorted([*pool, AURORA])
    assert AURORA in values(page, "#first-call option"), "the first call may now use it"

    # Cancel closes the dialog and changes nothing.
    page.click("#add-numbers")
    page.uncheck(f'#numbers-choices input[value="{AURORA}"]')
    page.click("#numbers-cancel")
    assert not page.locator("#numbers-dialog").evaluate("d => d.open")
    assert ok(api.get("/v1/projects/renewals")) == saved


def test_project_settings_saved_and_shown_again(page: Page, api: httpx.Client) -> None:
    go(page, "/admin/projects/renewals")
    pool = ok(api.get("/v1/projects/renewals"))["numbers"]
    assert values(page, "#first-call option") == ["random", "regionally_random", *pool]
    assert page.locator("#first-call").input_value() == "regionally_random"

    page.select_option("#first-call", NEWARK_2)
    page.check("#keep-previous")
    page.select_option("#next-calls", "random")
    outcome_numbers = page.locator("input[name=outcome_number]")
    outcome_numbers.nth(0).fill(NEWARK_2)  # asked_callback: another pool number
    page.locator("input[name=outcome]").nth(1).fill("voicemail")  # the empty row: a new one
    outcome_numbers.nth(1).fill("(312) 555-0102")  # Chicago 2, in any format
    page.select_option("#agent-number", "use_agent")
    submit(page, "#save-project", status=200)
    assert toast(page, "success") == "Saved project renewals"

    expected = {"id": "renewals", "name": "Policy renewals", "numbers": pool,
                "first_call": NEWARK_2, "keep_previous_number": True, "next_calls": "random",
                "outcome_numbers": {"asked_callback": NEWARK_2, "voicemail": CHICAGO_2},
                "agent_number": "use_agent"}
    assert ok(api.get("/v1/projects/renewals")) == expected
    # ... and the page shows it again.
    assert page.locator("#first-call").input_value() == NEWARK_2
    assert page.locator("#keep-previous").is_checked()
    assert page.locator("#next-calls").input_value() == "random"
    assert values(page, "input[name=outcome]") == ["asked_callback", "voicemail", ""]
    assert values(page, "input[name=outcome_number]") == [NEWARK_2, CHICAGO_2, ""]
    assert page.locator("#agent-number").input_value() == "use_agent"

    for first_call in ("random", "regionally_random"):
        page.select_option("#first-call", first_call)
        page.uncheck("#keep-previous")
        page.select_option("#next-calls", "different_each_attempt")
        page.select_option("#agent-number", "use_project")
        submit(page, "#save-project", status=200)
        assert toast(page, "success") == "Saved project renewals"
        assert page.locator("#first-call").input_value() == first_call
        expected |= {"first_call": first_call, "keep_previous_number": False,
                     "next_calls": "different_each_attempt", "agent_number": "use_project"}
        assert ok(api.get("/v1/projects/renewals")) == expected

    go(page, "/admin/projects")
    row = page.locator("tr", has=page.locator("a[href='/admin/projects/renewals']"))
    assert [squash(c) for c in row.locator("td").all_inner_texts()] == [
        "renewals Policy renewals", "3", "regionally_random", "different_each_attempt", "no",
        "use_project"]


def test_project_errors_save_nothing(page: Page, api: httpx.Client) -> None:
    project = ok(api.get("/v1/projects/renewals")) | {"first_call": NEWARK_2}
    ok(api.put("/v1/projects/renewals", json=project))
    before = ok(api.get("/v1/projects"))

    # An outcome's number outside the pool, with other changes in the same form.
    go(page, "/admin/projects/renewals")
    page.fill("#project-name", "Renamed")
    page.select_option("#next-calls", "random")
    page.locator("input[name=outcome]").nth(1).fill("voicemail")
    page.locator("input[name=outcome_number]").nth(1).fill(AURORA)
    submit(page, "#save-project", status=400)
    message = field_error(page.locator("#project-form"), "outcome_numbers.voicemail")
    assert f"{AURORA} is not in the pool" in message
    assert page.locator("#outcomes + p.error").count() == 1, "right below the outcomes"
    assert set(errors_shown(page)) == {"outcome_numbers.voicemail"}
    no_toast(page, "success")
    assert values(page, "input[name=outcome]")[:2] == ["asked_callback", "voicemail"]
    assert ok(api.get("/v1/projects")) == before

    # The first call's number taken out of the pool.
    go(page, "/admin/projects/renewals")
    assert page.locator("#first-call").input_value() == NEWARK_2
    page.click("#add-numbers")
    page.uncheck(f'#numbers-choices input[value="{NEWARK_2}"]')
    submit(page, "#numbers-save", status=400)
    message = field_error(page.locator("#project-form"), "first_call")
    assert f"{NEWARK_2} is not in the pool" in message
    assert page.locator("#first-call + p.error").count() == 1, "right below the select"
    no_toast(page, "success")
    assert ok(api.get("/v1/projects")) == before

    # An outcome's number that is no phone number at all.
    go(page, "/admin/projects/renewals")
    page.locator("input[name=outcome_number]").nth(0).fill("12")
    submit(page, "#save-project", status=400)
    assert field_error(page.locator("#project-form"), "outcome_numbers.asked_callback")
    assert ok(api.get("/v1/projects")) == before


def test_create_project(page: Page, api: httpx.Client) -> None:
    go(page, "/admin/projects")
    submit(page, "a[href='/admin/projects/new']", status=200)
    assert page.locator("h1").inner_text() == "New project"
    assert page.locator("#project-id").input_value() == ""
    assert page.locator("#pool").inner_text().strip() == "No numbers yet."
    page.fill("#project-id", "winback")
    page.fill("#project-name", "Win-back")
    assert page.locator("#add-numbers").inner_text() == "Add numbers"
    page.click("#add-numbers")
    page.check(f'#numbers-choices input[value="{AURORA}"]')
    page.check(f'#numbers-choices input[value="{SAN_FRANCISCO}"]')
    submit(page, "#numbers-save", status=200)
    assert re.search(r"/admin/projects/winback\?ok=", page.url), page.url
    assert toast(page, "success") == "Saved project winback"
    assert page.locator("h1").inner_text() == "Project winback"
    assert page.locator("#project-id").get_attribute("readonly") is not None

    page.select_option("#first-call", AURORA)
    submit(page, "#save-project", status=200)
    assert ok(api.get("/v1/projects/winback")) == {
        "id": "winback", "name": "Win-back", "numbers": sorted([AURORA, SAN_FRANCISCO]),
        "first_call": AURORA, "keep_previous_number": False, "next_calls": "random",
        "outcome_numbers": {}, "agent_number": "use_project"}
    go(page, "/admin/projects")
    assert page.locator("a[href='/admin/projects/winback']").count() == 1


# -- 4. users ----------------------------------------------------------------------------

def test_users(page: Page, api: httpx.Client) -> None:
    go(page, "/admin/users")
    screenshot(page, "users")
    notice = page.locator("main p.muted").first
    assert "are not restricted" in notice.inner_text()
    users = ok(api.get("/v1/users"))
    shown = page.locator("main table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.children].map(td => td.textContent.trim()))")
    assert shown == [[u["id"], u["name"], u["work_phone"] or "", u["caller_id"] or "",
                      u["direct_number"] or "", ", ".join(u["allowed_caller_ids"]),
                      "yes" if u["active"] else "no"] for u in users]

    # The restriction switch lives on the Organization page; the users page shows it.
    # Restricting needs every user's own caller ID among their allowed ones.
    for user in users:
        if user["caller_id"]:
            ok(api.put(f"/v1/users/{user['id']}",
                       json={**user, "allowed_caller_ids": [user["caller_id"]]}))
    notice.locator("a[href='/admin/org']").click()
    page.wait_for_url("**/admin/org")
    page.check("#restrict_caller_ids")
    submit(page, "#save-org", status=200)
    assert ok(api.get("/v1/org"))["restrict_caller_ids"] is True
    go(page, "/admin/users")
    assert "are restricted to each user's allowed list" in notice.inner_text()

    # Only presentable numbers are offered: not the paused one, nor one paused just now.
    ok(api.post(f"/v1/numbers/{path_of(NEWARK_2)}/pause"))
    submit(page, "a[href='/admin/users/bob']", status=200)
    assert page.locator("h1").inner_text() == "User bob"
    screenshot(page, "user")
    active = sorted(n for n, v in numbers_of(api).items() if v["status"] == "active")
    assert MANHATTAN not in active
    assert NEWARK_2 not in active
    assert sorted(values(page, "#caller-id option")) == sorted(["", *active])
    assert page.locator("#caller-id option").nth(1).inner_text() == f"{HQ} (principal)"
    assert sorted(values(page, "#direct-number option")) == sorted(["", *active])
    assert sorted(values(page, "input[name=allowed_caller_ids]")) == active
    assert page.locator("#caller-id").input_value() == SAN_FRANCISCO

    page.fill("#work-phone", "(415) 555-9012")
    page.select_option("#caller-id", CHICAGO_2)
    page.select_option("#direct-number", AURORA)
    page.uncheck(f'input[name=allowed_caller_ids][value="{SAN_FRANCISCO}"]')
    page.check(f'input[name=allowed_caller_ids][value="{CHICAGO_2}"]')
    page.check(f'input[name=allowed_caller_ids][value="{HQ}"]')
    submit(page, "#save-user", status=200)
    assert toast(page, "success") == "Saved user bob"
    bob = {"id": "bob", "name": "Bob Ortiz", "work_phone": "+14155559012",
           "caller_id": CHICAGO_2, "direct_number": AURORA,
           "allowed_caller_ids": sorted([CHICAGO_2, HQ]), "active": True}
    stored = ok(api.get("/v1/users/bob"))
    assert stored | {"allowed_caller_ids": sorted(stored["allowed_caller_ids"])} == bob
    row = page.locator("tr", has=page.locator("a[href='/admin/users/bob']"))
    cells = row.locator("td").all_inner_texts()
    assert cells[2:5] == ["+14155559012", CHICAGO_2, AURORA]
    assert sorted(cells[5].split(", ")) == sorted([CHICAGO_2, HQ])
    assert numbers_of(api)[AURORA]["assigned_user"] == "bob"

    # An invalid work phone: the error beside it, nothing saved (not even the new name).
    submit(page, "a[href='/admin/users/bob']", status=200)
    assert page.locator("#work-phone").input_value() == "+14155559012"
    assert page.locator("#direct-number").input_value() == AURORA
    page.fill("#user-name", "Robert Ortiz")
    page.fill("#work-phone", "555")
    submit(page, "#save-user", status=400)
    assert page.locator("#work-phone + p.error[data-field=work_phone]").count() == 1
    assert field_error(page.locator("#user-form"), "work_phone")
    assert page.locator("#work-phone").input_value() == "555", "what was typed is kept"
    no_toast(page, "success")
    assert ok(api.get("/v1/users/bob")) == stored

    # A new user.
    go(page, "/admin/users")
    submit(page, "a[href='/admin/users/new']", status=200)
    assert page.locator("h1").inner_text() == "New user"
    page.fill("#user-id", "dana")
    page.fill("#user-name", "Dana Lee")
    page.fill("#work-phone", "+13125559004")
    page.select_option("#caller-id", HQ)
    page.check(f'input[name=allowed_caller_ids][value="{HQ}"]')  # the org restricts them
    submit(page, "#save-user", status=200)
    assert toast(page, "success") == "Saved user dana"
    assert page.locator("a[href='/admin/users/dana']").count() == 1
    assert ok(api.get("/v1/users/dana")) == {
        "id": "dana", "name": "Dana Lee", "work_phone": "+13125559004", "caller_id": HQ,
        "direct_number": None, "allowed_caller_ids": [HQ], "active": True}

    # Another user's direct number is refused, beside the field; the user is not created.
    go(page, "/admin/users/new")
    page.fill("#user-id", "erin")
    page.select_option("#direct-number", CHICAGO)
    submit(page, "#save-user", status=400)
    assert "alice" in field_error(page.locator("#user-form"), "direct_number")
    error_of(api.get("/v1/users/erin"), 404)


# -- 5. organization ---------------------------------------------------------------------

def test_organization_settings(page: Page, api: httpx.Client) -> None:
    go(page, "/admin/org")
    screenshot(page, "organization")
    settings = ok(api.get("/v1/org"))
    assert page.locator("#principal_number").input_value() == settings["principal_number"]
    assert page.locator("#hours_start").input_value() == "08:00"
    steps = page.locator("#call-path > li")
    assert [s.get_attribute("data-step") for s in steps.all()] == DEFAULT_PATH

    page.fill("#principal_number", NEWARK_2)
    page.fill("#forwarding_number", "(212) 555-0177")
    page.fill("#agent_leg_number", MANHATTAN)  # held (paused): it may be the agent leg
    page.fill("#default_country", "CA")
    page.uncheck("#local_presence")
    page.select_option("#local_presence_fallback", "none")
    page.fill("#hours_start", "09:30")
    page.fill("#hours_end", "20:00")
    page.fill("#last_caller_days", "14")
    # The call path: forwarding one up, last_caller removed, then added back (at the end).
    page.click("#call-path li[data-step=forwarding] button.up")
    assert [s.get_attribute("data-step") for s in steps.all()] == [
        "direct_number", "last_caller", "forwarding", "lead_owner", "company"]
    page.click("#call-path li[data-step=last_caller] button.remove")
    assert [s.get_attribute("data-step") for s in steps.all()] == [
        "direct_number", "forwarding", "lead_owner", "company"]
    page.select_option("#add-step", "company")  # already there: not added twice
    page.select_option("#add-step", "last_caller")
    page.click("#call-path li[data-step=company] button.down")  # the last but one, down
    path = ["direct_number", "forwarding", "lead_owner", "last_caller", "company"]
    assert [s.get_attribute("data-step") for s in steps.all()] == path
    assert page.locator("#add-step").input_value() == ""
    submit(page, "#save-org", status=200)
    assert toast(page, "success") == "Saved the organization's settings"

    expected = settings | {
        "principal_number": NEWARK_2, "forwarding_number": "+12125550177",
        "agent_leg_number": MANHATTAN, "default_country": "CA", "local_presence": False,
        "local_presence_fallback": "none", "calling_hours": {"start": "09:30", "end": "20:00"},
        "inbound": {"path": path, "last_caller_days": 14}}
    assert ok(api.get("/v1/org")) == expected
    # ... and the page shows it again.
    assert page.locator("#principal_number").input_value() == NEWARK_2
    assert page.locator("#forwarding_number").input_value() == "+12125550177"
    assert page.locator("#agent_leg_number").input_value() == MANHATTAN
    assert page.locator("#default_country").input_value() == "CA"
    assert not page.locator("#local_presence").is_checked()
    assert page.locator("#local_presence_fallback").input_value() == "none"
    assert page.locator("#hours_start").input_value() == "09:30"
    assert page.locator("#hours_end").input_value() == "20:00"
    assert page.locator("#last_caller_days").input_value() == "14"
    assert [s.get_attribute("data-step") for s in steps.all()] == path

    # An invalid forwarding number: the error beside it, nothing saved.
    page.fill("#forwarding_number", "12345")
    page.fill("#hours_start", "07:00")
    page.check("#local_presence")
    submit(page, "#save-org", status=400)
    assert page.locator("#forwarding_number + p.error[data-field=forwarding_number]").count() == 1
    assert "12345" in field_error(page.locator("#org-form"), "forwarding_number")
    assert page.locator("#forwarding_number").input_value() == "12345"
    no_toast(page, "success")
    assert ok(api.get("/v1/org")) == expected


# -- 6. decision explorer and call log ---------------------------------------------------

def test_explorer_matches_the_api_and_records_nothing(page: Page, api: httpx.Client,
                                                      admin: Server) -> None:
    outbound, inbound = calls_count(api), inbound_count(admin)
    go(page, "/admin/explorer")
    cases = [  # (user, number as typed, rule, caller ID): each has one possible answer
        ("alice", "(312) 555-0188", "agent_area_code", CHICAGO),
        ("carol", "630-555-1234", "local_presence", AURORA),
    ]
    for user, typed, rule, caller_id in cases:
        page.select_option("#try-user", user)
        page.fill("#try-to", typed)
        page.select_option("#try-project", "")
        page.check("#try-call input[name=consented]")  # calling hours 08:00–21:00 callee-local
        submit(page, "#try-call button", status=200)
        decision = page.locator("#decision")
        assert page.locator("#decision-caller-id").inner_text() == caller_id
        assert page.locator("#decision-rule").inner_text() == rule
        answer = ok(api.post("/v1/calls", json={"user": user, "to": typed, "consented": True,
                                                "dry_run": True}), 201)
        assert answer["dry_run"] is True
        assert (answer["caller_id"], answer["rule"]) == (caller_id, rule)
        same_trace(trace_of(decision), answer["trace"])
        assert trace_of(decision)[-1]["result"] == "chosen"
        # The form keeps what was asked.
        assert page.locator("#try-user").input_value() == user
        assert page.locator("#try-to").input_value() == typed
        assert page.locator("#try-call input[name=consented]").is_checked()
    screenshot(page, "explorer")

    # With a project: the decision comes from the pool (the rule may vary; it matches).
    page.select_option("#try-project", "renewals")
    submit(page, "#try-call button", status=200)
    assert page.locator("#decision-caller-id").inner_text() in ok(
        api.get("/v1/projects/renewals"))["numbers"]

    # An inbound call to alice's direct number rings her work phone.
    page.fill("#inbound-to", CHICAGO)
    page.fill("#inbound-from", "(630) 555-1234")
    submit(page, "#try-inbound button", status=200)
    assert page.locator("#route-destination").inner_text() == ALICE_WORK
    assert page.locator("#route-rule").inner_text() == "direct_number"
    assert "user alice" in page.locator("#route").inner_text()
    route = ok(api.post("/v1/inbound", json={"to": CHICAGO, "from": "(630) 555-1234",
                                             "dry_run": True}))
    assert (route["destination"], route["rule"], route["user"]) == (
        ALICE_WORK, "direct_number", "alice")
    same_trace(trace_of(page.locator("#route")), route["trace"])

    # A number that is none: the error beside the field.
    page.fill("#try-to", "12")
    submit(page, "#try-call button", status=400)
    assert field_error(page.locator("#try-call"), "to")
    assert page.locator("#decision").count() == 0

    assert calls_count(api) == outbound, "the explorer records no call"
    assert inbound_count(admin) == inbound, "nor an inbound one"


def test_call_log_links_to_traces(page: Page, api: httpx.Client) -> None:
    placed = {
        name: ok(api.post("/v1/calls", json={"user": user, "to": to, "consented": True}), 201)
        for name, user, to in [("alice", "alice", "+13125550188"),
                               ("bob", "bob", CONTACT_415),
                               ("carol", "carol", "+16305551234")]}
    go(page, "/admin/calls")
    screenshot(page, "calls")
    for call in placed.values():
        assert page.locator(f"#calls a[href='/admin/calls/{call['call_id']}']").count() == 1
    links = page.locator("#calls tbody tr td:first-child a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    newest = ok(api.get("/v1/calls", params={"limit": 50}))["calls"]
    assert links == [f"/admin/calls/{c['call_id']}" for c in newest], "newest first, as the API"
    carol = placed["carol"]
    row = page.locator("#calls tbody tr", has=page.locator(
        f"a[href='/admin/calls/{carol['call_id']}']"))
    assert row.locator("td").all_inner_texts()[1:6] == [
        "carol", "+16305551234", carol["caller_id"], carol["rule"], ""]

    page.fill("#filter-user", "bob")
    submit(page, "#call-filters button", status=200)
    users = page.locator("#calls tbody tr td:nth-child(2)").all_inner_texts()
    assert users
    assert set(users) == {"bob"}
    assert page.locator(f"a[href='/admin/calls/{placed['bob']['call_id']}']").count() == 1

    page.fill("#filter-user", "")
    page.fill("#filter-contact", "(415) 555-0123")
    submit(page, "#call-filters button", status=200)
    callees = page.locator("#calls tbody tr td:nth-child(3)").all_inner_texts()
    assert set(callees) == {CONTACT_415}
    assert len(callees) == len(ok(api.get("/v1/calls", params={"contact": CONTACT_415}))["calls"])

    page.fill("#filter-contact", "12")
    submit(page, "#call-filters button", status=400)
    assert field_error(page.locator("#call-filters"), "contact")

    go(page, "/admin/calls")
    call_id = placed["bob"]["call_id"]
    submit(page, f"#calls a[href='/admin/calls/{call_id}']", status=200)
    screenshot(page, "call")
    stored = ok(api.get(f"/v1/calls/{call_id}"))
    assert call_id in page.locator("h1").inner_text()
    summary = squash(page.locator("main > p").first.inner_text())
    assert f"bob → {CONTACT_415}" in summary
    assert f"caller ID {stored['caller_id']} · rule {stored['rule']}" in summary
    assert (stored["caller_id"], stored["rule"]) == (SAN_FRANCISCO, "agent_area_code")
    assert trace_of(page.locator("main")) == [
        {"result": s["result"], "step": s["step"], "number": s["number"],
         "detail": squash(s["detail"])} for s in stored["trace"]]
    submit(page, "main a[href='/admin/calls']", status=200)
    assert page.locator("h1").inner_text() == "Call log"


# -- mistakes a person makes in the forms ---------------------------------------------------

def test_new_project_does_not_replace_an_existing_one(page: Page, api: httpx.Client) -> None:
    """Creating a project with an id that exists is refused beside the id field."""
    before = ok(api.get("/v1/projects/renewals"))
    go(page, "/admin/projects/new")
    page.fill("#project-id", "renewals")
    page.fill("#project-name", "Oops")
    submit(page, "#save-project")
    assert ok(api.get("/v1/projects/renewals")) == before
    assert "renewals" in field_error(page.locator("#project-form"), "id")


def test_new_user_does_not_replace_an_existing_one(page: Page, api: httpx.Client) -> None:
    """Creating a user with an id that exists is refused beside the id field."""
    before = ok(api.get("/v1/users/alice"))
    go(page, "/admin/users/new")
    page.fill("#user-id", "alice")
    page.fill("#user-name", "Oops")
    submit(page, "#save-user")
    assert ok(api.get("/v1/users/alice")) == before
    assert "alice" in field_error(page.locator("#user-form"), "id")


def test_outcome_rows_stay_paired(page: Page, api: httpx.Client) -> None:
    """An outcome row with a number but no name is refused; other rows keep their pairs."""
    go(page, "/admin/projects/renewals")
    page.locator("input[name=outcome]").nth(0).fill("")  # asked_callback's name cleared
    page.locator("input[name=outcome]").nth(1).fill("voicemail")
    page.locator("input[name=outcome_number]").nth(1).fill(CHICAGO_2)
    submit(page, "#save-project")
    outcomes = ok(api.get("/v1/projects/renewals"))["outcome_numbers"]
    # Refused (nothing saved) or saved as typed; never voicemail → asked_callback's number.
    assert outcomes.get("voicemail", CHICAGO_2) == CHICAGO_2, outcomes


def test_search_finds_a_mapped_area_code(page: Page) -> None:
    """SPEC 5: the search box finds numbers by an area code they serve, mapped or own."""
    go(page, "/admin/numbers?q=773")
    assert [r["number"] for r in table_rows(page)] == [CHICAGO]
