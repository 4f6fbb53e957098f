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
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from callsign.config import SANDBOX_EMPTY_AREA_CODES
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
from tests.e2e.conftest import (
    Server,
    acme_yaml,
    error_of,
    ok,
    path_of,
    running_server,
    serve,
    store_url,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Response

pytestmark = pytest.mark.slow

HQ = "+12125550100"  # the principal number
CHICAGO = "+13125550101"  # alice's caller ID and direct number; also serves 773 and 872
CHICAGO_2 = "+13125550102"  # in the renewals pool
AURORA = "+16305550142"  # the only number serving 630; in no project
MANHATTAN = "+16465550104"  # paused, in no group
AGENT_LEG = "+12013450841"  # the agent-leg number: paused, only agents see it
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
        env.setenv(SANDBOX_EMPTY_AREA_CODES, EMPTY_AREA_CODE)  # the server inherits it
        with store_url(store_kind, workdir) as url, \
                serve(workdir, {"acme": acme_yaml()}, db_url=url) as running:
            yield running


@pytest.fixture(scope="module")
def browser(admin: Server) -> Iterator[Browser]:  # noqa: ARG001 (the server starts first)
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def api(admin: Server) -> Iterator[httpx.Client]:
    """The REST API with acme's key: what the store holds after each step."""
    with admin.client(admin.keys["acme"]) as client:
        yield client


@pytest.fixture(autouse=True)
def demo(api: httpx.Client) -> None:
    """The demo organization as shipped, again (calls stay: history is never deleted;
    forced: numbers a test added and presented go past the release guard)."""
    ok(api.put("/v1/config", content=acme_yaml(), params={"force": "true"}))


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
            const cells = [...row.children].slice(1).map(td => td.textContent.trim());
            return {
                number: row.dataset.number, label: cells[1],
                area_codes: cells[2].split(/\\s+/).filter(Boolean),
                mappable: [...row.querySelectorAll("input[name=mapping]")].map(i => i.value),
                region: cells[3], status: cells[4], health: cells[5], group: cells[6],
                assigned_user: cells[7], calls_today: cells[8],
                actions: [...row.querySelectorAll(".actions button, .actions a")]
                    .map(b => b.textContent.trim()),
            };
        })""")
    return rows


def health_cell(api: httpx.Client, number: str) -> str:
    """What the Health column should show for a number, from the REST API."""
    health = ok(api.get(f"/v1/numbers/{path_of(number)}/health"))
    if health["state"] is None:
        return "–"
    state = str(health["state"])
    return state + ("" if health["score"] is None else f" · {health['score']}")


def session_cookies(page: Page) -> list[Any]:
    """The admin session cookie(s) the browser holds (the sign-in form has one of its own)."""
    return [c for c in page.context.cookies() if c["name"] == "callsign_admin"]


def offered(page: Page, words: str) -> list[str]:
    """What the allowed caller-ID picker offers for ``words`` (it asks the server)."""
    page.fill("#allowed-search", words)
    page.press("#allowed-search", "Enter")
    page.wait_for_function(  # the picker marks the results it has drawn with their words
        "words => document.getElementById('allowed-results').dataset.query === words",
        arg=words.strip())
    found: list[str] = page.locator("#allowed-results li[data-number]").evaluate_all(
        "items => items.map(li => li.dataset.number)")
    return found


def pick_allowed(page: Page, words: str, number: str) -> None:
    assert number in offered(page, words)
    page.click(f'#allowed-results li[data-number="{number}"] button.add')
    assert page.locator(f'#allowed-list li[data-number="{number}"]').count() == 1


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
    assert not session_cookies(page), "a wrong key opens no session"

    response = sign_in(page, admin.keys["acme"])
    assert response.status == 200
    assert page.url.endswith("/admin/numbers"), "the toast is not in the link"
    assert toast(page, "success") == "Signed in to acme"
    assert page.locator("h1").inner_text() == "Local Dial Presence numbers"
    assert page.locator("header .muted").inner_text() == "acme"
    (cookie,) = session_cookies(page)
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/admin"

    # A POST without the form's CSRF token (or with another one) is refused: nothing stored.
    before = numbers_of(api)[AURORA]["area_codes"]
    form = {"number": AURORA, "area_code": "331"}
    for token in ({}, {"csrf": "forged"}):
        refused = page.request.post("/admin/numbers/mappings", form={**form, **token})
        assert refused.status == 400, refused.text()
        assert refused.headers["content-type"].startswith("text/html")
        assert "the form expired or came from elsewhere" in refused.text()
        assert numbers_of(api)[AURORA]["area_codes"] == before
    # ... and the same request with the page's token goes through: only the token was missing.
    csrf = page.locator("#add-mapping input[name=csrf]").input_value()
    accepted = page.request.post("/admin/numbers/mappings", form={**form, "csrf": csrf})
    assert accepted.status == 200
    assert accepted.url.endswith("/admin/numbers")
    assert numbers_of(api)[AURORA]["area_codes"] == [*before, "331"]

    submit(page, "header button:has-text('Sign out')", status=200)
    assert page.url.endswith("/admin/login")
    assert page.locator("#key").is_visible()
    assert not session_cookies(page)
    go(page, "/admin/numbers")
    assert page.url.endswith("/admin/login")

    # The session is gone on the server too: its old cookie no longer signs anyone in.
    page.context.add_cookies([{"name": cookie["name"], "value": cookie["value"],
                               "domain": cookie["domain"], "path": cookie["path"]}])
    assert [c["value"] for c in session_cookies(page)] == [cookie["value"]]
    go(page, "/admin/projects")
    assert page.url.endswith("/admin/login")


# -- 2. numbers --------------------------------------------------------------------------

def test_numbers_table_search_and_coverage(page: Page, api: httpx.Client) -> None:
    ok(api.post("/v1/calls", json={"user": "alice", "to": "+13125550188", "consented": True}),
       201)  # Chicago's call of the day
    ok(api.put(f"/v1/contacts/{path_of('+19075550150')}",
               json={"phone": "+19075550150", "owner": "bob"}))  # an area code nobody serves
    go(page, "/admin/numbers")

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
            "health": health_cell(api, number["number"]), "group": number["group"],
            "assigned_user": number["assigned_user"] or "",
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
    page.fill("#map-number", AURORA)
    page.fill("#map-area-code", "331")
    submit(page, "#add-mapping button", status=200)
    assert toast(page, "success") == f"{AURORA} now serves 630, 331"
    row = page.locator(f'tr[data-number="{AURORA}"]')
    assert row.locator("label.mapping").inner_text().strip() == "331"
    assert numbers_of(api)[AURORA]["area_codes"] == ["630", "331"]

    # An area code that is none: the error beside the field (only there), what was typed
    # kept, nothing stored.
    page.fill("#map-number", "(630) 555-0142")
    page.fill("#map-area-code", "33x")
    submit(page, "#add-mapping button", status=400)
    assert field_error(page.locator("#add-mapping"), "area_code")
    assert list(errors_shown(page)) == ["area_code"], "not under the purchase form too"
    assert page.locator("#map-number").input_value() == "(630) 555-0142"
    assert page.locator("#map-area-code").input_value() == "33x"
    assert page.locator("#purchase-area-code").input_value() == ""
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
    assert page.locator(f"{row} .actions button, {row} .actions a").all_inner_texts() == [
        "Resume", "Release"]
    assert numbers_of(api)[AURORA]["status"] == "paused"
    assert numbers_of(api)[CHICAGO]["status"] == "active", "only the clicked row changes"

    submit(page, f"{row} button.resume", status=200)
    assert toast(page, "success") == f"{AURORA}: resumed"
    assert page.locator(f"{row} .status").inner_text() == "active"
    assert numbers_of(api)[AURORA]["status"] == "active"

    others = set(numbers_of(api)) - {AURORA}
    ok(api.patch("/v1/org", json={"release_guard_days": 0}))  # whichever test presented it
    submit(page, f"{row} a.release", status=200)  # a confirmation first: nothing released
    assert page.locator("h1").inner_text() == "Release this number?"
    assert AURORA in numbers_of(api)
    submit(page, "#release-confirm", status=200)
    assert toast(page, "success") == f"{AURORA} released"
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
                "agent_number": "use_agent", "compliance": None, "proximity": None,
                "local_only": "off"}
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


def test_project_settings_the_form_does_not_show_are_kept(page: Page,
                                                          api: httpx.Client) -> None:
    """Saving a project in the admin keeps its compliance rules, proximity and
    local_only, which the form does not show."""
    before = ok(api.get("/v1/projects/renewals"))
    hidden = {"compliance": {"caps": [{"calls": 2, "hours": 24}]},
              "proximity": {"adjacent": True}, "local_only": "refuse"}
    ok(api.put("/v1/projects/renewals", json={**before, **hidden}))
    try:
        go(page, "/admin/projects/renewals")
        page.select_option("#next-calls", "random")
        submit(page, "#save-project", status=200)
        assert toast(page, "success") == "Saved project renewals"
        saved = ok(api.get("/v1/projects/renewals"))
        assert saved["next_calls"] == "random"
        assert saved["compliance"]["caps"][0]["calls"] == 2
        assert saved["proximity"]["adjacent"] is True
        assert saved["local_only"] == "refuse"
    finally:
        ok(api.put("/v1/projects/renewals", json=before))


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
    assert page.url.endswith("/admin/projects/winback"), page.url
    assert toast(page, "success") == "Saved project winback"
    assert page.locator("h1").inner_text() == "Project winback"
    assert page.locator("#project-id").get_attribute("readonly") is not None

    page.select_option("#first-call", AURORA)
    submit(page, "#save-project", status=200)
    assert ok(api.get("/v1/projects/winback")) == {
        "id": "winback", "name": "Win-back", "numbers": sorted([AURORA, SAN_FRANCISCO]),
        "first_call": AURORA, "keep_previous_number": False, "next_calls": "random",
        "outcome_numbers": {}, "agent_number": "use_project", "compliance": None,
        "proximity": None, "local_only": "off"}
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
    active = sorted(n for n, v in numbers_of(api).items() if v["status"] == "active")
    assert MANHATTAN not in active
    assert NEWARK_2 not in active
    assert sorted(values(page, "#caller-id option")) == sorted(["", *active])
    assert page.locator("#caller-id option").nth(1).inner_text() == f"{HQ} (principal)"
    assert sorted(values(page, "#direct-number option")) == sorted(["", *active])
    before = ok(api.get("/v1/users/bob"))["allowed_caller_ids"]
    assert values(page, "#allowed-list input[name=allowed_caller_ids]") == before
    assert page.locator("#caller-id").input_value() == SAN_FRANCISCO
    # The allowed caller-ID picker asks the server; only presentable numbers are offered.
    assert offered(page, "renewals") == [NEWARK]
    assert offered(page, "nothing like it") == []

    page.fill("#work-phone", "(415) 555-9012")
    page.select_option("#caller-id", CHICAGO_2)
    page.select_option("#direct-number", AURORA)
    for number in before:
        page.click(f'#allowed-list li[data-number="{number}"] button.remove')
    pick_allowed(page, "(312) 555-0102", CHICAGO_2)
    pick_allowed(page, "212555", HQ)
    assert HQ not in offered(page, "212555"), "a chosen number is not offered again"
    assert values(page, "#allowed-list input") == [CHICAGO_2, HQ]
    assert offered(page, "sales") == [CHICAGO, SAN_FRANCISCO, AURORA]  # not Chicago 2
    screenshot(page, "user")
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
    pick_allowed(page, "212555", HQ)  # the org restricts them
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
    submit(page, "#save-user", status=409)  # a conflict with what is stored
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


def test_a_call_page_shows_the_result_and_reports_spam_once(page: Page,
                                                            api: httpx.Client) -> None:
    """The call's result as the API stored it; "Showed as spam" stores one report, says so,
    and the button is gone; the API shows the call reported."""
    call = ok(api.post("/v1/calls", json={"user": "carol", "to": "+16305551299",
                                          "consented": True}), 201)
    call_id = call["call_id"]
    go(page, f"/admin/calls/{call_id}")
    assert page.locator("#result-none").count() == 1
    ok(api.post(f"/v1/calls/{call_id}/result", json={"sip_code": 607}))

    go(page, f"/admin/calls/{call_id}")
    assert page.locator("#result-class").inner_text() == "rejected_by_analytics"
    assert page.locator("#result-sip-code").inner_text() == "607"
    assert page.locator("#result-answered").inner_text() == "no"
    page.fill("#spam-note", "Spam Likely on a Pixel")
    submit(page, "#spam-report button[type=submit]", status=200)

    assert toast(page, "success") == f"Reported: {call['caller_id']} showed as spam"
    assert page.locator("#spam-reported").count() == 1
    assert page.locator("#spam-report").count() == 0
    screenshot(page, "call-result")
    assert ok(api.get(f"/v1/calls/{call_id}"))["spam_reported"] is True
    again = ok(api.post(f"/v1/calls/{call_id}/spam-report", json={"reported_by": "carol"}))
    assert (again["recorded"], again["reported_by"], again["note"]) == (
        False, "admin", "Spam Likely on a Pixel")


def test_the_numbers_table_shows_each_numbers_health(page: Page, api: httpx.Client) -> None:
    """A 608 on a call judges the number it presented: the Health column shows its state
    and score as the API has them, with the reasons on hover; numbers never judged a dash."""
    call = ok(api.post("/v1/calls", json={"user": "carol", "to": "+16305551298",
                                          "consented": True}), 201)
    ok(api.post(f"/v1/calls/{call['call_id']}/result", json={"sip_code": 608}))
    judged = ok(api.get(f"/v1/numbers/{path_of(call['caller_id'])}/health"))
    # watch: the guard kept its area code; warming: the same, for a number added within
    # the warm-up ramp (a new number stays on its ramp, with the 608 among its reasons)
    assert judged["state"] in ("resting", "watch", "warming")

    go(page, "/admin/numbers")

    rows = {r["number"]: r for r in table_rows(page)}
    assert rows[call["caller_id"]]["health"] == health_cell(api, call["caller_id"])
    assert rows[call["caller_id"]]["health"].startswith(judged["state"])
    cell = page.locator(f"tr[data-number='{call['caller_id']}'] td.health span")
    assert "608 Rejected on" in (cell.get_attribute("title") or "")
    assert rows[MANHATTAN]["health"] == "–"  # paused: never judged
    screenshot(page, "numbers-health")


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


# -- 7. at scale, and hardened -------------------------------------------------------------

# 100 numbers in each of 12 area codes no demo number is in: with the demo's 9, 1,209.
SEEDED = {"303": "Colorado", "404": "Georgia", "503": "Oregon", "602": "Arizona",
          "702": "Nevada", "206": "Washington State", "305": "Florida", "512": "Texas",
          "614": "Ohio", "816": "Missouri", "919": "North Carolina", "480": "Arizona"}


def seed_numbers(api: httpx.Client) -> list[str]:
    """The demo organization plus 1,200 numbers, in one PUT /v1/config; all numbers held."""
    document = yaml.safe_load(acme_yaml())
    document["numbers"] += [{"number": f"+1{code}55501{i:02d}", "label": f"{region} {i}",
                             "group": "bulk"}
                            for code, region in SEEDED.items() for i in range(100)]
    ok(api.put("/v1/config", content=yaml.safe_dump(document),
               headers={"Content-Type": "application/yaml"}))
    held = sorted(numbers_of(api))
    assert len(held) == 1209
    return held


def shown_numbers(page: Page) -> list[str]:
    found: list[str] = page.locator("#mappings tbody tr[data-number]").evaluate_all(
        "rows => rows.map(r => r.dataset.number)")
    return found


def test_a_thousand_numbers_paginate_filter_and_summarize(page: Page,
                                                          api: httpx.Client) -> None:
    held = seed_numbers(api)
    go(page, "/admin/numbers")
    screenshot(page, "numbers")
    assert page.locator("#match-count").inner_text() == "1209 numbers"
    assert shown_numbers(page) == held[:50], "a page of 50, in number order"
    assert page.locator("#page-of").inner_text() == "Page 1 of 25"
    assert page.evaluate("document.documentElement.scrollHeight") < 3500, "no 5,000 px page"

    submit(page, "#next-page", status=200)
    assert shown_numbers(page) == held[50:100]
    assert squash(page.locator("#showing").inner_text()) == "showing 51–100"
    submit(page, "#last-page", status=200)
    assert shown_numbers(page) == held[1200:]
    assert len(held[1200:]) == 9
    assert page.locator("#page-of").inner_text() == "Page 25 of 25"

    # The filters, each alone and together; the API agrees.
    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"#filter-area-code": "303"}, sorted(numbers_of(api, area_code="303"))),
        ({"#filter-group": "sales"}, sorted(numbers_of(api, group="sales"))),
        ({"#filter-status": "paused"}, sorted(numbers_of(api, status="paused"))),
        ({"#filter-region": "Arizona"}, [n for n in held if n[2:5] in ("480", "602")]),
        ({"#filter-region": "Arizona", "#q": "480"},
         [n for n in sorted(numbers_of(api, search="480")) if n[2:5] in ("480", "602")]),
    ]
    for filters, expected in cases:
        go(page, "/admin/numbers")
        for selector, value in filters.items():
            if selector in ("#filter-status", "#filter-region"):
                page.select_option(selector, value)
            else:
                page.fill(selector, value)
        page.select_option("#per-page", "200")
        submit(page, "#apply-filters", status=200)
        assert shown_numbers(page) == expected, filters
        assert page.locator("#match-count").inner_text() == \
            f"{len(expected)} number{'' if len(expected) == 1 else 's'} match", filters
        for selector, value in filters.items():  # the filter shows what it holds
            assert page.locator(selector).input_value() == value
    assert len(cases[0][1]) == 100
    assert cases[2][1] == [AGENT_LEG, MANHATTAN]

    # Pages keep the filter: Arizona, 50 a page.
    go(page, "/admin/numbers?region=Arizona")
    assert page.locator("#page-of").inner_text() == "Page 1 of 4"
    submit(page, "#next-page", status=200)
    assert shown_numbers(page) == [n for n in held if n[2:5] in ("480", "602")][50:100]

    # The summary by area code: counts by status, and a link that filters on it.
    go(page, "/admin/numbers")
    page.click("#area-codes summary")
    rows = page.locator("#area-code-summary tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.children].map(td => td.textContent.trim()))")
    by_code = {row[0]: row[1:] for row in rows}
    assert len(by_code) == 18
    assert by_code["303"] == ["Colorado", "100", "100", "0", "0", "100"]
    assert by_code["646"] == ["New York", "1", "0", "1", "0", "1"]
    assert by_code["312"][:2] == ["Illinois", "2"]
    submit(page, '#area-code-summary tr[data-area-code="919"] a', status=200)
    assert page.locator("#filter-area-code").input_value() == "919"
    assert shown_numbers(page) == [n for n in held if n[2:5] == "919"][:50]


def test_bulk_actions(page: Page, api: httpx.Client) -> None:
    held = seed_numbers(api)
    denver = [n for n in held if n[2:5] == "303"]
    go(page, "/admin/numbers?area_code=303")

    # Nothing ticked: the error beside the bulk bar, nothing changed.
    page.select_option("#bulk-action", "pause")
    submit(page, "#bulk-apply", status=400)
    assert "tick the numbers" in field_error(page.locator("#bulk"), "selected")
    assert page.locator("#bulk-action").input_value() == "pause", "the choice is kept"
    assert page.locator("#filter-area-code").input_value() == "303", "and the filter"

    # Pause three ticked numbers.
    for number in denver[:3]:
        page.check(f'input[name=selected][value="{number}"]')
    page.select_option("#bulk-action", "pause")
    submit(page, "#bulk-apply", status=200)
    assert toast(page, "success") == "Paused 3 numbers"
    assert page.locator("#filter-area-code").input_value() == "303", "back on the same filter"
    stored = numbers_of(api, area_code="303")
    assert sorted(n for n, v in stored.items() if v["status"] == "paused") == denver[:3]

    # Every number of the page, with the box in the header.
    page.check("#select-page")
    assert page.locator("input[name=selected]:checked").count() == 50
    page.select_option("#bulk-action", "resume")
    submit(page, "#bulk-apply", status=200)
    assert toast(page, "success") == "Resumed 50 numbers"
    assert all(v["status"] == "active" for v in numbers_of(api, area_code="303").values())

    # All that match the filter, on every page: a group for all 100.
    page.select_option("#bulk-action", "set_group")
    page.fill("#bulk-group", "denver")
    page.check("#all-matching")
    submit(page, "#bulk-apply", status=200)
    assert toast(page, "success") == "Set group “denver” on 100 numbers"
    assert sorted(numbers_of(api, group="denver")) == denver
    assert numbers_of(api, group="bulk").keys().isdisjoint(denver)

    # Release: a confirmation page first, naming the numbers; then released.
    go(page, "/admin/numbers?area_code=303&page=2")
    for number in denver[-2:]:
        page.check(f'input[name=selected][value="{number}"]')
    page.select_option("#bulk-action", "release")
    submit(page, "#bulk-apply", status=200)
    assert page.locator("h1").inner_text() == "Release 2 numbers?"
    assert values(page, "#confirm-release input[name=number]") == denver[-2:]
    assert set(denver) <= set(numbers_of(api)), "nothing released yet"
    submit(page, "#release-confirm", status=200)
    assert toast(page, "success") == f"{', '.join(denver[-2:])} released"
    assert page.locator("#filter-area-code").input_value() == "303"
    assert sorted(numbers_of(api, area_code="303")) == denver[:-2]


def test_add_a_number_we_own(page: Page, api: httpx.Client) -> None:
    go(page, "/admin/numbers")
    # A number that is none: the error beside the number field, what was typed kept.
    page.fill("#owned-number", "555")
    page.fill("#owned-label", "Chicago 3")
    page.fill("#owned-area-codes", "773")
    submit(page, "#add-owned button", status=400)
    assert field_error(page.locator("#add-owned"), "number")
    assert list(errors_shown(page)) == ["number"]
    assert page.locator("#owned-number").input_value() == "555"
    assert page.locator("#owned-label").input_value() == "Chicago 3"
    assert page.locator("#owned-area-codes").input_value() == "773"
    assert page.locator("#map-number").input_value() == "", "the other forms stay empty"

    page.fill("#owned-number", "(312) 555-0103")
    page.fill("#owned-group", "sales")
    page.fill("#owned-cap", "40")
    submit(page, "#add-owned button", status=200)
    assert toast(page, "success") == "Added +13125550103 to the organization's numbers"
    assert shown_numbers(page) == ["+13125550103"]
    stored = numbers_of(api)["+13125550103"]
    assert {k: stored[k] for k in ("label", "group", "area_codes", "daily_cap", "provider",
                                   "status")} == {
        "label": "Chicago 3", "group": "sales", "area_codes": ["312", "773"], "daily_cap": 40,
        "provider": "manual", "status": "active"}

    # Held already: refused beside the field, nothing changed.
    go(page, "/admin/numbers")
    page.fill("#owned-number", CHICAGO)
    submit(page, "#add-owned button", status=409)
    assert "already belongs to this organization" in field_error(page.locator("#add-owned"),
                                                                "number")
    assert numbers_of(api)[CHICAGO]["label"] == ok(api.get(
        f"/v1/numbers/{path_of(CHICAGO)}"))["label"]


def test_release_asks_first_and_names_the_consequences(page: Page, api: httpx.Client) -> None:
    go(page, "/admin/numbers")
    submit(page, f'tr[data-number="{CHICAGO}"] a.release', status=200)
    screenshot(page, "release")
    consequences = squash(page.locator(f'#release-impacts tr[data-number="{CHICAGO}"]')
                          .inner_text())
    assert "User alice (caller ID, direct number) loses it." in consequences
    assert CHICAGO in numbers_of(api), "asking released nothing"
    submit(page, "#release-cancel", status=200)
    assert CHICAGO in numbers_of(api)

    go(page, f"/admin/numbers/release?number={path_of(CHICAGO_2)}")
    assert "Project renewals (pool) loses it." in squash(
        page.locator("#release-impacts").inner_text())
    go(page, f"/admin/numbers/release?number={path_of(NEWARK)}")
    assert "Project renewals (pool, outcome number) loses it." in squash(
        page.locator("#release-impacts").inner_text())

    # The principal number: the page says it cannot go, and offers no button.
    go(page, f"/admin/numbers/release?number={path_of(HQ)}")
    assert "principal number: it cannot be released" in page.locator(
        "#release-impacts").inner_text()
    assert page.locator("#release-confirm").count() == 0
    # A forged confirmation is refused on the confirmation page, with the reason: a 409.
    csrf = page.locator("#confirm-release input[name=csrf]").input_value()
    refused = page.request.post("/admin/numbers/release", form={"csrf": csrf, "number": HQ})
    assert refused.status == 409
    assert "principal number" in refused.text()
    assert "<h1>Release this number?</h1>" in refused.text()
    assert HQ in numbers_of(api)

    # Confirmed: released, and the toast says so. (Earlier tests present AURORA: the
    # release guard is test_release_of_a_number_presented_lately_needs_the_guard_box's.)
    ok(api.patch("/v1/org", json={"release_guard_days": 0}))
    go(page, f"/admin/numbers/release?number={path_of(AURORA)}")
    assert "No user, project or setting uses it." in page.locator("#release-impacts").inner_text()
    submit(page, "#release-confirm", status=200)
    assert toast(page, "success") == f"{AURORA} released"
    assert AURORA not in numbers_of(api)


def test_release_of_a_number_presented_lately_needs_the_guard_box(
    page: Page, api: httpx.Client
) -> None:
    """The page names the last presentation; confirmed without the box, a 409 naming the
    guard and nothing released; with it, released."""
    lately = "+17205550190"
    ok(api.post("/v1/numbers", json={"number": lately}), 201)
    ok(api.post("/v1/calls", json={"user": "bob", "to": "+17205559990", "caller_id": lately,
                                   "consented": True}), 201)

    go(page, f"/admin/numbers/release?number={path_of(lately)}")
    impacts = squash(page.locator("#release-impacts").inner_text())
    assert "Presented as a caller ID at " in impacts
    assert "within the release guard of 30 days" in impacts
    assert not page.locator("#release-force").is_checked()
    submit(page, "#release-confirm", status=409)
    assert "within the release guard of 30 days" in page.locator("#release-error").inner_text()
    assert lately in numbers_of(api)

    page.check("#release-force")
    submit(page, "#release-confirm", status=200)
    assert toast(page, "success") == f"{lately} released"
    assert lately not in numbers_of(api)


def test_new_user_or_project_with_an_invalid_id(page: Page, api: httpx.Client) -> None:
    for kind, name_field in (("users", "#user-name"), ("projects", "#project-name")):
        singular = kind[:-1]
        go(page, f"/admin/{kind}/new")
        page.fill(f"#{singular}-id", "not valid!")
        page.fill(name_field, "Dana Lee")
        submit(page, f"#save-{singular}", status=400)
        message = field_error(page.locator(f"#{singular}-form"), "id")
        assert "letters, digits" in message, message
        assert "pydantic" not in page.content()
        assert "pattern" not in message
        id_field = page.locator(f"#{singular}-id")
        assert id_field.input_value() == "not valid!", "what was typed is kept"
        assert id_field.get_attribute("readonly") is None, "and it can be corrected"
        assert page.locator(name_field).input_value() == "Dana Lee"
        assert page.locator("h1").inner_text() == f"New {singular}"
        id_field.fill("dana")
        submit(page, f"#save-{singular}", status=200)
        assert toast(page, "success") == f"Saved {singular} dana"
        assert ok(api.get(f"/v1/{kind}/dana"))["name"] == "Dana Lee"


def test_sign_in_needs_the_forms_token(tab: Tab, admin: Server) -> None:
    page = tab.page
    go(page, "/admin/login")
    page.fill("#key", admin.keys["acme"])
    page.evaluate("document.querySelector('input[name=csrf]').value = 'forged'")
    submit(page, "form[action='/admin/login'] button", status=400)
    assert "expired or came from elsewhere" in field_error(page, "key")
    assert not session_cookies(page)
    # From elsewhere (no cookie of the form): refused, no session.
    with httpx.Client(base_url=admin.url) as client:
        for form in ({"key": admin.keys["acme"]},
                     {"key": admin.keys["acme"], "csrf": "anything"}):
            refused = client.post("/admin/login", data=form)
            assert refused.status_code == 400
            assert "callsign_admin" not in refused.headers.get("set-cookie", "")
    # The form itself still signs in (the token was all that was missing).
    response = sign_in(page, admin.keys["acme"])
    assert response.status == 200
    assert toast(page, "success") == "Signed in to acme"


def test_toasts_do_not_come_from_the_link(page: Page) -> None:
    go(page, "/admin/numbers?ok=Your+account+is+locked&warn=Call+555-0199")
    no_toast(page, "success")
    no_toast(page, "warning")
    assert "locked" not in page.content()


SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
                    "referrer-policy": "no-referrer"}


def test_security_headers(admin: Server, api: httpx.Client) -> None:
    with httpx.Client(base_url=admin.url) as client:
        answers = [client.get(path) for path in (
            "/admin/login", "/admin/numbers", "/admin/no-such-page", "/schema", "/healthz",
            "/v1/numbers", "/v1/no-such-endpoint")] + [api.get("/v1/numbers")]
    for response in answers:
        where = f"{response.request.url.path} ({response.status_code})"
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, where
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, where
        if response.request.url.path.startswith("/admin"):
            assert "script-src 'self';" in policy, where  # no inline script in the admin
        assert "http" not in policy, f"{where}: nothing from elsewhere"


def cookie_flags(response: httpx.Response, name: str) -> str:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def sign_in_over_http(client: httpx.Client, key: str,
                      headers: dict[str, str] | None = None) -> httpx.Response:
    """Sign in as a browser does: the form (its token and cookie), then the post."""
    form = client.get("/admin/login", headers=headers)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    cookie = cookie_flags(form, "callsign_sign_in").split(";")[0]
    client.cookies.clear()  # a Secure cookie is not sent over http: send the form's by hand
    return client.post("/admin/login", data={"key": key, "csrf": token.group(1)},
                       headers={**(headers or {}), "Cookie": cookie})


def test_secure_cookies_behind_https(admin: Server, tmp_path: Any) -> None:
    key = admin.keys["acme"]
    with httpx.Client(base_url=admin.url) as client:
        plain = sign_in_over_http(client, key)
        assert plain.status_code == 303
        assert "secure" not in cookie_flags(plain, "callsign_admin").lower().split("; ")
    # Behind a proxy on this host that says the browser came over https.
    with httpx.Client(base_url=admin.url) as client:
        proxied = sign_in_over_http(client, key, {"X-Forwarded-Proto": "https"})
        assert proxied.status_code == 303
        for name in ("callsign_admin", "callsign_flash"):
            assert "secure" in cookie_flags(proxied, name).lower().split("; "), name
    # A server whose public URL is https.
    with running_server(admin.db_url, tmp_path, admin.keys,
                        env={"CALLSIGN_PUBLIC_URL": "https://callsign.example.com"}) as https, \
            httpx.Client(base_url=https.url) as client:
        answer = sign_in_over_http(client, key)
        assert answer.status_code == 303
        flags = cookie_flags(answer, "callsign_admin").lower().split("; ")
        assert {"secure", "httponly", "samesite=strict", "path=/admin"} <= set(flags)


def test_unknown_admin_pages_answer_html(page: Page, api: httpx.Client) -> None:
    for path, status, words in [("/admin/no-such-page", 404, "There is no page at"),
                                ("/admin/users/nobody", 404, "nobody"),
                                ("/admin/projects/nothing", 404, "nothing"),
                                ("/admin/numbers/release?number=12", 400, "")]:
        response = page.goto(path)
        assert response is not None
        assert response.status == status, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert words in page.locator("main").inner_text(), path
    # The API still answers JSON.
    error_of(api.get("/v1/no-such-endpoint"), 404)


def test_api_docs_load_offline(tab: Tab) -> None:
    """/schema loads Swagger UI from this server: any request off 127.0.0.1 fails it."""
    page = tab.page
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    go(page, "/schema")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "callsign" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() > 10, "the endpoints are listed"
    assert any(url.endswith("/admin/static/swagger-ui-bundle.js") for url in requests)
    assert not tab.problems, tab.problems


def test_times_in_the_organizations_zone(page: Page, api: httpx.Client) -> None:
    ok(api.patch("/v1/org", json={"timezone": "America/Los_Angeles"}))
    call = ok(api.post("/v1/calls", json={"user": "alice", "to": "+13125550188",
                                          "consented": True}), 201)
    stored = ok(api.get(f"/v1/calls/{call['call_id']}"))
    local = datetime.fromisoformat(stored["at"]).astimezone(ZoneInfo("America/Los_Angeles"))
    shown = local.strftime("%Y-%m-%d %H:%M:%S %Z")
    assert shown.endswith(("PST", "PDT"))
    go(page, "/admin/calls")
    assert "When (America/Los_Angeles)" in str(page.locator("#calls thead").text_content())
    link = page.locator(f"#calls a[href='/admin/calls/{call['call_id']}']")
    assert link.inner_text() == shown
    submit(page, f"#calls a[href='/admin/calls/{call['call_id']}']", status=200)
    assert page.locator("#call-time").inner_text() == shown
    assert "(America/Los_Angeles)" in page.locator("main > p").first.inner_text()


def test_explorer_errors_stay_with_their_form(page: Page) -> None:
    """An inbound try with a number that is none: the error under the inbound form only,
    and what was typed kept."""
    go(page, "/admin/explorer")
    page.fill("#inbound-to", "12")
    page.fill("#inbound-from", "(630) 555-1234")
    submit(page, "#try-inbound button", status=400)
    assert field_error(page.locator("#try-inbound"), "to")
    assert page.locator("#try-call p.error").count() == 0
    assert page.locator("#inbound-to").input_value() == "12"
    assert page.locator("#inbound-from").input_value() == "(630) 555-1234"
