"""The WeChat API simulator: WeChat's server API as a FastAPI app, with WeChat's JSON shapes,
limits and error codes (errors come back as HTTP 200 with ``errcode``/``errmsg``, as WeChat does).

Composable: ``build_app(state, routers)`` mounts any list of routers over one shared
``SimulatorState`` (``request.app.state.sim``); ``DEFAULT_ROUTERS`` are the server API and the
``/_simulator`` control endpoints, and other modules (e.g. the OAuth2 web-page endpoints) add
theirs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kefu.channels.wechat.simulator.follower import CallbackTarget, event_xml, post_callback
from kefu.channels.wechat.simulator.follower import message_xml as build_xml
from kefu.channels.wechat.simulator.state import MEDIA_TTL, SimulatorState

MENU_TYPES = frozenset({"click", "view", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
                        "pic_photo_or_album", "pic_weixin", "location_select", "media_id",
                        "view_limited", "miniprogram", "article_id", "article_view_limited"})  # fmt: skip
MEDIA_LIMITS = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "thumb": 64 << 10}
TEXT_LIMIT = 2048  # bytes of a customer-service text message
MENU_ITEMS = 10  # items in a menu message (msgmenu)


class SimError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


def sim(request: Request) -> SimulatorState:
    return request.app.state.sim


def ok(**extra: Any) -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok", **extra}


def authed(request: Request, path: str) -> str:
    """The app the access_token belongs to; an injected fault for ``path`` comes first."""
    state = sim(request)
    fault = state.take_fault(path)
    if fault:
        raise SimError(fault, "injected fault")
    app_id, errcode = state.app_for_token(request.query_params.get("access_token"))
    if app_id is None:
        messages = {41001: "access_token missing",
                    40001: "invalid credential, access_token is invalid or not latest",
                    42001: "access_token expired"}  # fmt: skip
        raise SimError(errcode, messages[errcode])
    return app_id


async def json_body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise SimError(47001, "data format error") from None
    if not isinstance(data, dict):
        raise SimError(47001, "data format error")
    return data


def _bytes(value: Any) -> int:
    return len(str(value).encode("utf-8"))


# ---------------------------------------------------------------------------- token
token_router = APIRouter()


@token_router.get("/cgi-bin/token")
async def get_token(request: Request, grant_type: str = "", appid: str = "", secret: str = ""):
    state = sim(request)
    if grant_type != "client_credential":
        raise SimError(40002, "invalid grant_type")
    app = state.apps.get(appid)
    if app is None:
        raise SimError(40013, "invalid appid")
    if secret != app.secret:
        raise SimError(40125, "invalid appsecret")
    token, expires_in = state.issue_token(appid)
    return {"access_token": token, "expires_in": expires_in}


# ---------------------------------------------------------------------------- menus
menu_router = APIRouter()


def validate_menu(menu: dict[str, Any]) -> None:
    """WeChat's limits: 1-3 buttons, ≤ 5 sub-buttons, names ≤ 16/60 bytes, key ≤ 128 bytes,
    URL ≤ 1024 bytes, known types, and the fields each type needs."""
    buttons = menu.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise SimError(40016, "invalid button size")
    for button in buttons:
        if not isinstance(button, dict):
            raise SimError(47001, "data format error")
        subs = button.get("sub_button")
        if _bytes(button.get("name", "")) > 16 or not button.get("name"):
            raise SimError(40018, "invalid button name size")
        if subs:
            if not isinstance(subs, list) or len(subs) > 5:
                raise SimError(40023, "invalid sub button size")
            for sub in subs:
                if not isinstance(sub, dict):
                    raise SimError(47001, "data format error")
                if _bytes(sub.get("name", "")) > 60 or not sub.get("name"):
                    raise SimError(40022, "invalid sub button name size")
                _validate_action(sub)
        else:
            _validate_action(button)


def _validate_action(button: dict[str, Any]) -> None:
    kind = button.get("type")
    if kind not in MENU_TYPES:
        raise SimError(40017, "invalid button type")
    if kind == "view":
        url = str(button.get("url", ""))
        if not url or _bytes(url) > 1024:
            raise SimError(40020, "invalid button url size")
        if not url.startswith(("http://", "https://")):
            raise SimError(40055, "invalid button url domain")
    elif kind in ("media_id", "view_limited"):
        if not button.get("media_id"):
            raise SimError(40007, "invalid media_id")
    elif kind != "miniprogram":
        key = str(button.get("key", ""))
        if not key or _bytes(key) > 128:
            raise SimError(40019, "invalid button key size")


@menu_router.post("/cgi-bin/menu/create")
async def menu_create(request: Request):
    app_id = authed(request, "/cgi-bin/menu/create")
    menu = await json_body(request)
    validate_menu(menu)
    sim(request).menus[app_id] = {"button": menu["button"]}
    return ok()


@menu_router.get("/cgi-bin/menu/get")
async def menu_get(request: Request):
    app_id = authed(request, "/cgi-bin/menu/get")
    state = sim(request)
    if app_id not in state.menus:
        raise SimError(46003, "menu no exist")
    answer: dict[str, Any] = {"menu": state.menus[app_id]}
    conditional = state.conditional_menus.get(app_id) or {}
    if conditional:
        answer["conditionalmenu"] = [dict(m, menuid=int(k)) for k, m in conditional.items()]
    return answer


@menu_router.get("/cgi-bin/get_current_selfmenu_info")
async def menu_current(request: Request):
    app_id = authed(request, "/cgi-bin/get_current_selfmenu_info")
    state = sim(request)
    menu = state.menus.get(app_id)
    return {"is_menu_open": int(menu is not None), "selfmenu_info": menu or {"button": []}}


@menu_router.get("/cgi-bin/menu/delete")
async def menu_delete(request: Request):
    app_id = authed(request, "/cgi-bin/menu/delete")
    state = sim(request)
    state.menus.pop(app_id, None)
    state.conditional_menus.pop(app_id, None)  # deleting the menu deletes conditional ones
    return ok()


@menu_router.post("/cgi-bin/menu/addconditional")
async def menu_add_conditional(request: Request):
    app_id = authed(request, "/cgi-bin/menu/addconditional")
    state = sim(request)
    menu = await json_body(request)
    if app_id not in state.menus:
        raise SimError(65303, "there is no default menu, cannot create conditional menu")
    rule = menu.get("matchrule")
    if not isinstance(rule, dict) or not any(rule.values()):
        raise SimError(65304, "match rule empty")
    tag_id = rule.get("tag_id")
    if tag_id not in (None, "") and int(tag_id) not in state.tags.get(app_id, {}):
        raise SimError(40050, "invalid tag id")
    validate_menu(menu)
    menus = state.conditional_menus.setdefault(app_id, {})
    if len(menus) >= 20:
        raise SimError(65305, "conditional menu count limit")
    menuid = str(state.next_id())
    menus[menuid] = {"button": menu["button"], "matchrule": rule}
    return {"menuid": menuid}


@menu_router.post("/cgi-bin/menu/delconditional")
async def menu_del_conditional(request: Request):
    app_id = authed(request, "/cgi-bin/menu/delconditional")
    body = await json_body(request)
    menus = sim(request).conditional_menus.get(app_id, {})
    if str(body.get("menuid")) not in menus:
        raise SimError(65301, "no conditional menu for this menuid")
    del menus[str(body["menuid"])]
    return ok()


# ---------------------------------------------------------------------------- tags
tags_router = APIRouter()


@tags_router.post("/cgi-bin/tags/create")
async def tags_create(request: Request):
    app_id = authed(request, "/cgi-bin/tags/create")
    state = sim(request)
    name = str(((await json_body(request)).get("tag") or {}).get("name", ""))
    if not name or _bytes(name) > 30:
        raise SimError(45158, "tag name too long")
    tags = state.tags.setdefault(app_id, {})
    if name in tags.values():
        raise SimError(45157, "tag name already exists")
    if len(tags) >= 100:
        raise SimError(45056, "too many tags")
    tag_id = state.next_id()
    tags[tag_id] = name
    return {"tag": {"id": tag_id, "name": name}}


@tags_router.get("/cgi-bin/tags/get")
async def tags_get(request: Request):
    app_id = authed(request, "/cgi-bin/tags/get")
    state = sim(request)
    counts: dict[int, int] = {}
    for (owner, _), ids in state.user_tags.items():
        if owner == app_id:
            for tag_id in ids:
                counts[tag_id] = counts.get(tag_id, 0) + 1
    tags = state.tags.get(app_id, {})
    return {"tags": [{"id": i, "name": n, "count": counts.get(i, 0)} for i, n in tags.items()]}


async def _tagging(request: Request, path: str, add: bool) -> dict[str, Any]:
    app_id = authed(request, path)
    state = sim(request)
    body = await json_body(request)
    openids = body.get("openid_list")
    if not isinstance(openids, list) or not openids:
        raise SimError(40032, "invalid openid list size")
    if len(openids) > 50:
        raise SimError(40032, "invalid openid list size")
    tag_id = body.get("tagid")
    if not isinstance(tag_id, int) or tag_id not in state.tags.get(app_id, {}):
        raise SimError(45159, "invalid tag id")
    for openid in openids:
        if (app_id, openid) not in state.followers:
            raise SimError(40003, "invalid openid")
    for openid in openids:
        ids = state.user_tags.setdefault((app_id, openid), set())
        if add:
            if tag_id not in ids and len(ids) >= 20:
                raise SimError(45059, "user has too many tags")
            ids.add(tag_id)
        else:
            ids.discard(tag_id)
    return ok()


@tags_router.post("/cgi-bin/tags/members/batchtagging")
async def tags_batch_tag(request: Request):
    return await _tagging(request, "/cgi-bin/tags/members/batchtagging", True)


@tags_router.post("/cgi-bin/tags/members/batchuntagging")
async def tags_batch_untag(request: Request):
    return await _tagging(request, "/cgi-bin/tags/members/batchuntagging", False)


@tags_router.post("/cgi-bin/tags/getidlist")
async def tags_of_user(request: Request):
    app_id = authed(request, "/cgi-bin/tags/getidlist")
    openid = str((await json_body(request)).get("openid", ""))
    state = sim(request)
    if (app_id, openid) not in state.followers:
        raise SimError(40003, "invalid openid")
    return {"tagid_list": sorted(state.user_tags.get((app_id, openid), set()))}


# ---------------------------------------------------------------------------- messages
message_router = APIRouter()


def _media_ok(state: SimulatorState, app_id: str, media_id: Any) -> None:
    found = state.media.get(str(media_id or ""))
    if found is None or found[0] != app_id or found[2] < state.clock():
        raise SimError(40007, "invalid media_id")


def _menu_ok(content: dict[str, Any]) -> None:
    """A menu message (菜单消息) as WeChat documents it: head_content, a list of {id, content}
    (ids unique) and tail_content."""
    items = content.get("list")
    if not isinstance(items, list) or not items:
        raise SimError(44003, "empty msgmenu list")
    if len(items) > MENU_ITEMS:
        raise SimError(45008, "msgmenu list size out of limit")
    if not all(isinstance(i, dict) and str(i.get("id", "")) and isinstance(i.get("content"), str)
               and i["content"] for i in items):  # fmt: skip
        raise SimError(44003, "msgmenu item needs id and content")
    if len({str(i["id"]) for i in items}) != len(items):
        raise SimError(40008, "msgmenu ids must be unique")
    for key in ("head_content", "tail_content"):
        if not isinstance(content.get(key, ""), str):
            raise SimError(40008, f"invalid {key}")
    words = content.get("head_content", "") + content.get("tail_content", "")
    if _bytes(words + "".join(i["content"] for i in items)) > TEXT_LIMIT:
        raise SimError(45002, "content size out of limit")


@message_router.post("/cgi-bin/message/custom/send")
async def custom_send(request: Request):
    app_id = authed(request, "/cgi-bin/message/custom/send")
    state = sim(request)
    body = await json_body(request)
    touser, msgtype = str(body.get("touser", "")), body.get("msgtype")
    if (app_id, touser) not in state.followers:
        raise SimError(40003, "invalid openid")
    content = body.get(msgtype) if isinstance(msgtype, str) else None
    if msgtype not in ("text", "news", "image", "voice", "video", "msgmenu") or not isinstance(
        content, dict
    ):
        raise SimError(40008, "invalid message type")
    if not state.in_window(app_id, touser):
        raise SimError(45015, "response out of time limit or subscription is canceled")
    if msgtype == "text":
        text = content.get("content")
        if not isinstance(text, str) or not text:
            raise SimError(44003, "empty content")
        if _bytes(text) > TEXT_LIMIT:
            raise SimError(45002, "content size out of limit")
    elif msgtype == "news":
        articles = content.get("articles")
        if not isinstance(articles, list) or not articles:
            raise SimError(44003, "empty news data")
        if len(articles) > 1:
            raise SimError(45008, "article size out of limit")
        if not all(isinstance(a, dict) and a.get("title") for a in articles):
            raise SimError(44003, "empty news data")
    elif msgtype == "msgmenu":
        _menu_ok(content)
    else:
        _media_ok(state, app_id, content.get("media_id"))
        if msgtype == "video":
            _media_ok(state, app_id, content.get("thumb_media_id"))
    state.record(app_id, touser, "custom", msgtype, content)
    return ok()


@message_router.post("/cgi-bin/message/template/send")
async def template_send(request: Request):
    app_id = authed(request, "/cgi-bin/message/template/send")
    state = sim(request)
    body = await json_body(request)
    touser = str(body.get("touser", ""))
    follower = state.followers.get((app_id, touser))
    if follower is None:
        raise SimError(40003, "invalid openid")
    if not follower.subscribed:
        raise SimError(43004, "require subscribe")
    if body.get("template_id") not in state.apps[app_id].templates:
        raise SimError(40037, "invalid template_id")
    data = body.get("data")
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) and "value" in v for v in data.values()
    ):
        raise SimError(47001, "data format error")
    url = body.get("url")
    if url is not None and not str(url).startswith(("http://", "https://")):
        raise SimError(40039, "invalid url size")  # WeChat's code for a bad url
    sent = state.record(app_id, touser, "template", "template",
                        {"template_id": body["template_id"], "data": data, "url": url})  # fmt: skip
    return ok(msgid=sent.msgid)


# ---------------------------------------------------------------------------- media
media_router = APIRouter()


@media_router.post("/cgi-bin/media/upload")
async def media_upload(request: Request, type: str = "", media: UploadFile | None = None):  # noqa: A002 - WeChat's parameter name
    app_id = authed(request, "/cgi-bin/media/upload")
    state = sim(request)
    if type not in MEDIA_LIMITS:
        raise SimError(40004, "invalid media type")
    if media is None:
        raise SimError(41005, "media data missing")
    content = await media.read()
    if not content or len(content) > MEDIA_LIMITS[type]:
        raise SimError(40006, "invalid meida size")
    media_id = f"sim-{type}-{state.next_id()}"
    state.media[media_id] = (app_id, type, state.clock() + MEDIA_TTL)
    key = "thumb_media_id" if type == "thumb" else "media_id"
    return {"type": type, key: media_id, "created_at": int(state.clock())}


# ---------------------------------------------------------------------------- control
control_router = APIRouter(prefix="/_simulator")


class FollowerSend(BaseModel):
    """A follower's action, delivered to the account's callback like WeChat does."""

    appid: str
    openid: str = Field(min_length=1, max_length=64)
    msg_type: str = Field(pattern=r"^(text|image|voice|video|location|link|event)$")
    content: str = ""
    event: str | None = None
    key: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)


@control_router.get("/messages")
async def sent_messages(request: Request, appid: str | None = None, touser: str | None = None,
                        after: int = 0):  # fmt: skip
    """What accounts sent (custom-send and templates); ``after`` is the last seq seen."""
    return [s.as_json() for s in sim(request).messages(app_id=appid, touser=touser, after=after)]


@control_router.post("/followers/send")
async def follower_send(request: Request, action: FollowerSend):
    """Deliver a follower's message or event to the account's callback (signed, and encrypted
    in compatible/safe mode), as WeChat's server does; returns the parsed passive reply."""
    state = sim(request)
    app = state.apps.get(action.appid)
    if app is None or not app.callback_url:
        return JSONResponse({"detail": "unknown appid or no callback_url"}, status_code=404)
    target = CallbackTarget(app.callback_url, app.token, app.app_id, app.encoding_aes_key,
                            app.mode)  # fmt: skip
    subscribed = {"subscribe": True, "unsubscribe": False}.get((action.event or "").lower())
    state.interacted(app.app_id, action.openid, subscribed=subscribed)
    if action.msg_type == "event":
        xml = event_xml(target, action.openid, action.event or "", action.key,
                        extra=action.fields)  # fmt: skip
    else:
        fields = dict(action.fields)
        if action.msg_type == "text":
            fields = {"Content": action.content, **fields}
        fields.setdefault("MsgId", state.next_id() + int(time.time()) * 1000)
        xml = build_xml(target, action.openid, action.msg_type, fields)
    http: httpx.AsyncClient = request.app.state.callback_http
    result = await post_callback(http, target, xml)
    return {"status": result.status, "attempts": result.attempts, "reply": result.reply,
            "body": result.body if result.reply is None else None}  # fmt: skip


class MenuTap(BaseModel):
    """A follower taps an item of the last menu message (msgmenu) the account sent them."""

    appid: str
    openid: str = Field(min_length=1, max_length=64)
    id: str = Field(min_length=1, max_length=64)


@control_router.post("/followers/tap")
async def follower_tap(request: Request, tap: MenuTap):
    """WeChat sends the tapped item's content as a text message carrying ``bizmsgmenuid``;
    an id that the follower's last menu message does not have is refused (404)."""
    menus = [m for m in sim(request).messages(app_id=tap.appid, touser=tap.openid)
             if m.msgtype == "msgmenu"]  # fmt: skip
    item = (
        next((i for i in menus[-1].body["list"] if str(i["id"]) == tap.id), None) if menus else None
    )
    if item is None:
        return JSONResponse({"detail": "no such item in the follower's last menu"}, status_code=404)
    return await follower_send(request, FollowerSend(
        appid=tap.appid, openid=tap.openid, msg_type="text", content=item["content"],
        fields={"bizmsgmenuid": tap.id}))  # fmt: skip


DEFAULT_ROUTERS: tuple[APIRouter, ...] = (
    token_router,
    menu_router,
    tags_router,
    message_router,
    media_router,
    control_router,
)


def build_app(
    state: SimulatorState | None = None, routers: Sequence[APIRouter] = DEFAULT_ROUTERS
) -> FastAPI:
    """The simulator over ``state``; pass ``(*DEFAULT_ROUTERS, other)`` to add endpoints."""
    app = FastAPI(title="WeChat API simulator", docs_url=None, redoc_url=None)
    app.state.sim = state or SimulatorState()
    app.state.callback_http = httpx.AsyncClient()

    @app.exception_handler(SimError)
    async def _wechat_error(_request: Request, exc: SimError) -> JSONResponse:
        return JSONResponse({"errcode": exc.errcode, "errmsg": exc.errmsg})

    for router in routers:
        app.include_router(router)
    return app
