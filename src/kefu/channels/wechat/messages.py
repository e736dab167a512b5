"""WeChat's XML, behind kefu's own types: an inbound message or event (parsed by wechatpy)
and a passive reply (built by wechatpy)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any
from xml.parsers.expat import ExpatError

from wechatpy import parse_message
from wechatpy.replies import ArticlesReply, TextReply

from kefu.channels.wechat.crypto import CallbackRejected

MESSAGE_TYPES = frozenset({"text", "image", "voice", "video", "shortvideo", "location", "link"})
EVENTS = frozenset({"subscribe", "unsubscribe", "scan", "location", "click", "view"})


@dataclass(frozen=True)
class WechatMessage:
    """One message or event a follower sent to an official account."""

    openid: str  # FromUserName
    account_id: str  # ToUserName: the account's original id (gh_…)
    create_time: int
    msg_type: str  # text, image, voice, video, shortvideo, location, link, event
    msg_id: str | None = None
    event: str | None = None  # subscribe, unsubscribe, scan, location, click, view
    key: str | None = None  # CLICK key, VIEW url, QR scene (qrscene_ stripped)
    content: str = ""  # text, voice recognition, link title, location label
    media_id: str | None = None
    url: str | None = None  # PicUrl, link Url
    latitude: float | None = None
    longitude: float | None = None
    menu_id: str | None = None  # bizmsgmenuid: the item tapped in a menu message (msgmenu)

    @property
    def dedupe_key(self) -> str:
        """WeChat's documented identity of a delivery: MsgId, or for events (which carry none)
        FromUserName + CreateTime — plus the event and its key, which a retry repeats, so two
        different menu taps within one second stay two messages."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        key = hashlib.sha1((self.key or "").encode()).hexdigest()[:16] if self.key else ""
        return f"evt:{self.openid}:{self.create_time}:{self.event or ''}:{key}"


# The fields of a message its inbound row has no column for (kefu.channels.wechat.models
# ``WechatInbound.message``), so a message can be answered again from its row alone.
KEPT_FIELDS = ("account_id", "create_time", "msg_id", "key", "media_id", "url", "latitude",
               "longitude", "menu_id")  # fmt: skip


def kept_fields(message: WechatMessage, base_url: str) -> dict[str, Any]:
    """What the inbound row keeps of ``message`` beside its columns, and the callback's base
    URL (answers link to H5 pages under it)."""
    kept = {name: getattr(message, name) for name in KEPT_FIELDS if getattr(message, name)
            is not None}  # fmt: skip
    kept["base_url"] = base_url
    return kept


def restored(
    kept: dict[str, Any] | None, *, openid: str, msg_type: str, event: str | None, content: str
) -> tuple[WechatMessage, str]:
    """The message an inbound row holds and the base URL its callback saw. A row stored before
    the row kept these fields (migration 0050) has only its columns: text and menu taps by
    their label answer the same; a place or a media id is lost."""
    kept = dict(kept or {})
    base_url = str(kept.pop("base_url", "") or "/")
    fields = {name: kept[name] for name in KEPT_FIELDS if name in kept}
    fields.setdefault("account_id", "")
    fields.setdefault("create_time", 0)
    message = WechatMessage(openid=openid, msg_type=msg_type, event=event, content=content,
                            **fields)  # fmt: skip
    return message, base_url


def _required(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise CallbackRejected(f"message has no {name}")
    return value


def parse(xml: str) -> WechatMessage:
    """Parses a plaintext message; refuses DTDs (entity expansion) and messages missing
    WeChat's required fields."""
    if "<!DOCTYPE" in xml.upper() or "<!ENTITY" in xml.upper():
        raise CallbackRejected("XML with a DTD is refused")
    try:
        message = parse_message(xml)
    except (ExpatError, KeyError, ValueError, TypeError, AttributeError):
        raise CallbackRejected("body is not a WeChat message (XML with MsgType)") from None
    if message is None:
        raise CallbackRejected("empty body")
    raw: dict[str, Any] = message._data  # wechatpy keeps the parsed fields here
    openid = _required(raw, "FromUserName")
    target = _required(raw, "ToUserName")
    created = str(raw.get("CreateTime", ""))
    if not created.isdigit():
        raise CallbackRejected("CreateTime must be Unix seconds")
    msg_type = _required(raw, "MsgType").lower()
    base: dict[str, Any] = {"openid": openid, "account_id": target,
                            "create_time": int(created), "msg_type": msg_type}  # fmt: skip
    if msg_type == "event":
        event = _required(raw, "Event").lower()
        if event not in EVENTS and not event.startswith("subscribe_"):
            # Other events (template send reports, card events…) are acknowledged, not answered.
            return WechatMessage(**base, event=event)
        key = raw.get("EventKey") or None
        if event == "subscribe_scan":
            event = "subscribe"  # wechatpy's name for a follow through a QR code
        if event in ("location",):
            return WechatMessage(**base, event=event, latitude=_float(raw, "Latitude"),
                                 longitude=_float(raw, "Longitude"))  # fmt: skip
        if event == "click" and not key:
            raise CallbackRejected("CLICK event without EventKey")
        return WechatMessage(**base, event=event, key=key, url=key if event == "view" else None)
    if msg_type not in MESSAGE_TYPES:
        return WechatMessage(**base, msg_id=str(raw.get("MsgId") or "") or None)
    msg_id = raw.get("MsgId")
    if not msg_id or not str(msg_id).isdigit():
        raise CallbackRejected("message has no numeric MsgId")
    base["msg_id"] = str(msg_id)
    if msg_type == "text":
        content = raw.get("Content")
        if not isinstance(content, str):
            raise CallbackRejected("text message has no Content")
        menu_id = raw.get("bizmsgmenuid")
        menu_id = str(menu_id)[:64] if isinstance(menu_id, str | int) and str(menu_id) else None
        return WechatMessage(**base, content=content, menu_id=menu_id)
    if msg_type == "location":
        return WechatMessage(**base, latitude=_float(raw, "Location_X"),
                             longitude=_float(raw, "Location_Y"),
                             content=str(raw.get("Label") or ""))  # fmt: skip
    if msg_type == "link":
        return WechatMessage(**base, content=str(raw.get("Title") or ""),
                             url=str(raw.get("Url") or ""))  # fmt: skip
    return WechatMessage(**base, media_id=_required(raw, "MediaId"),
                         url=raw.get("PicUrl"), content=str(raw.get("Recognition") or ""))  # fmt: skip


def _float(raw: dict[str, Any], name: str) -> float:
    try:
        value = float(raw.get(name, ""))
    except (TypeError, ValueError):
        raise CallbackRejected(f"{name} must be a number") from None
    limit = 90 if name in ("Latitude", "Location_X") else 180
    if not -limit <= value <= limit:
        raise CallbackRejected(f"{name} out of range")
    return value


def reply_xml(answer: dict[str, Any], *, to_openid: str, from_account: str) -> str:
    """A passive reply for a rendered answer ({"type": "text"|"news", ...})."""
    now = int(time.time())
    if answer["type"] == "news":
        reply = ArticlesReply(source=from_account, target=to_openid, time=now)
        for a in answer["articles"]:
            reply.add_article({"title": _cdata_safe(a["title"]),
                               "description": _cdata_safe(a.get("description", "")),
                               "url": _cdata_safe(a.get("url", "")),
                               "image": _cdata_safe(a.get("picurl", ""))})  # fmt: skip
        return reply.render()
    return TextReply(
        source=from_account, target=to_openid, content=_cdata_safe(answer["content"]), time=now
    ).render()


def _cdata_safe(text: str) -> str:
    # wechatpy wraps values in CDATA without splitting "]]>", which would end the section.
    return text.replace("]]>", "]] >")
