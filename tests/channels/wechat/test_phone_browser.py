"""A real browser (Debian's Chromium through Playwright) uses the demo's WeChat phone: taps a
menu item, types "我要查3月的账单" and sees the bill, all through the real callback."""

# ruff: noqa: F811 - fixtures imported from test_h5 are parameters here

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.channels.wechat.test_phone import Demo, demo  # noqa: F401 - a fixture

CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.db,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)",
    ),
]


def test_menu_click_and_bill_question_in_the_wechat_phone(demo: Demo, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from kefu.demo import DEMO_PASSWORD

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            page = browser.new_page(locale="zh-CN", viewport={"width": 900, "height": 1000})
            page.goto(demo.base + "/login")
            page.fill("input[name=username]", "agent2")
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(demo.base + "/")
            page.goto(demo.base + "/demo/wechat?openid=demo-openid-1")
            phone = page.get_by_test_id("wechat-phone")
            replies = page.locator('[data-kind="reply"], [data-kind="news"]')
            before = replies.count()
            # The menu: open "查询", tap "余额查询" (a CLICK event through the callback).
            phone.locator("summary", has_text="查询").click()
            phone.get_by_role("button", name="余额查询").click()
            page.wait_for_url(re.compile(r"/demo/wechat\?openid=demo-openid-1$"))
            expect(page.locator('[data-kind="click"]', has_text="余额查询").last).to_be_visible()
            expect(replies).to_have_count(before + 1, timeout=15_000)
            expect(replies.last).to_contain_text("余额")
            # Free text: the bill of March.
            page.fill("input[name=text]", "我要查3月的账单")
            page.click(".wx-input button[type=submit]")
            page.wait_for_url(re.compile(r"/demo/wechat\?openid=demo-openid-1$"))
            expect(page.locator('[data-kind="mine"]', has_text="我要查3月的账单")).to_be_visible()
            bill = page.locator('[data-kind="reply"], [data-kind="news"]').filter(
                has_text=re.compile(r"3月.*¥|¥.*3月", re.S)
            )
            expect(bill.last).to_be_visible(timeout=15_000)
            page.screenshot(path=str(tmp_path / "wechat-phone.png"))
        finally:
            browser.close()
