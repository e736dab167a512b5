"""`kefu demo`'s WeChat account: the simulator in-process, demo-openid-1..3 bound to the demo
customers, a follower's message going through the simulator, the signed and encrypted callback
and back."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from kefu.app import create_app
from kefu.channels.wechat.demo import (
    DEMO_APP_ID,
    DEMO_OPENIDS,
    DemoWechat,
    demo_account,
    ensure_wechat_demo,
)
from kefu.channels.wechat.simulator.serve import serve
from kefu.config import load_settings
from kefu.demo import bound_demo_phones
from kefu.identity.models import ChannelIdentity
from tests.channels.wechat.harness import database
from tests.ports import free_port

pytestmark = pytest.mark.db


async def test_the_demo_account_answers_a_bound_follower(seeded_url: str) -> None:
    phones = await bound_demo_phones(seeded_url)
    pairs = await ensure_wechat_demo(seeded_url, phones)
    assert [o for o, _ in pairs] == list(DEMO_OPENIDS[: len(phones)]) and len(pairs) == 3
    assert await ensure_wechat_demo(seeded_url, phones) == pairs  # idempotent
    async with database(seeded_url) as db:
        bound = (await db.scalars(select(ChannelIdentity.value)
                                  .where(ChannelIdentity.kind == "wechat_openid"))).all()  # fmt: skip
    assert sorted(bound) == sorted(DEMO_OPENIDS)

    kefu_port = free_port()
    wechat = DemoWechat(kefu_url=f"http://127.0.0.1:{kefu_port}", port=free_port())
    settings = wechat.configure(load_settings(database_url=seeded_url, secret_key="t"))
    assert [a.name for a in settings.wechat_accounts] == ["demo"]
    assert demo_account().token == "kefu-demo-token" and demo_account().accept_plaintext
    served = await serve(create_app(settings, demo={"wechat": wechat}), port=kefu_port)
    try:
        async with httpx.AsyncClient(timeout=20) as http:
            r = await http.post(f"{wechat.url}/_simulator/followers/send",
                                json={"appid": DEMO_APP_ID, "openid": "demo-openid-1",
                                      "msg_type": "text", "content": "我要查3月的账单"})  # fmt: skip
            answer = r.json()
            assert answer["status"] == 200 and answer["reply"]["MsgType"] == "news"
            assert "/h5/demo/bill?month=" in answer["reply"]["Articles"]["item"]["Url"]
            unknown = await http.post(f"{wechat.url}/_simulator/followers/send",
                                      json={"appid": "wxnobody", "openid": "x",
                                            "msg_type": "text", "content": "hi"})  # fmt: skip
            assert unknown.status_code == 404
            # The demo accepts plaintext too (the demo phone page may post without crypto).
            from kefu.channels.wechat.simulator.follower import (
                CallbackTarget,
                post_callback,
                text_xml,
            )

            a = demo_account()
            target = CallbackTarget(f"http://127.0.0.1:{kefu_port}/channels/wechat/demo", a.token,
                                    a.app_id, a.encoding_aes_key, "plain")  # fmt: skip
            plain = await post_callback(http, target, text_xml(target, "demo-openid-2", "你好", 99))
            assert plain.reply is not None and plain.reply["MsgType"] == "text"
    finally:
        await served.stop()
