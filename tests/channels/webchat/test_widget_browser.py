"""The web chat widget (channels/webchat/assets/widget.ts): its bundle size, and the widget in a
real browser (Debian's Chromium through Playwright) on the demo bank page of a real kefu
(`kefu serve` on a loopback port with a seeded SQLite database and the demo web chat site)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CSRF, REPO_ROOT, seed_sync
from tests.ports import free_port

WEBCHAT = REPO_ROOT / "src" / "kefu" / "channels" / "webchat"
BUNDLE = WEBCHAT / "static" / "dist" / "widget.js"
CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
needs_bundle = pytest.mark.skipif(
    not BUNDLE.exists(), reason="the widget is not built (npm run build / make assets)"
)


def in_browser(test):  # type: ignore[no-untyped-def]
    """Marks a test that drives Chromium against a real kefu."""
    for mark in (
        pytest.mark.browser,
        pytest.mark.db,
        needs_bundle,
        pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
    ):
        test = mark(test)
    return test


BILL = "我要查3月的账单"
# How long to wait for what kefu does in the background: answers, agents' replies (relayed by
# the sweep, every 5 s), state changes made by staff (they reach an open stream at its next
# ping, at most 15 s later). A ceiling, not a timing assertion.
WAIT = 30_000
HOSTILE = "<img src=x onerror=alert(1)>"


@needs_bundle
def test_bundle_is_small_and_self_contained() -> None:
    code = BUNDLE.read_bytes()
    size = len(gzip.compress(code, compresslevel=9))
    assert size < 30 * 1024, f"widget.js is {size} bytes gzipped"
    text = code.decode()
    # One request: no CDN, no second script or stylesheet fetched at run time (the only absolute
    # URL is the SVG namespace of the launcher's icon).
    assert set(re.findall(r"https?://[^\s\"'`]+", text)) <= {"http://www.w3.org/2000/svg"}
    assert "import(" not in text
    # Text from the server never goes through an HTML parser.
    assert "innerHTML" not in text and "insertAdjacentHTML" not in text


STORE_CHECK = """
import assert from "node:assert/strict";
import { Store, safeUrl } from "STORE";
const m = (seq, direction, text) => ({ seq, direction, sender: direction === "in" ? "customer" : "bot",
  text, card: null, quick_replies: [], created_at: "" });
const order = (s) => s.items.map((i) => [i.seq, i.text]);
let s = new Store();                      // the echo comes before the 202
s.addPending("a", "hi");
assert.equal(s.receive(m(1, "in", "hi")), false);
s.confirm("a", 1);
assert.deepEqual(order(s), [[1, "hi"]]);
s = new Store();                          // the 202 before the echo; replays and disorder
s.addPending("a", "x"); s.confirm("a", 3);
assert.equal(s.receive(m(3, "in", "x")), false);
s.receive(m(5, "out", "r")); s.receive(m(4, "out", "q")); s.receive(m(5, "out", "r"));
assert.deepEqual(order(s), [[3, "x"], [4, "q"], [5, "r"]]); assert.equal(s.lastSeq, 5);
s = new Store();                          // one text sent twice, stored in the other order
s.addPending("A", "hi"); s.addPending("B", "hi");
s.receive(m(5, "in", "hi")); s.receive(m(6, "in", "hi"));
s.confirm("A", 6); s.confirm("B", 5);
assert.deepEqual(s.items.map((i) => [i.clientId, i.seq]), [["B", 5], ["A", 6]]);
s = new Store();                          // an echo the server reworded: folded by the 202
s.addPending("A", "one "); s.receive(m(9, "in", "one")); s.confirm("A", 9);
assert.deepEqual(order(s), [[9, "one "]]);
s = new Store();                          // pending last; read marks; notes keep their place
s.receive(m(1, "out", "hello")); s.addNote("note"); s.addPending("P", "p");
s.receive(m(3, "out", "later")); s.confirm("P", 2); s.setState({ read_upto: 2 });
assert.deepEqual(s.items.map((i) => i.text), ["hello", "note", "p", "later"]);
assert.ok(s.isRead(s.items[2])); assert.ok(!s.awaitingReply());
assert.equal(safeUrl("javascript:alert(1)", "http://k/"), null);
assert.equal(safeUrl("data:text/html,x", "http://k/"), null);
assert.equal(safeUrl("/bill/3", "http://k.example/"), "http://k.example/bill/3");
assert.equal(safeUrl("https://b.example/x", "http://k/"), "https://b.example/x");
console.log("store ok");
"""


def test_the_store_merges_messages_once_in_seq_order(tmp_path: Path) -> None:
    """The widget's pure logic (assets/widget/store.ts) under node: pending messages, echoes
    and 202s in any order, replays, card URLs."""
    esbuild = REPO_ROOT / "node_modules" / ".bin" / "esbuild"
    node = shutil.which("node")
    if not esbuild.exists() or node is None:
        pytest.skip("node and esbuild are needed (npm ci)")
    store = WEBCHAT / "assets" / "widget" / "store.ts"
    check = tmp_path / "check.ts"
    check.write_text(STORE_CHECK.replace("STORE", store.as_posix()))
    bundle = tmp_path / "check.js"
    built = subprocess.run([str(esbuild), str(check), "--bundle", "--platform=node",
                            f"--outfile={bundle}", "--log-level=warning"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert built.returncode == 0, built.stderr
    ran = subprocess.run([node, str(bundle)], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and ran.stdout.strip() == "store ok", ran.stderr + ran.stdout


# ---- a real kefu ----


class KefuDemo:
    """`kefu demo` (its web chat site ``demo`` and the bank's page /demo/webchat, signed in as
    a bound demo customer) on loopback ports over a small seeded bank; stoppable and started
    again on the same ports and database (a restart the widget must ride out)."""

    def __init__(self, tmp: Path) -> None:
        from kefu.db.migrate import upgrade
        from kefu.demo import ensure_demo_data

        self.tmp = tmp
        url = f"sqlite:///{tmp / 'kefu.db'}"
        upgrade(url)
        seed_sync(url, 50)  # seeded: `kefu demo` does not seed again
        asyncio.run(ensure_demo_data(url))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        flags = ["--smpp-port", "--smpp-control-port", "--cmpp-port", "--cmpp-control-port",
                 "--wechat-port", "--weibo-port"]  # fmt: skip
        ports = [str(p) for flag in flags for p in (flag, free_port())]
        self.wechat_port = int(ports[ports.index("--wechat-port") + 1])  # its simulator
        self.command = [sys.executable, "-m", "kefu.cli", "demo", "--port", str(self.port), *ports]
        # A second site for the bank's own pages on another origin (another loopback port).
        self.ebank_port = free_port()
        ebank = {"name": "ebank", "origins": [f"http://127.0.0.1:{self.ebank_port}"]}
        self.env = {**os.environ, "KEFU_DATABASE_URL": url, "KEFU_SECRET_KEY": "browser-test",
                    "KEFU_WEBCHAT_SITES": json.dumps([ebank])}  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.tmp / "kefu.log"
        with log.open("ab") as out:  # a file, not a pipe: a full pipe would stall kefu
            self.process = subprocess.Popen(
                self.command, cwd=self.tmp, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.time() + 180  # a ceiling: start-up takes over a minute at load 20+
        while True:
            try:
                if httpx.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.time() > deadline or self.process.poll() is not None:
                self.stop()
                pytest.fail(f"kefu demo did not become ready:\n{log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@pytest.fixture(scope="module")
def kefu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KefuDemo]:
    """One kefu for the module: each test has its own browser context, so its own
    sessionStorage and web chat session."""
    pytest.importorskip("kefu.channels.webchat.demo", reason="the web chat server is not in yet")
    demo = KefuDemo(tmp_path_factory.mktemp("webchat"))
    demo.start()
    yield demo
    demo.stop()


@pytest.fixture
def server(kefu: KefuDemo) -> str:
    return kefu.base


@pytest.fixture(scope="module")
def chromium() -> Iterator:  # type: ignore[type-arg]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(chromium):  # type: ignore[no-untyped-def]
    context = chromium.new_context(locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # kefu's Content-Security-Policy (script-src without 'unsafe-inline') refuses nothing.
    page.on(
        "console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None
    )
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}") or dialog.dismiss())
    yield page
    context.close()
    assert errors == [], errors


def widget(page):  # type: ignore[no-untyped-def]
    """Locators inside the widget (Playwright's test-id locators pierce its open shadow root)."""
    return lambda test_id: page.get_by_test_id(f"kefu-wc-{test_id}")


def send(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("kefu-wc-input").fill(text)
    page.get_by_test_id("kefu-wc-input").press("Enter")


def own(page, text: str):  # type: ignore[no-untyped-def]
    return page.locator("[data-testid=kefu-wc-message][data-sender=customer]").filter(
        has=page.get_by_test_id("kefu-wc-text").filter(has_text=text)
    )


QUEUED = re.compile(r"您前面还有 \d+ 位客户|您是下一位|正在为您转接人工客服|人工客服 .+ 为您服务")


@in_browser
def test_signed_in_customer_bill_card_hand_off_and_reload(server: str, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    w = widget(page)
    response = page.goto(server + "/demo/webchat")
    script_src = re.search(r"script-src([^;]*)", response.headers["content-security-policy"])
    assert script_src and "'unsafe-inline'" not in script_src.group(1)  # one script tag, no inline
    expect(page.get_by_test_id("bank-greeting")).to_contain_text("您好")
    expect(w("window")).to_be_hidden()
    w("launcher").click()
    expect(w("window")).to_be_visible()
    expect(w("input")).to_be_focused()
    first = w("message").first
    expect(first).to_have_attribute("data-sender", "bot")  # the greeting
    send(page, BILL)
    expect(own(page, BILL)).to_have_count(1)
    card = w("card").first
    expect(card).to_contain_text("3月", timeout=WAIT)
    link = card.get_by_test_id("kefu-wc-card-link")
    if link.count():
        assert re.match(r"https?://", link.get_attribute("href") or "")
        assert link.get_attribute("target") == "_blank"
    expect(own(page, BILL).get_by_test_id("kefu-wc-meta")).to_contain_text("已读")

    send(page, "转人工")
    expect(w("banner")).to_have_text(QUEUED, timeout=WAIT)

    page.reload()
    # The same session resumes: the window reopens with the history and the state.
    expect(w("window")).to_be_visible()
    expect(w("card").first).to_contain_text("3月")
    expect(own(page, BILL)).to_have_count(1)
    expect(w("banner")).to_have_text(QUEUED)


@in_browser
def test_hostile_text_is_shown_as_text(server: str, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    w = widget(page)
    page.goto(server + "/demo/webchat?anonymous=1")
    expect(page.get_by_test_id("bank-greeting")).to_contain_text("欢迎")
    page.get_by_test_id("bank-open-chat").click()  # any data-kefu-chat-open element opens it
    expect(w("window")).to_be_visible()
    text = HOSTILE + "\n<script>alert(2)</script>"
    page.get_by_test_id("kefu-wc-input").fill(HOSTILE)
    page.get_by_test_id("kefu-wc-input").press("Shift+Enter")  # a new line, not a send
    page.get_by_test_id("kefu-wc-input").type("<script>alert(2)</script>")
    expect(page.get_by_test_id("kefu-wc-input")).to_have_value(text)
    # The 202 is held back: the message shows at once as pending, with the typing indicator.
    held: list = []  # type: ignore[type-arg]
    posts = re.compile(r".*/sessions/[^/]+/messages$")
    page.route(posts, lambda r: held.append(r) if r.request.method == "POST" else r.continue_())
    page.get_by_test_id("kefu-wc-send").click()
    bubble = own(page, "<script>").get_by_test_id("kefu-wc-text")
    expect(bubble).to_have_text(text)  # newlines kept (white-space: pre-wrap)
    expect(own(page, "<script>").get_by_test_id("kefu-wc-meta")).to_contain_text("发送中")
    expect(w("typing")).to_be_visible()
    for _ in range(200):  # the handler runs while Playwright waits; bounded
        if held:
            break
        page.wait_for_timeout(50)
    held[0].continue_()
    page.unroute(posts)
    expect(own(page, "<script>").get_by_test_id("kefu-wc-meta")).not_to_contain_text("发送中")
    expect(w("message").filter(has_text="alert(1)")).not_to_have_count(0)
    # Nothing was parsed as HTML: no image, no script element inside the widget.
    assert (
        page.evaluate(
            """() => document.querySelector('.kefu-wc-host').shadowRoot
                   .querySelectorAll('.kefu-wc-log img, .kefu-wc-log script').length"""
        )
        == 0
    )
    assert page.evaluate("() => !!window.KefuChat && typeof window.KefuChat.open") == "function"
    # A reply (the bot's, a knowledge answer or a fallback) comes back for the anonymous visitor.
    expect(w("message").last).to_have_attribute("data-sender", re.compile("bot|agent|system"),
                                                timeout=WAIT)  # fmt: skip
    expect(w("typing")).to_be_hidden()


@in_browser
def test_english_on_a_phone(server: str, chromium) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    context = chromium.new_context(locale="en-US", viewport={"width": 375, "height": 740},
                                   is_mobile=True, has_touch=True)  # fmt: skip
    try:
        page = context.new_page()
        w = widget(page)
        page.goto(server + "/demo/webchat?anonymous=1&lang=en")
        expect(w("launcher")).to_have_text("Chat")
        w("launcher").click()
        expect(w("window")).to_be_visible()
        # Full screen on a 375 px web-view.
        box = w("window").bounding_box()
        assert box == {"x": 0, "y": 0, "width": 375, "height": 740}
        expect(page.get_by_role("dialog", name="Customer service")).to_be_visible()
        expect(w("input")).to_have_attribute("placeholder", re.compile("^Type your question"))
        expect(w("send")).to_have_text("Send")
        expect(w("close")).to_have_attribute("aria-label", "Close")
        send(page, "hello")
        expect(own(page, "hello")).to_have_count(1)
        expect(w("message").last).to_have_attribute("data-sender", re.compile("bot|agent|system"),
                                                    timeout=WAIT)  # fmt: skip
        # Esc closes and gives the focus back to the launcher.
        w("input").press("Escape")
        expect(w("window")).to_be_hidden()
        expect(w("launcher")).to_be_focused()
    finally:
        context.close()


@in_browser
def test_keyboard_only(server: str, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    w = widget(page)
    page.goto(server + "/demo/webchat?anonymous=1")
    for _ in range(60):  # Tab through the bank's page to the launcher (the last control)
        page.keyboard.press("Tab")
        if w("launcher").evaluate("b => b.getRootNode().activeElement === b"):
            break
    expect(w("launcher")).to_be_focused()
    expect(w("launcher")).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(w("window")).to_be_visible()
    expect(page.get_by_role("dialog", name="在线客服")).to_be_visible()
    expect(w("input")).to_be_focused()
    expect(page.get_by_role("log", name="聊天记录")).to_have_attribute("aria-live", "polite")
    page.keyboard.type("帮助")
    page.keyboard.press("Enter")
    expect(own(page, "帮助")).to_have_count(1)
    expect(w("input")).to_have_value("")
    expect(w("quick-reply").first).to_be_visible(timeout=WAIT)
    # Tab order after the text area: the quick replies come before it, so go back to them.
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if w("quick-reply").last.evaluate("b => b.getRootNode().activeElement === b"):
            break
    expect(w("quick-reply").last).to_be_focused()
    label = w("quick-reply").last.inner_text()
    page.keyboard.press("Enter")
    expect(own(page, label)).to_have_count(1)
    expect(w("input")).to_be_focused()  # the buttons went away: the focus stays in the chat
    page.keyboard.press("Escape")
    expect(w("window")).to_be_hidden()
    expect(w("launcher")).to_be_focused()
    expect(w("launcher")).to_have_attribute("aria-expanded", "false")


@in_browser
def test_host_page_api_and_a_customer_token_kefu_refuses(server: str, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    w = widget(page)
    page.goto(server + "/demo/webchat?anonymous=1")
    page.evaluate("window.KefuChat.open()")
    expect(w("window")).to_be_visible()
    expect(w("message")).to_have_count(1)  # the greeting
    first = json.loads(page.evaluate("sessionStorage.getItem('kefu-wc:demo')"))["session"]
    # The bank's page signs the customer in with a token kefu does not accept (expired, say):
    # the chat goes on as a guest, in a new session, and says so.
    page.evaluate("window.KefuChat.signIn('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bad')")
    expect(w("message").filter(has_text="您的登录已过期，将以访客身份为您服务")).to_have_count(1)
    saved = json.loads(page.evaluate("sessionStorage.getItem('kefu-wc:demo')"))
    assert saved["session"] != first and saved["signedIn"] is False
    send(page, "你好")
    expect(own(page, "你好")).not_to_have_attribute("data-seq", "", timeout=WAIT)
    page.evaluate("window.KefuChat.close()")
    expect(w("window")).to_be_hidden()


@in_browser
def test_errors_are_said_in_words_and_a_refused_message_can_be_resent(server: str, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    w = widget(page)
    page.goto(server + "/demo/webchat?anonymous=1")
    w("launcher").click()
    expect(w("message").first).to_be_visible()
    # Over 2,000 characters: counted, refused before sending.
    w("input").fill("长" * 2001)
    expect(w("counter")).to_have_text("2001/2000")
    expect(w("send")).to_be_disabled()
    expect(w("error")).to_have_text("消息过长，最多 2000 字")
    w("input").fill("")

    # The server says 429 (flooding) once: said in words, and the message can be sent again.
    refused: list[str] = []

    def too_many(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.method == "POST" and not refused:
            refused.append(json.loads(route.request.post_data or "{}")["client_id"])
            route.fulfill(status=429, headers={"Retry-After": "2"}, content_type="application/problem+json",
                          body=json.dumps({"title": "Too Many Requests", "status": 429, "detail": "slow down"}))  # fmt: skip
        else:
            route.continue_()

    page.route(re.compile(r".*/sessions/[^/]+/messages$"), too_many)
    send(page, "你好")
    expect(w("error")).to_have_text("发送太频繁，请稍后再试")
    expect(own(page, "你好").get_by_test_id("kefu-wc-meta")).to_contain_text("发送失败")
    own(page, "你好").get_by_test_id("kefu-wc-retry").click()
    expect(own(page, "你好").get_by_test_id("kefu-wc-retry")).to_have_count(0)
    expect(own(page, "你好")).not_to_have_attribute("data-seq", "")
    expect(w("error")).to_have_text("")

    # 413 from the server (a limit stricter than the widget's): said as too long.
    page.unroute(re.compile(r".*/sessions/[^/]+/messages$"))
    page.route(re.compile(r".*/sessions/[^/]+/messages$"), lambda route: route.fulfill(
        status=413, content_type="application/problem+json",
        body=json.dumps({"title": "Content Too Large", "status": 413, "detail": "too long"}),
    ) if route.request.method == "POST" else route.continue_())  # fmt: skip
    send(page, "再来一条")
    expect(w("error")).to_have_text("消息过长，最多 2000 字")
    expect(own(page, "再来一条").get_by_test_id("kefu-wc-meta")).to_contain_text("发送失败")


@in_browser
def test_polling_when_the_event_stream_fails_then_the_stream_again(server: str, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    w = widget(page)
    refused: list[str] = []
    polls: list[str] = []

    def events(route) -> None:  # type: ignore[no-untyped-def]
        if len(refused) < 3:  # three failures in a row: the widget polls
            refused.append(route.request.url)
            route.fulfill(status=503, body="down")
        else:
            route.continue_()

    page.route(re.compile(r".*/events\?.*"), events)
    page.on("request", lambda r: polls.append(r.url) if "/messages?after=" in r.url else None)
    page.goto(server + "/demo/webchat?anonymous=1")
    w("launcher").click()
    # The greeting's quick replies are buttons; one click sends its text.
    expect(w("quick-reply").first).to_be_visible()
    w("quick-reply").filter(has_text="附近网点排队").click()
    expect(own(page, "附近网点排队")).to_have_count(1)
    expect(w("message")).to_have_count(3, timeout=WAIT)  # greeting, question, answer
    expect(w("message").last).to_have_attribute("data-sender", "bot")
    assert polls, "the replies came by polling"

    # Now and then the widget tries the stream again, quietly; once it is open, polling stops:
    # with the polling endpoint gone, the next answer still arrives.
    def stream_open(response) -> bool:  # type: ignore[no-untyped-def]
        return "/events?" in response.url and response.status == 200

    with page.expect_response(stream_open, timeout=60_000):
        pass
    assert len(refused) == 3
    page.route(re.compile(r".*/messages\?after=.*"), lambda route: route.abort())
    send(page, "你好")
    expect(w("message")).to_have_count(5, timeout=WAIT)
    expect(own(page, "你好")).to_have_count(1)
    expect(w("notice")).to_be_hidden()


@in_browser
def test_agent_reply_closing_and_satisfaction(server: str, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from kefu.demo import DEMO_PASSWORD

    w = widget(page)
    page.goto(server + "/demo/webchat?anonymous=1")
    w("launcher").click()
    send(page, "转人工")
    expect(w("banner")).to_have_text(QUEUED, timeout=WAIT)
    session = json.loads(page.evaluate("sessionStorage.getItem('kefu-wc:demo')"))["session"]

    with httpx.Client(base_url=server, timeout=10) as agent:
        token = CSRF.search(agent.get("/login").text).group(1)
        agent.post(
            "/login",
            data={"username": "agent1", "password": DEMO_PASSWORD, "csrf": token, "next": "/"},
        )
        # An anonymous visitor is "v:<session>" to the service centre; staff see its tail only
        # ("网页访客 …1a2b"): the newest web chat conversation with that tail is this one.
        mine = [c for c in agent.get("/api/v1/conversations").json()
                if c["channel"] == "webchat" and c["contact"].endswith(session[-4:])]  # fmt: skip
        assert mine, "the hand-off opened a conversation"
        cid = max(c["id"] for c in mine)
        claimed = agent.post(f"/api/v1/conversations/{cid}/claim")
        assert claimed.status_code == 200, claimed.text
        expect(w("banner")).to_have_text(re.compile(r"人工客服 .+ 为您服务"), timeout=WAIT)
        w("close").click()  # the reply arrives while the window is closed: counted on the launcher
        reply = agent.post(
            f"/api/v1/conversations/{cid}/messages", json={"body": f"李晓雨为您解答：{HOSTILE}"}
        )
        assert reply.status_code == 201, reply.text
        expect(w("badge")).to_have_text("1", timeout=WAIT)
        expect(w("launcher")).to_have_accessible_name("在线客服 (1 条新消息)")
        w("launcher").click()
        expect(w("badge")).to_be_hidden()
        agent_message = w("message").filter(has_text="李晓雨为您解答")
        expect(agent_message.get_by_test_id("kefu-wc-text")).to_have_text(
            f"李晓雨为您解答：{HOSTILE}", timeout=WAIT
        )
        expect(agent_message).to_have_attribute("data-sender", "agent")
        closed = agent.post(f"/api/v1/conversations/{cid}/close", json={})
        assert closed.status_code == 200, closed.text

    expect(w("csat")).to_be_visible(timeout=WAIT)
    expect(w("ended")).to_contain_text("本次会话已结束")
    expect(w("csat-submit")).to_be_disabled()
    w("star-4").check()
    w("csat-comment").fill("很快就解决了")
    w("csat-submit").click()
    expect(w("csat-thanks")).to_have_text("感谢您的评价！")
    page.reload()
    expect(w("csat")).to_be_hidden()  # asked once per session
    w("new-chat").click()
    expect(w("input")).to_be_enabled()


EBANK = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>e-bank</title>
<link rel="icon" href="data:,"></head><body><h1>The bank's own site</h1>
<script src="{kefu}/channels/webchat/static/widget.js" data-site="ebank" data-locale="en"
        data-api-base="" data-accent="#0a58ca" defer></script></body></html>"""


@contextlib.contextmanager
def bank_site(port: int, kefu: str) -> Iterator[str]:
    """The bank's own web site: a page on another origin that embeds the widget from kefu."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = EBANK.format(kefu=kefu).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@in_browser
def test_embedded_in_a_page_of_another_origin(kefu: KefuDemo, page) -> None:  # type: ignore[no-untyped-def]
    """The bank's own site loads the widget from kefu: the API base is the script's origin,
    calls are cross-origin (CORS, preflights, the event stream); a page on an origin the site
    does not list is told that the chat is not for it."""
    from playwright.sync_api import expect

    w = widget(page)
    with bank_site(kefu.ebank_port, kefu.base) as url:
        page.goto(url)
        expect(w("launcher")).to_have_text("Chat")
        w("launcher").click()
        expect(w("message").first).to_have_attribute("data-sender", "bot")  # the greeting came
        send(page, "hello")
        expect(own(page, "hello")).not_to_have_attribute("data-seq", "", timeout=WAIT)
        expect(w("message")).to_have_count(3, timeout=WAIT)  # the answer, by the event stream
        accent = w("send").evaluate("b => getComputedStyle(b).backgroundColor")
        assert accent == "rgb(10, 88, 202)"  # data-accent

    with bank_site(free_port(), kefu.base) as elsewhere:
        page.goto(elsewhere)
        w("launcher").click()
        expect(w("notice")).to_have_text(
            re.compile("Chat is not enabled for this website|Chat is unavailable")
        )
        expect(w("message")).to_have_count(0)


@in_browser
def test_a_restart_of_kefu_loses_no_message(kefu: KefuDemo, page) -> None:  # type: ignore[no-untyped-def]
    """Last in the module: it stops and starts the module's kefu."""
    from playwright.sync_api import expect

    w = widget(page)
    page.goto(kefu.base + "/demo/webchat?anonymous=1")
    w("launcher").click()
    send(page, "你好")
    expect(w("message")).to_have_count(3, timeout=WAIT)  # greeting, question, answer
    saved = json.loads(page.evaluate("sessionStorage.getItem('kefu-wc:demo')"))

    kefu.stop()
    expect(w("notice")).to_have_text("网络连接中断，正在重新连接…", timeout=WAIT)
    kefu.start()
    # Sent while the widget was cut off (from another tab of the same visitor): the message
    # and its answer reach the widget when it is back, once each, in order.
    sent = httpx.post(
        f"{kefu.base}/channels/webchat/demo/sessions/{saved['session']}/messages",
        json={"text": "帮助", "client_id": "another-tab-1"},
        headers={"Authorization": f"Bearer {saved['token']}", "Origin": kefu.base},
    )
    assert sent.status_code == 202, sent.text
    expect(own(page, "帮助")).to_have_count(1, timeout=WAIT)
    expect(w("message")).to_have_count(5, timeout=WAIT)
    expect(w("notice")).to_be_hidden()
    send(page, "附近网点排队")
    expect(w("message")).to_have_count(7, timeout=WAIT)
    seqs = [int(seq) for seq in w("message").evaluate_all("nodes => nodes.map(n => n.dataset.seq)")]
    assert seqs == sorted(set(seqs)), seqs


@in_browser
def test_branch_queue_link_opens_the_map_for_this_chat(kefu: KefuDemo, page) -> None:  # type: ignore[no-untyped-def]
    """The header's 网点排队 link opens the bank's branch map with this chat's signed session
    token: the ticket taken there is the chat's (customer key ``webchat:<session>``), so its
    "3 ahead" notice comes as a chat message (kefu.branch.notices)."""
    from playwright.sync_api import expect
    from sqlalchemy import create_engine, text

    w = widget(page)
    page.goto(kefu.base + "/demo/webchat?anonymous=1")
    page.get_by_test_id("bank-open-chat").click()
    link = w("branch-map")
    expect(link).to_be_visible(timeout=WAIT)
    expect(link).to_have_text("网点排队")
    href = link.get_attribute("href") or ""
    assert href.startswith(kefu.base + "/branch/map?chat=") and href.endswith("&site=demo")
    assert link.get_attribute("target") == "_blank"
    session = json.loads(page.evaluate("sessionStorage.getItem('kefu-wc:demo')"))["session"]
    with page.context.expect_page() as opened:
        link.click()
    map_page = opened.value
    expect(map_page.get_by_text("前面还剩3人时在对话中提醒我")).to_have_count(1)  # chat mode
    map_page.locator("form[action='/branch/map/ticket'] select[name=branch]").select_option("B003")
    map_page.locator("form[action='/branch/map/ticket'] input[name=notify]").check()
    map_page.locator("form[action='/branch/map/ticket'] button[type=submit]").click()
    expect(map_page.get_by_test_id("ticket")).to_be_visible(timeout=WAIT)
    engine = create_engine(f"sqlite:///{kefu.tmp / 'kefu.db'}")
    try:
        with engine.connect() as db:
            rows = db.execute(
                text("SELECT source, notify_ahead FROM branch_tickets WHERE customer_key = :k"),
                {"k": f"webchat:{session}"},
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("chat", 3)]
