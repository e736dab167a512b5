"""The API client against the simulator: the shared access token (one fetch for many callers,
processes included), refresh-and-retry on an invalid token, typed errors, every endpoint."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from kefu.channels.wechat.api import Article, WechatApi, WechatApiError
from kefu.channels.wechat.models import WechatAccessToken
from kefu.channels.wechat.simulator import SimApp, SimulatorState, build_app
from kefu.db.engine import make_engine, make_sessionmaker
from tests.channels.wechat.harness import APP_ID, SECRET, TEMPLATES, account


def _sim() -> tuple[SimulatorState, httpx.AsyncClient]:
    state = SimulatorState()
    state.add_app(SimApp(APP_ID, SECRET, templates=set(TEMPLATES.values())))
    return state, httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(state)))


def _api(http: httpx.AsyncClient, sessionmaker=None, **kw) -> WechatApi:  # type: ignore[no-untyped-def]
    return WechatApi(account(**kw), base_url="http://sim", http=http, sessionmaker=sessionmaker)


@pytest.mark.db
async def test_one_token_fetch_for_many_callers_and_processes(db_url: str) -> None:
    state, http = _sim()
    engines = [make_engine(db_url), make_engine(db_url)]  # two "processes", two pools
    try:
        apis = [_api(http, make_sessionmaker(e)) for e in engines for _ in range(3)]
        tokens = await asyncio.gather(*(api.access_token() for api in apis for _ in range(5)))
        assert len(set(tokens)) == 1
        assert state.token_fetches[APP_ID] == 1
        async with make_sessionmaker(engines[0])() as db:
            row = await db.scalar(select(WechatAccessToken))
            assert row.access_token == tokens[0] and row.refreshing_until is None
    finally:
        for engine in engines:
            await engine.dispose()


@pytest.mark.db
async def test_an_expired_token_is_refreshed_once_and_the_call_retried(db_url: str) -> None:
    state, http = _sim()
    engine = make_engine(db_url)
    try:
        api = _api(http, make_sessionmaker(engine))
        state.interacted(APP_ID, "o1")
        await api.send_text("o1", "一")
        state.expire_tokens(APP_ID)  # 42001 on the next call
        await api.send_text("o1", "二")
        state.faults["/cgi-bin/message/custom/send"] = [40001]  # fetched elsewhere
        await api.send_text("o1", "三")
        assert [s.body["content"] for s in state.sent] == ["一", "二", "三"]
        assert state.token_fetches[APP_ID] == 3
        # Another process's client reads the refreshed row instead of fetching.
        other = _api(http, make_sessionmaker(engine))
        await other.send_text("o1", "四")
        assert state.token_fetches[APP_ID] == 3
    finally:
        await engine.dispose()


async def test_errors_are_typed() -> None:
    state, http = _sim()
    api = _api(http)
    with pytest.raises(WechatApiError) as caught:
        await api.send_text("o-never", "hi")
    assert caught.value.errcode == 40003
    state.follower(APP_ID, "o-old")  # a follower who has not written in 48 hours
    with pytest.raises(WechatApiError) as caught:
        await api.send_text("o-old", "hi")
    assert caught.value.window_closed and caught.value.errcode == 45015
    with pytest.raises(WechatApiError) as caught:
        await _api(http, app_id="wxunknown").access_token()
    assert caught.value.errcode == 40013
    bad_secret = WechatApi(account().model_copy(update={"app_secret": "wrong"}),
                           base_url="http://sim", http=http)  # fmt: skip
    with pytest.raises(WechatApiError) as caught:
        await bad_secret.access_token()
    assert caught.value.errcode == 40125
    unreachable = WechatApi(account(), base_url="http://127.0.0.1:9", http=httpx.AsyncClient())
    with pytest.raises(WechatApiError) as caught:
        await unreachable.access_token()
    assert caught.value.errcode == -1 and "unreachable" in caught.value.errmsg


async def test_every_endpoint_round_trips() -> None:
    state, http = _sim()
    api = _api(http)
    state.interacted(APP_ID, "o1")
    menu = {"button": [{"type": "click", "name": "账单", "key": "BILL"},
                       {"name": "服务", "sub_button": [{"type": "view", "name": "网点",
                                                       "url": "https://bank.example/h5"}]}]}  # fmt: skip
    await api.menu_create(menu)
    assert (await api.menu_get_all())["menu"]["button"][0]["key"] == "BILL"
    assert (await api.menu_get())["is_menu_open"] == 1
    tag = await api.tags_create("深圳")
    assert [t["name"] for t in await api.tags_list()] == ["深圳"]
    await api.tags_tag_users(tag["id"], ["o1"])
    assert await api.tags_of_user("o1") == [tag["id"]]
    menuid = await api.menu_add_conditional({**menu, "matchrule": {"tag_id": str(tag["id"])}})
    assert len((await api.menu_get_all())["conditionalmenu"]) == 1
    await api.menu_delete_conditional(menuid)
    await api.tags_untag_users(tag["id"], ["o1"])
    assert await api.tags_of_user("o1") == []
    image = await api.upload_media("image", "a.png", b"\x89PNG....")
    thumb = await api.upload_media("thumb", "t.jpg", b"jpg")
    voice = await api.upload_media("voice", "v.amr", b"amr")
    await api.send_image("o1", image)
    await api.send_voice("o1", voice)
    await api.send_video("o1", image, thumb, "标题", "说明")
    await api.send_news("o1", Article("账单", "3月账单", "https://bank.example/h5/bill"))
    msgid = await api.send_template("o1", "TPL-BILL", {"first": "您的账单已出"},
                                    url="https://bank.example/h5/bill")  # fmt: skip
    assert msgid.isdigit()
    assert [s.msgtype for s in state.sent] == ["image", "voice", "video", "news", "template"]
    await api.menu_delete()
    with pytest.raises(WechatApiError) as caught:
        await api.menu_get_all()
    assert caught.value.errcode == 46003


async def test_tagging_more_than_fifty_is_split() -> None:
    state, http = _sim()
    api = _api(http)
    openids = [f"o{i}" for i in range(120)]
    for openid in openids:
        state.follower(APP_ID, openid)
    tag = await api.tags_create("广州")
    await api.tags_tag_users(tag["id"], openids)
    assert (await api.tags_list())[0]["count"] == 120
