"""Starting the WeChat channel inside the web process (the callback needs it in app.state)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kefu.bank.port import BankPort
from kefu.channels.wechat.api import WechatApi, make_apis
from kefu.channels.wechat.assistant import WechatAssistant
from kefu.channels.wechat.outbound import Outbound
from kefu.channels.wechat.service import WechatChannel
from kefu.config import Settings
from kefu.db.engine import make_engine, make_sessionmaker


@dataclass
class WechatRuntime:
    channel: WechatChannel
    outbound: Outbound
    apis: dict[str, WechatApi]
    http: httpx.AsyncClient
    engine: AsyncEngine

    async def stop(self) -> None:
        await self.channel.stop()
        await self.outbound.stop()
        await self.http.aclose()
        await self.engine.dispose()


async def start_wechat(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    bank: BankPort,
    sms: Any = None,
) -> WechatRuntime | None:
    """``sessionmaker`` is the app's (outbound sends and the token row use it); callbacks and
    answers get a connection pool of their own because an answer holds a connection while the
    bank port (the synthetic bank shares the app's pool) takes another: on one pool, a burst of
    callbacks could take every connection and leave the answers waiting for their second one.
    The channel bounds its use of its pool (see ``service.REQUESTS_AT_ONCE``)."""
    if not settings.wechat_accounts:
        return None
    engine = make_engine(settings.database_url, echo=settings.sql_echo)
    own = make_sessionmaker(engine)
    http = httpx.AsyncClient(timeout=10.0, limits=httpx.Limits(max_connections=200))
    apis = make_apis(settings.wechat_accounts, base_url=settings.wechat_api_base_url,
                     sessionmaker=sessionmaker, http=http)  # fmt: skip
    accounts = {a.name: a for a in settings.wechat_accounts}
    outbound = Outbound(accounts=accounts, apis=apis, sessionmaker=sessionmaker, bank=bank,
                        sms=sms)  # fmt: skip
    channel = WechatChannel(accounts=settings.wechat_accounts, sessionmaker=own,
                            assistant=WechatAssistant(bank), outbound=outbound,
                            budget=settings.wechat_reply_budget)  # fmt: skip
    outbound.start()
    return WechatRuntime(channel, outbound, apis, http, engine)
