"""Starting the SMS gateway inside a process (``kefu serve``, ``kefu demo``, ``kefu run sms``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.manifest import ChannelContext, Started
from kefu.channels.sms.config import SmsLink
from kefu.channels.sms.gateway import SmsGateway
from kefu.messaging.pipeline import Pipeline


async def start_gateway(
    settings: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
    pipeline: Pipeline,
    extra_links: list[SmsLink] | None = None,
) -> SmsGateway | None:
    links = [*settings.sms_links, *(extra_links or [])]
    if not links:
        return None
    gateway = SmsGateway(
        links=links,
        sessionmaker=sessionmaker,
        pipeline=pipeline,
        signature=settings.sms_signature,
        routes=settings.sms_routes,
        lease_seconds=settings.sms_send_lease_seconds,
        unknown_resend_after=settings.sms_unknown_resend_seconds,
        kept_reports_days=settings.sms_kept_reports_days,
    )
    await gateway.start()
    return gateway


def outbox_only(settings: Any, sessionmaker: async_sessionmaker[AsyncSession]) -> SmsGateway | None:
    """The outbox without the links: it queues (the send API, the scheduler, agents' replies
    are relayed by the gateway process), binds nothing and sends nothing."""
    if not settings.sms_links:
        return None
    return SmsGateway(links=settings.sms_links, sessionmaker=sessionmaker, pipeline=None,
                      signature=settings.sms_signature, routes=settings.sms_routes)  # fmt: skip


async def start(ctx: ChannelContext) -> Started | None:
    """The registry's start: the demo's carrier simulators first (when the demo runs them),
    then the gateway with links to them; it offers its outbox to the parts started after it.
    With ``sms_gateway_in_web`` off, a process running everything (``kefu serve``) only
    queues: ``kefu run sms`` is the gateway."""
    demo = ctx.demo
    if demo is None and ctx.services.get("only") is None and not ctx.settings.sms_gateway_in_web:
        gateway = outbox_only(ctx.settings, ctx.sessionmaker)
        return Started(stop=_nothing, state={"sms": gateway, "demo_carriers": None},
                       services={"sms": gateway} if gateway is not None else {})  # fmt: skip
    if demo is not None:
        await demo.start()
    gateway = await start_gateway(
        ctx.settings, ctx.sessionmaker, ctx.pipeline,
        extra_links=demo.links() if demo is not None else None,
    )  # fmt: skip

    async def stop() -> None:
        if gateway is not None:
            await gateway.stop()
        if demo is not None:
            await demo.stop()

    return Started(
        stop=stop,
        state={"sms": gateway, "demo_carriers": demo},
        services={"sms": gateway} if gateway is not None else {},
    )


async def _nothing() -> None:
    return None
