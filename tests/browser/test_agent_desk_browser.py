"""The agent desk in a real browser (issue 23): an offer times out, the agent opens the waiting
conversation, types a reply, is told to claim it, claims — and the reply is sent, not lost."""

from __future__ import annotations

import os
import re
import time

import httpx
import pytest

from tests.browser.test_login_browser import CHROMIUM, server  # noqa: F401 - fixture
from tests.browser.test_workspace_browser import ARGS, log_in, staff_client

pytestmark = pytest.mark.browser


def short_offers(client: httpx.Client) -> None:
    """The current workflow with 5-second offers (the shortest allowed), so one lapses soon."""
    current = client.get("/api/v1/routing/workflow").json()
    document = {**current["document"], "offer_timeout": 5}
    saved = client.put(
        "/api/v1/routing/workflow", json={"document": document, "comment": "test: short offers"}
    )
    assert saved.status_code == 200, saved.text


@pytest.fixture
def ticker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's routing ticker on (tests/workspace turns it off for in-process tests and
    the server inherits the environment): offers must lapse by themselves here."""
    monkeypatch.setenv("KEFU_ROUTING_TICK", "1")


def test_offer_lapses_agent_claims_and_the_typed_reply_is_sent(ticker: None, server: str) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    supervisor = staff_client(server, "supervisor")
    short_offers(supervisor)
    supervisor.put("/api/v1/me/presence", json={"presence": "away"})  # nobody else takes it
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            agent = browser.new_context(
                locale="zh-CN", viewport={"width": 1366, "height": 768}
            ).new_page()
            log_in(agent, server, "agent1")  # online: the ticker offers them the next conversation
            routed = supervisor.post("/api/v1/conversations", json={
                "channel": "wechat", "contact": "13800138000", "text": "信用卡账单金额不对", "customer_no": "C0000000001",
            }).json()  # fmt: skip
            cid = routed["conversation_id"]
            agent.goto(server + "/workspace/inbox")
            # The offer arrives, is not accepted, lapses: the conversation waits in the queue,
            # where agent1 (skipped by routing after a lapsed offer) can still claim it.
            expect(agent.get_by_test_id(f"accept-{cid}")).to_be_visible(timeout=15_000)
            deadline = time.monotonic() + 60
            while (
                supervisor.get(f"/api/v1/conversations/{cid}").json()["routing"]["state"]
                != "waiting"
            ):
                assert time.monotonic() < deadline, "the offer never lapsed"
                time.sleep(0.5)
            agent.goto(server + "/workspace/inbox")
            queue = agent.get_by_test_id("inbox-queue")
            expect(queue.locator(f'[data-conversation="{cid}"]')).to_be_visible()
            expect(agent.get_by_test_id(f"claim-{cid}")).to_be_visible()

            queue.locator(f'[data-conversation="{cid}"] a').first.click()
            agent.wait_for_url(f"{server}/workspace/conversations/{cid}")
            reply = "您好，我是信用卡客服李晓雨，正在为您核对本期账单。"
            agent.get_by_test_id("reply-text").fill(reply)
            agent.get_by_test_id("reply-send").click()

            problem = agent.get_by_test_id("reply-problem")
            expect(problem).to_contain_text("此会话尚未分配给您")
            expect(problem).to_contain_text("草稿")
            expect(agent.get_by_test_id("reply-text")).to_have_value(reply)  # not lost
            agent.get_by_test_id("claim").click()

            expect(agent.get_by_test_id("notice")).to_contain_text("您的回复已发送")
            expect(agent.get_by_test_id("assigned-agent")).to_have_text("李晓雨")
            expect(agent.get_by_test_id("messages")).to_contain_text(reply)
            detail = agent.request.get(f"{server}/api/v1/conversations/{cid}").json()
            assert [m["body"] for m in detail["messages"] if m["direction"] == "out"] == [reply]
            kinds = [e["kind"] for e in detail["events"]]
            assert "offer_expired" in kinds and "claimed" in kinds

            # Finding 2 in the page: the /fraud script previews with the credit card named (the
            # customer wrote about 信用卡; they also hold debit card 6488).
            agent.get_by_test_id("script-search").fill("fraud")
            agent.get_by_test_id("script-fraud").click()
            expect(agent.get_by_test_id("preview-card")).to_contain_text("信用卡")
            expect(agent.get_by_test_id("preview-text")).not_to_contain_text("6488")
            expect(agent.get_by_test_id("preview-text")).to_contain_text("尾号")
        finally:
            browser.close()
            supervisor.close()


def test_conversation_page_is_three_panes_at_1366x768(server: str) -> None:  # noqa: F811
    """Finding 8: list | transcript | customer context side by side on a 1366×768 screen, each
    scrolling on its own, the customer panel visible without scrolling the page."""
    from playwright.sync_api import expect, sync_playwright

    supervisor = staff_client(server, "supervisor")
    routed = supervisor.post("/api/v1/conversations", json={
        "channel": "wechat", "contact": "13800138000", "text": "信用卡账单金额不对", "customer_no": "C0000000001",
    }).json()  # fmt: skip
    cid = routed["conversation_id"]
    supervisor.close()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            agent = browser.new_context(
                locale="zh-CN", viewport={"width": 1366, "height": 768}
            ).new_page()
            log_in(agent, server, "agent1")
            agent.goto(f"{server}/workspace/conversations/{cid}")
            panes = [
                agent.get_by_test_id(t) for t in ("desk-list", "desk-transcript", "customer-panel")
            ]
            for pane in panes:
                expect(pane).to_be_visible()
            boxes = [pane.bounding_box() for pane in panes]
            assert all(b is not None for b in boxes)
            left, middle, right = boxes  # type: ignore[misc]
            assert (
                left["x"] + left["width"] <= middle["x"]
                and middle["x"] + middle["width"] <= right["x"]
            )
            assert middle["width"] >= 500  # the transcript has room to read
            assert right["x"] + right["width"] <= 1366 and right["y"] < 768  # context on screen
            assert (
                agent.evaluate("document.documentElement.scrollWidth") <= 1366
            )  # no sideways scroll
            expect(agent.get_by_test_id("reply-text")).to_be_visible()
            # Knowledge suggestions load into the context pane (htmx) for the customer's message.
            expect(agent.get_by_test_id("kb-suggestions")).to_be_visible()
            shots = os.environ.get("KEFU_SCREENSHOTS")  # a folder: keep a picture for the docs
            if shots:
                agent.screenshot(path=f"{shots}/agent-conversation-1366x768.png")

            # And on a 1920×1080 screen the transcript takes the extra room.
            agent.set_viewport_size({"width": 1920, "height": 1080})
            wide = [pane.bounding_box() for pane in panes]
            assert wide[1]["width"] > middle["width"] + 300  # type: ignore[index]
            assert wide[2]["x"] + wide[2]["width"] <= 1920  # type: ignore[index]
            agent.set_viewport_size({"width": 1366, "height": 768})

            # Keyboard: Alt+C claims (or accepts the offer), Ctrl+Enter sends, Alt+↓ opens the next
            # conversation in the list.
            agent.keyboard.press("Alt+c")
            expect(agent.get_by_test_id("assigned-agent")).to_have_text("李晓雨")
            agent.get_by_test_id("reply-text").fill("您好，马上为您查看账单")
            agent.get_by_test_id("reply-text").press("Control+Enter")
            expect(agent.get_by_test_id("messages")).to_contain_text("马上为您查看账单")
            agent.keyboard.press("Alt+ArrowDown")
            agent.wait_for_url(re.compile(rf".*/workspace/conversations/(?!{cid}$)\d+$"))
        finally:
            browser.close()


ROLE_PAGES = {
    "agent1": ["/", "/workspace/inbox"],
    "supervisor": ["/", "/supervisor/queues"],
    "admin": ["/"],
    "analyst": ["/"],
    "teller": ["/"],
}


def test_every_role_page_fits_1366x768(server: str) -> None:  # noqa: F811
    """Each role's pages at 1366×768 without sideways scrolling; with KEFU_SCREENSHOTS set, a
    picture of each is kept (docs/screenshots)."""
    from playwright.sync_api import sync_playwright

    shots = os.environ.get("KEFU_SCREENSHOTS")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            for username, paths in ROLE_PAGES.items():
                page = browser.new_context(
                    locale="zh-CN", viewport={"width": 1366, "height": 768}
                ).new_page()
                log_in(page, server, username)
                for path in paths:
                    page.goto(server + path)
                    page.wait_for_load_state("networkidle")
                    assert page.evaluate("document.documentElement.scrollWidth") <= 1366, (
                        username,
                        path,
                    )
                    if shots:
                        name = path.strip("/").replace("/", "-") or "home"
                        page.screenshot(path=f"{shots}/{username}-{name}-1366x768.png")
                page.context.close()
        finally:
            browser.close()
