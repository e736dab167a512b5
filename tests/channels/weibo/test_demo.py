"""`kefu demo`'s Weibo part in process: the simulator starts on the given port (a free one when
it is taken) with traffic, kefu authorises itself, and a post made on /demo/weibo reaches a
conversation; the page is absent outside the demo."""

from __future__ import annotations

import asyncio
import re
import socket
import time

import httpx
import pytest
from sqlalchemy import select

from kefu.channels.manifest import DemoSetup
from kefu.channels.wechat.simulator.serve import serve
from kefu.channels.weibo.demo import DEMO_ACCOUNT, prepare
from kefu.channels.weibo.models import WeiboReceived, WeiboToken
from kefu.db.engine import make_engine, make_sessionmaker

pytestmark = pytest.mark.db


def _taken_port() -> socket.socket:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


async def test_the_demo_runs_the_simulator_and_a_post_reaches_the_desk(seeded_url: str) -> None:
    from kefu.app import create_app
    from kefu.config import load_settings

    settings = load_settings(database_url=seeded_url, secret_key="demo-test")
    holder = _taken_port()  # the wanted port is busy: the demo picks another
    taken = holder.getsockname()[1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        kefu_port = probe.getsockname()[1]
    try:
        prepared = await prepare(DemoSetup(settings, "127.0.0.1", kefu_port,
                                           {"weibo_port": taken}, []))  # fmt: skip
    finally:
        holder.close()
    demo = prepared.demo
    assert demo.port != taken
    assert [a.name for a in prepared.settings.weibo_accounts] == [DEMO_ACCOUNT]
    assert any("/demo/weibo" in line for line in prepared.lines)
    kefu = await serve(create_app(prepared.settings, demo={"weibo": demo}), port=kefu_port)
    engine = make_engine(seeded_url)
    try:
        async with make_sessionmaker(engine)() as db:
            token = await db.get(WeiboToken, DEMO_ACCOUNT)
        assert token is not None and token.status == "ok"  # authorised itself at start
        async with httpx.AsyncClient(base_url=kefu.url, timeout=10) as http:
            page = await http.get("/demo/weibo")
            assert page.status_code == 200 and demo.url in page.text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            posted = await http.post("/demo/weibo", data={
                "csrf": csrf, "kind": "mention", "screen_name": "演示用户",
                "text": "信用卡被盗刷了，求助！"})  # fmt: skip
            assert posted.status_code == 303
        # The demo polls every few seconds; the budget is for a loaded 2-core machine (the post
        # waits behind the start-up work of the social worker), not a speed claim.
        deadline = time.monotonic() + 60
        while True:
            async with make_sessionmaker(engine)() as db:
                row = await db.scalar(select(WeiboReceived).where(
                    WeiboReceived.text.contains("信用卡被盗刷了，求助")))  # fmt: skip
            if row is not None and row.conversation_id is not None:
                break
            assert time.monotonic() < deadline, "the demo's post did not reach a conversation"
            await asyncio.sleep(0.3)
    finally:
        await kefu.stop()
        await engine.dispose()


async def test_the_demo_page_is_absent_outside_the_demo(seeded_url: str) -> None:
    from kefu.app import create_app
    from kefu.config import load_settings

    kefu = await serve(create_app(load_settings(database_url=seeded_url, secret_key="x")))
    try:
        async with httpx.AsyncClient(base_url=kefu.url, timeout=10) as http:
            assert (await http.get("/demo/weibo")).status_code == 404
    finally:
        await kefu.stop()
