"""The open API's endpoints: the reads and writes of ``api.weibo.com/2``, 私信 replies
(``m.api.weibo.com``) and the commercial search (``c.api.weibo.com``), served from one app with
Weibo's JSON, since_id/max_id paging, hourly limits and error codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request

from kefu.channels.weibo.simulator.state import (
    BEIJING,
    DM_TEXT_LIMIT,
    DM_WINDOW,
    IP_LIMIT,
    REPEAT_WINDOW,
    TEXT_LIMIT,
    DirectMessage,
    SimError,
    Token,
    WeiboState,
    page,
    weibo_time,
)

router = APIRouter()


def sim(request: Request) -> WeiboState:
    return request.app.state.sim


async def params(request: Request) -> dict[str, str]:
    """Query parameters, and the form's for a POST (Weibo takes both)."""
    found = dict(request.query_params)
    if request.method == "POST":
        found.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
    return found


def int_param(values: dict[str, str], name: str, default: int | None = None) -> int:
    raw = values.get(name, "")
    if raw == "" and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SimError(10008, f"param error, see doc for more info: {name}") from None


def text_param(values: dict[str, str], name: str) -> str:
    value = values.get(name, "")
    if not value.strip():
        raise SimError(10008, f"param error, see doc for more info: {name}")
    return value


async def authed(request: Request, bucket: str, api: str) -> tuple[Token, dict[str, str]]:
    """The caller's token (10006/21332/21327) with this call counted against its hour."""
    state = sim(request)
    values = await params(request)
    token = state.check_token(values.get("access_token"))
    state.count_call(token, bucket, api)
    return token, values


def paged(
    request_values: dict[str, str], items: list[Any], key: str, render: Callable[[Any], dict]
) -> dict[str, Any]:
    count = int_param(request_values, "count", 20)
    number = int_param(request_values, "page", 1)
    if count < 1 or number < 1:
        raise SimError(
            10008, "param error, see doc for more info: " + ("count" if count < 1 else "page")
        )
    found = page(
        items,
        since_id=int_param(request_values, "since_id", 0),
        max_id=int_param(request_values, "max_id", 0),
        count=min(count, 200),
        page=number,
    )
    return {
        key: [render(i) for i in found.items],
        "previous_cursor": 0,
        "next_cursor": found.next_cursor,
        "total_number": found.total,
    }


# ---------------------------------------------------------------------------- reads
@router.get("/2/statuses/mentions.json")
async def statuses_mentions(request: Request) -> dict:
    state = sim(request)
    _, values = await authed(request, "read", "statuses/mentions")
    # Deleted posts stay in the list in their short form: a client must cope with them.
    items = [
        s
        for s in state.statuses.values()
        if s.user_id != state.official.id and state.mentions_official(s.text)
    ]
    return paged(values, items, "statuses", state.status_json)


@router.get("/2/comments/mentions.json")
async def comments_mentions(request: Request) -> dict:
    state = sim(request)
    _, values = await authed(request, "read", "comments/mentions")
    items = [
        c
        for c in state.comments.values()
        if not c.deleted and c.user_id != state.official.id and state.mentions_official(c.text)
    ]
    return paged(values, items, "comments", state.comment_json)


@router.get("/2/comments/to_me.json")
async def comments_to_me(request: Request) -> dict:
    state = sim(request)
    _, values = await authed(request, "read", "comments/to_me")
    items = [c for c in state.comments.values() if not c.deleted and state.to_me(c)]
    return paged(values, items, "comments", state.comment_json)


@router.get("/2/comments/show.json")
async def comments_show(request: Request) -> dict:
    state = sim(request)
    _, values = await authed(request, "read", "comments/show")
    status = state.status(int_param(values, "id"))
    items = [c for c in state.comments.values() if c.status_id == status.id and not c.deleted]
    return paged(values, items, "comments", state.comment_json)


@router.get("/2/statuses/show.json")
async def statuses_show(request: Request) -> dict:
    state = sim(request)
    _, values = await authed(request, "read", "statuses/show")
    return state.status_json(state.status(int_param(values, "id")))


@router.get("/2/search/statuses/limited.json")
async def search_statuses(request: Request) -> dict:
    state = sim(request)
    _, values = await authed(request, "read", "search/statuses/limited")
    words = text_param(values, "q").split()
    items = [
        s for s in state.statuses.values() if not s.deleted and all(w in s.text for w in words)
    ]
    answer = paged(values, items, "statuses", state.status_json)
    return {"statuses": answer["statuses"], "total_number": answer["total_number"]}


@router.get("/2/account/rate_limit_status.json")
async def rate_limit_status(request: Request) -> dict:
    state = sim(request)
    # Asking for the limits does not count against them (as on Weibo).
    token = state.check_token((await params(request)).get("access_token"))
    reset = (state.hour() + 1) * 3600
    return {
        "ip_limit": IP_LIMIT,
        "limit_time_unit": "HOURS",
        "remaining_ip_hits": max(0, IP_LIMIT - state.ip_hits[state.hour()]),
        "remaining_user_hits": state.remaining(token, "read"),
        "reset_time": _plain_time(reset),
        "reset_time_in_seconds": int(reset - state.now()),
        "user_limit": state.limits["read"],
    }


def _plain_time(at: float) -> str:
    return datetime.fromtimestamp(at, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------------------- writes
def _comment_text(values: dict[str, str]) -> str:
    text = text_param(values, "comment")
    if len(text) > TEXT_LIMIT:
        raise SimError(20012)
    return text


def _refuse_repeat(state: WeiboState, status_id: int, text: str) -> None:
    """20019: the account already said exactly this on this post within 24 hours."""
    since = state.now() - REPEAT_WINDOW
    for c in state.comments.values():
        if (
            c.status_id == status_id
            and c.user_id == state.official.id
            and c.text == text
            and c.created_at >= since
            and not c.deleted
        ):
            raise SimError(20019)


@router.post("/2/comments/create.json")
async def comments_create(request: Request) -> dict:
    state = sim(request)
    _, values = await authed(request, "write", "comments/create")
    status = state.status(int_param(values, "id"))
    text = _comment_text(values)
    _refuse_repeat(state, status.id, text)
    return state.comment_json(state.add_comment(state.official.id, status.id, text))


@router.post("/2/comments/reply.json")
async def comments_reply(request: Request) -> dict:
    state = sim(request)
    _, values = await authed(request, "write", "comments/reply")
    cid = int_param(values, "cid")
    status = state.status(int_param(values, "id"))
    text = _comment_text(values)
    _refuse_repeat(state, status.id, text)
    # The text is kept as sent (no "回复@name:" prefix) so a retrying client can find it.
    return state.comment_json(state.add_comment(state.official.id, status.id, text, reply_to=cid))


# ---------------------------------------------------------------------------- 私信 replies
@router.post("/2/messages/reply.json")
async def messages_reply(request: Request) -> dict:
    state = sim(request)
    _, values = await authed(request, "dm", "messages/reply")
    if values.get("type", "text") != "text":
        raise SimError(10008, "param error, see doc for more info: type")
    data = _dm_data(text_param(values, "data"))
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise SimError(10008, "param error, see doc for more info: data")
    if len(text) > DM_TEXT_LIMIT:
        raise SimError(20012, "Text too long, please input text less than 1000 characters!")
    receiver = state.user(int_param(values, "receiver_id"))
    last = state.last_dm_from(receiver.id)
    if last is None or state.now() - last > DM_WINDOW:
        raise SimError(21609)
    message = DirectMessage(
        len(state.dms) + 1,
        state.official.id,
        receiver.id,
        "text",
        text,
        data,
        state.now(),
        inbound=False,
    )
    state.dms.append(message)
    return {
        "result": True,
        "sender_id": state.official.id,
        "receiver_id": receiver.id,
        "type": "text",
        "data": json.dumps(data, ensure_ascii=False),
        "created_at": weibo_time(message.created_at),
    }


def _dm_data(raw: str) -> dict[str, Any]:
    # The form value is the JSON itself; some clients URL-encode it once more.
    for candidate in (raw, unquote(raw)):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    raise SimError(10008, "param error, see doc for more info: data")
