"""Starting kefu's moving parts in a process: every registered channel, then the platform's
workers, from settings. ``kefu serve`` / ``kefu demo`` (through the app's lifespan) and
``kefu run <part>`` use this one path.

This is the composition root: the one place that hands the channels (adapters that know no
banking) the message pipeline built on the assistant and the bank port, and the WeChat
channel and the business hall each other's services (neither imports the other).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.assistant.engine import Assistant
from kefu.bank.port import BankPort, NotFound
from kefu.channels.manifest import ChannelContext, Started, load
from kefu.channels.registry import manifests
from kefu.channels.wechat.api import WechatApiError
from kefu.crosssell.assistant_offer import AssistantOffer
from kefu.crosssell.campaigns.replies import to_campaign
from kefu.hall.service import Hall
from kefu.hall.wechat import AccountApi, WechatRefused
from kefu.logs import get_logger
from kefu.messaging.pipeline import Pipeline
from kefu.partners.inbound import to_partner
from kefu.quality.csat import CsatCapture
from kefu.routing.ticker import start_ticker
from kefu.social.listening import active_terms
from kefu.social.route import to_social_desk
from kefu.subscriptions.service import Service, is_subscribed

log = get_logger(__name__)


def make_pipeline(bank: BankPort, *, today: Callable[[], date] = date.today) -> Pipeline:
    """The one inbound pipeline: the business routes first (a partner's sub-code, public
    social posts to the social desk), then
    self-service through the assistant on ``bank``."""
    # CSAT answers are taken before the assistant sees a message (kefu.quality.csat says why
    # it wraps self-service rather than adding a route).
    routes = [to_partner, to_campaign, to_social_desk]  # a campaign's sub-code: its replies
    assistant = Assistant(bank, offer=AssistantOffer(bank))  # one offer after a bill query
    return Pipeline(CsatCapture(assistant), routes=routes, today=today)


class BankDirectory:
    """The customer questions channels may ask (kefu.messaging.directory), answered from the
    bank port and the subscriptions."""

    def __init__(self, bank: BankPort) -> None:
        self.bank = bank

    async def mobile(self, bank_customer_no: str) -> str | None:
        try:
            return (await self.bank.get_customer(bank_customer_no)).mobile
        except NotFound:
            return None

    async def subscribed(
        self, db: AsyncSession, *, customer_id: int, service: str, channel: str
    ) -> bool:
        return await is_subscribed(db, customer_id, Service(service), channel)


class _WechatForHall:
    """The WeChat channel's API client as the hall's ``AccountApi``: the same calls, WeChat's
    refusals raised as the hall's ``WechatRefused``."""

    def __init__(self, api: Any) -> None:
        self._api = api

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._api, name)

        async def refused_as_hall(*args: Any, **kwargs: Any) -> Any:
            try:
                return await call(*args, **kwargs)
            except WechatApiError as exc:
                raise WechatRefused(exc.errcode, exc.errmsg) from exc

        return refused_as_hall


def listening_terms(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> Callable[[str], Awaitable[list[str]]]:
    """What the platforms' search pollers (the Weibo channel's) ask for: the include terms of
    the active listening rules on a platform (``services["listening_terms"]``; the channels do
    not import kefu.social)."""

    async def terms(platform: str) -> list[str]:
        async with sessionmaker() as db:
            return await active_terms(db, platform)

    return terms


def make_hall(bank: BankPort, services: Mapping[str, Any]) -> Hall:
    """The business hall on ``bank``; it reaches WeChat through the clients the WeChat channel
    offers (``services["wechat_apis"]``) once that channel runs."""

    def wechat_api(account: str) -> AccountApi | None:
        api = services.get("wechat_apis", {}).get(account)
        return None if api is None else _WechatForHall(api)

    return Hall(bank, wechat_api)


async def _start_scheduler(ctx: ChannelContext) -> Started | None:
    from kefu.subscriptions.scheduler import start_in_background  # its models load on demand

    scheduler = start_in_background(
        ctx.settings, ctx.sessionmaker, ctx.services["bank"], ctx.services.get("sms"),
        wechat=ctx.services.get("wechat_outbound"),
    )  # fmt: skip
    if scheduler is None:
        return Started(stop=_nothing, state={"subscriptions": None})
    return Started(stop=scheduler.stop, state={"subscriptions": scheduler})


async def _nothing() -> None:
    return None


async def _start_routing_ticker(ctx: ChannelContext) -> Started | None:
    interval = float(ctx.settings.routing_tick)
    if interval <= 0:  # tests drive the rounds themselves
        return None
    heartbeat = int(getattr(ctx.settings, "presence_heartbeat_seconds", 30))
    return Started(stop=start_ticker(ctx.sessionmaker, interval=interval,
                                     heartbeat_seconds=heartbeat))  # fmt: skip


async def _start_crisis(ctx: ChannelContext) -> Started | None:
    from kefu.social.crisis.worker import start as start_crisis  # its models load on demand

    worker, running = start_crisis(ctx.sessionmaker, ctx.settings.crisis, ctx.services)
    return Started(stop=running.stop, state={"crisis": worker})


async def _start_quality(ctx: ChannelContext) -> Started | None:
    from kefu.quality.worker import start as start_quality

    running = start_quality(ctx.sessionmaker, ctx.settings.quality)
    return Started(stop=running.stop)


async def _start_reports(ctx: ChannelContext) -> Started | None:
    from zoneinfo import ZoneInfo

    from kefu.reports.worker import start as start_reports  # its models load on demand

    settings = ctx.settings.reports
    if settings.rollup_interval <= 0:  # tests and `kefu reports rollup` drive it themselves
        return None
    zone = ZoneInfo(getattr(ctx.settings, "timezone", "Asia/Shanghai"))
    return Started(stop=start_reports(ctx.sessionmaker, settings, zone))


# The platform's background workers, started after the channels (they use what the channels
# offer: the SMS outbox, WeChat's template sender): the routing ticker, the scheduler and the
# crisis desk's burst worker (its alerts go out by SMS and WeChat).
WORKERS: dict[str, Callable[[ChannelContext], Awaitable[Started | None]]] = {
    "routing": _start_routing_ticker,
    "scheduler": _start_scheduler,
    "crisis": _start_crisis,
    "reports": _start_reports,  # the KPI rollup, presence samples, scheduled reports
    "quality": _start_quality,
}


@dataclass
class Running:
    state: dict[str, Any] = field(default_factory=dict)  # set on app.state by name
    started: dict[str, Started] = field(default_factory=dict)

    async def stop(self) -> None:
        """Stops in reverse order of starting (the workers before the channels they use)."""
        for name, part in reversed(list(self.started.items())):
            began = time.monotonic()
            try:
                await part.stop()
            except Exception:  # noqa: BLE001 - stop the rest whatever one does
                log.exception("stop_failed", part=name)
            # An operator waiting on a slow shutdown sees which part held it.
            log.info("part_stopped", part=name, seconds=round(time.monotonic() - began, 3))


async def start_parts(
    settings: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
    bank: BankPort,
    *,
    only: Collection[str] | None = None,
    demo: Mapping[str, Any] | None = None,
) -> Running:
    """Starts the registered channels (in registry order) and the workers; ``only`` names the
    parts to start (``kefu run sms``), ``demo`` maps a channel to its demo object."""
    # "only": what this process was asked to run (None: everything, as ``kefu serve`` does)
    services: dict[str, Any] = {"bank": bank, "directory": BankDirectory(bank), "only": only}
    services["hall"] = make_hall(bank, services)
    services["listening_terms"] = listening_terms(sessionmaker)
    pipeline = make_pipeline(bank)
    running = Running(state={"hall": services["hall"]})
    starters: list[tuple[str, Callable[[ChannelContext], Awaitable[Started | None]]]] = [
        (m.name, load(m.start)) for m in manifests() if m.start
    ]
    starters += list(WORKERS.items())
    try:
        for name, start in starters:
            if only is not None and name not in only:
                continue
            ctx = ChannelContext(settings, sessionmaker, pipeline, services, (demo or {}).get(name))
            part = await start(ctx)
            if part is None:
                continue
            running.started[name] = part
            running.state.update(part.state)
            services.update(part.services)
    except BaseException:
        with contextlib.suppress(Exception):
            await running.stop()
        raise
    return running
