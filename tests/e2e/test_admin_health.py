"""The admin's health pages in a real browser (SPEC 9): a number's charts and state
timeline, the organization's dashboard, and the Numbers page's health filter, over a
month of seeded traffic in which two numbers burn (tests/e2e/_health_seed.py) and the
organization's sweep rests them.

Charts are uPlot canvases drawn by static/charts.js: each figure must draw as many series
as its data carry, with a legend row for each, under the admin's content security policy
and with no error in the console. Pages are saved to docs/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e._browser import Tab, chromium, require_browser, screenshot, squash, toast
from tests.e2e._health_seed import BURNED, seed, utc_now
from tests.e2e.conftest import Server, acme_yaml, ok, path_of, serve, store_url

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

CHICAGO, CHICAGO_2 = "+13125550101", "+13125550102"
NEWARK_2 = "+12015550107"
NOT_HELD = "+13125550199"


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Server]:
    """`callsign serve` holding acme with a month of traffic, swept once."""
    require_browser()
    workdir = tmp_path_factory.mktemp("admin-health")
    with store_url(store_kind, workdir) as url, \
            serve(workdir, {"acme": acme_yaml()}, db_url=url) as running:
        seed(url, utc_now())
        yield running


@pytest.fixture(scope="module")
def api(admin: Server) -> Iterator[httpx.Client]:
    with admin.client(admin.keys["acme"]) as client:
        yield client


@pytest.fixture(scope="module")
def swept(api: httpx.Client) -> dict[str, Any]:
    """The sweep that judged the seeded month: it rests the burned numbers."""
    report: dict[str, Any] = ok(api.post("/v1/health/sweep"))
    return report


@pytest.fixture(scope="module")
def browser(admin: Server) -> Iterator[Browser]:  # noqa: ARG001 (the server starts first)
    with chromium() as launched:
        yield launched


class ConsoleTab(Tab):
    """A tab that also fails on any console error, not only CSP violations."""

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console error on {self.page.url}: {message.text}")


@pytest.fixture
def tab(browser: Browser, admin: Server, swept: dict[str, Any]) -> Iterator[ConsoleTab]:
    """A fresh tab signed in to acme (after the sweep judged the month)."""
    del swept
    opened = ConsoleTab(browser, admin.url)
    try:
        opened.page.goto("/admin/login")
        opened.page.fill("#key", admin.keys["acme"])
        with opened.page.expect_navigation():
            opened.page.click("form[action='/admin/login'] button[type=submit]")
        assert toast(opened.page, "success") == "Signed in to acme"
        yield opened
    finally:
        opened.close()


@pytest.fixture
def page(tab: ConsoleTab) -> Page:
    return tab.page


def charts_drawn(page: Page) -> dict[str, dict[str, int]]:
    """Each chart on the page: the series its data carry, the series uPlot drew, its
    legend rows (one per series) and its canvases."""
    page.wait_for_function("""() => [...document.querySelectorAll('figure.chart')]
        .every(f => f.dataset.drawn !== undefined)""")
    found: dict[str, dict[str, int]] = page.locator("figure.chart").evaluate_all("""
        figures => Object.fromEntries(figures.map(f => [f.id, {
            data: Number(f.dataset.series), drawn: Number(f.dataset.drawn),
            legend: f.querySelectorAll('.u-legend tr.u-series').length - 1,
            canvases: f.querySelectorAll('canvas').length,
            width: Math.round(f.querySelector('canvas').getBoundingClientRect().width),
        }]))""")
    return found


def assert_drawn(found: dict[str, dict[str, int]], expected: dict[str, int]) -> None:
    assert sorted(found) == sorted(expected)
    for chart_id, series in expected.items():
        drawn = found[chart_id]
        assert (drawn["data"], drawn["drawn"], drawn["legend"]) == (series,) * 3, chart_id
        assert drawn["canvases"] >= 1, chart_id
        assert drawn["width"] >= 300, chart_id


def go(page: Page, path: str, status: int = 200) -> None:
    response = page.goto(path)
    assert response is not None, path
    assert response.status == status, f"{path} answered {response.status}"


def test_the_sweep_rests_exactly_the_burned_numbers(swept: dict[str, Any],
                                                    api: httpx.Client) -> None:
    """The seeded month is what the pages show: the two burned numbers rest."""
    rested = sorted(c["number"] for c in swept["changes"] if c["to_state"] == "resting")
    assert rested == sorted(BURNED)
    assert sorted(r["number"] for r in ok(api.get("/v1/health"))["resting"]) == sorted(BURNED)


def test_a_number_page_charts_its_month_and_says_why_it_rests(page: Page,
                                                              api: httpx.Client) -> None:
    go(page, f"/admin/numbers/{path_of(CHICAGO_2)}/health")

    assert_drawn(charts_drawn(page), {"chart-daily-calls": 2, "chart-answer-rate": 1,
                                      "chart-short-share": 1, "chart-timeline": 1})
    stored = ok(api.get(f"/v1/numbers/{path_of(CHICAGO_2)}/health"))
    assert page.locator("#health-state").inner_text() == "resting"
    assert page.locator("#health-score").inner_text() == str(stored["score"])
    reasons = page.locator("#health-reasons li").all_inner_texts()
    assert reasons == stored["reasons"]
    assert any("608 Rejected on" in reason for reason in reasons)
    assert squash(page.locator("#health-summary").inner_text()) == stored["summary"]
    changes = page.locator("#state-changes tbody tr").all_inner_texts()
    assert [squash(c).split(" ")[3:5] for c in changes] == [
        ["watch", "resting"], ["healthy", "watch"], ["–", "healthy"]]
    assert page.locator("#reputation").count() == 0  # none stored yet
    screenshot(page, "number-health")


def test_a_healthy_number_page_has_a_flat_timeline(page: Page) -> None:
    go(page, f"/admin/numbers/{path_of(CHICAGO)}/health")
    assert_drawn(charts_drawn(page), {"chart-daily-calls": 2, "chart-answer-rate": 1,
                                      "chart-short-share": 1, "chart-timeline": 1})
    assert page.locator("#health-state").inner_text() == "healthy"
    assert page.locator("#state-changes tbody tr").count() == 1  # judged healthy, once


def test_the_dashboard_shows_rates_resting_numbers_and_coverage_at_risk(page: Page) -> None:
    go(page, "/admin/health")

    assert_drawn(charts_drawn(page), {"chart-by-area-code": 1, "chart-by-rule": 1,
                                      "chart-by-day": 2})
    resting = {str(row.get_attribute("data-number")): squash(row.inner_text())
               for row in page.locator("#resting tbody tr[data-number]").all()}
    assert sorted(resting) == sorted(BURNED)
    assert all("resting since" in why and "608 Rejected" in why for why in resting.values())
    at_risk = {str(row.get_attribute("data-area-code")): squash(row.inner_text())
               for row in page.locator("#at-risk tbody tr[data-area-code]").all()}
    assert sorted(at_risk) == ["201", "312"]
    assert "1/2 (50%)" in at_risk["312"]
    assert "the next number to burn stays in service" in at_risk["312"]
    screenshot(page, "health-dashboard")


def test_the_numbers_list_filters_by_health_in_words(page: Page) -> None:
    go(page, "/admin/numbers")
    options = page.locator("#filter-health option").all_inner_texts()
    assert options[0] == "any"
    assert [o.split(":")[0] for o in options[1:]] == ["healthy", "watch", "warming",
                                                     "resting"]
    page.select_option("#filter-health", "resting")
    with page.expect_navigation():
        page.click("#apply-filters")

    assert "&health=resting&" in page.url
    listed = page.locator("#mappings tbody tr[data-number]").evaluate_all(
        "rows => rows.map(r => r.dataset.number)")
    assert sorted(listed) == sorted(BURNED)
    assert "resting: not presented" in page.locator("#health-filter-words").inner_text()
    screenshot(page, "numbers-health-filter")
    page.click(f"tr[data-number='{NEWARK_2}'] a[href$='/health']")
    page.wait_for_url(f"**/admin/numbers/{path_of(NEWARK_2)}/health")
    assert page.locator("#number").inner_text() == NEWARK_2


@pytest.mark.parametrize(("path", "status", "words"), [
    (f"/admin/numbers/{path_of(NOT_HELD)}/health", 404,
     f"number: {NOT_HELD} is not a number of organization 'acme'"),
    ("/admin/numbers/not-a-number/health", 400, "number:"),
    ("/admin/numbers?health=burnt", 400,
     "health: must be one of healthy, watch, warming, resting (got 'burnt')"),
    ("/admin/coverage?by=colour", 400, "by: must be one of coverage, health (got 'colour')"),
])
def test_bad_input_gets_a_clear_page(tab: ConsoleTab, path: str, status: int,
                                     words: str) -> None:
    go(tab.page, path, status)
    assert words in squash(tab.page.locator("main").inner_text())
    # The browser logs the page's own status as an error; that one is expected.
    assert tab.problems == [f"console error on {tab.page.url}: Failed to load resource: the "
                            f"server responded with a status of {status} "
                            f"({'Not Found' if status == 404 else 'Bad Request'})"]
    tab.problems.clear()


MAP_GREY = "rgb(223, 227, 232)"  # an area code with nothing to show (admin.css)


def map_areas(page: Page) -> dict[str, dict[str, str]]:
    """Each area code drawn on the coverage map: its classes, fill and hover title."""
    found: dict[str, dict[str, str]] = page.locator("#coverage-map path").evaluate_all("""
        paths => Object.fromEntries(paths.map(p => [p.dataset.areaCode, {
            classes: p.getAttribute('class') || '', fill: getComputedStyle(p).fill,
            title: p.querySelector('title').textContent}]))""")
    return found


def test_the_coverage_map_colours_the_organizations_area_codes(page: Page,
                                                                api: httpx.Client) -> None:
    """The map draws every US and Canadian area code as a picture: those a number of acme
    serves in blue, those its recent callees are in without one in amber; by health, the
    area codes of the burned (rested) numbers show resting, the others their numbers'
    state; each says so on hover."""
    ok(api.post("/v1/contacts", json={"phone": "+13055550123"}), 201)  # Miami: no number
    go(page, "/admin/coverage")
    drawn = map_areas(page)
    assert len(drawn) > 250  # the US and Canada, not a handful
    assert len(page.content()) < 200_000  # a light page: the simplified outlines
    own = {"212", "312", "630", "415", "201"}
    for code in own:
        assert "c-covered" in drawn[code]["classes"], (code, drawn[code])
        assert drawn[code]["fill"] == "rgb(36, 86, 214)", code
        assert "number" in drawn[code]["title"], drawn[code]
    uncovered = {gap["area_code"] for gap in ok(api.get("/v1/coverage"))["uncovered"]}
    wanted = {code for code, area in drawn.items() if "c-wanted" in area["classes"]}
    assert wanted == uncovered & set(drawn)
    assert "305" in wanted
    assert "1 contact," in drawn["305"]["title"], drawn["305"]
    assert all(area["fill"] == MAP_GREY for code, area in drawn.items()
               if not area["classes"]), "the rest is grey"
    legend = page.locator("#map-legend li").all_inner_texts()
    assert len(legend) == 3
    assert legend[0].startswith("a local number")
    screenshot(page, "coverage-map")

    page.click("#map-modes a:has-text('By health')")
    page.wait_for_url("**/admin/coverage?by=health")
    by_health = map_areas(page)
    for code in ("312", "201"):  # a burned number rested of two: a tie goes to the worse
        assert "1 resting" in by_health[code]["title"], by_health[code]
        assert "h-resting" in by_health[code]["classes"], by_health[code]
        assert by_health[code]["fill"] == "rgb(185, 28, 28)", code
    for code in own - {"312", "201"}:
        assert "h-" in by_health[code]["classes"], by_health[code]
        assert by_health[code]["fill"] != MAP_GREY, code
    assert all(by_health[code]["fill"] == MAP_GREY for code in wanted)
    assert len(page.locator("#map-legend li").all_inner_texts()) == 5
    screenshot(page, "coverage-map-health")
