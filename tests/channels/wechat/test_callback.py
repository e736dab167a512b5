"""The callback over real HTTP: every mode, every message type and event, every refusal.
Messages are built, signed and encrypted by wechatpy (an implementation independent of kefu's)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from kefu.channels.wechat.models import WechatFollower, WechatInbound
from kefu.channels.wechat.simulator.follower import (
    build_request,
    event_xml,
    message_xml,
    parse_reply,
    post_callback,
    signature,
    text_xml,
)
from kefu.db.engine import make_engine, make_sessionmaker
from tests.channels.wechat.harness import account, client, running

pytestmark = pytest.mark.db


async def _count(db_url: str, model, *where) -> int:  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            return int(await db.scalar(select(func.count()).select_from(model).where(*where)))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
async def test_text_is_answered_in_every_mode(seeded_url: str, mode: str) -> None:
    async with running(seeded_url, [account(mode=mode)]) as kefu, client() as http:
        target = kefu.target()
        result = await post_callback(http, target, text_xml(target, "o-user-1", "你好", 1001))
        assert result.status == 200 and result.attempts == 1
        assert result.reply is not None
        assert result.reply["MsgType"] == "text" and "智能客服" in result.reply["Content"]
        assert result.reply["ToUserName"] == "o-user-1"
        if mode != "plain":
            assert "<Encrypt>" in result.body  # the reply is encrypted as the request was


async def test_url_verification_echoes_echostr(seeded_url: str) -> None:
    async with running(seeded_url) as kefu, client() as http:
        ts, nonce = str(int(time.time())), "123"
        url = kefu.target().url
        ok = await http.get(url, params={"signature": signature("kefu-test-token", ts, nonce),
                                         "timestamp": ts, "nonce": nonce, "echostr": "e-42"})  # fmt: skip
        assert ok.status_code == 200 and ok.text == "e-42"
        bad = await http.get(url, params={"signature": "0" * 40, "timestamp": ts,
                                          "nonce": nonce, "echostr": "e-42"})  # fmt: skip
        assert bad.status_code == 403 and "signature" in bad.json()["detail"]


EVENTS = [
    ("subscribe", "qrscene_branch-sz-01", "感谢关注"),
    ("subscribe", None, "感谢关注"),
    ("SCAN", "branch-sz-01", "欢迎回来"),
    ("CLICK", "NO_SUCH_KEY", "智能客服"),  # a key no menu has: help
]


@pytest.mark.parametrize(("event", "key", "expected"), EVENTS)
async def test_events_are_answered(seeded_url: str, event: str, key: str | None,
                                   expected: str) -> None:  # fmt: skip
    async with running(seeded_url) as kefu, client() as http:
        target = kefu.target()
        result = await post_callback(http, target, event_xml(target, "o-evt", event, key))
        assert result.reply is not None and expected in result.reply["Content"]
    if event == "subscribe" and key:
        engine = make_engine(seeded_url)
        async with make_sessionmaker(engine)() as db:
            follower = await db.scalar(select(WechatFollower))
            assert follower.scene == "branch-sz-01" and follower.subscribed
        await engine.dispose()


async def test_silent_events_and_media(seeded_url: str) -> None:
    async with running(seeded_url) as kefu, client() as http:
        target = kefu.target()
        silent = [
            event_xml(target, "o-s", "unsubscribe"),
            event_xml(target, "o-s", "VIEW", "https://bank.example/h5"),
            event_xml(
                target,
                "o-s",
                "LOCATION",
                extra={"Latitude": 22.54, "Longitude": 114.05, "Precision": 30.0},
            ),  # fmt: skip
        ]
        for xml in silent:
            result = await post_callback(http, target, xml)
            assert result.status == 200 and result.reply is None and result.body == "success"
        media = {
            "image": {"PicUrl": "http://mmbiz/x.jpg", "MediaId": "m1", "MsgId": 2001},
            "voice": {"MediaId": "m2", "Format": "amr", "MsgId": 2002},
            "video": {"MediaId": "m3", "ThumbMediaId": "t3", "MsgId": 2003},
            "link": {"Title": "a link", "Description": "d", "Url": "http://x", "MsgId": 2004},
        }
        for kind, fields in media.items():
            result = await post_callback(http, target, message_xml(target, "o-s", kind, fields))
            assert result.reply is not None and "文字" in result.reply["Content"], kind
        loc = message_xml(target, "o-s", "location", {"Location_X": 22.54, "Location_Y": 114.05,
                                                      "Scale": 15, "Label": "深圳", "MsgId": 2005})  # fmt: skip
        result = await post_callback(http, target, loc)
        assert result.reply is not None and result.reply["MsgType"] == "news"


async def test_voice_with_recognition_is_answered_as_text(seeded_url: str) -> None:
    async with running(seeded_url) as kefu, client() as http:
        target = kefu.target()
        xml = message_xml(target, "o-v", "voice", {"MediaId": "m", "Format": "amr",
                                                   "Recognition": "你好", "MsgId": 3001})  # fmt: skip
        result = await post_callback(http, target, xml)
        assert result.reply is not None and "智能客服" in result.reply["Content"]


async def _post(http, target, params, body):  # type: ignore[no-untyped-def]
    return await http.post(target.url, params=params, content=body.encode())


async def test_refusals_name_the_rule(seeded_url: str) -> None:
    async with running(seeded_url, wechat_max_body_bytes=4096) as kefu, client() as http:
        target = kefu.target()
        xml = text_xml(target, "o-bad", "你好", 4001)
        params, body = build_request(target, xml)

        forged = dict(params, signature="f" * 40)
        r = await _post(http, target, forged, body)
        assert r.status_code == 403 and "signature" in r.json()["detail"]

        r = await _post(http, target, dict(params, msg_signature="0" * 40), body)
        assert r.status_code == 403 and "msg_signature" in r.json()["detail"]

        stale_params, stale_body = build_request(target, xml, timestamp=int(time.time()) - 3600)
        r = await _post(http, target, stale_params, stale_body)
        assert r.status_code == 403 and "timestamp" in r.json()["detail"]

        r = await _post(http, target, {k: v for k, v in params.items() if k != "nonce"}, body)
        assert r.status_code == 400 and "nonce" in r.json()["detail"]

        plain_params, plain_body = build_request(target, xml, mode="plain")
        r = await _post(http, target, plain_params, plain_body)
        assert r.status_code == 403 and "encrypted" in r.json()["detail"]

        big = text_xml(target, "o-bad", "长" * 3000, 4002)
        big_params, big_body = build_request(target, big)
        r = await _post(http, target, big_params, big_body)
        assert r.status_code == 413

        r = await _post(http, kefu.target().__class__(**{**target.__dict__,
                        "url": target.url.replace("/bank", "/nobody")}), params, body)  # fmt: skip
        assert r.status_code == 404

        dtd = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><xml><a>&a;</a></xml>'
        dtd_params, dtd_body = build_request(target, dtd, mode="plain")
        r = await _post(http, target, dtd_params, dtd_body)
        assert r.status_code == 400 and "DTD" in r.json()["detail"]
    assert await _count(seeded_url, WechatInbound) == 0  # nothing refused was stored


async def test_plain_mode_refuses_garbage_xml(seeded_url: str) -> None:
    async with running(seeded_url, [account(mode="plain")]) as kefu, client() as http:
        target = kefu.target()
        for body, rule in [("not xml", "WeChat message"),
                           ("<xml><MsgType>text</MsgType></xml>", "FromUserName"),
                           (text_xml(target, "o", "x", 1).replace("<MsgId>1</MsgId>", ""), "MsgId")]:  # fmt: skip
            params, _ = build_request(target, body)
            r = await _post(http, target, params, body)
            assert r.status_code == 400 and rule in r.json()["detail"], body


async def test_a_reply_parses_back_with_wechatpy(seeded_url: str) -> None:
    async with running(seeded_url, [account(mode="safe")]) as kefu, client() as http:
        target = kefu.target()
        params, body = build_request(target, text_xml(target, "o-p", "你好", 5001))
        r = await _post(http, target, params, body)
        reply = parse_reply(target, r.text, encrypted=True)
        assert reply is not None and reply["FromUserName"].startswith("gh_")
