"""Starting kefu's moving parts in a process: every registered channel, then the platform's
workers, from settings. ``kefu serve`` / ``kefu demo`` (through the app's lifespan) and
``kefu run <part>`` use this one path.

This is the composition root: the one place that hands the channels (adapters that know no
banking) the message pipeline built on the assistant and the bank port, and the WeChat
channel and the business hall each other's services (neither imports the other).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.assistant.engine import Assistant
from kefu.bank.port import BankPort, NotFound
from kefu.channels.manifest import (
    RELAYS_ELSEWHERE,
    RELAYS_HERE,
    RELAYS_UNDER_LEASE,
    ChannelContext,
    Relay,
    Started,
    load,
)
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


def webchat_offers(settings: Any, sessionmaker: async_sessionmaker[AsyncSession]) -> Any:
    """The web chat widget's offer banner (``services["webchat_offers"]``): cross-selling's
    banner campaigns decide it (kefu.crosssell.campaigns.banner); web chat only shows it."""
    from kefu.crosssell.campaigns.banner import Banners  # its models load on demand

    return Banners(sessionmaker, settings.sms_policy)


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


async def _start_relays(ctx: ChannelContext) -> Started | None:
    """The channels' relays a ``workers`` process holds under its lease (the services
    ``relay:<channel>`` the channels offered); elsewhere the channels start their own (one
    process) or none (``KEFU_ROLE=web``)."""
    if ctx.relays != RELAYS_UNDER_LEASE:
        return None
    relays = {k: v for k, v in ctx.services.items() if k.startswith("relay:")}
    started: list[Relay] = []

    async def stop() -> None:
        for relay in reversed(started):
            await relay.stop()

    try:
        for relay in relays.values():
            await relay.start()
            started.append(relay)
    except BaseException:
        with contextlib.suppress(Exception):
            await stop()
        raise
    return Started(stop=stop, state={"relays": sorted(relays)})


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


async def _start_campaigns(ctx: ChannelContext) -> Started | None:
    from kefu.crosssell.campaigns import scheduler, service  # its models load on demand

    interval = float(getattr(ctx.settings, "campaign_scheduler_interval", 0))
    if interval <= 0:
        return None
    sms = ctx.services.get("sms")
    wechat = ctx.services.get("wechat_outbound")  # None where no WeChat account is configured
    wake = getattr(getattr(sms, "outbox", None), "wake", None)
    running = scheduler.start(
        ctx.sessionmaker, ctx.services["bank"],
        lambda: service.sending_for(ctx.settings, sms, wechat),
        interval=interval, wake=wake.set if wake is not None else (lambda: None),
    )  # fmt: skip
    return Started(stop=running.stop)


async def _start_analytics_alerts(ctx: ChannelContext) -> Started | None:
    """The behaviour analytics' failing-version alerts: on the app's store where an app
    offered it (``services["analytics_store"]``, role ``all``), else on a store of this
    process's own (kefu.analytics.alerts.OwnStore: ClickHouse, in ``kefu run workers``)."""
    from kefu.analytics.alerts import OwnStore, start_checker

    section = getattr(ctx.settings, "analytics", None)
    if section is None or section.alert_check_seconds <= 0:  # role web: the workers' job
        return None
    offered = ctx.services.get("analytics_store")
    own = None if offered is not None else OwnStore(ctx.settings)
    task = start_checker(section, ctx.sessionmaker, offered or own)

    async def stop() -> None:
        task.cancel()  # asleep or mid-round: nothing to finish, it stops at once
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if own is not None:
            own.close()

    return Started(stop=stop)


# The platform's background workers, started after the channels (they use what the channels
# offer: the SMS outbox, WeChat's template sender): the routing ticker, the scheduler and the
# crisis desk's burst worker (its alerts go out by SMS and WeChat).
WORKERS: dict[str, Callable[[ChannelContext], Awaitable[Started | None]]] = {
    # First: a copy that takes the lease over resumes what customers wait for (agents' replies)
    # before the workers that load models (seconds to minutes on a loaded machine).
    "relays": _start_relays,  # the channels' relays, in a workers process
    "routing": _start_routing_ticker,
    "scheduler": _start_scheduler,
    "crisis": _start_crisis,
    "reports": _start_reports,  # the KPI rollup, presence samples, scheduled reports
    "quality": _start_quality,
    "campaigns": _start_campaigns,  # starts scheduled cross-selling campaigns
    "analytics": _start_analytics_alerts,  # pages failing on a browser/OS version → webhooks
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


# What each role (``KEFU_ROLE``) runs besides HTTP; said at start-up (``describe_role``).
ROLES = ("all", "web", "workers")
# The channels a ``workers`` process starts: for what they offer the workers (the SMS outbox
# for notices and alerts, WeChat's template sender) and for their relays (run under the
# lease), never the SMS carrier links (``kefu run sms``).
WORKER_CHANNELS = frozenset({"sms", "wechat", "webchat", "weibo"})
# Where each role runs the channels' relays (kefu.channels.manifest.Relay).
RELAYS = {"all": RELAYS_HERE, "web": RELAYS_ELSEWHERE, "workers": RELAYS_UNDER_LEASE}
SINGLETON_LEASE = "workers"  # the lease the background loops run under (kefu.bus.lease)


def role_settings(settings: Any, role: str) -> Any:
    """The settings a role's process starts its parts with. ``web``: every background loop
    off (the workers process runs them) but the pieces the pages use built (the crisis desk's
    notifier, quality's close hook); the SMS outbox without its carrier links (``kefu run
    sms`` binds them: N web processes must not bind N sets). ``workers``: the SMS outbox only,
    too. ``all``: unchanged (``kefu serve``, ``kefu demo``)."""
    if role == "all":
        return settings
    update: dict[str, Any] = {}
    if hasattr(settings, "sms_gateway_in_web"):
        update["sms_gateway_in_web"] = False
    if role == "web":
        update["routing_tick"] = 0
        update["subscriptions_scheduler"] = False
        update["campaign_scheduler_interval"] = 0
        analytics = getattr(settings, "analytics", None)
        if analytics is not None:  # model_copy: 0 (off) is below the setting's own minimum
            update["analytics"] = analytics.model_copy(update={"alert_check_seconds": 0})
        for name, field_name in (("crisis", "interval"), ("quality", "interval"),
                                 ("reports", "rollup_interval")):  # fmt: skip
            section = getattr(settings, name, None)
            if section is not None:
                update[name] = section.model_copy(update={field_name: 0})
    return settings.model_copy(update=update)


def describe_role(settings: Any, role: str | None = None) -> str:
    """One line for the operator: what this process runs and what it leaves to others."""
    role = role or getattr(settings, "role", "all")
    loops = ", ".join(WORKERS)
    bus = "Redis" if getattr(settings, "bus_url", "") else "in-process (one machine only)"
    if role == "web":
        return (f"role web: HTTP only (pages, API, channel callbacks; SMS outbox without "
                f"carrier links); background loops ({loops}) "
                f"are `kefu run workers`'s, the SMS gateway `kefu run sms`'s; bus: {bus}")  # fmt: skip
    if role == "workers":
        return (f"role workers: the background loops ({loops}) under the lease "
                f"{SINGLETON_LEASE!r} (one copy active, others standby); no HTTP; bus: {bus}")  # fmt: skip
    return f"role all: HTTP, every channel and the background loops ({loops}); bus: {bus}"


class Singleton:
    """Runs ``start`` while this process holds ``lease``: it tries every ``every`` seconds,
    starts the parts when it gets the lease, stops them when it loses it (a Redis holder that
    stalled past the lease's ttl; a PostgreSQL holder whose connection dropped), so of several
    copies one runs them and the others wait to take over."""

    def __init__(self, lease: Any, start: Callable[[], Awaitable[Running]], *,
                 every: float = 5.0) -> None:  # fmt: skip
        self.lease, self.start, self.every = lease, start, every
        self.running: Running | None = None
        self.changed = asyncio.Event()  # set on each take-over or loss (tests wait on it)
        self._task = asyncio.create_task(self._loop(), name=f"lease-{lease.name}")

    @property
    def active(self) -> bool:
        return self.running is not None

    async def _loop(self) -> None:
        while True:
            try:
                held = await self.lease.acquire()
            except Exception:  # noqa: BLE001 - an engine's hiccup: not held this round
                log.exception("lease_check_failed", lease=self.lease.name)
                held = False
            if held and self.running is None:
                log.info("lease_taken", lease=self.lease.name, holder=self.lease.holder)
                try:
                    self.running = await self.start()
                except Exception:  # noqa: BLE001 - keep the lease and try again next round
                    log.exception("lease_start_failed", lease=self.lease.name)
                else:
                    self.changed.set()
            elif not held and self.running is not None:
                log.warning("lease_lost", lease=self.lease.name, holder=self.lease.holder)
                running, self.running = self.running, None
                await running.stop()
                self.changed.set()
            await asyncio.sleep(self.every)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self.running is not None:
            running, self.running = self.running, None
            await running.stop()
        await self.lease.release()  # at once, not after the ttl: a standby takes over now


async def start_parts(
    settings: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
    bank: BankPort,
    *,
    only: Collection[str] | None = None,
    demo: Mapping[str, Any] | None = None,
    role: str | None = None,
    lease: Any = None,
    analytics_store: Callable[[], Any] | None = None,
) -> Running:
    """Starts the registered channels (in registry order) and the workers; ``only`` names the
    parts to start (``kefu run sms``), ``demo`` maps a channel to its demo object. ``role``
    (default: the settings') chooses what runs here (``role_settings``); in ``workers`` the
    loops run under ``lease`` (default: ``kefu.bus.lease.make_lease``). ``analytics_store``:
    the app's behaviour store once opened, else None (the alerts' checker reads it)."""
    role = role or getattr(settings, "role", "all")
    if role not in ROLES:
        raise ValueError(f"KEFU_ROLE: {role!r} is not one of {', '.join(ROLES)}")
    if only is None:
        settings = role_settings(settings, role)
    # "only": what this process was asked to run (None: everything, as ``kefu serve`` does)
    services: dict[str, Any] = {"bank": bank, "directory": BankDirectory(bank), "only": only,
                                "relays": RELAYS[role] if only is None else RELAYS_HERE}  # fmt: skip
    services["hall"] = make_hall(bank, services)
    services["listening_terms"] = listening_terms(sessionmaker)
    services["webchat_offers"] = webchat_offers(settings, sessionmaker)
    if analytics_store is not None:
        services["analytics_store"] = analytics_store
    pipeline = make_pipeline(bank)
    running = Running(state={"hall": services["hall"]})
    starters: list[tuple[str, Callable[[ChannelContext], Awaitable[Started | None]]]] = [
        (m.name, load(m.start))
        for m in manifests()
        if m.start and (role != "workers" or only is not None or m.name in WORKER_CHANNELS)
    ]
    if role == "workers" and only is None:
        starters.append(("workers", _singleton_workers(lease)))
    else:
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


def _singleton_workers(lease: Any) -> Callable[[ChannelContext], Awaitable[Started | None]]:
    """The ``workers`` role's one part: every worker of ``WORKERS``, started while the lease is
    held (each on the channels' services as they are when the lease is taken)."""

    async def start(ctx: ChannelContext) -> Started:
        from kefu.bus.lease import make_lease

        held = lease or make_lease(ctx.settings, SINGLETON_LEASE)

        async def start_workers() -> Running:
            inner = Running()
            try:
                for name, begin in WORKERS.items():
                    part = await begin(ctx)
                    if part is not None:
                        inner.started[name] = part
                        inner.state.update(part.state)
            except BaseException:
                with contextlib.suppress(Exception):
                    await inner.stop()
                raise
            return inner

        singleton = Singleton(held, start_workers, every=_lease_every(held))
        return Started(stop=singleton.stop, state={"workers": singleton})

    return start


def _lease_every(lease: Any) -> float:
    """How often the holder renews: a third of a Redis lease's ttl (two renewals may fail
    before it lapses); 2 s for the engines that release a dead holder's lease themselves."""
    ttl = getattr(lease, "ttl", None)
    return ttl / 3 if ttl else 2.0
