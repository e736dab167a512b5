"""The routing workflow as a picture, in a real browser at 1366×768: the diagram fits the
screen at a readable size, a rule opens its form from the picture, a bad edit is explained
next to its field and kept, a good one is saved, and the dry run marks its path.

With KEFU_SCREENSHOTS set, the page after the dry run is kept
(docs/screenshots/supervisor-routing-workflow-1366x768.png)."""

from __future__ import annotations

import os

from tests.browser.test_login_browser import CHROMIUM, server  # noqa: F401 - fixture
from tests.browser.test_workspace_browser import ARGS, log_in

OVERFLOWING_TEXT = """() => [...document.querySelectorAll('[data-testid=diagram] g.wf-node')]
  .flatMap(g => {
    const box = g.querySelector('rect').getBBox();
    return [...g.querySelectorAll('text')]
      .filter(t => { const b = t.getBBox(); return b.x + b.width > box.x + box.width - 2; })
      .map(t => t.textContent);
  })"""


def test_supervisor_edits_a_rule_on_the_diagram_and_tries_a_sample(server: str) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(
                locale="zh-CN", viewport={"width": 1366, "height": 768}
            ).new_page()
            log_in(page, server, "supervisor")
            page.goto(server + "/routing/workflow")
            diagram = page.get_by_test_id("diagram")
            expect(diagram).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 1366
            # Drawn at ≥ 90 % of its natural size (12 px text stays ≥ 11 px) and whole rules
            # column within the first screen and a half.
            box = diagram.bounding_box()
            view_box = page.evaluate(
                "document.querySelector('[data-testid=diagram]').viewBox.baseVal.width"
            )
            assert box is not None and box["width"] / view_box >= 0.9
            # No text runs out of its box (the layout estimates text widths; this measures).
            overflowing = page.evaluate(OVERFLOWING_TEXT)
            assert overflowing == [], overflowing
            sizes = page.evaluate(
                "[...document.querySelectorAll('[data-testid=diagram] g text')]"
                ".map(t => getComputedStyle(t).fontSize)"
            )
            assert set(sizes) == {"12px"}
            default_rule = page.locator('[data-node="rule-default"]').bounding_box()
            assert (
                default_rule is not None and default_rule["y"] + default_rule["height"] < 768 * 1.5
            )

            # The second rule, from the picture.
            page.locator('[data-node="rule-1"] a').click()
            form = page.get_by_test_id("rule-form")
            expect(form.locator("input[name=name]")).to_have_value("negative_social")
            form.locator("input[name=priority]").fill("高")
            form.get_by_test_id("rule-save").click()
            expect(page.locator('[data-error="priority"]')).to_have_text("请填写整数。")
            expect(page.get_by_test_id("rule-form").locator("input[name=priority]")).to_have_value(
                "高"
            )
            page.get_by_test_id("rule-form").locator("input[name=priority]").fill("6")
            page.get_by_test_id("rule-form").get_by_test_id("rule-save").click()
            expect(page.get_by_test_id("saved")).to_contain_text("2")
            expect(page.locator('[data-node="rule-1"]')).to_contain_text("优先级 6")

            # The dry run on the same page.
            trial = page.get_by_test_id("try-form")
            trial.locator("select[name=channel]").select_option("wechat")
            trial.locator("input[name=text]").fill("等了半天没人理")
            trial.locator("input[name=keywords]").fill("")
            trial.locator("input[name=sentiment]").fill("-0.7")
            trial.get_by_test_id("try-run").click()
            expect(page.locator('[data-node="rule-1"]')).to_have_attribute("data-state", "matched")
            expect(page.locator('[data-node="rule-0"]')).to_have_attribute("data-state", "missed")
            expect(page.locator('[data-node="queue-complaint"]')).to_have_attribute(
                "data-state", "current"
            )
            expect(page.get_by_test_id("dry-run-priority")).to_have_text("9")  # 6 + 2 + 1 (gold)
            # The rule's form stays open beside the result.
            expect(page.get_by_test_id("rule-form").locator("input[name=name]")).to_have_value(
                "negative_social"
            )
            shots = os.environ.get("KEFU_SCREENSHOTS")
            if shots:
                page.get_by_test_id("diagram").scroll_into_view_if_needed()
                page.screenshot(path=f"{shots}/supervisor-routing-workflow-1366x768.png")
                page.screenshot(
                    path=f"{shots}/supervisor-routing-workflow-full.png", full_page=True
                )
        finally:
            browser.close()
