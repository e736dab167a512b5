"""Take the README screenshot: log in as a supervisor on a running kefu and capture the home page.

.venv/bin/python scripts/screenshot.py http://127.0.0.1:8000 docs/screenshot-home.png
"""

from __future__ import annotations

import sys

from playwright.sync_api import sync_playwright

from kefu.demo import DEMO_PASSWORD


def main(base: str, out: str, username: str = "supervisor", path: str = "/") -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 640}, locale="zh-CN")
        page.goto(base + "/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/")
        if path != "/":
            page.goto(base + path)
            page.wait_for_timeout(1000)
        page.screenshot(path=out)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
