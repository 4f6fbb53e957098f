"""What the admin's health charts cost a browser: page weight and chart draw time.

Loads the number page and the dashboard of a running server in Debian's Chromium
(Playwright, never its own browser download), signed in with an organization's key,
and prints per page: the bytes it loaded (document, scripts, styles), the time
static/charts.js took to draw every chart (``body.dataset.chartsMs``) and the time to the
load event. Figures only: nothing here passes or fails on speed.

    python -m bench.admin_charts --url http://127.0.0.1:8080 --key cs_... \\
        --number +13125550102 --runs 5
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any
from urllib.parse import quote

CHROMIUM = "/usr/bin/chromium"


def measure(page: Any, path: str) -> dict[str, float]:
    sizes: dict[str, int] = {}

    def count(response: Any) -> None:
        body = response.body() if response.ok else b""
        sizes[response.url] = len(body)

    page.on("response", count)
    page.goto(path)
    page.wait_for_function("document.body.dataset.chartsMs !== undefined")
    page.remove_listener("response", count)
    timing = page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        return {charts: Number(document.body.dataset.chartsMs), load: nav.loadEventEnd};
    }""")
    document = sum(size for url, size in sizes.items() if "/admin/static/" not in url)
    return {"document": float(document), "assets": float(sum(sizes.values()) - document),
            "charts_ms": timing["charts"], "load_ms": timing["load"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--number", required=True, help="a number of the organization")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(base_url=args.url, viewport={"width": 1280,
                                                                   "height": 900})
        page = context.new_page()
        page.goto("/admin/login")
        page.fill("#key", args.key)
        with page.expect_navigation():
            page.click("form[action='/admin/login'] button[type=submit]")
        for path in (f"/admin/numbers/{quote(args.number)}/health", "/admin/health"):
            runs = [measure(page, path) for _ in range(args.runs)]
            print(f"{path}: the page {runs[0]['document'] / 1024:.0f} KiB, its scripts and "
                  f"styles {runs[0]['assets'] / 1024:.0f} KiB (uncompressed); "
                  f"charts drawn in {statistics.median(r['charts_ms'] for r in runs):.1f} ms "
                  f"(median of {args.runs}); load event at "
                  f"{statistics.median(r['load_ms'] for r in runs):.0f} ms")
        browser.close()


if __name__ == "__main__":
    main()
