"""The demo's WeChat phone page against `kefu demo` in another process: messages and menu
clicks go through the WeChat simulator to the real callback (safe mode, AES) and back."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from kefu.channels.wechat.phone import demo_menu, reply_bubble
from tests.channels.sms.test_demo import _free_ports, _wait
from tests.conftest import CSRF, login

pytestmark = pytest.mark.db


@dataclass
class Demo:
    base: str
    wechat: str
    process: subprocess.Popen


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("wechat-demo")
    web, smpp, smpp_ctl, cmpp, cmpp_ctl, wechat, weibo = _free_ports(7)
    env = {**os.environ, "KEFU_SECRET_KEY": "wechat-phone-test"}
    env.pop("KEFU_DATABASE_URL", None)
    log = (tmp / "kefu.log").open("ab")  # a file, not an unread pipe: a full pipe stalls kefu
    process = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "demo", "--customers", "200", "--port", str(web),
         "--smpp-port", str(smpp), "--smpp-control-port", str(smpp_ctl), "--cmpp-port", str(cmpp),
         "--cmpp-control-port", str(cmpp_ctl), "--wechat-port", str(wechat),
         "--weibo-port", str(weibo), "--database-url", "sqlite:///demo.db"],
        cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{web}"
    try:
        _wait(lambda: httpx.get(base + "/readyz", timeout=1).status_code == 200, timeout=180)
        yield Demo(base, f"http://127.0.0.1:{wechat}", process)
    finally:
        process.terminate()
        try:
            # A shutdown this slow is a bug (the log names the part that held it)...
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()  # ...but the next module's tests still get the machine
            process.wait()
            pytest.fail("kefu demo did not stop within 60 s of SIGTERM:\n"
                        + (tmp / "kefu.log").read_text()[-3000:])  # fmt: skip
        finally:
            log.close()


@contextmanager
def logged_in(demo: Demo) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo.base, timeout=30) as client:
        assert login(client, "agent1").status_code == 303
        yield client


def test_the_phone_page_exists_only_in_the_demo(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "agent1")
    assert client.get("/demo/wechat").status_code == 404


def test_texts_and_menu_clicks_travel_through_the_real_callback(demo: Demo) -> None:
    with logged_in(demo) as client:
        page = client.get("/demo/wechat?openid=demo-openid-1")
        assert page.status_code == 200, page.text
        # The demo menu was synced to WeChat (the simulator) and is what the phone shows.
        assert "账单查询" in page.text and "我的卡" in page.text
        menu = httpx.get(f"{demo.wechat}/cgi-bin/menu/get", params={"access_token": "x"}).json()
        assert menu.get("errcode") == 40001  # the simulator wants a real token: it is WeChat
        csrf = CSRF.search(page.text).group(1)

        clicked = client.post("/demo/wechat/click", data={
            "openid": "demo-openid-1", "key": "BALANCE", "name": "余额查询", "csrf": csrf})  # fmt: skip
        assert clicked.status_code == 303 and "error" not in clicked.headers["location"]
        sent = client.post("/demo/wechat/send", data={
            "openid": "demo-openid-1", "text": "我要查3月的账单", "csrf": csrf})  # fmt: skip
        assert sent.status_code == 303 and "error" not in sent.headers["location"]
        thread = client.get("/demo/wechat/thread", params={"openid": "demo-openid-1"}).text
        assert 'data-kind="click"' in thread and "余额查询" in thread
        assert "我要查3月的账单" in thread
        # The bill came back (a passive reply or a customer-service message): 3月 and an amount.
        replies = re.findall(r'data-kind="(?:reply|news)"[^>]*>(.*?)</(?:div|a)>', thread, re.S)
        assert any("3月" in r and "¥" in r for r in replies), thread

        # Bad input: an openid WeChat could not have, no CSRF token.
        assert client.get("/demo/wechat?openid=bad%20id").status_code == 422
        assert client.post("/demo/wechat/send", data={"openid": "demo-openid-1",
                                                       "text": "hi"}).status_code == 400  # fmt: skip
        assert client.get("/demo/wechat/open", params={"openid": "demo-openid-1",
                                                        "url": "javascript:x"}).status_code == 422  # fmt: skip


def test_a_view_item_opens_the_h5_page_as_that_follower(demo: Demo) -> None:
    with logged_in(demo) as client:
        # /demo/wechat/open → the simulator's webview → the H5 page → OAuth2 → the bill.
        opened = client.get("/demo/wechat/open", params={
            "openid": "demo-openid-1", "url": f"{demo.base}/h5/demo/cards"}, follow_redirects=True)  # fmt: skip
        assert opened.status_code == 200, opened.text
        # (httpx, like browsers, carries the authorize URL's #wechat_redirect through redirects)
        assert str(opened.url).split("#")[0] == f"{demo.base}/h5/demo/cards"
        assert re.search(r"\*{4,}\s*\d{4}|\d{4}\s*\*+\s*\d{4}", opened.text)  # masked card numbers


def test_demo_menu_fits_wechat() -> None:
    from kefu.hall.menu import validate_menu

    assert validate_menu(demo_menu("http://127.0.0.1:8000")) == []


def test_news_replies_become_cards() -> None:
    news = {"MsgType": "news", "Articles": {"item": {"Title": "3月账单", "Description": "¥1.00",
                                                     "Url": "http://x/h5/demo/bill"}}}  # fmt: skip
    bubble = reply_bubble(news, 1.0)
    assert bubble.kind == "news" and bubble.articles[0]["title"] == "3月账单"
    assert reply_bubble({"MsgType": "text", "Content": "你好"}, 1.0).text == "你好"
