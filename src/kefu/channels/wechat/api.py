"""An async client for WeChat's server API (api.weixin.qq.com): access token, menus, tags,
customer-service and template messages, media upload.

Every WeChat answer with a non-zero ``errcode`` becomes a ``WechatApiError``. The access token is
shared by every kefu process through the ``wechat_access_tokens`` row: a process that finds it
expired takes a short lease on the row, fetches, and stores; the others wait for the row instead
of fetching too (WeChat caps fetches per day, and each fetch retires the previous token). A call
refused with 40001/40014/42001 (token invalid or expired, e.g. fetched elsewhere) refreshes once
and is retried once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.wechat.config import WechatAccount
from kefu.channels.wechat.models import WechatAccessToken
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert
from kefu.db.retry import is_transient, retry_transaction

TOKEN_INVALID = frozenset({40001, 40014, 42001})
WINDOW_CLOSED = 45015  # "response out of time limit": outside the 48-hour service window
TOKEN_MARGIN = timedelta(seconds=300)  # refresh this long before WeChat's expiry
LEASE = timedelta(seconds=15)
MEDIA_KINDS = ("image", "voice", "video", "thumb")


class WechatApiError(Exception):
    """WeChat refused a call (``errcode`` ≠ 0) or could not be reached (``errcode`` -1 with
    the transport error as ``errmsg``)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def window_closed(self) -> bool:
        """The follower has not interacted in 48 hours: customer-service messages are refused
        until they do; a template message (or another channel) has to carry it."""
        return self.errcode == WINDOW_CLOSED

    @property
    def token_invalid(self) -> bool:
        return self.errcode in TOKEN_INVALID


@dataclass(frozen=True)
class Article:
    """One news (图文) card. WeChat shows one card per customer-service news message."""

    title: str
    description: str = ""
    url: str = ""
    picurl: str = ""

    def as_json(self) -> dict[str, str]:
        return {"title": self.title, "description": self.description, "url": self.url,
                "picurl": self.picurl}  # fmt: skip


class WechatApi:
    """The API of one official account."""

    def __init__(
        self,
        account: WechatAccount,
        *,
        base_url: str,
        http: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.sessionmaker = sessionmaker
        self.clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0  # tokens this process fetched (tests and metrics)

    # ------------------------------------------------------------------ transport
    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
    ) -> dict[str, Any]:
        try:
            response = await self.http.request(
                method, self.base_url + path, params=params, json=json, files=files
            )
        except httpx.HTTPError as exc:
            raise WechatApiError(-1, f"WeChat API unreachable: {exc!r}") from exc
        if response.status_code != 200:
            raise WechatApiError(-1, f"HTTP {response.status_code} from {path}")
        try:
            data = response.json()
        except ValueError:
            raise WechatApiError(-1, f"not JSON from {path}") from None
        if not isinstance(data, dict):
            raise WechatApiError(-1, f"unexpected answer from {path}")
        errcode = int(data.get("errcode", 0) or 0)
        if errcode:
            raise WechatApiError(errcode, str(data.get("errmsg", "")))
        return data

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
    ) -> dict[str, Any]:
        """An authenticated call; a token WeChat calls invalid is refreshed once and the call
        retried once."""
        token = await self.access_token()
        try:
            return await self._request(method, path, params={**(params or {}),
                                       "access_token": token}, json=json, files=files)  # fmt: skip
        except WechatApiError as exc:
            if not exc.token_invalid:
                raise
        await self.invalidate(token)
        token = await self.access_token()
        return await self._request(
            method, path, params={**(params or {}), "access_token": token}, json=json, files=files
        )

    # ------------------------------------------------------------------ access token
    async def fetch_token(self) -> tuple[str, int]:
        data = await self._request(
            "GET",
            "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.account.app_id,
                    "secret": self.account.app_secret},
        )  # fmt: skip
        self.fetches += 1
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    async def access_token(self) -> str:
        if self._token and self.clock() < self._expires:
            return self._token
        async with self._lock:
            if self._token and self.clock() < self._expires:
                return self._token
            if self.sessionmaker is None:
                token, expires_in = await self.fetch_token()
                expires_at = self.clock() + expires_in
            else:
                token, expires_at = await self._shared_token()
            self._token = token
            self._expires = expires_at - TOKEN_MARGIN.total_seconds()
            return token

    async def invalidate(self, token: str) -> None:
        """Forget ``token`` here and in the shared row (only if the row still holds it)."""
        async with self._lock:
            if self._token == token:
                self._token, self._expires = None, 0.0
        if self.sessionmaker is not None:
            async with self.sessionmaker() as db:
                await db.execute(
                    update(WechatAccessToken)
                    .where(
                        WechatAccessToken.app_id == self.account.app_id,
                        WechatAccessToken.access_token == token,
                    )
                    .values(expires_at=self._now())
                )
                await db.commit()

    def _now(self) -> datetime:
        return utcnow() + timedelta(seconds=self.clock() - time.time())

    async def _shared_token(self) -> tuple[str, float]:
        """The shared row's token, fetching it under the row's lease when it is stale."""
        assert self.sessionmaker is not None
        app_id = self.account.app_id
        deadline = self.clock() + LEASE.total_seconds() + 5
        while True:
            now = self._now()
            try:
                found = await self._claim_or_read(app_id, now)
            except DBAPIError as error:
                # Processes racing here deadlock on InnoDB (the duplicate insert's shared lock,
                # then the claim's exclusive one): the loser's transaction is gone, try again.
                if not is_transient(error):
                    raise
                found = None
            if isinstance(found, tuple):
                return found
            if found is True:
                return await self._refresh_under_lease()
            if self.clock() > deadline:
                raise WechatApiError(-1, "timed out waiting for another process's token fetch")
            await asyncio.sleep(0.1)

    async def _claim_or_read(self, app_id: str, now: datetime) -> tuple[str, float] | bool:
        """The shared row's fresh token, or True when this process took the lease to fetch
        one, or False when another process holds it."""
        assert self.sessionmaker is not None
        async with self.sessionmaker() as db:
            await db.execute(
                dialect_insert(db, WechatAccessToken)
                .values(app_id=app_id, access_token="", fetched=0)
                .on_conflict_do_nothing()
            )
            row = await db.scalar(
                select(WechatAccessToken).where(WechatAccessToken.app_id == app_id)
            )
            assert row is not None
            if row.access_token and row.expires_at and row.expires_at > now + TOKEN_MARGIN:
                await db.commit()
                return row.access_token, self.clock() + (row.expires_at - now).total_seconds()
            # Stale: take the lease (one process wins), or wait for the one that has it. The
            # claim re-checks staleness: between our read and this update another process may
            # have fetched, stored and released the lease, and a second fetch would retire
            # the token it just stored (PostgreSQL re-evaluates the WHERE on the newest row).
            claimed = await db.execute(
                update(WechatAccessToken)
                .where(
                    WechatAccessToken.app_id == app_id,
                    or_(
                        WechatAccessToken.refreshing_until.is_(None),
                        WechatAccessToken.refreshing_until < now,
                    ),
                    or_(
                        WechatAccessToken.access_token == "",
                        WechatAccessToken.expires_at.is_(None),
                        WechatAccessToken.expires_at <= now + TOKEN_MARGIN,
                    ),
                )
                .values(refreshing_until=now + LEASE)
            )
            await db.commit()
        return claimed.rowcount == 1

    async def _refresh_under_lease(self) -> tuple[str, float]:
        assert self.sessionmaker is not None
        try:
            token, expires_in = await self.fetch_token()
        except BaseException:
            async with self.sessionmaker() as db:
                await db.execute(
                    update(WechatAccessToken)
                    .where(WechatAccessToken.app_id == self.account.app_id)
                    .values(refreshing_until=None)
                )
                await db.commit()
            raise

        async def store() -> None:
            assert self.sessionmaker is not None
            async with self.sessionmaker() as db:
                await db.execute(
                    update(WechatAccessToken)
                    .where(WechatAccessToken.app_id == self.account.app_id)
                    .values(
                        access_token=token,
                        expires_at=self._now() + timedelta(seconds=expires_in),
                        refreshing_until=None,
                        fetched=WechatAccessToken.fetched + 1,
                    )
                )
                await db.commit()

        # The waiting processes' reads can deadlock the store on InnoDB: store it again.
        await retry_transaction(store)
        return token, self.clock() + expires_in

    # ------------------------------------------------------------------ menus
    async def menu_create(self, menu: Mapping[str, Any]) -> None:
        await self.call("POST", "/cgi-bin/menu/create", json=menu)

    async def menu_get(self) -> dict[str, Any]:
        return await self.call("GET", "/cgi-bin/get_current_selfmenu_info")

    async def menu_get_all(self) -> dict[str, Any]:
        """The default menu and conditional menus (``/cgi-bin/menu/get``)."""
        return await self.call("GET", "/cgi-bin/menu/get")

    async def menu_delete(self) -> None:
        await self.call("GET", "/cgi-bin/menu/delete")

    async def menu_add_conditional(self, menu: Mapping[str, Any]) -> str:
        """A menu shown to users matching ``menu["matchrule"]`` (e.g. a tag); returns menuid."""
        return str((await self.call("POST", "/cgi-bin/menu/addconditional", json=menu))["menuid"])

    async def menu_delete_conditional(self, menuid: str) -> None:
        await self.call("POST", "/cgi-bin/menu/delconditional", json={"menuid": menuid})

    # ------------------------------------------------------------------ tags
    async def tags_create(self, name: str) -> dict[str, Any]:
        return (await self.call("POST", "/cgi-bin/tags/create", json={"tag": {"name": name}}))[
            "tag"
        ]

    async def tags_list(self) -> list[dict[str, Any]]:
        return list((await self.call("GET", "/cgi-bin/tags/get"))["tags"])

    async def tags_tag_users(self, tag_id: int, openids: Sequence[str]) -> None:
        """Batch tagging, at most 50 openids a call (WeChat's limit): larger lists are split."""
        for start in range(0, len(openids), 50):
            await self.call("POST", "/cgi-bin/tags/members/batchtagging",
                            json={"openid_list": list(openids[start : start + 50]),
                                  "tagid": tag_id})  # fmt: skip

    async def tags_untag_users(self, tag_id: int, openids: Sequence[str]) -> None:
        for start in range(0, len(openids), 50):
            await self.call("POST", "/cgi-bin/tags/members/batchuntagging",
                            json={"openid_list": list(openids[start : start + 50]),
                                  "tagid": tag_id})  # fmt: skip

    async def tags_of_user(self, openid: str) -> list[int]:
        data = await self.call("POST", "/cgi-bin/tags/getidlist", json={"openid": openid})
        return [int(t) for t in data.get("tagid_list", [])]

    # ------------------------------------------------------------------ messages
    async def send_custom(self, openid: str, msgtype: str, body: Mapping[str, Any]) -> None:
        await self.call("POST", "/cgi-bin/message/custom/send",
                        json={"touser": openid, "msgtype": msgtype, msgtype: dict(body)})  # fmt: skip

    async def send_text(self, openid: str, content: str) -> None:
        await self.send_custom(openid, "text", {"content": content})

    async def send_news(self, openid: str, article: Article) -> None:
        await self.send_custom(openid, "news", {"articles": [article.as_json()]})

    async def send_image(self, openid: str, media_id: str) -> None:
        await self.send_custom(openid, "image", {"media_id": media_id})

    async def send_voice(self, openid: str, media_id: str) -> None:
        await self.send_custom(openid, "voice", {"media_id": media_id})

    async def send_video(
        self,
        openid: str,
        media_id: str,
        thumb_media_id: str,
        title: str = "",
        description: str = "",
    ) -> None:
        await self.send_custom(openid, "video", {"media_id": media_id,
                               "thumb_media_id": thumb_media_id, "title": title,
                               "description": description})  # fmt: skip

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, str],
        url: str | None = None,
    ) -> str:
        """A template message (allowed outside the 48-hour window); returns WeChat's msgid."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {k: {"value": v} for k, v in data.items()},
        }
        if url:
            body["url"] = url
        return str((await self.call("POST", "/cgi-bin/message/template/send", json=body))["msgid"])

    # ------------------------------------------------------------------ media
    async def upload_media(self, kind: str, filename: str, content: bytes) -> str:
        """Temporary media (three days); returns the media_id."""
        if kind not in MEDIA_KINDS:
            raise ValueError(f"kind must be one of {MEDIA_KINDS}")
        data = await self.call("POST", "/cgi-bin/media/upload", params={"type": kind},
                               files={"media": (filename, content)})  # fmt: skip
        return str(data.get("media_id") or data.get("thumb_media_id"))


def make_apis(
    accounts: Sequence[WechatAccount],
    *,
    base_url: str,
    sessionmaker: async_sessionmaker[AsyncSession] | None,
    http: httpx.AsyncClient | None = None,
) -> dict[str, WechatApi]:
    """One client per account, sharing one HTTP connection pool (close it with ``aclose``)."""
    http = http or httpx.AsyncClient(timeout=10.0)
    return {
        a.name: WechatApi(a, base_url=base_url, http=http, sessionmaker=sessionmaker)
        for a in accounts
    }
