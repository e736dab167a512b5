"""Sending as a follower: what WeChat's server does when a user writes to an official account.

Builds the message XML WeChat documents, signs it (and in compatible/safe mode encrypts it)
with **wechatpy** — an implementation independent of kefu's own callback code — and POSTs it to
the callback URL with WeChat's query parameters, retrying as WeChat does when no answer comes
within five seconds. The passive reply is decrypted and parsed back with wechatpy too.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

WECHAT_TIMEOUT = 5.0  # WeChat drops the connection after five seconds …
WECHAT_TRIES = 3  # … and tries three times in all (微信服务器在五秒内收不到响应会重新发起请求)


@dataclass(frozen=True)
class CallbackTarget:
    """Where and how WeChat calls kefu for one official account."""

    url: str
    token: str
    app_id: str
    encoding_aes_key: str = ""
    mode: str = "plain"  # plain, compatible, safe
    original_id: str = "gh_kefu00000000"  # the account's 原始ID, ToUserName in messages


@dataclass
class CallbackResult:
    status: int
    body: str
    attempts: int
    reply: dict[str, Any] | None = None  # the passive reply's fields; None for "success"/""
    elapsed: float = 0.0
    timeouts: int = 0
    errors: list[str] = field(default_factory=list)


def signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(
    target: CallbackTarget,
    openid: str,
    msg_type: str,
    fields: dict[str, Any],
    *,
    create_time: int | None = None,
) -> str:
    """The XML WeChat posts for a message or event; ``fields`` are the type's own elements
    (Content, MsgId, Event, EventKey, Location_X, …) in WeChat's names."""
    parts = [
        f"<ToUserName>{_cdata(target.original_id)}</ToUserName>",
        f"<FromUserName>{_cdata(openid)}</FromUserName>",
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>",
        f"<MsgType>{_cdata(msg_type)}</MsgType>",
    ]
    for name, value in fields.items():
        if isinstance(value, int | float):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}>{_cdata(str(value))}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def text_xml(target: CallbackTarget, openid: str, content: str, msg_id: int, **kw: Any) -> str:
    return message_xml(target, openid, "text", {"Content": content, "MsgId": msg_id}, **kw)


def event_xml(
    target: CallbackTarget, openid: str, event: str, key: str | None = None, **kw: Any
) -> str:
    fields: dict[str, Any] = {"Event": event}
    if key is not None:
        fields["EventKey"] = key
    extra = kw.pop("extra", None) or {}
    return message_xml(target, openid, "event", {**fields, **extra}, **kw)


def build_request(
    target: CallbackTarget,
    xml: str,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
    mode: str | None = None,
) -> tuple[dict[str, str], str]:
    """The query parameters and body WeChat sends for ``xml`` in the target's mode."""
    mode = mode or target.mode
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**10))
    params = {"signature": signature(target.token, ts, nonce), "timestamp": ts, "nonce": nonce,
              "openid": _openid(xml)}  # fmt: skip
    if mode == "plain":
        return params, xml
    crypto = WeChatCrypto(target.token, target.encoding_aes_key, target.app_id)
    envelope = xmltodict.parse(crypto.encrypt_message(xml, nonce, ts))["xml"]
    encrypted = envelope["Encrypt"]
    params |= {"encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]}
    if mode == "compatible":
        # 兼容模式: the plaintext fields and the Encrypt element travel together.
        body = xml.replace("</xml>", f"<Encrypt>{_cdata(encrypted)}</Encrypt></xml>")
    else:
        body = (
            f"<xml><ToUserName>{_cdata(target.original_id)}</ToUserName>"
            f"<Encrypt>{_cdata(encrypted)}</Encrypt></xml>"
        )
    return params, body


def _openid(xml: str) -> str:
    start = xml.find("<FromUserName>")
    chunk = xml[start + len("<FromUserName>") : xml.find("</FromUserName>")]
    return chunk.removeprefix("<![CDATA[").removesuffix("]]>")


def parse_reply(target: CallbackTarget, body: str, *, encrypted: bool) -> dict[str, Any] | None:
    """The passive reply's fields (wechatpy decrypts and checks its signature), or None when
    kefu answered ``success`` or an empty body (nothing to show now)."""
    if body.strip() in ("", "success"):
        return None
    if encrypted:
        envelope = xmltodict.parse(body)["xml"]
        crypto = WeChatCrypto(target.token, target.encoding_aes_key, target.app_id)
        body = crypto.decrypt_message(
            body, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
        )
    return dict(xmltodict.parse(body)["xml"])


async def post_callback(
    http: httpx.AsyncClient,
    target: CallbackTarget,
    xml: str,
    *,
    timeout: float = WECHAT_TIMEOUT,
    tries: int = WECHAT_TRIES,
    mode: str | None = None,
) -> CallbackResult:
    """POSTs like WeChat: a fresh timestamp/nonce per try, a retry after each timeout."""
    mode = mode or target.mode
    started = time.perf_counter()
    result = CallbackResult(status=0, body="", attempts=0)
    for _ in range(tries):
        result.attempts += 1
        params, body = build_request(target, xml, mode=mode)
        try:
            response = await http.post(
                target.url, params=params, content=body.encode(), timeout=timeout,
                headers={"Content-Type": "text/xml"},
            )  # fmt: skip
        except httpx.TimeoutException:
            result.timeouts += 1
            continue
        except httpx.HTTPError as exc:
            result.errors.append(repr(exc))
            continue
        result.status, result.body = response.status_code, response.text
        if response.status_code == 200:
            result.reply = parse_reply(target, response.text, encrypted=mode != "plain")
        break
    result.elapsed = time.perf_counter() - started
    return result
