"""Starting the WeChat channel inside the web process (the callback needs it in app.state); its
relay (agents' replies through custom-send) runs where the process's role says
(``kefu.channels.manifest.Relay``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kefu.channels.manifest import ChannelContext, Relay, Started, start_relay
from kefu.channels.wechat.api import WechatApi, make_apis
from kefu.channels.wechat.outbound import Outbound
from kefu.channels.wechat.phone import ACCOUNT, demo_menu
from kefu.channels.wechat.recovery import Recovery
from kefu.channels.wechat.service import Hall, WechatChannel
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.messaging.directory import CustomerDirectory
from kefu.messaging.pipeline import Pipeline


@dataclass
class WechatRuntime:
    channel: WechatChannel
    outbound: Outbound
    apis: dict[str, WechatApi]
    http: httpx.AsyncClient
    engine: AsyncEngine
    recovery: Recovery

    @property
    def relay(self) -> Relay:
        """Agents' replies out (the outbound's sender) and the answers a dead process left
        (the recovery)."""

        async def start() -> None:
            self.outbound.start()
            self.recovery.start()

        async def stop() -> None:
            await self.recovery.stop()
            await self.outbound.stop()

        return Relay(start=start, stop=stop)

    async def stop(self) -> None:
        await self.recovery.stop()
        await self.channel.stop()
        await self.outbound.stop()
        await self.http.aclose()
        await self.engine.dispose()


async def start_wechat(
    settings: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
    pipeline: Pipeline,
    *,
    directory: CustomerDirectory | None = None,
    hall: Hall | None = None,
    sms: Any = None,
) -> WechatRuntime | None:
    """The channel, its relay not started (``WechatRuntime.relay``). ``sessionmaker`` is the app's (outbound sends and the token row use it); callbacks and
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
    outbound = Outbound(accounts=accounts, apis=apis, sessionmaker=sessionmaker,
                        directory=directory, sms=sms)  # fmt: skip
    channel = WechatChannel(accounts=settings.wechat_accounts, sessionmaker=own,
                            pipeline=pipeline, outbound=outbound, hall=hall,
                            budget=settings.wechat_reply_budget)  # fmt: skip
    recovery = Recovery(channel, after=settings.wechat_recover_after)
    return WechatRuntime(channel, outbound, apis, http, engine, recovery)


async def _demo_menu(sessionmaker: async_sessionmaker[AsyncSession], demo: Any, hall: Any) -> None:
    """The demo account's menu saved in kefu at start (unless one is), so the menu editor
    shows it from the first visit (issue 23, finding 3: it read 尚无菜单 until someone opened
    the WeChat phone). WeChat gets it when the phone first opens or an admin syncs: the
    hall reaches WeChat through this channel's clients, offered only once it has started."""
    async with sessionmaker() as db:
        await hall.ensure_menu(db, ACCOUNT, demo_menu(demo.kefu_url), actor="demo")
        await db.commit()


async def start(ctx: ChannelContext) -> Started | None:
    """The registry's start: the demo's API simulator first (when the demo runs it), then the
    channel; it offers its outbound sender (template notices) to the workers after it, and
    its API clients (one per account) to the business hall."""
    demo = ctx.demo
    if demo is not None:
        await demo.start()
    hall = ctx.services.get("hall")
    runtime = await start_wechat(ctx.settings, ctx.sessionmaker, ctx.pipeline,
                                 directory=ctx.services.get("directory"), hall=hall,
                                 sms=ctx.services.get("sms"))  # fmt: skip
    offered: dict[str, object] = {}
    if runtime is not None:
        offered = await start_relay(ctx, "wechat", runtime.relay)
    if demo is not None and runtime is not None and hall is not None:
        await _demo_menu(ctx.sessionmaker, demo, hall)

    async def stop() -> None:
        if runtime is not None:
            await runtime.stop()
        if demo is not None:
            await demo.stop()

    return Started(
        stop=stop,
        state={"wechat_runtime": runtime, "wechat": runtime.channel if runtime else None,
               "demo_wechat": demo},
        services={"wechat_outbound": runtime.outbound, "wechat_apis": runtime.apis, **offered}
        if runtime is not None else {},
    )  # fmt: skip
