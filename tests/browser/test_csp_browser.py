"""Issue 21, finding 12: Chromium reports no Content-Security-Policy violation on kefu's pages
(login, home, inbox, supervisor view, reports with ECharts) while the policy forbids inline
script that kefu did not write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kefu.config import load_settings
from kefu.demo import DEMO_PASSWORD
from tests.security.live import LiveServer

CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.db,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]
RECORD = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sample);
});
"""


def test_no_csp_violation_on_the_staff_pages(seeded_url: str) -> None:
    from playwright.sync_api import sync_playwright

    settings = load_settings(database_url=seeded_url, secret_key="csp-test")
    with LiveServer(settings) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        try:
            page = browser.new_page(locale="zh-CN")
            page.add_init_script(RECORD)
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            seen: dict[str, list[str]] = {}

            def visit(path: str) -> None:
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                seen[path] = page.evaluate("window.__csp")

            visit("/login")
            page.fill("input[name=username]", "supervisor")
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            page.wait_for_load_state("networkidle")
            seen["/"] = page.evaluate("window.__csp")
            # The scripts ran under the policy: htmx on every page, ECharts where charts are.
            assert page.evaluate("window.htmx !== undefined")
            for path in ("/workspace/inbox", "/supervisor/queues", "/reports"):
                visit(path)
            assert page.evaluate("window.echarts !== undefined")
            # The policy is on: a script injected into the page is refused and reported.
            page.evaluate(
                "() => { const s = document.createElement('script');"
                " s.textContent = 'window.__pwned = 1'; document.body.appendChild(s); }"
            )
            page.wait_for_timeout(200)
            assert page.evaluate("window.__pwned") is None
            blocked = page.evaluate("window.__csp")
        finally:
            browser.close()
    assert {path: found for path, found in seen.items() if found} == {}, console
    assert blocked, "the injected script should have been reported"
