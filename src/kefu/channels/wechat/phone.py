"""The demo's WeChat phone: a chat with the ``demo`` official account in the browser, driven
through the real callback and crypto.

The page posts to kefu; kefu asks the WeChat simulator to deliver the follower's message or
menu click to ``/channels/wechat/demo`` exactly as WeChat would (signed, AES-encrypted in safe
mode, retried after 5 s); the passive reply comes back through the same crypto, and answers
sent later through the customer-service API are read from what the simulator recorded. The
menu shown is the one WeChat (the simulator) has for this follower: the default menu, or the
conditional menu of a region tag the follower carries. The menus are the business hall's
(``kefu.hall``, handed in by the app as ``app.state.hall``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, require

router = APIRouter(include_in_schema=False)

ACCOUNT = "demo"
OPENID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
SEND_TIMEOUT = 20.0  # WeChat's three tries of five seconds, and some


def demo_menu(kefu_url: str) -> dict:
    """The demo account's menu: queries as CLICKs answered by the assistant, the H5 pages as
    VIEWs, a human agent one tap away."""
    h5 = f"{kefu_url.rstrip('/')}/h5/{ACCOUNT}"

    def click(name: str, key: str, intent: str) -> dict:
        return {"type": "click", "name": name, "key": key, "action": {"intent": intent}}

    def view(name: str, page: str) -> dict:
        return {"type": "view", "name": name, "url": f"{h5}/{page}"}

    return {
        "button": [
            {"name": "查询", "sub_button": [
                click("账单查询", "BILL", "bill.query"), click("余额查询", "BALANCE", "balance.query"),
                click("交易明细", "TXN", "transactions.query"), click("积分查询", "POINTS", "points.query"),
            ]},
            {"name": "办理", "sub_button": [
                view("我的账单", "bill"), view("我的卡", "cards"), view("绑定银行卡", "bind"),
                view("我的地区", "region"),
            ]},
            {"name": "服务", "sub_button": [
                click("网点排队", "BRANCH", "branch.queue"), view("网点地图", "branches"),
                click("人工客服", "AGENT", "agent.transfer"), click("帮助", "HELP", "help"),
            ]},
        ]
    }  # fmt: skip


@dataclass
class Bubble:
    at: float
    mine: bool  # the follower's (right) or the account's (left)
    kind: str  # text, news, event, note
    text: str = ""
    articles: list[dict[str, str]] = field(default_factory=list)


def _demo(request: Request) -> Any:
    demo = getattr(request.app.state, "demo_wechat", None)
    if demo is None:
        raise HTTPException(404, "the WeChat phone runs only in the demo (kefu demo)")
    return demo


def _threads(request: Request) -> dict[str, list[Bubble]]:
    threads = getattr(request.app.state, "wechat_phone_threads", None)
    if threads is None:
        threads = request.app.state.wechat_phone_threads = {}
    return threads


def _account(request: Request):  # type: ignore[no-untyped-def]
    for account in request.app.state.settings.wechat_accounts:
        if account.name == ACCOUNT:
            return account
    raise HTTPException(404, "the demo account is not configured")


def _check_openid(openid: str) -> str:
    import re

    if not re.fullmatch(OPENID_PATTERN, openid):
        raise HTTPException(422, "openid: 1-64 letters, digits, _ or -")
    return openid


def reply_bubble(reply: dict[str, Any], at: float) -> Bubble:
    """A passive reply's XML fields (as the simulator parsed them) as a bubble."""
    if reply.get("MsgType") == "news":
        items = (reply.get("Articles") or {}).get("item") or []
        items = items if isinstance(items, list) else [items]
        return Bubble(at, False, "news", articles=[
            {"title": i.get("Title") or "", "description": i.get("Description") or "",
             "url": i.get("Url") or ""} for i in items
        ])  # fmt: skip
    return Bubble(at, False, "text", text=str(reply.get("Content") or ""))


def sent_bubble(sent: Any) -> Bubble:
    """A customer-service (or template) message the simulator recorded, as a bubble."""
    body = sent.body or {}
    if sent.msgtype == "news":
        return Bubble(sent.at, False, "news", articles=[
            {"title": a.get("title", ""), "description": a.get("description", ""),
             "url": a.get("url", "")} for a in body.get("articles", [])
        ])  # fmt: skip
    if sent.msgtype == "text":
        return Bubble(sent.at, False, "text", text=str(body.get("content", "")))
    if sent.kind == "template":
        values = body.get("data") or {}
        lines = [str(v.get("value", "")) for v in values.values() if isinstance(v, dict)]
        return Bubble(sent.at, False, "text", text="\n".join(lines))
    return Bubble(sent.at, False, "note", text=f"[{sent.msgtype}]")


def thread(request: Request, openid: str) -> list[Bubble]:
    demo = _demo(request)
    app_id = _account(request).app_id
    later = [sent_bubble(s) for s in demo.state.messages(app_id=app_id, touser=openid)]
    return sorted(_threads(request).get(openid, []) + later, key=lambda b: b.at)


def phone_menu(request: Request, openid: str) -> list[dict]:
    """What WeChat shows this follower: the newest conditional menu matching one of their
    tags, else the default menu."""
    state = _demo(request).state
    app_id = _account(request).app_id
    tags = state.user_tags.get((app_id, openid), set())
    for conditional in reversed(list((state.conditional_menus.get(app_id) or {}).values())):
        tag_id = (conditional.get("matchrule") or {}).get("tag_id")
        if tag_id not in (None, "") and int(tag_id) in tags:
            return conditional["button"]
    return (state.menus.get(app_id) or {}).get("button", [])


async def _ensure_menu(request: Request, db: AsyncSession, principal: Principal) -> str | None:
    """The demo account gets its menu the first time the phone opens: kefu's (the demo menu
    if none was saved), synced to WeChat when WeChat has none. Returns a sync error, if any."""
    demo = _demo(request)
    account = _account(request)
    if demo.state.menus.get(account.app_id):
        return None
    hall = getattr(request.app.state, "hall", None)
    if hall is None:
        return "the business hall is not running (no menus)"
    return await hall.ensure_menu(db, ACCOUNT, demo_menu(demo.kefu_url), actor=principal.name)


@router.get("/demo/wechat")
async def phone_page(
    request: Request,
    openid: str = Query("", max_length=64),
    principal: Principal = Depends(require(Permission.HOME)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    from kefu.channels.wechat.demo import DEMO_OPENIDS
    from kefu.web.templating import templates

    demo = _demo(request)
    openid = _check_openid(openid) if openid else DEMO_OPENIDS[0]
    problem = await _ensure_menu(request, db, principal)
    return templates.TemplateResponse(
        request,
        "wechat/phone.html",
        {
            "principal": principal,
            "csrf": csrf_token(request),
            "account": _account(request),
            "openid": openid,
            "openids": DEMO_OPENIDS,
            "menu": phone_menu(request, openid),
            "thread": thread(request, openid),
            "problem": problem,
            "simulator": demo.url,
        },
    )


@router.get("/demo/wechat/thread")
async def phone_thread(
    request: Request,
    openid: str = Query(..., max_length=64),
    _: Principal = Depends(require(Permission.HOME)),
) -> Response:
    from kefu.web.templating import templates

    return templates.TemplateResponse(
        request,
        "wechat/_phone_thread.html",
        {"thread": thread(request, _check_openid(openid)), "openid": openid},
    )


async def _deliver(request: Request, openid: str, payload: dict[str, Any], mine: Bubble) -> str:
    """The follower's action through the simulator to kefu's callback; the thread records it
    and the passive reply. Returns an error text for the page, or ""."""
    demo = _demo(request)
    bubbles = _threads(request).setdefault(openid, [])
    bubbles.append(mine)
    body = {"appid": _account(request).app_id, "openid": openid, **payload}
    try:
        async with httpx.AsyncClient(timeout=SEND_TIMEOUT) as http:
            answer = await http.post(f"{demo.url}/_simulator/followers/send", json=body)
        result = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        return f"WeChat (simulator) did not answer: {exc}"
    if answer.status_code != 200:
        return f"WeChat (simulator): HTTP {answer.status_code} {result}"
    if result.get("status") != 200:
        return f"kefu's callback answered HTTP {result.get('status')}: {result.get('body')}"
    if result.get("reply"):
        bubbles.append(reply_bubble(result["reply"], time.time()))
    return ""


def _back(openid: str, error: str = "") -> RedirectResponse:
    query = {"openid": openid} | ({"error": error[:300]} if error else {})
    return RedirectResponse(f"/demo/wechat?{urlencode(query)}", status_code=303)


@router.post("/demo/wechat/send")
async def phone_send(
    request: Request,
    openid: str = Form(..., max_length=64),
    text: str = Form(..., min_length=1, max_length=600),
    csrf: str = Form(""),
    _: Principal = Depends(require(Permission.HOME)),
) -> Response:
    check_csrf(request, csrf)
    openid = _check_openid(openid)
    error = await _deliver(request, openid, {"msg_type": "text", "content": text},
                           Bubble(time.time(), True, "text", text=text))  # fmt: skip
    return _back(openid, error)


@router.post("/demo/wechat/click")
async def phone_click(
    request: Request,
    openid: str = Form(..., max_length=64),
    key: str = Form(..., min_length=1, max_length=128),
    name: str = Form("", max_length=60),
    csrf: str = Form(""),
    _: Principal = Depends(require(Permission.HOME)),
) -> Response:
    """A CLICK menu item: WeChat sends the event (no text appears in the chat)."""
    check_csrf(request, csrf)
    openid = _check_openid(openid)
    error = await _deliver(request, openid, {"msg_type": "event", "event": "CLICK", "key": key},
                           Bubble(time.time(), True, "event", text=name or key))  # fmt: skip
    return _back(openid, error)


@router.get("/demo/wechat/open")
async def phone_open(
    request: Request,
    openid: str = Query(..., max_length=64),
    url: str = Query(..., max_length=1024),
    _: Principal = Depends(require(Permission.HOME)),
) -> Response:
    """A VIEW menu item or a news card: the page opens in the follower's WeChat browser (the
    simulator's webview sets who is reading, then the H5 page runs OAuth2 against it)."""
    demo = _demo(request)
    openid = _check_openid(openid)
    if not url.startswith(("http://", "https://")):
        raise HTTPException(422, "url: an http(s) URL")
    query = urlencode({"appid": _account(request).app_id, "openid": openid, "next": url})
    return RedirectResponse(f"{demo.url}/_simulator/webview?{query}", status_code=303)
