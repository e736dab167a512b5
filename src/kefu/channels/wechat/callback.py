"""The callback WeChat calls: ``GET/POST /channels/wechat/{account}``.

GET is URL verification (echo ``echostr`` when the signature matches). POST carries a message
or event: plaintext, compatible (plaintext + ``Encrypt``) or safe (``Encrypt`` only, with
``msg_signature``). Every request is checked before anything is stored: the account, body size,
the signature over token/timestamp/nonce, the timestamp window (replays), the message signature
and the AES envelope. A refusal is problem+json naming the rule. No permission: WeChat's
signature is the authentication.
"""

from __future__ import annotations

import secrets
from xml.parsers.expat import ExpatError

import xmltodict
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from kefu.channels.wechat import crypto
from kefu.channels.wechat.config import WechatAccount
from kefu.channels.wechat.crypto import CallbackRejected
from kefu.channels.wechat.messages import WechatMessage, parse, reply_xml
from kefu.channels.wechat.service import ChannelBusy
from kefu.logs import get_logger
from kefu.web.errors import problem

log = get_logger(__name__)
router = APIRouter(tags=["wechat"])


def _settings(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.settings


def _account(request: Request, name: str) -> WechatAccount | None:
    return next((a for a in _settings(request).wechat_accounts if a.name == name), None)


def _param(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise CallbackRejected(f"query parameter {name} is required")
    return value


def _verify_request(request: Request, account: WechatAccount) -> tuple[str, str]:
    signature, timestamp, nonce = (_param(request, n) for n in ("signature", "timestamp", "nonce"))
    crypto.check_timestamp(timestamp, _settings(request).wechat_timestamp_window)
    crypto.check_signature(account.token, signature, timestamp, nonce)
    return timestamp, nonce


@router.get("/channels/wechat/{account}", include_in_schema=False)
async def verify_url(request: Request, account: str) -> Response:
    """WeChat's server check when the URL is saved on the console: echo ``echostr``."""
    found = _account(request, account)
    if found is None:
        return problem(404, f"no WeChat account named {account!r}")
    try:
        _verify_request(request, found)
        echostr = _param(request, "echostr")
    except CallbackRejected as exc:
        return problem(exc.status, exc.reason)
    return PlainTextResponse(echostr)


def _unwrap(request: Request, account: WechatAccount, body: str, timestamp: str, nonce: str) -> str:
    """The plaintext XML of the request, decrypting and checking it in compatible/safe mode."""
    encrypted = request.query_params.get("encrypt_type", "raw").lower()
    if encrypted == "raw":
        if account.mode == "safe" and not account.accept_plaintext:
            raise CallbackRejected("safe mode: the message must be encrypted", 403)
        return body
    if encrypted != "aes":
        raise CallbackRejected("encrypt_type must be aes or raw")
    if not account.encrypts:
        raise CallbackRejected("plain mode: this account has no EncodingAESKey", 403)
    msg_signature = _param(request, "msg_signature")
    try:
        envelope = xmltodict.parse(body).get("xml") or {}
    except (ExpatError, ValueError, AttributeError):
        raise CallbackRejected("body is not XML") from None
    encrypt = envelope.get("Encrypt") if isinstance(envelope, dict) else None
    if not isinstance(encrypt, str) or not encrypt:
        raise CallbackRejected("encrypted message has no Encrypt element")
    crypto.check_msg_signature(account.token, msg_signature, timestamp, nonce, encrypt)
    return crypto.decrypt(account.encoding_aes_key, account.app_id, encrypt)


async def _read_body(request: Request, limit: int) -> str:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise CallbackRejected(f"body larger than {limit} bytes", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise CallbackRejected(f"body larger than {limit} bytes", 413)
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise CallbackRejected("body is not UTF-8") from None


@router.post("/channels/wechat/{account}", include_in_schema=False)
async def receive(request: Request, account: str) -> Response:
    found = _account(request, account)
    channel = getattr(request.app.state, "wechat", None)
    if found is None or channel is None:
        return problem(404, f"no WeChat account named {account!r}")
    try:
        body = await _read_body(request, _settings(request).wechat_max_body_bytes)
        timestamp, nonce = _verify_request(request, found)
        if "<!DOCTYPE" in body.upper() or "<!ENTITY" in body.upper():
            raise CallbackRejected("XML with a DTD is refused")
        encrypted = request.query_params.get("encrypt_type", "raw").lower() == "aes"
        message: WechatMessage = parse(_unwrap(request, found, body, timestamp, nonce))
    except CallbackRejected as exc:
        log.info("wechat_callback_rejected", account=account, reason=exc.reason)
        return problem(exc.status, exc.reason, rule=exc.reason)
    try:
        answer = await channel.receive(found, message, base_url=str(request.base_url))
    except ChannelBusy as exc:
        log.warning("wechat_callback_busy", account=account)
        response = problem(503, f"{exc}; WeChat will retry", rule="busy")
        response.headers["Retry-After"] = "1"
        return response
    if answer is None:
        return PlainTextResponse("success")
    xml = reply_xml(answer, to_openid=message.openid, from_account=message.account_id)
    if encrypted:
        xml = crypto.encrypt_reply(found.token, found.encoding_aes_key, found.app_id, xml,
                                   secrets.token_hex(8))  # fmt: skip
    return Response(xml, media_type="application/xml")
