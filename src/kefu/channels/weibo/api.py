"""An async client for the Weibo open API as kefu uses it (the three hosts of
docs/channels/weibo.md): OAuth2, the account's mentions and comments, comment writes,
私信 replies and the rate-limit status.

Every refusal becomes a :class:`WeiboApiError` with Weibo's ``error_code``; failures of the
transport get codes of their own (``TIMEOUT``: the call may have been carried out; ``UNREACHABLE``,
``MALFORMED``, ``HTTP``). The error says what the caller should do: wait for the rate-limit
reset, wait for an admin to authorise again, back off and retry, or give up on the item.

The access token lives in the ``weibo_tokens`` row (one per account, shared by every process);
a 21327/21332 answer marks the row so that polling and sending stop and the admin page says why.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.weibo.config import WeiboAccount
from kefu.channels.weibo.models import TokenStatus, WeiboToken
from kefu.db.base import utcnow
from kefu.logs import get_logger

log = get_logger(__name__)

# Transport failures, as codes of their own (Weibo's codes are all positive).
UNREACHABLE = -1  # the request did not reach Weibo: safe to send again
TIMEOUT = -2  # no answer in time: the call may have been carried out
MALFORMED = -3  # an answer that is not the JSON object expected
HTTP = -4  # a non-JSON error page (502 from a proxy, …)
NO_TOKEN = -5  # kefu holds no usable token for the account

RATE_LIMITED = frozenset({10022, 10023, 10024})
TOKEN_CODES = frozenset({21314, 21315, 21316, 21317, 21319, 21327, 21332, 21501})
EXPIRED_CODES = frozenset({21315, 21327})
TRANSIENT = frozenset({10001, 10002, 10009, 20016, UNREACHABLE, TIMEOUT, MALFORMED, HTTP})
REPEAT_CONTENT = 20019
STATUS_DELETED = 20101
COMMENT_DELETED = 20206
WINDOW_CLOSED = 21609  # 私信 replies only within 48 hours of the user's last 私信
TEXT_TOO_LONG = 20012
COMMENT_MAX = 140
DM_MAX = 1000


class WeiboApiError(Exception):
    def __init__(self, code: int, message: str, *, http_status: int = 0, path: str = "") -> None:
        super().__init__(f"Weibo API error {code} on {path or '?'}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.path = path

    @property
    def rate_limited(self) -> bool:
        return self.code in RATE_LIMITED

    @property
    def token_problem(self) -> bool:
        return self.code in TOKEN_CODES or self.code == NO_TOKEN

    @property
    def transient(self) -> bool:
        """Worth trying again after a pause (system errors, transport failures)."""
        return self.code in TRANSIENT

    @property
    def maybe_done(self) -> bool:
        """The call may have been carried out although no answer said so."""
        return self.code in (TIMEOUT, MALFORMED) or (self.code == HTTP and self.http_status >= 500)


@dataclass(frozen=True)
class Token:
    access_token: str
    uid: str
    expires_at: datetime


@dataclass(frozen=True)
class RateLimit:
    remaining_user_hits: int
    reset_in_seconds: float


class TokenStore:
    """The account's token row, read at most once a second per process (the poller and the
    sender ask for it before every call)."""

    CACHE = 1.0

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], account: str) -> None:
        self.sessionmaker = sessionmaker
        self.account = account
        self._cached: tuple[float, WeiboToken | None] | None = None

    async def row(self) -> WeiboToken | None:
        if self._cached is not None and time.monotonic() - self._cached[0] < self.CACHE:
            return self._cached[1]
        async with self.sessionmaker() as db:
            row = await db.get(WeiboToken, self.account)
            if row is not None:
                db.expunge(row)
        self._cached = (time.monotonic(), row)
        return row

    async def current(self) -> str:
        row = await self.row()
        if row is None or not row.access_token or row.status != TokenStatus.OK:
            status = row.status if row is not None else TokenStatus.MISSING
            raise WeiboApiError(NO_TOKEN, f"no usable access token ({status}): authorise the "
                                f"account {self.account!r} on /admin/weibo")  # fmt: skip
        if row.expires_at is not None and row.expires_at <= utcnow():
            await self.mark(row.access_token, TokenStatus.EXPIRED, "the token's expiry passed")
            raise WeiboApiError(NO_TOKEN, "the access token expired: authorise again")
        return row.access_token

    async def store(self, token: Token, *, actor: str) -> None:
        async with self.sessionmaker() as db:
            row = await db.get(WeiboToken, self.account)
            if row is None:
                row = WeiboToken(account=self.account)
                db.add(row)
            row.uid, row.access_token, row.expires_at = (
                token.uid,
                token.access_token,
                token.expires_at,
            )
            row.status, row.detail, row.authorised_by = TokenStatus.OK, "", actor[:64]
            row.updated_at = utcnow()
            await db.commit()
        self._cached = None
        log.info("weibo_token_stored", account=self.account, by=actor,
                 expires_at=token.expires_at.isoformat())  # fmt: skip

    async def mark(self, access_token: str, status: str, detail: str) -> None:
        """Marks the token unusable — only the one that failed: an admin may have stored a
        new one meanwhile."""
        async with self.sessionmaker() as db:
            result = await db.execute(
                update(WeiboToken)
                .where(WeiboToken.account == self.account, WeiboToken.access_token == access_token,
                       WeiboToken.status == TokenStatus.OK)
                .values(status=status, detail=detail[:200], updated_at=utcnow())
            )  # fmt: skip
            await db.commit()
        self._cached = None
        if result.rowcount:
            log.warning("weibo_token_unusable", account=self.account, status=status, detail=detail)


class WeiboApi:
    """The API of one official account."""

    def __init__(
        self,
        account: WeiboAccount,
        *,
        http: httpx.AsyncClient,
        tokens: TokenStore,
        timeout: float = 10.0,
    ) -> None:
        self.account = account
        self.http = http
        self.tokens = tokens
        self.timeout = timeout

    # ------------------------------------------------------------------ transport
    async def _request(
        self,
        method: str,
        url: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            response = await self.http.request(method, url + path, params=params, data=data,
                                               timeout=self.timeout)  # fmt: skip
        except httpx.TimeoutException as exc:
            # A read timeout: the request went out and may have been carried out.
            code = (
                UNREACHABLE
                if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
                else TIMEOUT
            )
            raise WeiboApiError(code, f"no answer within {self.timeout} s", path=path) from None
        except httpx.HTTPError as exc:
            raise WeiboApiError(
                UNREACHABLE, f"unreachable: {type(exc).__name__}", path=path
            ) from None
        try:
            body = response.json()
        except ValueError:
            if response.status_code >= 400:
                raise WeiboApiError(HTTP, f"HTTP {response.status_code} without JSON",
                                    http_status=response.status_code, path=path) from None  # fmt: skip
            raise WeiboApiError(MALFORMED, "the answer is not JSON",
                                http_status=response.status_code, path=path) from None  # fmt: skip
        if isinstance(body, dict) and "error_code" in body:
            try:
                code = int(body["error_code"])
            except (TypeError, ValueError):
                code = MALFORMED
            raise WeiboApiError(code, str(body.get("error", ""))[:200],
                                http_status=response.status_code, path=path)  # fmt: skip
        if response.status_code >= 400:
            raise WeiboApiError(HTTP, f"HTTP {response.status_code}",
                                http_status=response.status_code, path=path)  # fmt: skip
        return body

    async def call(
        self,
        method: str,
        path: str,
        *,
        host: str | None = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An authenticated call. A token Weibo calls expired or invalid is marked on the
        row (polling and sending wait for an admin) and the error raised."""
        token = await self.tokens.current()
        base = host or self.account.api_base
        if method == "GET":
            params = {**(params or {}), "access_token": token}
        else:
            data = {**(data or {}), "access_token": token}
        try:
            body = await self._request(method, base, path, params=params, data=data)
        except WeiboApiError as exc:
            if exc.code in TOKEN_CODES:
                status = TokenStatus.EXPIRED if exc.code in EXPIRED_CODES else TokenStatus.INVALID
                await self.tokens.mark(token, status, f"Weibo {exc.code}: {exc.message}")
            raise
        if not isinstance(body, dict):
            raise WeiboApiError(MALFORMED, "the answer is not a JSON object", path=path)
        return body

    # ------------------------------------------------------------------ OAuth2
    def authorize_url(self, redirect_uri: str, state: str, *, auto: bool = False) -> str:
        query = {"client_id": self.account.app_key, "redirect_uri": redirect_uri,
                 "response_type": "code", "state": state}  # fmt: skip
        if auto:
            query["auto"] = "1"  # the simulator's consent without a click (tests, demo)
        return f"{self.account.api_base}/oauth2/authorize?{urlencode(query)}"

    async def exchange_code(self, code: str, redirect_uri: str) -> Token:
        body = await self._request(
            "POST", self.account.api_base, "/oauth2/access_token",
            data={"client_id": self.account.app_key, "client_secret": self.account.secret,
                  "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        )  # fmt: skip
        try:
            token, expires_in = str(body["access_token"]), int(body["expires_in"])
            uid = str(body.get("uid", ""))
        except (KeyError, TypeError, ValueError):
            raise WeiboApiError(MALFORMED, "the token answer lacks access_token or expires_in",
                                path="/oauth2/access_token") from None  # fmt: skip
        if uid and uid != self.account.uid:
            raise WeiboApiError(21332, f"the token is for uid {uid}, not the account's "
                                f"{self.account.uid}: sign in as the official account")  # fmt: skip
        return Token(token, uid or self.account.uid, utcnow() + timedelta(seconds=expires_in))

    async def token_info(self, access_token: str) -> dict[str, Any]:
        body = await self._request("POST", self.account.api_base, "/oauth2/get_token_info",
                                   data={"access_token": access_token})  # fmt: skip
        return body if isinstance(body, dict) else {}

    # ------------------------------------------------------------------ reads
    async def timeline(
        self, stream: str, *, since_id: int, max_id: int | None, count: int
    ) -> list[dict[str, Any]]:
        """One page of a stream, newest first: ``mentions`` (posts), ``comment_mentions``,
        ``comments_to_me``."""
        path, key = STREAMS[stream]
        params: dict[str, Any] = {"since_id": since_id, "count": count}
        if max_id is not None:
            params["max_id"] = max_id
        body = await self.call("GET", path, params=params)
        items = body.get(key)
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise WeiboApiError(MALFORMED, f"no {key} list in the answer", path=path)
        return items

    async def search(
        self, q: str, *, since_id: int, max_id: int | None, count: int
    ) -> list[dict[str, Any]]:
        """One page of the commercial search (``search_api_base``): public posts whose text
        holds ``q``, newest first, paged like the timelines. It counts against the token's
        hourly read quota like every other read."""
        path = SEARCH
        params: dict[str, Any] = {"q": q, "since_id": since_id, "count": count}
        if max_id is not None:
            params["max_id"] = max_id
        body = await self.call("GET", path, host=self.account.search_api_base, params=params)
        items = body.get("statuses")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise WeiboApiError(MALFORMED, "no statuses list in the answer", path=path)
        return items

    async def rate_limit(self) -> RateLimit:
        body = await self.call("GET", "/2/account/rate_limit_status.json")
        try:
            return RateLimit(int(body.get("remaining_user_hits", 0)),
                             float(body["reset_time_in_seconds"]))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            raise WeiboApiError(MALFORMED, "no reset_time_in_seconds",
                                path="/2/account/rate_limit_status.json") from None  # fmt: skip

    async def comments_on(self, status_id: str, *, count: int = 50) -> list[dict[str, Any]]:
        body = await self.call("GET", "/2/comments/show.json",
                               params={"id": status_id, "count": count})  # fmt: skip
        items = body.get("comments")
        if not isinstance(items, list):
            raise WeiboApiError(MALFORMED, "no comments list", path="/2/comments/show.json")
        return [i for i in items if isinstance(i, dict)]

    # ------------------------------------------------------------------ writes
    async def comment(self, status_id: str, text: str) -> dict[str, Any]:
        return await self.call("POST", "/2/comments/create.json",
                               data={"id": status_id, "comment": text, "comment_ori": 0})  # fmt: skip

    async def reply(self, comment_id: str, status_id: str, text: str) -> dict[str, Any]:
        return await self.call(
            "POST", "/2/comments/reply.json",
            data={"cid": comment_id, "id": status_id, "comment": text, "without_mention": 0},
        )  # fmt: skip

    async def dm(self, receiver_uid: str, text: str) -> dict[str, Any]:
        body = await self.call(
            "POST", "/2/messages/reply.json", host=self.account.dm_api_base,
            data={"type": "text", "data": json.dumps({"text": text}, ensure_ascii=False),
                  "receiver_id": receiver_uid, "save_sender_box": 1},
        )  # fmt: skip
        if body.get("result") is not True:
            raise WeiboApiError(MALFORMED, "the reply answer has no result: true",
                                path="/2/messages/reply.json")  # fmt: skip
        return body


SEARCH = "/2/search/statuses/limited.json"
STREAMS: dict[str, tuple[str, str]] = {
    "mentions": ("/2/statuses/mentions.json", "statuses"),
    "comment_mentions": ("/2/comments/mentions.json", "comments"),
    "comments_to_me": ("/2/comments/to_me.json", "comments"),
}
