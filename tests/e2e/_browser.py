"""A real browser for the web admin: Debian's Chromium driven by Playwright (sync API).

Only the Playwright package for Python is used, never its browser download:
scripts/install-browser installs /usr/bin/chromium (apt) and the package (pip). Without
them the admin tests skip, except on CI (CI=true), where they fail.

Every page may reach 127.0.0.1 only; any other request is aborted and fails the test, and
so does a page that breaks its content security policy.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync",
]
LOOPBACK = "127.0.0.1"
TIMEOUT_MS = 600_000  # a hang guard: a busy host renders late, not never
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def require_browser() -> None:
    """Chromium and Playwright are here; else fail on CI, skip locally."""
    problems = []
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"{CHROMIUM} is missing")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is not installed")
    if problems:
        reason = f"{' and '.join(problems)} (run scripts/install-browser)"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """One headless Chromium (a fresh, temporary profile), closed at exit."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """A fresh browser context on the server, with its one page.

    Uncaught JavaScript errors and requests that leave loopback are collected and fail
    the test when the context closes.
    """

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.context: BrowserContext = browser.new_context(
            base_url=base_url, viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.problems: list[str] = []
        self.context.route("**/*", self._loopback_only)
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.problems.append(f"JavaScript error: {exc}"))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        """A page that breaks its own content security policy is a bug, too."""
        if message.type == "error" and "Content Security Policy" in message.text:
            self.problems.append(f"CSP violation on {self.page.url}: {message.text}")

    def _loopback_only(self, route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host == LOOPBACK:
            route.continue_()
        else:
            self.problems.append(f"request left loopback: {route.request.url}")
            route.abort()

    def close(self) -> None:
        self.context.close()
        assert not self.problems, self.problems


# -- reading pages -----------------------------------------------------------------------

def toast(page: Page, kind: str) -> str:
    """The text of the one toast of ``kind`` (success or warning) the page shows."""
    found = page.locator(f".toast.{kind}")
    assert found.count() == 1, f"expected one {kind} toast on {page.url}, " \
                               f"found {found.all_inner_texts()}"
    return found.inner_text().strip()


def no_toast(page: Page, kind: str) -> None:
    assert page.locator(f".toast.{kind}").count() == 0, \
        page.locator(f".toast.{kind}").all_inner_texts()


def field_error(scope: Page | Locator, field: str) -> str:
    """The error shown for ``field`` inside ``scope`` (a form), which must show exactly one."""
    found = scope.locator(f'p.error[data-field="{field}"]')
    assert found.count() == 1, f"expected one error for {field!r}"
    text = found.inner_text().strip()
    assert text, f"the error for {field!r} is empty"
    return text


def errors_shown(page: Page) -> dict[str, str]:
    """Every field error on the page, by field."""
    return {str(item.get_attribute("data-field")): item.inner_text().strip()
            for item in page.locator("p.error").all()}


def trace_of(scope: Locator) -> list[dict[str, Any]]:
    """The trace list (``ol.trace``) inside ``scope``, one dict per step, in order."""
    items: list[dict[str, Any]] = scope.locator("ol.trace > li").evaluate_all("""
        items => items.map(li => ({
            result: li.querySelector('.result').textContent.trim(),
            step: li.querySelector('code').textContent.trim(),
            number: li.querySelector('strong') ? li.querySelector('strong').textContent.trim()
                                               : null,
            cls: li.className,
            detail: li.textContent.slice(li.textContent.indexOf('—') + 1),
        }))""")
    for item in items:
        assert item.pop("cls") == item["result"], item
        item["detail"] = squash(item["detail"])
    return items


def squash(text: str) -> str:
    """Whitespace collapsed, as the browser shows it."""
    return re.sub(r"\s+", " ", text).strip()


def screenshot(page: Page, name: str) -> None:
    """The whole page as docs/screenshots/NAME.png (overwritten)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    assert size is not None
    # As tall as the page, so a modal dialog's backdrop covers all of it.
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    try:
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
    finally:
        page.set_viewport_size(size)
