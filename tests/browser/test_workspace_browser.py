"""The workspace in a real browser: an agent receives a routed conversation live (SSE, no
reload), replies with a script, batch-replies to three, transfers one; a supervisor watching
the queue view sees it move."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser.test_login_browser import CHROMIUM, server  # noqa: F401 - fixture
from tests.conftest import CSRF, REPO_ROOT

pytestmark = pytest.mark.browser
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def staff_client(base: str, username: str) -> httpx.Client:
    from kefu.demo import DEMO_PASSWORD

    client = httpx.Client(base_url=base, timeout=10)
    token = CSRF.search(client.get("/login").text).group(1)
    client.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf": token, "next": "/"}
    )
    return client


def log_in(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    from kefu.demo import DEMO_PASSWORD

    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_agent_routes_replies_batches_transfers(server: str) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    if not (REPO_ROOT / "src" / "kefu" / "web" / "static" / "dist" / "app.js").exists():
        pytest.skip("the htmx bundle is not built (make assets); live updates need it")

    intake = staff_client(server, "admin")  # a channel integration would hold an API key
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            agent = browser.new_context(locale="zh-CN").new_page()
            log_in(agent, server, "agent1")
            agent.goto(server + "/workspace/inbox")
            agent.evaluate("window.__noReload = true")  # gone if the page reloads
            routed = intake.post("/api/v1/conversations", json={
                "channel": "wechat", "contact": "13800138000", "text": "信用卡账单金额不对", "customer_no": "C0000000001",
            }).json()  # fmt: skip
            cid = routed["conversation_id"]
            # Arrives live: the SSE event makes htmx refresh the inbox fragment, no reload.
            accept = agent.get_by_test_id(f"accept-{cid}")
            expect(accept).to_be_visible(timeout=10_000)
            assert agent.evaluate("window.__noReload") is True
            accept.click()
            agent.goto(f"{server}/workspace/conversations/{cid}")
            agent.get_by_test_id("script-search").fill("bill")
            agent.get_by_test_id("script-bill").click()
            assert "{card_tail}" in agent.get_by_test_id("reply-text").input_value()
            agent.get_by_test_id("reply-send").click()
            expect(agent.get_by_test_id("messages")).to_contain_text("您好，您尾号")
            last = agent.request.get(f"{server}/api/v1/conversations/{cid}").json()["messages"][-1]
            assert re.fullmatch(
                r".(先生|女士)您好，您尾号\d{4}的信用卡本期账单已发送.*", last["body"]
            )
            assert last["delivery_state"] == "accepted"

            # Three similar Weibo complaints: accept all, answer them with one script.
            ids = [intake.post("/api/v1/conversations", json={
                "channel": "weibo", "contact": f"weibo_user_{i}", "text": "网点排队两个小时，太差了",
                "customer_no": f"C000000000{i + 2}", "sentiment": -0.8}).json()["conversation_id"]
                for i in range(3)]  # fmt: skip
            agent.goto(server + "/workspace/inbox")
            for i in ids:
                agent.get_by_test_id(f"accept-{i}").click()
                expect(agent.get_by_test_id(f"select-{i}")).to_be_enabled()  # moved to "mine"
            for i in ids:
                agent.get_by_test_id(f"select-{i}").check()
            agent.get_by_test_id("batch-script").select_option("queue")
            agent.get_by_test_id("batch-send").click()
            agent.wait_for_url(re.compile(r".*/workspace/inbox\?sent=3&skipped=0$"))
            for i in ids:
                body = agent.request.get(f"{server}/api/v1/conversations/{i}").json()["messages"][
                    -1
                ]["body"]
                assert body.endswith("感谢您的监督。") and "{title}" not in body

            # The supervisor watches the queue view while agent1 transfers one of them.
            supervisor = browser.new_context(locale="zh-CN").new_page()
            log_in(supervisor, server, "supervisor")
            supervisor.goto(server + "/supervisor/queues")
            supervisor.evaluate("window.__noReload = true")
            expect(supervisor.get_by_test_id("agent-load")).to_contain_text("李晓雨")
            agent.goto(f"{server}/workspace/conversations/{ids[0]}")
            option = agent.locator("[data-testid=transfer-agent] option", has_text="张建华")
            agent.get_by_test_id("transfer-agent").select_option(option.get_attribute("value"))
            agent.get_by_test_id("transfer").click()
            expect(agent.get_by_test_id("assigned-agent")).to_have_text("张建华")
            move = supervisor.locator(f'[data-move="{ids[0]}-transferred"]')
            expect(move).to_contain_text("李晓雨", timeout=10_000)
            expect(move).to_contain_text("张建华")
            assert supervisor.evaluate("window.__noReload") is True
        finally:
            browser.close()
            intake.close()
