"""The 私信 push receiver Weibo's 粉丝服务平台 calls: ``GET/POST /weibo/{name}/push``.

GET is the URL check made when the callback is saved (answer ``echostr`` when the signature
is right). POST carries one private message or event as JSON. The request is checked before
anything is kept — the account, the body size (413), the signature over the app secret,
timestamp and nonce (401), the JSON and its fields (400 naming the field) — then the message is
stored once (the platform retries when no 200 comes within 5 s, and a 私信 has no id on the
wire: sender, time and text make its key) and the answer is 200 at once; the pipeline runs in
the background. No permission: the signature is the authentication.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from kefu.channels.weibo.config import WeiboAccount
from kefu.channels.weibo.inbound import Item, dm_key, store, weibo_time
from kefu.logs import get_logger
from kefu.web.errors import problem

log = get_logger(__name__)
router = APIRouter(tags=["weibo"])

TYPES = ("text", "image", "event", "voice", "position", "mention")
EVENTS = ("follow", "unfollow", "subscribe", "unsubscribe", "scan", "click")


class Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature(secret: str, timestamp: str, nonce: str) -> str:
    """sha1 over the sorted app secret, timestamp and nonce, as hex (Weibo's rule)."""
    return hashlib.sha1("".join(sorted([secret, timestamp, nonce])).encode()).hexdigest()


def _account(request: Request, name: str) -> WeiboAccount | None:
    accounts = request.app.state.settings.weibo_accounts
    return next((a for a in accounts if a.name == name), None)


def _verify(request: Request, account: WeiboAccount) -> None:
    values = {}
    for name in ("signature", "timestamp", "nonce"):
        value = request.query_params.get(name)
        if not value:
            raise Rejected(401, f"query parameter {name} is required")
        values[name] = value
    expected = signature(account.secret, values["timestamp"], values["nonce"])
    # As bytes: compare_digest raises on str with non-ASCII characters (a 500, not a 401).
    if not hmac.compare_digest(expected.encode(), values["signature"].lower().encode()):
        raise Rejected(401, "signature does not match")


@router.get("/weibo/{name}/push", include_in_schema=False)
async def verify_url(request: Request, name: str) -> Response:
    account = _account(request, name)
    if account is None:
        return problem(404, f"no Weibo account named {name!r}")
    try:
        _verify(request, account)
    except Rejected as exc:
        return problem(exc.status, exc.reason, rule=exc.reason)
    echostr = request.query_params.get("echostr")
    if not echostr:
        return problem(400, "query parameter echostr is required", rule="echostr")
    return PlainTextResponse(echostr)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Rejected(413, f"body larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, kind):
        raise Rejected(400, f"field {name} is missing or of the wrong type")
    return value


def parse_push(raw: bytes, account: WeiboAccount) -> Item:
    """The pushed message as an item to store; Rejected(400) naming what is wrong."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Rejected(400, "body is not JSON (UTF-8)") from None
    if not isinstance(body, dict):
        raise Rejected(400, "body must be a JSON object")
    kind = _field(body, "type", str)
    if kind not in TYPES:
        raise Rejected(400, f"field type must be one of {', '.join(TYPES)}")
    sender = str(_field(body, "sender_id", (int, str)))
    receiver = str(_field(body, "receiver_id", (int, str)))
    if not sender.isdigit():
        raise Rejected(400, "field sender_id must be a user id")
    if receiver != account.uid:
        raise Rejected(400, "field receiver_id is not this account's uid")
    created_at = _field(body, "created_at", str)
    posted_at = weibo_time(created_at)
    if posted_at is None:
        raise Rejected(400, "field created_at is not a Weibo time")
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise Rejected(400, "field data must be an object")
    text = body.get("text", "")
    if not isinstance(text, str):
        raise Rejected(400, "field text must be a string")
    if kind == "event":
        subtype = data.get("subtype")
        if not isinstance(subtype, str) or not subtype:
            raise Rejected(400, "field data.subtype is required for an event")
        text = text or subtype
    elif kind == "text" and not text.strip():
        raise Rejected(400, "field text is empty")
    elif kind != "text":
        text = (
            text or f"[{ {'image': '图片', 'voice': '语音', 'position': '位置'}.get(kind, kind) }]"
        )
    return Item(
        kind="event" if kind == "event" else "dm",
        external_id=dm_key(sender, created_at, f"{kind}:{text}"),
        sender_uid=sender, sender_name="", text=text[:2000], posted_at=posted_at,
        payload={"type": kind, "data": data, "created_at": created_at},
    )  # fmt: skip


@router.post("/weibo/{name}/push", include_in_schema=False)
async def receive(request: Request, name: str) -> Response:
    account = _account(request, name)
    runtime = getattr(request.app.state, "weibo_runtime", None)
    if account is None or runtime is None:
        return problem(404, f"no Weibo account named {name!r}")
    try:
        raw = await _read_body(request, request.app.state.settings.weibo_max_body_bytes)
        _verify(request, account)
        item = parse_push(raw, account)
    except Rejected as exc:
        log.info("weibo_push_rejected", account=name, reason=exc.reason)
        return problem(exc.status, exc.reason, rule=exc.reason)
    async with runtime.sessionmaker() as db:
        new = await store(db, account.name, [item])
        await db.commit()
    if new:
        runtime.stats["pushed"] += 1
        runtime.hand_on_later(new)
    else:
        runtime.stats["push_duplicates"] += 1
    return PlainTextResponse("success")
