"""A real browser: an admin writes an SMS template, a supervisor approves it, the admin adds a
partner and sees its usage chart drawn by ECharts."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.demo import DEMO_PASSWORD
from tests.browser.test_login_browser import CHROMIUM, server  # noqa: F401 - a fixture
from tests.conftest import REPO_ROOT

BUNDLE = REPO_ROOT / "src" / "kefu" / "web" / "static" / "dist" / "app.js"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]


def _login(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_maker_checker_and_the_partner_chart_in_a_browser(server: str, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        try:
            admin = browser.new_page(locale="zh-CN")
            _login(admin, server, "admin")
            admin.click("nav >> text=短信模板")
            admin.fill("input[name=name]", "card-offer")
            admin.select_option("select[name=kind]", "marketing")
            admin.fill("textarea[name=body]", "{name}您好，分期手续费八折")
            admin.click("form.card button[type=submit]")
            admin.get_by_test_id("submit-template").click()
            assert admin.get_by_test_id("template-status").inner_text() == "待审批"
            template_url = admin.url
            assert admin.get_by_test_id("approve-template").count() == 0  # not for its author

            supervisor = browser.new_context(locale="zh-CN").new_page()
            _login(supervisor, server, "supervisor")
            supervisor.goto(template_url)
            supervisor.fill("input[name=note]", "合规")
            supervisor.get_by_test_id("approve-template").click()
            assert supervisor.get_by_test_id("template-status").inner_text() == "已批准"

            admin.hover("[data-testid=navgroup-settings]")  # the 设置 menu opens on hover
            admin.click("nav >> text=合作方")
            admin.fill("input[name=name]", "insurer")
            admin.fill("input[name=display_name]", "某某保险")
            admin.fill("input[name=sub_code]", "5566")
            admin.fill("input[name=ip_allow]", "203.0.113.0/24")
            admin.click("form.card button[type=submit]")
            admin.wait_for_url(server + "/partners/insurer")
            admin.get_by_test_id("new-key").click()
            assert admin.get_by_test_id("created-key").inner_text().count("kefu_") == 1
            admin.goto(server + "/partners")
            if BUNDLE.exists():
                admin.wait_for_selector("[data-testid=chart-partners] canvas", timeout=10_000)
            assert "某某保险" in admin.get_by_test_id("partners").inner_text()
            admin.screenshot(path=str(tmp_path / "partners.png"))
        finally:
            browser.close()
