"""私信 push (粉丝服务平台): what Weibo does when a user writes to the account.

Each message is POSTed to the developer's callback URL, signed with the app secret:
``?signature=sha1("".join(sorted([secret, timestamp, nonce])))&timestamp=&nonce=``, JSON body.
There is no message id on the wire. The receiver has ``push_timeout`` (5 s) to answer HTTP 200;
otherwise Weibo tries again, three tries in all, so a slow receiver sees duplicates. Saving the
callback URL first checks it with a signed GET carrying ``echostr``.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import httpx

from kefu.channels.weibo.simulator.state import DirectMessage, WeiboState, weibo_time


def signature(secret: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([secret, timestamp, nonce])).encode()).hexdigest()


def signed_query(state: WeiboState) -> dict[str, str]:
    timestamp, nonce = str(int(state.now())), secrets.token_hex(8)
    return {
        "signature": signature(state.app_secret, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }


def body(state: WeiboState, message: DirectMessage) -> dict[str, Any]:
    return {
        "type": message.type,
        "receiver_id": message.receiver_id,
        "sender_id": message.sender_id,
        "created_at": weibo_time(message.created_at),
        "text": message.text,
        "data": message.data,
    }


async def push(state: WeiboState, http: httpx.AsyncClient, message: DirectMessage) -> None:
    """Delivers ``message`` to the callback, recording attempts, errors and the outcome."""
    message.delivered = False
    if not state.callback_url:
        message.errors.append("no callback URL is configured")
        return
    payload = body(state, message)
    for _ in range(state.push_tries):
        message.attempts += 1
        try:
            answer = await http.post(
                state.callback_url,
                params=signed_query(state),
                json=payload,
                timeout=state.push_timeout,
            )
        except httpx.TimeoutException:
            message.errors.append(f"no answer within {state.push_timeout:g} s")
            continue
        except httpx.HTTPError as exc:
            message.errors.append(f"{type(exc).__name__}: {exc}")
            continue
        if answer.status_code == 200:
            message.delivered = True
            return
        message.errors.append(f"HTTP {answer.status_code}")


async def verify_url(state: WeiboState, http: httpx.AsyncClient, url: str) -> tuple[bool, str]:
    """The check when a callback URL is saved: the receiver must echo ``echostr``."""
    echostr = secrets.token_hex(8)
    try:
        answer = await http.get(
            url, params={**signed_query(state), "echostr": echostr}, timeout=state.push_timeout
        )
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    if answer.status_code == 200 and answer.text.strip() == echostr:
        return True, ""
    return False, f"HTTP {answer.status_code}, answered {answer.text[:80]!r} not the echostr"
