"""The simulator answers like WeChat: limits and error codes for menus, tags, messages,
templates, media and tokens."""

from __future__ import annotations

import httpx
import pytest

from kefu.channels.wechat.simulator import SimApp, SimulatorState, build_app

APP = "wxsim0000000001"


@pytest.fixture
async def sim():  # type: ignore[no-untyped-def]
    state = SimulatorState()
    state.add_app(SimApp(APP, "secret", templates={"TPL"}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(state)),
                                 base_url="http://sim") as http:  # fmt: skip
        token = (await http.get("/cgi-bin/token", params={"grant_type": "client_credential",
                                "appid": APP, "secret": "secret"})).json()["access_token"]  # fmt: skip
        yield state, http, {"access_token": token}


def _click(name: str = "查询", key: str = "K") -> dict:
    return {"type": "click", "name": name, "key": key}


MENUS = [
    ({"button": []}, 40016),
    ({"button": [_click()] * 4}, 40016),
    ({"button": [{"name": "更多", "sub_button": [_click()] * 6}]}, 40023),
    ({"button": [_click(name="一二三四五六")]}, 40018),  # 18 bytes > 16
    ({"button": [{"name": "更多", "sub_button": [_click(name="长" * 21)]}]}, 40022),
    ({"button": [_click(key="k" * 129)]}, 40019),
    ({"button": [{"type": "view", "name": "网页", "url": "https://x/" + "a" * 1020}]}, 40020),
    ({"button": [{"type": "teleport", "name": "x", "key": "k"}]}, 40017),
]


@pytest.mark.parametrize(("menu", "errcode"), MENUS)
async def test_menu_limits(sim, menu: dict, errcode: int) -> None:  # type: ignore[no-untyped-def]
    _, http, auth = sim
    answer = (await http.post("/cgi-bin/menu/create", params=auth, json=menu)).json()
    assert answer["errcode"] == errcode


async def test_token_errors(sim) -> None:  # type: ignore[no-untyped-def]
    state, http, _ = sim
    for params, errcode in [
        ({"grant_type": "password", "appid": APP, "secret": "secret"}, 40002),
        ({"grant_type": "client_credential", "appid": "wxnone", "secret": "secret"}, 40013),
        ({"grant_type": "client_credential", "appid": APP, "secret": "nope"}, 40125),
    ]:
        assert (await http.get("/cgi-bin/token", params=params)).json()["errcode"] == errcode
    for params, errcode in [({}, 41001), ({"access_token": "forged"}, 40001)]:
        answer = (await http.get("/cgi-bin/menu/get", params=params)).json()
        assert answer["errcode"] == errcode
    state.expire_tokens(APP)
    answer = (await http.get("/cgi-bin/menu/get", params=sim[2])).json()
    assert answer["errcode"] == 42001


async def test_message_limits(sim) -> None:  # type: ignore[no-untyped-def]
    state, http, auth = sim
    state.interacted(APP, "o1")
    url = "/cgi-bin/message/custom/send"
    cases = [
        ({"touser": "o1", "msgtype": "sticker", "sticker": {}}, 40008),
        ({"touser": "o1", "msgtype": "text", "text": {"content": "长" * 700}}, 45002),
        ({"touser": "o1", "msgtype": "news", "news": {"articles": [{"title": "a"}] * 2}}, 45008),
        ({"touser": "o1", "msgtype": "image", "image": {"media_id": "nope"}}, 40007),
        ({"touser": "o-stranger", "msgtype": "text", "text": {"content": "hi"}}, 40003),
    ]
    for body, errcode in cases:
        assert (await http.post(url, params=auth, json=body)).json()["errcode"] == errcode
    template = "/cgi-bin/message/template/send"
    answer = await http.post(template, params=auth, json={"touser": "o1", "template_id": "X",
                                                          "data": {}})  # fmt: skip
    assert answer.json()["errcode"] == 40037
    state.interacted(APP, "o1", subscribed=False)
    answer = await http.post(template, params=auth, json={"touser": "o1", "template_id": "TPL",
                                                          "data": {}})  # fmt: skip
    assert answer.json()["errcode"] == 43004
    assert state.sent == []


async def test_media_and_tags_limits(sim) -> None:  # type: ignore[no-untyped-def]
    state, http, auth = sim
    upload = "/cgi-bin/media/upload"
    big = {"media": ("t.jpg", b"x" * (65 << 10))}
    assert (await http.post(upload, params={**auth, "type": "thumb"}, files=big)).json()[
        "errcode"
    ] == 40006
    assert (await http.post(upload, params={**auth, "type": "gif"}, files=big)).json()[
        "errcode"
    ] == 40004
    create = "/cgi-bin/tags/create"
    assert (await http.post(create, params=auth, json={"tag": {"name": "长" * 11}})).json()[
        "errcode"
    ] == 45158
    tag = (await http.post(create, params=auth, json={"tag": {"name": "深圳"}})).json()["tag"]
    assert (await http.post(create, params=auth, json={"tag": {"name": "深圳"}})).json()[
        "errcode"
    ] == 45157
    many = {"openid_list": [f"o{i}" for i in range(51)], "tagid": tag["id"]}
    assert (await http.post("/cgi-bin/tags/members/batchtagging", params=auth, json=many)).json()[
        "errcode"
    ] == 40032
    conditional = {"button": [_click()], "matchrule": {"tag_id": str(tag["id"])}}
    assert (await http.post("/cgi-bin/menu/addconditional", params=auth, json=conditional)).json()[
        "errcode"
    ] == 65303  # no default menu yet
