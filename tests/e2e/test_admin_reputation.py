"""The admin's Reputation page in a real browser: from Numbers to the upload form; a scan
with errors stores nothing and lists each problem by row and column; a good one shows
the labels stored and the numbers it rested, as the REST API then confirms. Saves
docs/screenshots/reputation.png. Needs Chromium and Playwright (scripts/install-browser).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.e2e._browser import Tab, chromium, require_browser, screenshot, toast
from tests.e2e.conftest import Server, acme_yaml, ok, path_of, serve, store_url

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

AURORA = "+16305550142"  # the only number serving 630 in the demo
CHICAGO_2 = "+13125550102"


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Server]:
    require_browser()
    workdir = tmp_path_factory.mktemp("admin-reputation")
    with store_url(store_kind, workdir) as url, \
            serve(workdir, {"acme": acme_yaml()}, db_url=url) as running:
        yield running


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


def upload(page: Page, path: Path) -> int:
    page.set_input_files("#scan", str(path))
    with page.expect_navigation() as navigation:
        page.click("#reputation-upload button")
    response = navigation.value
    assert response is not None
    return response.status


def test_a_scan_uploaded_in_the_admin_rests_a_flagged_number(
        page: Page, admin: Server, tmp_path: Path) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    page.goto("/admin/numbers")
    with page.expect_navigation():
        page.click("#reputation-link")
    assert page.url.endswith("/admin/reputation")

    bad = tmp_path / "bad.csv"
    bad.write_text(f"number,carrier,label,checked_at\n{CHICAGO_2},AT&T,Spam Likely,soon\n",
                   encoding="utf-8")
    assert upload(page, bad) == 400
    problems = page.locator("#reputation-problems li").all_inner_texts()
    assert problems == ["row 2, column checked_at: must be a date or time in ISO 8601 "
                        "(2026-11-28 or 2026-11-28T14:05:00Z), not 'soon'"]

    good = tmp_path / "scan.csv"
    good.write_text("Number,Carrier,Label,Checked At\n"
                    f"{CHICAGO_2},AT&T,Spam Likely,{yesterday}\n"
                    f"{AURORA},Verizon,Clean,{yesterday}\n", encoding="utf-8")
    assert upload(page, good) == 200
    heading = page.locator("#reputation-report h2").inner_text()
    assert heading == "Imported 2 labels of 2 numbers from scan.csv"
    rows = page.locator("#reputation-changes tbody tr").all_inner_texts()
    assert any(CHICAGO_2 in row and "resting" in row and "labelled Spam Likely by Hiya "
               "(AT&T)" in row for row in rows)
    screenshot(page, "reputation")

    with httpx.Client(base_url=admin.url,
                      headers={"Authorization": f"Bearer {admin.keys['acme']}"}) as api:
        shown = ok(api.get(f"/v1/numbers/{path_of(CHICAGO_2)}/health"))
        assert shown["status"] == "resting"
        assert [lb["engine"] for lb in shown["labels"]] == ["Hiya"]
